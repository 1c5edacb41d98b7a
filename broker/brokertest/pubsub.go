package brokertest

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// testQoS: a message published at each QoS reaches subscribers at each
// QoS at the lower of the two [MQTT-3.8.4-6], with the flows of both sides
// carrying the right packet identifiers [MQTT-2.3.1-6] and no DUP on a
// first delivery [MQTT-3.3.1-3].
func testQoS(t *testing.T, e *env) {
	b := e.broker(t)
	subs := make([]*Client, 3)
	for q := range subs {
		subs[q] = b.connect(fmt.Sprintf("sub%d", q), true)
		ack := subs[q].MustSubscribe(uint16(10+q), packet.Subscription{Filter: "qos/t", QoS: packet.QoS(q)})
		if ack.Reasons[0] != packet.ReasonCode(q) {
			t.Fatalf("SUBACK granted %#x, want QoS %d", byte(ack.Reasons[0]), q)
		}
	}
	pub := b.connect("pub", true)
	for pq := packet.QoS(0); pq <= 2; pq++ {
		var id uint16
		if pq > 0 {
			id = uint16(100 + pq)
		}
		payload := []byte{'0' + byte(pq)}
		pub.Publish(&packet.Publish{Topic: "qos/t", Payload: payload, QoS: pq, ID: id})
		switch pq {
		case 1:
			if a := Expect[*packet.Puback](pub); a.ID != id { // [MQTT-4.3.2-2]
				t.Fatalf("PUBACK %d, want %d", a.ID, id)
			}
		case 2:
			if a := Expect[*packet.Pubrec](pub); a.ID != id {
				t.Fatalf("PUBREC %d, want %d", a.ID, id)
			}
			pub.Pubrel(&packet.Pubrel{ID: id})
			if a := Expect[*packet.Pubcomp](pub); a.ID != id {
				t.Fatalf("PUBCOMP %d, want %d", a.ID, id)
			}
		}
		for sq, s := range subs {
			want := min(pq, packet.QoS(sq))
			got := s.NextPublish()
			if got.Topic != "qos/t" || string(got.Payload) != string(payload) || got.QoS != want || got.Retain || got.Dup {
				t.Fatalf("published at QoS %d, subscribed at %d: delivered %+v, want QoS %d", pq, sq, got, want)
			}
			if want > 0 && got.ID == 0 {
				t.Fatalf("QoS %d delivery with packet identifier 0 [MQTT-2.3.1-1]", want)
			}
			switch want {
			case 1:
				s.Puback(&packet.Puback{ID: got.ID})
			case 2:
				s.Pubrec(&packet.Pubrec{ID: got.ID})
				if rel := Expect[*packet.Pubrel](s); rel.ID != got.ID {
					t.Fatalf("PUBREL %d, want %d [MQTT-4.3.3-1]", rel.ID, got.ID)
				}
				s.Pubcomp(&packet.Pubcomp{ID: got.ID})
			}
		}
	}
	// Completed flows are not sent again.
	time.Sleep(quiet)
	for _, s := range append(subs, pub) {
		s.ExpectNothing(time.Millisecond)
	}
}

// testPacketIDs: the messages the broker has in flight to a client carry
// distinct, non-zero packet identifiers [MQTT-2.3.1-1] [MQTT-2.3.1-2]
// [MQTT-2.3.1-4].
func testPacketIDs(t *testing.T, e *env) {
	b := e.broker(t)
	sub := b.connect("sub", true)
	sub.MustSubscribe(1, packet.Subscription{Filter: "ids/#", QoS: 2})
	pub := b.connect("pub", true)
	const n = 16
	for i := range n {
		pub.MustPublish(&packet.Publish{Topic: "ids/x", Payload: []byte(strconv.Itoa(i)), QoS: packet.QoS(1 + i%2), ID: uint16(i + 1)})
	}
	seen := map[uint16]bool{}
	var got []*packet.Publish
	for i := range n {
		p := sub.NextPublish()
		switch {
		case string(p.Payload) != strconv.Itoa(i):
			t.Fatalf("message %d: %+v", i, p)
		case p.ID == 0:
			t.Fatalf("message %d with packet identifier 0 [MQTT-2.3.1-1]", i)
		case seen[p.ID]:
			t.Fatalf("packet identifier %d used twice in flight [MQTT-2.3.1-2]", p.ID)
		}
		seen[p.ID] = true
		got = append(got, p)
	}
	for _, p := range got {
		sub.Ack(p)
	}
	sub.ExpectNothing(quiet)
}

