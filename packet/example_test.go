package packet_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/midge-mqtt/midge/packet"
)

// Encode a packet onto a buffer, then decode it back.
func Example() {
	pub := &packet.Publish{Topic: "sensors/1/temp", Payload: []byte("21.5"), QoS: packet.AtLeastOnce, ID: 1}
	buf, err := pub.Append(nil, packet.V311)
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", buf)

	p, n, err := packet.Decode(buf, packet.V311, 0)
	if err != nil {
		panic(err)
	}
	got := p.(*packet.Publish)
	fmt.Println(n, got.Type(), got.Topic, string(got.Payload), got.QoS, got.ID)
	// Output:
	// 32 16 00 0e 73 65 6e 73 6f 72 73 2f 31 2f 74 65 6d 70 00 01 32 31 2e 35
	// 24 PUBLISH sensors/1/temp 21.5 1 1
}

// Read packets from a stream. A Reader learns the protocol version from the
// CONNECT it reads, so the MQTT 5 properties of later packets are decoded.
func ExampleReader() {
	var stream []byte
	stream, _ = (&packet.Connect{Version: packet.V5, ClientID: "c1", CleanStart: true}).Append(stream, 0)
	stream, _ = (&packet.Publish{Topic: "a/b", Payload: []byte("x"),
		Props: &packet.Properties{ContentType: "text/plain"}}).Append(stream, packet.V5)

	r := packet.NewReader(bytes.NewReader(stream), 0)
	for {
		p, err := r.ReadPacket()
		if err != nil {
			fmt.Println(err) // io.EOF at the clean end of the stream
			return
		}
		switch p := p.(type) {
		case *packet.Connect:
			fmt.Println("CONNECT", p.ClientID, p.Version)
		case *packet.Publish:
			fmt.Println("PUBLISH", p.Topic, p.Props.ContentType)
		}
	}
	// Output:
	// CONNECT c1 5.0
	// PUBLISH a/b text/plain
	// EOF
}

// Feed a Parser chunks as they arrive: a packet split across chunks comes out
// whole once its last byte is in.
func ExampleParser() {
	wire, _ := (&packet.Subscribe{ID: 7, Subscriptions: []packet.Subscription{{Filter: "a/+", QoS: 1}}}).Append(nil, packet.V311)
	var ps packet.Parser
	for _, chunk := range [][]byte{wire[:3], wire[3:5], wire[5:]} {
		ps.Write(chunk)
		p, err := ps.Next()
		if err != nil {
			panic(err)
		}
		if p == nil {
			fmt.Println("need more")
			continue
		}
		s := p.(*packet.Subscribe)
		fmt.Println(s.Type(), s.ID, s.Subscriptions[0].Filter)
	}
	// Output:
	// need more
	// need more
	// SUBSCRIBE 7 a/+
}

// A malformed packet is an error carrying the reason code MQTT 5 names for
// it, found with errors.Is or errors.As.
func ExampleError() {
	// A PUBLISH with QoS 3 in its fixed header.
	_, _, err := packet.Decode([]byte{0x36, 0x03, 0x00, 0x01, 'a'}, packet.V5, 0)
	fmt.Println(err)
	fmt.Println(errors.Is(err, packet.MalformedPacket))
	var rc packet.ReasonCode
	if errors.As(err, &rc) {
		fmt.Printf("send DISCONNECT 0x%02X\n", byte(rc))
	}
	// Output:
	// packet: PUBLISH QoS 3 [MQTT-3.3.1-4]
	// true
	// send DISCONNECT 0x81
}
