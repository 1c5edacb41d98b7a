package brokertest

import (
	"strconv"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// sessionPresent checks the session present flag of a CONNACK: what want
// says in 3.1.1 [MQTT-3.2.2-1] [MQTT-3.2.2-2] [MQTT-3.2.2-3], always 0 in
// 3.1, which has no such flag.
func sessionPresent(t *testing.T, v packet.Version, ack *packet.Connack, want bool) {
	t.Helper()
	if ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK %v", ack.ReasonCode)
	}
	if v == packet.V31 {
		want = false
	}
	if ack.SessionPresent != want {
		t.Fatalf("session present %v, want %v", ack.SessionPresent, want)
	}
}

// testPersistentSession: a session with clean session 0 keeps its
// subscriptions and collects QoS 1 and 2 messages, not QoS 0 ones, while
// its client is away, and gives them in order when it comes back
// [MQTT-3.1.2-4] [MQTT-3.1.2-5]; clean session 1 discards it, and a clean
// session does not outlive its connection [MQTT-3.1.2-6].
func testPersistentSession(t *testing.T, e *env) {
	b := e.broker(t)
	c, ack := b.connectWith(packet.Connect{ClientID: "p"})
	sessionPresent(t, e.v, ack, false)
	c.MustSubscribe(1, packet.Subscription{Filter: "q/#", QoS: 2})
	c.Leave()

	pub := b.connect("pub", true)
	qos := []packet.QoS{1, 2, 0, 1, 2}
	for i, q := range qos {
		pub.MustPublish(&packet.Publish{Topic: "q/x", Payload: []byte(strconv.Itoa(i)), QoS: q, ID: uint16(i + 1)})
	}

	c, ack = b.connectWith(packet.Connect{ClientID: "p"})
	sessionPresent(t, e.v, ack, true)
	for i, q := range qos {
		if q == 0 {
			continue // not kept for an offline session
		}
		got := c.NextPublish()
		if string(got.Payload) != strconv.Itoa(i) || got.QoS != q || got.Dup || got.Retain {
			t.Fatalf("offline message %d at QoS %d: got %+v", i, q, got)
		}
		c.Ack(got)
	}
	c.ExpectNothing(quiet)

	// The subscription is still there, online.
	pub.MustPublish(&packet.Publish{Topic: "q/y", Payload: []byte("online"), QoS: 1, ID: 9})
	got := c.NextPublish()
	if string(got.Payload) != "online" {
		t.Fatalf("got %+v", got)
	}
	c.Ack(got)
	c.Leave()

	// Clean session 1 throws the session away, subscriptions and all.
	pub.MustPublish(&packet.Publish{Topic: "q/x", Payload: []byte("dropped"), QoS: 1, ID: 10})
	c, ack = b.connectWith(packet.Connect{ClientID: "p", CleanStart: true})
	sessionPresent(t, e.v, ack, false)
	pub.MustPublish(&packet.Publish{Topic: "q/x", Payload: []byte("after"), QoS: 1, ID: 11})
	c.ExpectNothing(quiet)
	c.Leave()

	// And that clean session ended with its connection.
	c, ack = b.connectWith(packet.Connect{ClientID: "p"})
	sessionPresent(t, e.v, ack, false)
	pub.MustPublish(&packet.Publish{Topic: "q/x", Payload: []byte("none"), QoS: 1, ID: 12})
	c.ExpectNothing(quiet)
}