// testOrdering: many messages from one publisher on one topic reach a
// subscriber in the order published, at each QoS [MQTT-4.6.0-5]
// [MQTT-4.6.0-6], while both sides' flows overlap.
func testOrdering(t *testing.T, e *env) {
	const n = 500
	for qos := packet.QoS(0); qos <= 2; qos++ {
		t.Run(fmt.Sprintf("QoS%d", qos), func(t *testing.T) {
			t.Parallel()
			b := e.broker(t)
			sub := b.connect("sub", true)
			sub.MustSubscribe(1, packet.Subscription{Filter: "order/t", QoS: qos})
			pub := b.connect("pub", true)

			// The publisher's acknowledgements are handled on the side, as
			// they come, so the publisher never waits for one.
			acked := make(chan error, 1)
			go func() { acked <- completePublisher(pub, qos, n) }()
			for i := range n {
				p := &packet.Publish{Topic: "order/t", Payload: []byte(strconv.Itoa(i)), QoS: qos}
				if qos > 0 {
					p.ID = uint16(i + 1)
				}
				if err := pub.Publish(p); err != nil {
					t.Fatal(err)
				}
			}
			for next, released := 0, 0; next < n || released < next && qos == 2; {
				switch p := sub.Next().(type) {
				case *packet.Publish:
					if string(p.Payload) != strconv.Itoa(next) || p.QoS != qos {
						t.Fatalf("message %d: got %q at QoS %d", next, p.Payload, p.QoS)
					}
					next++
					switch qos {
					case 1:
						sub.Puback(&packet.Puback{ID: p.ID})
					case 2:
						sub.Pubrec(&packet.Pubrec{ID: p.ID})
					}
				case *packet.Pubrel:
					sub.Pubcomp(&packet.Pubcomp{ID: p.ID})
					released++
				default:
					t.Fatalf("unexpected %v", p.Type())
				}
			}
			select {
			case err := <-acked:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(Wait):
				t.Fatal("publisher's flows not completed")
			}
			sub.ExpectNothing(quiet)
		})
	}
}

// completePublisher answers the broker's acknowledgements of n messages
// published at qos with identifiers 1 to n, and checks that they come in
// order [MQTT-4.6.0-2] [MQTT-4.6.0-3]. It runs on its own goroutine: it
// reports instead of failing the test.
func completePublisher(c *Client, qos packet.QoS, n int) error {
	if qos == 0 {
		return nil
	}
	for acks, recs := 0, 0; acks < n; {
		p, err := c.take(nil, Wait)
		if p == nil {
			return fmt.Errorf("publisher: %d of %d acknowledged: %v", acks, n, err)
		}
		switch p := p.(type) {
		case *packet.Puback:
			if qos != 1 || p.ID != uint16(acks+1) {
				return fmt.Errorf("PUBACK %d, want %d", p.ID, acks+1)
			}
			acks++
		case *packet.Pubrec:
			if qos != 2 || p.ID != uint16(recs+1) {
				return fmt.Errorf("PUBREC %d, want %d", p.ID, recs+1)
			}
			recs++
			c.Pubrel(&packet.Pubrel{ID: p.ID})
		case *packet.Pubcomp:
			if qos != 2 || p.ID != uint16(acks+1) {
				return fmt.Errorf("PUBCOMP %d, want %d", p.ID, acks+1)
			}
			acks++
		default:
			return fmt.Errorf("publisher got %v", p.Type())
		}
	}
	return nil
}

// testWildcards: '+' matches one level, '#' any number of levels including
// the parent's, and neither matches a topic starting with '$' from the
// first level [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1]; names are
// matched byte for byte [MQTT-4.7.3-4].
func testWildcards(t *testing.T, e *env) {
	topics := []string{
		"sport/tennis/player1",
		"sport/tennis/player1/ranking",
		"sport/tennis",
		"sport",
		"sport/",
		"/finance",
		"finance",
		"Sport",
		"$dollar/x",
		"$dollar",
	}
	notDollar := topics[:8]
	cases := []struct {
		filter string
		want   []string
	}{
		{"sport/tennis/player1", []string{"sport/tennis/player1"}},
		{"sport/tennis/player1/#", []string{"sport/tennis/player1", "sport/tennis/player1/ranking"}},
		{"sport/#", []string{"sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis", "sport", "sport/"}},
		{"#", notDollar},
		{"+/#", notDollar},
		{"sport/tennis/+", []string{"sport/tennis/player1"}},
		{"sport/+", []string{"sport/tennis", "sport/"}},
		{"+", []string{"sport", "finance", "Sport"}},
		{"+/+", []string{"sport/tennis", "sport/", "/finance"}},
		{"/+", []string{"/finance"}},
		{"+/tennis/#", []string{"sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis"}},
		{"$dollar/#", []string{"$dollar/x", "$dollar"}},
		{"+/x", nil},
		{"$dollar/+", []string{"$dollar/x"}},
		{"SPORT/#", nil},
	}
	b := e.broker(t)
	subs := make([]*Client, len(cases))
	for i, tc := range cases {
		subs[i] = b.connect(fmt.Sprintf("w%d", i), true)
		if ack := subs[i].MustSubscribe(1, packet.Subscription{Filter: tc.filter, QoS: 1}); ack.Reasons[0] != 1 {
			t.Fatalf("%q refused: %#x", tc.filter, byte(ack.Reasons[0]))
		}
	}
	pub := b.connect("pub", true)
	for i, name := range topics {
		pub.MustPublish(&packet.Publish{Topic: name, Payload: []byte(name), QoS: 1, ID: uint16(i + 1)})
	}
	for i, tc := range cases {
		var got []string
		for range tc.want {
			p := subs[i].NextPublish()
			got = append(got, p.Topic)
			subs[i].Ack(p)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("%q received %q, want %q", tc.filter, got, want)
		}
	}
	time.Sleep(quiet)
	for i, tc := range cases {
		if p, _ := subs[i].take(nil, time.Millisecond); p != nil {
			t.Errorf("%q also received %v %+v", tc.filter, p.Type(), p)
		}
	}
}

