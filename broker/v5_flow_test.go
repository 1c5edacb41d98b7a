package broker

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

// expectPublishes takes the next n packets of c, which must be PUBLISH
// packets with the payloads want, in order, and returns them; then nothing
// more may come for a moment.
func expectPublishes(t *testing.T, c *brokertest.Client, want ...string) []*packet.Publish {
	t.Helper()
	var got []*packet.Publish
	for _, w := range want {
		p := c.NextPublish()
		if string(p.Payload) != w {
			t.Fatalf("got %q, want %q", p.Payload, w)
		}
		got = append(got, p)
	}
	c.ExpectNothing(quiet)
	return got
}

// TestV5ReceiveMaximumToClient: the broker never has more QoS 1 PUBLISH
// packets unacknowledged than the client's Receive Maximum [MQTT-3.3.4-9].
func TestV5ReceiveMaximumToClient(t *testing.T) {
	_, addr := startBroker(t, nil)
	sub, _ := connect5(t, addr, "rm2", true, &packet.Properties{ReceiveMaximum: 2})
	subscribeQoS1(t, sub, "rm/t")
	var ps []*packet.Publish
	for i := range 10 {
		ps = append(ps, &packet.Publish{Topic: "rm/t", QoS: 1, Payload: fmt.Appendf(nil, "m%d", i)})
	}
	publishRaw(t, addr, ps...)

	window := expectPublishes(t, sub, "m0", "m1")
	for i := 2; i < 10; i++ {
		// One acknowledged, one more sent.
		sub.Puback(&packet.Puback{ID: window[0].ID})
		window = append(window[1:], expectPublishes(t, sub, fmt.Sprintf("m%d", i))...)
	}
	for _, p := range window {
		sub.Puback(&packet.Puback{ID: p.ID})
	}
	sub.ExpectNothing(quiet)
}

// TestV5ReceiveMaximumFromClient: a client that sends more unacknowledged
// QoS 2 PUBLISH packets than the broker's Receive Maximum is disconnected
// with 0x93 [MQTT-3.3.4-7]; one released in time makes room.
func TestV5ReceiveMaximumFromClient(t *testing.T) {
	_, addr := startBroker(t, &Options{Capabilities: capsWith(func(c *stack.Capabilities) { c.ReceiveMaximum = 2 })})
	c, ack := connect5(t, addr, "floods", true, nil)
	if ack.Props.ReceiveMaximum != 2 {
		t.Fatalf("CONNACK receive maximum %d, want 2", ack.Props.ReceiveMaximum)
	}
	pubrec := func(id uint16) {
		t.Helper()
		c.Publish(&packet.Publish{Topic: "rmf/t", QoS: 2, ID: id})
		c.FindAck(packet.TypePubrec, id)
	}
	pubrec(1)
	pubrec(2)
	c.Pubrel(&packet.Pubrel{ID: 1})
	c.FindAck(packet.TypePubcomp, 1)
	pubrec(3)                                                 // 2 and 3 unreleased: at the maximum
	pubrec(2)                                                 // sent again: not a new one
	c.Publish(&packet.Publish{Topic: "rmf/t", QoS: 2, ID: 4}) // one too many
	expectDisconnect(t, c, packet.ReceiveMaximumExceeded, true)
}

// TestV5MaximumPacketSizeToClient: no packet larger than the client's
// Maximum Packet Size is sent to it [MQTT-3.1.2-24]: the message is
// dropped for that client [MQTT-3.1.2-25] and told in a Dropped event; the
// messages after it still come, and a too large QoS 1 message takes no
// room in the client's window.
func TestV5MaximumPacketSizeToClient(t *testing.T) {
	b, addr := startBroker(t, nil)
	rec := record(b)
	sub, _ := connect5(t, addr, "small", true, &packet.Properties{MaximumPacketSize: 100, ReceiveMaximum: 1})
	subscribeQoS1(t, sub, "mps/#")
	big := []byte(strings.Repeat("x", 200))
	for _, qos := range []packet.QoS{0, 1} {
		publishRaw(t, addr,
			&packet.Publish{Topic: "mps/big", QoS: qos, Payload: big},
			&packet.Publish{Topic: "mps/small", QoS: qos, Payload: []byte("fits")})
		p := sub.NextPublish()
		if p.Topic != "mps/small" {
			t.Fatalf("QoS %d: got %s, want mps/small", qos, p.Topic)
		}
		sub.Ack(p)
		d := rec.wait(t, "Dropped", func(e event) bool { return e.id == "small" && e.msg.QoS == qos })
		if !errors.Is(d.err, mqtt.ErrPacketTooLarge) || d.msg.Topic != "mps/big" {
			t.Errorf("QoS %d: Dropped %s with %v, want mps/big with ErrPacketTooLarge", qos, d.msg.Topic, d.err)
		}
	}
	sub.ExpectNothing(quiet)
}