// testRedelivery: when a persistent session's client comes back, the
// broker sends again what it had not completed: each unacknowledged PUBLISH
// with DUP set and its packet identifier, in the original order, and the
// PUBREL of each QoS 2 flow whose PUBCOMP is missing [MQTT-4.4.0-1]
// [MQTT-3.3.1-1] [MQTT-4.6.0-1]; and nothing once it is all completed.
func testRedelivery(t *testing.T, e *env) {
	b := e.broker(t)
	c := b.connect("r", false)
	c.MustSubscribe(1, packet.Subscription{Filter: "r/#", QoS: 2})
	pub := b.connect("pub", true)
	msgs := []struct {
		payload string
		qos     packet.QoS
	}{{"m0", 1}, {"m1", 2}, {"m2", 2}, {"m3", 1}}
	for i, m := range msgs {
		pub.MustPublish(&packet.Publish{Topic: "r/x", Payload: []byte(m.payload), QoS: m.qos, ID: uint16(i + 1)})
	}
	ids := make([]uint16, len(msgs))
	for i, m := range msgs {
		got := c.NextPublish()
		if string(got.Payload) != m.payload || got.QoS != m.qos || got.Dup {
			t.Fatalf("message %d: %+v", i, got)
		}
		ids[i] = got.ID
	}
	// m1 half way: PUBREC sent, PUBREL received, no PUBCOMP. m3 completed.
	// m0 and m2 not acknowledged at all.
	c.Pubrec(&packet.Pubrec{ID: ids[1]})
	if r := Expect[*packet.Pubrel](c); r.ID != ids[1] {
		t.Fatalf("PUBREL %d, want %d", r.ID, ids[1])
	}
	c.Puback(&packet.Puback{ID: ids[3]})
	c.Pingreq() // the PUBACK was read once PINGRESP comes back
	Expect[*packet.Pingresp](c)
	c.Close() // gone, without DISCONNECT

	c, ack := b.connectWith(packet.Connect{ClientID: "r"})
	sessionPresent(t, e.v, ack, true)
	var publishes []*packet.Publish
	var rel *packet.Pubrel
	for range 3 {
		switch p := c.Next().(type) {
		case *packet.Publish:
			publishes = append(publishes, p)
		case *packet.Pubrel:
			if rel != nil {
				t.Fatalf("PUBREL %d sent twice", p.ID)
			}
			rel = p
		default:
			t.Fatalf("unexpected %v", p.Type())
		}
	}
	if rel == nil || rel.ID != ids[1] {
		t.Fatalf("PUBREL for m1 (%d) not sent again: %+v", ids[1], rel)
	}
	if len(publishes) != 2 {
		t.Fatalf("%d PUBLISH sent again, want 2 (m0, m2)", len(publishes))
	}
	for i, want := range []int{0, 2} {
		p := publishes[i]
		if string(p.Payload) != msgs[want].payload || !p.Dup || p.ID != ids[want] || p.QoS != msgs[want].qos {
			t.Fatalf("redelivery %d: %+v, want m%d with DUP and id %d", i, p, want, ids[want])
		}
	}
	c.Puback(&packet.Puback{ID: ids[0]})
	c.Pubcomp(&packet.Pubcomp{ID: ids[1]})
	c.Ack(publishes[1])
	c.ExpectNothing(quiet)
	// The acknowledgements were read once PINGRESP comes back: a broker
	// still reading them when the client comes back would rightly send
	// the PUBREL again.
	c.Pingreq()
	Expect[*packet.Pingresp](c)
	c.Close()

	// Everything was completed: nothing more comes.
	c, _ = b.connectWith(packet.Connect{ClientID: "r"})
	c.ExpectNothing(quiet)
}

// testTakeover: a CONNECT with the client identifier of a connected client
// closes the older connection [MQTT-3.1.4-2]; the session lives on in the
// newer one (persistent) or starts anew (clean), and exactly one copy of
// each message reaches the one live client.
func testTakeover(t *testing.T, e *env) {
	for _, clean := range []bool{true, false} {
		t.Run("clean="+strconv.FormatBool(clean), func(t *testing.T) {
			b := e.broker(t)
			first := b.connect("same", clean)
			first.MustSubscribe(1, packet.Subscription{Filter: "t", QoS: 1})
			second, ack := b.connectWith(packet.Connect{ClientID: "same", CleanStart: clean})
			sessionPresent(t, e.v, ack, !clean)
			first.ExpectClosed()
			if clean {
				second.MustSubscribe(1, packet.Subscription{Filter: "t", QoS: 1})
			}
			pub := b.connect("pub", true)
			pub.MustPublish(&packet.Publish{Topic: "t", Payload: []byte("to the survivor"), QoS: 1, ID: 1})
			got := second.NextPublish()
			if string(got.Payload) != "to the survivor" {
				t.Fatalf("got %+v", got)
			}
			second.Ack(got)
			second.ExpectNothing(quiet)
		})
	}
}