// testOverlapping: a client whose subscriptions overlap gets one copy of a
// message, at the highest QoS of the matching ones (never more than it was
// published at) [MQTT-3.3.5-1].
func testOverlapping(t *testing.T, e *env) {
	cases := []struct {
		name string
		subs []packet.Subscription
		pub  packet.QoS
		want packet.QoS
	}{
		{"highest wins", []packet.Subscription{{Filter: "a/+", QoS: 0}, {Filter: "a/#", QoS: 2}, {Filter: "a/b", QoS: 1}}, 2, 2},
		{"capped by publish", []packet.Subscription{{Filter: "a/+", QoS: 0}, {Filter: "a/#", QoS: 2}, {Filter: "a/b", QoS: 1}}, 1, 1},
		{"exact and #", []packet.Subscription{{Filter: "a/b", QoS: 1}, {Filter: "#", QoS: 0}}, 2, 1},
		{"all QoS 0", []packet.Subscription{{Filter: "a/b", QoS: 0}, {Filter: "+/b", QoS: 0}, {Filter: "+/+", QoS: 0}}, 2, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := e.broker(t)
			sub := b.connect("sub", true)
			sub.MustSubscribe(1, tc.subs...)
			pub := b.connect("pub", true)
			pub.MustPublish(&packet.Publish{Topic: "a/b", Payload: []byte("x"), QoS: tc.pub, ID: 1})
			got := sub.NextPublish()
			if got.QoS != tc.want {
				t.Fatalf("delivered at QoS %d, want %d", got.QoS, tc.want)
			}
			sub.Ack(got)
			sub.ExpectNothing(quiet)
		})
	}
}

// testResubscribe: subscribing again to the same filter replaces the
// subscription, its QoS included: one copy, at the new QoS
// [MQTT-3.8.4-3].
func testResubscribe(t *testing.T, e *env) {
	b := e.broker(t)
	sub := b.connect("sub", true)
	pub := b.connect("pub", true)
	for i, qos := range []packet.QoS{2, 0, 1} {
		if ack := sub.MustSubscribe(uint16(i+1), packet.Subscription{Filter: "re/+", QoS: qos}); ack.Reasons[0] != packet.ReasonCode(qos) {
			t.Fatalf("granted %#x, want %d", byte(ack.Reasons[0]), qos)
		}
		pub.MustPublish(&packet.Publish{Topic: "re/x", Payload: []byte("m"), QoS: 2, ID: 1})
		got := sub.NextPublish()
		if got.QoS != qos {
			t.Fatalf("delivered at QoS %d, want %d", got.QoS, qos)
		}
		sub.Ack(got)
		sub.ExpectNothing(quiet)
	}
}

