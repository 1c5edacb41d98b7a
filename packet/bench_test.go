package packet_test

// Benchmarks of the codec, each beside Eclipse Paho's for the same packet:
// github.com/eclipse/paho.golang/packets (impl=paho.golang), which speaks
// MQTT 5.0 only, and for 3.1.1 also github.com/eclipse/paho.mqtt.golang/packets
// (impl=paho.mqtt.golang). For a 3.1.1 packet paho.golang encodes and decodes
// its nearest MQTT 5 form: the same packet with an empty property section.
//
// The sub-benchmarks are named op=…/impl=… so that benchstat can lay the
// implementations side by side:
//
//	go test -run x -bench . -benchmem -count 6 ./packet/ > bench.txt
//	benchstat -col /impl bench.txt
//
// The ops:
//
//	encode      into a reused buffer (midge: Append; Paho: WriteTo a reused bytes.Buffer)
//	decode      one packet from a byte slice (midge: DecodeInto a reused packet;
//	            Paho: ReadPacket from a reused bytes.Reader)
//	decode-new  midge's Decode, which allocates the packet
//	stream      the next packet of an endless stream (midge: Reader.ReadPacket;
//	            Paho: ReadPacket on the same stream through a bufio.Reader)

import (
	"bufio"
	"bytes"
	"testing"

	paho "github.com/eclipse/paho.golang/packets"
	paho3 "github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/midge-mqtt/midge/packet"
)

type benchCase struct {
	name  string
	v     packet.Version
	p     packet.Packet       // midge's packet
	paho  paho.Packet         // the same for paho.golang
	paho3 paho3.ControlPacket // the same for paho.mqtt.golang; nil for MQTT 5
	// reuse is what midge decodes into: a packet of the same type, with
	// its property struct and slices already grown, as after a first
	// decode.
	reuse func() packet.Packet
}

var (
	benchPayload = bytes.Repeat([]byte("0123456789abcdef"), 4) // 64 bytes
	benchTopic   = "sensors/room1/temperature"
)