// testWill: the will is published when the connection ends any way but by
// DISCONNECT: the client vanishing, a protocol violation, a keep alive
// timeout [MQTT-3.1.2-8]; DISCONNECT discards it [MQTT-3.14.4-3]. With the
// will retain flag it is published retained [MQTT-3.1.2-17].
func testWill(t *testing.T, e *env) {
	cases := []struct {
		name      string
		keepAlive uint16
		retain    bool
		end       func(c *Client)
		want      bool
	}{
		{"unclean close", 0, false, func(c *Client) { c.Close() }, true},
		{"second CONNECT", 0, false, func(c *Client) { c.Connect(&packet.Connect{Version: c.Version(), ClientID: "again"}) }, true},
		{"malformed packet", 0, false, func(c *Client) { c.WriteEncoded(rawPublish(0x06, "w", "\x00\x01")) }, true},
		{"keep alive timeout", 1, false, func(*Client) {}, true},
		{"retained", 0, true, func(c *Client) { c.Close() }, true},
		{"DISCONNECT", 0, false, func(c *Client) { c.Leave() }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := e.broker(t)
			sub := b.connect("sub", true)
			sub.MustSubscribe(1, packet.Subscription{Filter: "will/#", QoS: 2})
			// The subscription is complete once the broker answers what
			// follows its SUBACK: a retained will published while a broker
			// still looks up the retained messages for the new subscription
			// may reach it twice, live and as retained. This test is about
			// wills, not that race.
			sub.Pingreq()
			Expect[*packet.Pingresp](sub)
			will := &packet.Will{Topic: "will/x", Payload: []byte("gone"), QoS: 1, Retain: tc.retain}
			c := MustConnect(t, b.addr, &packet.Connect{Version: e.v, ClientID: "dying", CleanStart: true,
				KeepAlive: tc.keepAlive, Will: will})
			tc.end(c)
			if !tc.want {
				sub.ExpectNothing(3 * quiet / 2)
				return
			}
			got := sub.NextPublish()
			if got.Topic != "will/x" || string(got.Payload) != "gone" || got.QoS != 1 || got.Retain {
				t.Fatalf("will delivered as %+v [MQTT-3.1.2-16]", got)
			}
			sub.Ack(got)
			c.ExpectClosed()
			if tc.retain {
				late := b.connect("late", true)
				late.MustSubscribe(1, packet.Subscription{Filter: "will/#", QoS: 2})
				if got := late.NextPublish(); string(got.Payload) != "gone" || !got.Retain || got.QoS != 1 {
					t.Fatalf("retained will %+v", got)
				}
			}
			sub.ExpectNothing(quiet) // once
		})
	}
}

// testKeepAlive: a client silent for one and a half times its keep alive
// is disconnected [MQTT-3.1.2-24], not before; any packet, PINGREQ or
// another, keeps it connected. The clients run side by side: the time
// passing is the test.
func testKeepAlive(t *testing.T, e *env) {
	b := e.broker(t)
	connect := func(id string) *Client {
		return MustConnect(t, b.addr, &packet.Connect{Version: e.v, ClientID: id, CleanStart: true, KeepAlive: 1})
	}
	start := time.Now()
	silent := connect("silent")
	keepers := []struct {
		name string
		send func(c *Client)
	}{
		{"PINGREQ", func(c *Client) {
			c.Pingreq()
			Expect[*packet.Pingresp](c)
		}},
		{"PUBLISH", func(c *Client) { c.Publish(&packet.Publish{Topic: "ka", Payload: []byte("x")}) }},
		{"SUBSCRIBE", func(c *Client) { c.MustSubscribe(1, packet.Subscription{Filter: "ka/sub"}) }},
	}
	clients := make([]*Client, len(keepers))
	for i, k := range keepers {
		clients[i] = connect(k.name)
	}
	// 4 × 0.7 s = 2.8 s in all, well past 1.5 s; each gap well inside it.
	for range 4 {
		time.Sleep(700 * time.Millisecond)
		for i, k := range keepers {
			if clients[i].Closed() {
				t.Fatalf("kept alive by %s: closed after %v", k.name, time.Since(start))
			}
			k.send(clients[i])
		}
	}
	for i := range keepers {
		clients[i].Pingreq()
		Expect[*packet.Pingresp](clients[i])
	}
	silent.ExpectClosed()
	if d := silent.endedAt().Sub(start); d < 1450*time.Millisecond || d > 2500*time.Millisecond {
		t.Fatalf("silent client closed after %v, want 1.5 s", d)
	}
}
