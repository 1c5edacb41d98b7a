package brokertest

import (
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// quiet is how long a test waits to prove that nothing comes.
const quiet = 200 * time.Millisecond

// testConnectFirst: a connection whose first packet is not CONNECT is
// closed, without a CONNACK [MQTT-3.1.0-1].
func testConnectFirst(t *testing.T, e *env) {
	b := e.broker(t)
	firsts := []struct {
		name string
		p    packet.Packet
	}{
		{"PINGREQ", &packet.Pingreq{}},
		{"PUBLISH", &packet.Publish{Topic: "a", Payload: []byte("x")}},
		{"PUBLISH QoS 1", &packet.Publish{Topic: "a", Payload: []byte("x"), QoS: 1, ID: 1}},
		{"SUBSCRIBE", &packet.Subscribe{ID: 1, Subscriptions: []packet.Subscription{{Filter: "#"}}}},
		{"UNSUBSCRIBE", &packet.Unsubscribe{ID: 1, Filters: []string{"#"}}},
		{"PUBREL", &packet.Pubrel{ID: 1}},
		{"DISCONNECT", &packet.Disconnect{}},
	}
	for _, tc := range firsts {
		t.Run(tc.name, func(t *testing.T) {
			c := Dial(t, b.addr, e.v)
			if err := c.WritePacket(tc.p); err != nil {
				t.Fatal(err)
			}
			c.ExpectClosed()
		})
	}
	// The broker still serves others.
	b.connect("after", true)
}

// testProtocolLevel: a CONNECT with a protocol level the broker does not
// speak is answered with return code 1 and closed [MQTT-3.1.2-2]; one with
// a reserved flag set is closed [MQTT-3.1.2-3].
func testProtocolLevel(t *testing.T, e *env) {
	b := e.broker(t)
	connect := func(level, flags byte) []byte {
		return []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', level, flags, 0, 60, 0, 1, 'x'}
	}
	c := b.dial()
	c.WriteRaw(connect(0x2a, 0x02))
	if ack := Expect[*packet.Connack](c); ack.ReasonCode != packet.UnsupportedProtocolVersion {
		t.Fatalf("CONNACK %v, want return code 1", ack.ReasonCode)
	}
	c.ExpectClosed()
	c = b.dial()
	c.WriteRaw(connect(4, 0x03))
	c.ExpectClosed()
}

// testSecondConnect: a second CONNECT on a connection is a protocol
// violation that closes it [MQTT-3.1.0-2].
func testSecondConnect(t *testing.T, e *env) {
	b := e.broker(t)
	c := b.connect("twice", true)
	c.Connect(&packet.Connect{Version: e.v, ClientID: "twice", CleanStart: true})
	c.ExpectClosed()
}

// testClientID: the client identifiers a broker must accept, and the ones
// it must refuse with return code 2 [MQTT-3.1.3-5] [MQTT-3.1.3-8]
// [MQTT-3.1.3-9].
func testClientID(t *testing.T, e *env) {
	cases := []struct {
		name  string
		v     packet.Version
		id    string
		clean bool
		want  packet.ReasonCode
	}{
		// 3.1.1: an empty identifier asks for one to be assigned
		// [MQTT-3.1.3-6], for a clean session only [MQTT-3.1.3-8].
		{"empty, clean", packet.V311, "", true, packet.Success},
		{"empty, persistent", packet.V311, "", false, packet.ClientIdentifierNotValid},
		{"23 characters", packet.V311, strings.Repeat("x", 23), false, packet.Success},
		// 3.1: 1 to 23 characters, no more, no less.
		{"empty", packet.V31, "", true, packet.ClientIdentifierNotValid},
		{"empty, persistent", packet.V31, "", false, packet.ClientIdentifierNotValid},
		{"1 character", packet.V31, "a", true, packet.Success},
		{"23 characters", packet.V31, "0123456789abcdefghijklm", false, packet.Success},
		{"24 characters", packet.V31, "0123456789abcdefghijklmn", true, packet.ClientIdentifierNotValid},
	}
	b := e.broker(t)
	for _, tc := range cases {
		if tc.v != e.v {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			c, ack := b.on(t).connectWith(packet.Connect{ClientID: tc.id, CleanStart: tc.clean})
			if ack.ReasonCode != tc.want {
				t.Fatalf("CONNACK %v, want %v", ack.ReasonCode, tc.want)
			}
			if ack.SessionPresent {
				t.Fatal("session present for a new session [MQTT-3.2.2-3]")
			}
			if tc.want != packet.Success {
				c.ExpectClosed() // [MQTT-3.2.2-5]
				return
			}
			// Accepted: the session works.
			c.MustSubscribe(1, packet.Subscription{Filter: "id/" + tc.name})
			c.MustPublish(&packet.Publish{Topic: "id/" + tc.name, Payload: []byte("me")})
			if got := c.NextPublish(); string(got.Payload) != "me" {
				t.Fatalf("got %+v", got)
			}
		})
	}
	if e.v == packet.V311 {
		// Two clients without an identifier get two different ones: neither
		// takes the other over.
		t.Run("two empty", func(t *testing.T) {
			c1 := MustConnect(t, b.addr, &packet.Connect{Version: e.v, CleanStart: true})
			c2 := MustConnect(t, b.addr, &packet.Connect{Version: e.v, CleanStart: true})
			c1.MustSubscribe(1, packet.Subscription{Filter: "anon"})
			c2.MustPublish(&packet.Publish{Topic: "anon", Payload: []byte("hi"), QoS: 1, ID: 1})
			c1.Ack(c1.NextPublish())
			c2.Pingreq()
			Expect[*packet.Pingresp](c2)
		})
	}
}