// testUnsubscribe: UNSUBSCRIBE is answered with UNSUBACK with its packet
// identifier, even for filters never subscribed [MQTT-3.10.4-4]
// [MQTT-3.10.4-5]; filters are compared byte for byte, and the ones removed
// stop the deliveries they matched [MQTT-3.10.4-1] [MQTT-3.10.4-2].
func testUnsubscribe(t *testing.T, e *env) {
	b := e.broker(t)
	c := b.connect("c", true)
	c.Unsubscribe(&packet.Unsubscribe{ID: 5, Filters: []string{"never/subscribed"}})
	if got := Expect[*packet.Unsuback](c); got.ID != 5 {
		t.Fatalf("UNSUBACK %d, want 5", got.ID)
	}
	c.MustSubscribe(6, packet.Subscription{Filter: "u/#", QoS: 0}, packet.Subscription{Filter: "u/x", QoS: 1})
	pub := b.connect("pub", true)
	publish := func() { pub.MustPublish(&packet.Publish{Topic: "u/x", Payload: []byte("m"), QoS: 1, ID: 1}) }

	c.MustUnsubscribe(7, "u/+") // not a filter c has: nothing changes
	publish()
	if got := c.NextPublish(); got.QoS != 1 {
		t.Fatalf("got %+v", got)
	} else {
		c.Ack(got)
	}
	c.MustUnsubscribe(8, "u/x")
	publish()
	if got := c.NextPublish(); got.QoS != 0 { // through u/# only
		t.Fatalf("after unsubscribing u/x: %+v", got)
	}
	c.MustUnsubscribe(9, "u/#", "not/there")
	publish()
	c.ExpectNothing(quiet)
}

// testRetained: a retained message is stored with its QoS [MQTT-3.3.1-5],
// replaced by the next one, cleared by one with an empty payload
// [MQTT-3.3.1-10] [MQTT-3.3.1-11], and left alone by messages without the
// flag [MQTT-3.3.1-12]; it is sent to a new subscription with the retain
// flag [MQTT-3.3.1-6] [MQTT-3.3.1-8], at no more than the subscription's
// QoS, and again on each new SUBSCRIBE to the filter [MQTT-3.8.4-3]; a live
// message reaches existing subscriptions with the flag cleared
// [MQTT-3.3.1-9].
func testRetained(t *testing.T, e *env) {
	b := e.broker(t)
	pub := b.connect("pub", true)
	pub.MustPublish(&packet.Publish{Topic: "r/1", Payload: []byte("old"), Retain: true})
	pub.MustPublish(&packet.Publish{Topic: "r/1", Payload: []byte("new"), Retain: true, QoS: 2, ID: 1})
	pub.MustPublish(&packet.Publish{Topic: "r/1", Payload: []byte("not retained"), QoS: 1, ID: 2})
	pub.MustPublish(&packet.Publish{Topic: "r/2", Payload: []byte("two"), Retain: true, QoS: 1, ID: 3})
	pub.MustPublish(&packet.Publish{Topic: "r/2", Retain: true, QoS: 1, ID: 4})
	pub.MustPublish(&packet.Publish{Topic: "r/3", Payload: []byte("three"), Retain: true, QoS: 1, ID: 5})

	sub := b.connect("sub", true)
	sub.MustSubscribe(1, packet.Subscription{Filter: "r/#", QoS: 1})
	got := map[string]*packet.Publish{}
	for range 2 {
		p := sub.NextPublish()
		got[p.Topic] = p
		sub.Ack(p)
	}
	if p := got["r/1"]; p == nil || string(p.Payload) != "new" || !p.Retain || p.QoS != 1 {
		t.Fatalf("retained r/1: %+v, want \"new\" at QoS 1 (stored at 2, subscribed at 1) with retain", p)
	}
	if p := got["r/3"]; p == nil || string(p.Payload) != "three" || !p.Retain || p.QoS != 1 {
		t.Fatalf("retained r/3: %+v", p)
	}
	sub.ExpectNothing(quiet) // r/2 was cleared

	// Live messages go out with retain 0, the empty one that clears too.
	pub.MustPublish(&packet.Publish{Topic: "r/4", Payload: []byte("live"), Retain: true})
	if p := sub.NextPublish(); p.Retain || string(p.Payload) != "live" {
		t.Fatalf("live delivery %+v", p)
	}
	pub.MustPublish(&packet.Publish{Topic: "r/4", Retain: true})
	if p := sub.NextPublish(); p.Retain || len(p.Payload) != 0 || p.Topic != "r/4" {
		t.Fatalf("clearing message delivered as %+v", p)
	}

	// Subscribing again sends the retained messages again, at the new QoS.
	sub.MustSubscribe(2, packet.Subscription{Filter: "r/1", QoS: 0})
	if p := sub.NextPublish(); p.Topic != "r/1" || string(p.Payload) != "new" || !p.Retain || p.QoS != 0 {
		t.Fatalf("retained on resubscribe %+v", p)
	}
	sub.ExpectNothing(quiet)

	// Retained messages are not part of any session: they outlive the
	// publisher's [MQTT-3.1.2-7].
	pub.Leave()
	late := b.connect("late", true)
	late.MustSubscribe(1, packet.Subscription{Filter: "r/3", QoS: 2})
	if p := late.NextPublish(); string(p.Payload) != "three" || !p.Retain || p.QoS != 1 {
		t.Fatalf("retained after the publisher left: %+v", p)
	}
}