// TestV5MaximumPacketSizeFromClient: a packet above the broker's maximum
// packet size ends the connection with 0x95 [MQTT-3.2.2-15].
func TestV5MaximumPacketSizeFromClient(t *testing.T) {
	_, addr := startBroker(t, &Options{MaxPacketSize: 200})
	c, ack := connect5(t, addr, "large", true, nil)
	if ack.Props.MaximumPacketSize != 200 {
		t.Fatalf("CONNACK maximum packet size %d, want 200", ack.Props.MaximumPacketSize)
	}
	c.MustPublish(&packet.Publish{Topic: "mpsf/t", QoS: 1, ID: 1, Payload: make([]byte, 150)})
	// Written past the client's own connection, which keeps to the limit
	// the CONNACK announced.
	raw, err := (&packet.Publish{Topic: "mpsf/t", QoS: 1, ID: 2, Payload: make([]byte, 300)}).Append(nil, packet.V5)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(&packet.Publish{Topic: "mpsf/t", QoS: 1, ID: 2, Payload: make([]byte, 300)}); !errors.Is(err, mqtt.ErrPacketTooLarge) {
		t.Fatalf("the client's connection sent a packet above the announced maximum: %v", err)
	}
	c.WriteRaw(raw)
	expectDisconnect(t, c, packet.PacketTooLarge, true)
}

// TestV5PubrecFailure: a PUBREC with a failure reason code ends that QoS 2
// flow: no PUBREL follows [MQTT-4.3.3-4], and its window slot is free for
// the next message.
func TestV5PubrecFailure(t *testing.T) {
	_, addr := startBroker(t, nil)
	sub, _ := connect5(t, addr, "refuses", true, &packet.Properties{ReceiveMaximum: 1})
	if ack := sub.MustSubscribe(1, packet.Subscription{Filter: "prf/t", QoS: 2}); ack.Reasons[0] != packet.GrantedQoS2 {
		t.Fatal(ack.Reasons[0])
	}
	publishRaw(t, addr,
		&packet.Publish{Topic: "prf/t", QoS: 2, Payload: []byte("refused")},
		&packet.Publish{Topic: "prf/t", QoS: 2, Payload: []byte("next")})
	first := expectPublishes(t, sub, "refused")[0]
	sub.Pubrec(&packet.Pubrec{ID: first.ID, ReasonCode: packet.UnspecifiedError})
	// The next packet is the next message, not a PUBREL.
	second := expectPublishes(t, sub, "next")[0]
	sub.Ack(second)
	sub.ExpectNothing(quiet)
}

// TestV5ReceiveMaximumLowerOnReturn: a client back with a lower Receive
// Maximum than it had is sent again only as many unacknowledged messages as
// it now takes [MQTT-3.3.4-9]; the rest follow as it acknowledges.
func TestV5ReceiveMaximumLowerOnReturn(t *testing.T) {
	_, addr := startBroker(t, nil)
	sub, _ := connect5(t, addr, "shrinks", false, &packet.Properties{SessionExpiry: 60, ReceiveMaximum: 4})
	subscribeQoS1(t, sub, "rml/t")
	var ps []*packet.Publish
	for i := range 5 {
		ps = append(ps, &packet.Publish{Topic: "rml/t", QoS: 1, Payload: fmt.Appendf(nil, "m%d", i)})
	}
	publishRaw(t, addr, ps...)
	expectPublishes(t, sub, "m0", "m1", "m2", "m3") // none acknowledged
	sub.Close()

	sub, ack := connect5(t, addr, "shrinks", false, &packet.Properties{SessionExpiry: 60, ReceiveMaximum: 2})
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	window := expectPublishes(t, sub, "m0", "m1")
	if !window[0].Dup || !window[1].Dup {
		t.Error("unacknowledged messages sent again without DUP [MQTT-4.4.0-1]")
	}
	for i := 2; i < 5; i++ {
		sub.Puback(&packet.Puback{ID: window[0].ID})
		window = append(window[1:], expectPublishes(t, sub, fmt.Sprintf("m%d", i))...)
	}
	for _, p := range window {
		sub.Puback(&packet.Puback{ID: p.ID})
	}
	sub.ExpectNothing(quiet)
}

// TestV5MaximumPacketSizeOnReturn: a message in flight to a client that
// comes back with a Maximum Packet Size too small for it is not sent again
// [MQTT-3.1.2-24]: it is dropped as if delivered [MQTT-3.1.2-25], told in a
// Dropped event, and the messages after it come.
func TestV5MaximumPacketSizeOnReturn(t *testing.T) {
	b, addr := startBroker(t, nil)
	rec := record(b)
	sub, _ := connect5(t, addr, "shrinking", false, &packet.Properties{SessionExpiry: 60})
	subscribeQoS1(t, sub, "mpr/#")
	publishRaw(t, addr, &packet.Publish{Topic: "mpr/big", QoS: 1, Payload: []byte(strings.Repeat("x", 200))})
	if p := sub.NextPublish(); p.Topic != "mpr/big" {
		t.Fatalf("got %s", p.Topic)
	}
	sub.Leave() // without PUBACK: the message stays in flight
	sub, ack := connect5(t, addr, "shrinking", false, &packet.Properties{SessionExpiry: 60, MaximumPacketSize: 100})
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	d := rec.wait(t, "Dropped", func(e event) bool { return e.id == "shrinking" })
	if !errors.Is(d.err, mqtt.ErrPacketTooLarge) || d.msg.Topic != "mpr/big" {
		t.Errorf("Dropped %s with %v, want mpr/big with ErrPacketTooLarge", d.msg.Topic, d.err)
	}
	publishRaw(t, addr, &packet.Publish{Topic: "mpr/small", QoS: 1, Payload: []byte("fits")})
	if p := sub.NextPublish(); p.Topic != "mpr/small" || p.Dup {
		t.Fatalf("got %+v, want mpr/small", p)
	}
}