func benchCases() []benchCase {
	expiry := uint32(3600)
	pub311 := paho3.NewControlPacket(paho3.Publish).(*paho3.PublishPacket)
	pub311.Qos, pub311.TopicName, pub311.MessageID, pub311.Payload = 1, benchTopic, 42, benchPayload

	conn311 := paho3.NewControlPacket(paho3.Connect).(*paho3.ConnectPacket)
	conn311.ProtocolName, conn311.ProtocolVersion, conn311.CleanSession = "MQTT", 4, true
	conn311.Keepalive, conn311.ClientIdentifier = 60, "sensor-room1-0042"
	conn311.UsernameFlag, conn311.Username = true, "sensor"
	conn311.PasswordFlag, conn311.Password = true, []byte("correct horse battery staple")
	conn311.WillFlag, conn311.WillTopic, conn311.WillMessage, conn311.WillQos = true, "sensors/room1/status", []byte("offline"), 1

	sub311 := paho3.NewControlPacket(paho3.Subscribe).(*paho3.SubscribePacket)
	sub311.MessageID = 7
	sub311.Topics = []string{"sensors/+/temperature", "actuators/room1/#", "$SYS/broker/uptime"}
	sub311.Qoss = []byte{1, 2, 0}

	connect := func(props, willProps *packet.Properties) *packet.Connect {
		return &packet.Connect{CleanStart: true, KeepAlive: 60, ClientID: "sensor-room1-0042",
			Username: "sensor", Password: []byte("correct horse battery staple"),
			Will:  &packet.Will{Topic: "sensors/room1/status", Payload: []byte("offline"), QoS: 1, Props: willProps},
			Props: props}
	}
	pahoConnect := func(props, willProps *paho.Properties) *paho.Connect {
		return &paho.Connect{ProtocolName: "MQTT", ProtocolVersion: 5, CleanStart: true, KeepAlive: 60,
			ClientID: "sensor-room1-0042", UsernameFlag: true, Username: "sensor",
			PasswordFlag: true, Password: []byte("correct horse battery staple"),
			WillFlag: true, WillTopic: "sensors/room1/status", WillMessage: []byte("offline"), WillQOS: 1,
			Properties: props, WillProperties: willProps}
	}
	subs := []packet.Subscription{
		{Filter: "sensors/+/temperature", QoS: 1},
		{Filter: "actuators/room1/#", QoS: 2},
		{Filter: "$SYS/broker/uptime", QoS: 0},
	}
	pahoSubs := []paho.SubOptions{
		{Topic: "sensors/+/temperature", QoS: 1},
		{Topic: "actuators/room1/#", QoS: 2},
		{Topic: "$SYS/broker/uptime", QoS: 0},
	}
	subs5 := []packet.Subscription{
		{Filter: "sensors/+/temperature", QoS: 1, NoLocal: true},
		{Filter: "actuators/room1/#", QoS: 2, RetainAsPublished: true, RetainHandling: 1},
		{Filter: "$SYS/broker/uptime", QoS: 0, RetainHandling: 2},
	}
	pahoSubs5 := []paho.SubOptions{
		{Topic: "sensors/+/temperature", QoS: 1, NoLocal: true},
		{Topic: "actuators/room1/#", QoS: 2, RetainAsPublished: true, RetainHandling: 1},
		{Topic: "$SYS/broker/uptime", QoS: 0, RetainHandling: 2},
	}
	receiveMax, sessionExpiry, willDelay, subID := uint16(32), uint32(7200), uint32(10), 12

	return []benchCase{
		{
			name:  "PUBLISH/v=3.1.1",
			v:     packet.V311,
			p:     &packet.Publish{Topic: benchTopic, Payload: benchPayload, QoS: 1, ID: 42},
			paho:  &paho.Publish{Topic: benchTopic, Payload: benchPayload, QoS: 1, PacketID: 42},
			paho3: pub311,
			reuse: func() packet.Packet { return new(packet.Publish) },
		},
		{
			name: "PUBLISH/v=5.0",
			v:    packet.V5,
			p: &packet.Publish{Topic: benchTopic, Payload: benchPayload, QoS: 1, ID: 42,
				Props: &packet.Properties{MessageExpiry: 3600, ContentType: "application/json",
					User: []packet.UserProperty{{Key: "unit", Value: "celsius"}}}},
			paho: &paho.Publish{Topic: benchTopic, Payload: benchPayload, QoS: 1, PacketID: 42,
				Properties: &paho.Properties{MessageExpiry: &expiry, ContentType: "application/json",
					User: []paho.User{{Key: "unit", Value: "celsius"}}}},
			reuse: func() packet.Packet {
				return &packet.Publish{Props: &packet.Properties{User: make([]packet.UserProperty, 0, 4)}}
			},
		},
		{
			name:  "CONNECT/v=3.1.1",
			v:     packet.V311,
			p:     connect(nil, nil),
			paho:  pahoConnect(nil, nil),
			paho3: conn311,
			reuse: func() packet.Packet { return new(packet.Connect) },
		},
		{
			name: "CONNECT/v=5.0",
			v:    packet.V5,
			p: connect(&packet.Properties{SessionExpiry: 7200, ReceiveMaximum: 32,
				User: []packet.UserProperty{{Key: "site", Value: "lab"}}},
				&packet.Properties{WillDelay: 10}),
			paho: pahoConnect(&paho.Properties{SessionExpiryInterval: &sessionExpiry, ReceiveMaximum: &receiveMax,
				User: []paho.User{{Key: "site", Value: "lab"}}},
				&paho.Properties{WillDelayInterval: &willDelay}),
			reuse: func() packet.Packet {
				return &packet.Connect{Props: &packet.Properties{User: make([]packet.UserProperty, 0, 4)}}
			},
		},
		{
			name:  "SUBSCRIBE/v=3.1.1",
			v:     packet.V311,
			p:     &packet.Subscribe{ID: 7, Subscriptions: subs},
			paho:  &paho.Subscribe{PacketID: 7, Subscriptions: pahoSubs},
			paho3: sub311,
			reuse: func() packet.Packet {
				return &packet.Subscribe{Subscriptions: make([]packet.Subscription, 0, 4)}
			},
		},
		{
			name: "SUBSCRIBE/v=5.0",
			v:    packet.V5,
			p: &packet.Subscribe{ID: 7, Subscriptions: subs5,
				Props: &packet.Properties{SubscriptionIDs: []int{subID}}},
			paho: &paho.Subscribe{PacketID: 7, Subscriptions: pahoSubs5,
				Properties: &paho.Properties{SubscriptionIdentifier: &subID}},
			reuse: func() packet.Packet {
				return &packet.Subscribe{Subscriptions: make([]packet.Subscription, 0, 4),
					Props: &packet.Properties{SubscriptionIDs: make([]int, 0, 1)}}
			},
		},
	}
}