// testPing: PINGREQ is answered with PINGRESP [MQTT-3.12.4-1].
func testPing(t *testing.T, e *env) {
	c := e.broker(t).connect("pinger", true)
	for range 3 {
		c.Pingreq()
		Expect[*packet.Pingresp](c)
	}
}

// testDisconnect: after DISCONNECT the broker closes the connection
// [MQTT-3.14.4-1], and it can connect again.
func testDisconnect(t *testing.T, e *env) {
	b := e.broker(t)
	b.connect("bye", true).Leave()
	b.connect("bye", true)
}

// testPubrelUnknown: a PUBREL for a packet identifier the broker holds no
// QoS 2 flow for is still answered with PUBCOMP, so that a client that lost
// the PUBCOMP completes [MQTT-4.3.3-2].
func testPubrelUnknown(t *testing.T, e *env) {
	c := e.broker(t).connect("rel", true)
	c.Pubrel(&packet.Pubrel{ID: 42})
	if got := Expect[*packet.Pubcomp](c); got.ID != 42 {
		t.Fatalf("PUBCOMP %d, want 42", got.ID)
	}
}

// testDuplicateQoS2: a QoS 2 PUBLISH sent again (DUP set, same packet
// identifier) before its PUBREL is acknowledged again and delivered once
// [MQTT-4.3.3-2]; after PUBCOMP the identifier is free for a new message.
func testDuplicateQoS2(t *testing.T, e *env) {
	b := e.broker(t)
	sub := b.connect("sub", true)
	sub.MustSubscribe(1, packet.Subscription{Filter: "dup", QoS: 2})
	pub := b.connect("pub", true)
	p := &packet.Publish{Topic: "dup", Payload: []byte("once"), QoS: 2, ID: 9}
	pub.Publish(p)
	if got := Expect[*packet.Pubrec](pub); got.ID != 9 {
		t.Fatalf("PUBREC %d", got.ID)
	}
	again := *p
	again.Dup = true
	for range 2 {
		pub.Publish(&again)
		if got := Expect[*packet.Pubrec](pub); got.ID != 9 {
			t.Fatalf("PUBREC %d for the duplicate", got.ID)
		}
	}
	pub.Pubrel(&packet.Pubrel{ID: 9})
	if got := Expect[*packet.Pubcomp](pub); got.ID != 9 {
		t.Fatalf("PUBCOMP %d", got.ID)
	}
	got := sub.NextPublish()
	if string(got.Payload) != "once" || got.QoS != 2 || got.Dup {
		t.Fatalf("delivered %+v", got)
	}
	sub.Ack(got)
	sub.ExpectNothing(quiet)

	// Identifier 9 is free again: the same id is a new message now.
	pub.MustPublish(&packet.Publish{Topic: "dup", Payload: []byte("twice"), QoS: 2, ID: 9})
	if got := sub.NextPublish(); string(got.Payload) != "twice" {
		t.Fatalf("second message %+v", got)
	}
}