// loopReader serves b over and over: an endless stream of one packet.
type loopReader struct {
	b   []byte
	off int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off = (r.off + c) % len(r.b)
	}
	return n, nil
}

func pahoBytes(b *testing.B, p paho.Packet) []byte {
	var buf bytes.Buffer
	if _, err := p.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func paho3Bytes(b *testing.B, p paho3.ControlPacket) []byte {
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkCodec(b *testing.B) {
	for _, c := range benchCases() {
		wire, err := c.p.Append(nil, c.v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/op=encode/impl=midge", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 1024)
			for b.Loop() {
				buf, _ = c.p.Append(buf[:0], c.v)
			}
		})
		b.Run(c.name+"/op=encode/impl=paho.golang", func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				c.paho.WriteTo(&buf)
			}
		})
		if c.paho3 != nil {
			b.Run(c.name+"/op=encode/impl=paho.mqtt.golang", func(b *testing.B) {
				b.ReportAllocs()
				var buf bytes.Buffer
				for b.Loop() {
					buf.Reset()
					c.paho3.Write(&buf)
				}
			})
		}

		b.Run(c.name+"/op=decode/impl=midge", func(b *testing.B) {
			b.ReportAllocs()
			p := c.reuse()
			for b.Loop() {
				if _, err := packet.DecodeInto(p, wire, c.v, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		pw := pahoBytes(b, c.paho)
		b.Run(c.name+"/op=decode/impl=paho.golang", func(b *testing.B) {
			b.ReportAllocs()
			r := bytes.NewReader(pw)
			for b.Loop() {
				r.Reset(pw)
				if _, err := paho.ReadPacket(r); err != nil {
					b.Fatal(err)
				}
			}
		})
		var p3w []byte
		if c.paho3 != nil {
			p3w = paho3Bytes(b, c.paho3)
			b.Run(c.name+"/op=decode/impl=paho.mqtt.golang", func(b *testing.B) {
				b.ReportAllocs()
				r := bytes.NewReader(p3w)
				for b.Loop() {
					r.Reset(p3w)
					if _, err := paho3.ReadPacket(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}

		b.Run(c.name+"/op=decode-new/impl=midge", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := packet.Decode(wire, c.v, 0); err != nil {
					b.Fatal(err)
				}
			}
		})

		b.Run(c.name+"/op=stream/impl=midge", func(b *testing.B) {
			b.ReportAllocs()
			r := packet.NewReader(&loopReader{b: wire}, 0)
			r.Version = c.v
			for b.Loop() {
				if _, err := r.ReadPacket(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/op=stream/impl=paho.golang", func(b *testing.B) {
			b.ReportAllocs()
			r := bufio.NewReader(&loopReader{b: pw})
			for b.Loop() {
				if _, err := paho.ReadPacket(r); err != nil {
					b.Fatal(err)
				}
			}
		})
		if c.paho3 != nil {
			b.Run(c.name+"/op=stream/impl=paho.mqtt.golang", func(b *testing.B) {
				b.ReportAllocs()
				r := bufio.NewReader(&loopReader{b: p3w})
				for b.Loop() {
					if _, err := paho3.ReadPacket(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