// testInvalidFilters: a SUBSCRIBE with invalid topic filters gets 0x80 for
// each of them and the granted QoS for the others, in order
// [MQTT-3.8.4-5] [MQTT-3.9.3-1]; the valid ones work.
func testInvalidFilters(t *testing.T, e *env) {
	b := e.broker(t)
	c := b.connect("c", true)
	subs := []struct {
		filter string
		qos    packet.QoS
		want   packet.ReasonCode
	}{
		{"a/#/b", 1, packet.UnspecifiedError}, // '#' not last [MQTT-4.7.1-2]
		{"ok/+", 1, packet.GrantedQoS1},
		{"a+", 0, packet.UnspecifiedError}, // '+' not alone in its level [MQTT-4.7.1-3]
		{"+a/b", 2, packet.UnspecifiedError},
		{"a/b#", 1, packet.UnspecifiedError},
		{"#/", 0, packet.UnspecifiedError},
		{"ok/#", 0, packet.GrantedQoS0},
	}
	var req []packet.Subscription
	for _, s := range subs {
		req = append(req, packet.Subscription{Filter: s.filter, QoS: s.qos})
	}
	ack := c.MustSubscribe(3, req...)
	for i, s := range subs {
		if ack.Reasons[i] != s.want {
			t.Errorf("%q: SUBACK code %#x, want %#x", s.filter, byte(ack.Reasons[i]), byte(s.want))
		}
	}
	c.MustPublish(&packet.Publish{Topic: "ok/x", Payload: []byte("valid"), QoS: 1, ID: 1})
	got := c.NextPublish()
	if got.Topic != "ok/x" || got.QoS != 1 {
		t.Fatalf("got %+v", got)
	}
	c.Ack(got)
	c.ExpectNothing(quiet)
}

// rawPublish encodes a PUBLISH by hand, for what the codec refuses to send.
func rawPublish(flags byte, topic string, payload string) []byte {
	n := 2 + len(topic) + len(payload)
	b := []byte{0x30 | flags, byte(n), byte(len(topic) >> 8), byte(len(topic))}
	return append(append(b, topic...), payload...)
}

// testWildcardPublish: a PUBLISH whose topic name has a wildcard is a
// protocol violation: its client is closed, and nothing is delivered
// [MQTT-3.3.2-2] [MQTT-4.7.1-1] [MQTT-4.8.0-1].
func testWildcardPublish(t *testing.T, e *env) {
	b := e.broker(t)
	all := b.connect("all", true)
	all.MustSubscribe(1, packet.Subscription{Filter: "#"})
	for _, name := range []string{"a/+", "a/#", "#", "+", "a/b+"} {
		t.Run(name, func(t *testing.T) {
			c := b.on(t).connect("wild", true)
			if err := c.WriteEncoded(rawPublish(0, name, "x")); err != nil {
				t.Fatal(err)
			}
			c.ExpectClosed()
		})
	}
	all.ExpectNothing(quiet)
	all.Pingreq()
	Expect[*packet.Pingresp](all)
}

// testMalformedPublish: a malformed PUBLISH closes its client and no one
// else's [MQTT-3.3.1-4] [MQTT-4.8.0-1].
func testMalformedPublish(t *testing.T, e *env) {
	b := e.broker(t)
	other := b.connect("other", true)
	other.MustSubscribe(1, packet.Subscription{Filter: "m/#", QoS: 1})
	cases := []struct {
		name string
		raw  []byte
	}{
		{"QoS 3", rawPublish(0x06, "m/x", "\x00\x01bad")},
		{"topic past the end", []byte{0x30, 3, 0, 9, 'm'}},
		{"QoS 1 without id", []byte{0x32, 3, 0, 1, 'm'}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := b.on(t).connect("bad", true)
			c.WriteEncoded(tc.raw)
			c.ExpectClosed()
		})
	}
	pub := b.connect("pub", true)
	pub.MustPublish(&packet.Publish{Topic: "m/ok", Payload: []byte("fine"), QoS: 1, ID: 1})
	got := other.NextPublish()
	if string(got.Payload) != "fine" {
		t.Fatalf("got %+v", got)
	}
	other.Ack(got)
	other.ExpectNothing(quiet)
}
