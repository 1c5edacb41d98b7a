package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

func TestRetained(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			_, addr := startBroker(t, nil)
			pub, _ := connect(t, addr, &packet.Connect{Version: v, ClientID: "pub", CleanStart: true})
			pub.publish(&packet.Publish{Topic: "r/1", Payload: []byte("old"), Retain: true})
			pub.publish(&packet.Publish{Topic: "r/1", Payload: []byte("new"), Retain: true, QoS: 1, ID: 1}) // replaces
			pub.next()                                                                                      // PUBACK: stored
			pub.publish(&packet.Publish{Topic: "r/2", Payload: []byte("two"), Retain: true, QoS: 1, ID: 2})
			pub.next()
			pub.publish(&packet.Publish{Topic: "r/2", Retain: true, QoS: 1, ID: 3}) // empty payload clears [MQTT-3.3.1-10]
			pub.next()

			sub, _ := connect(t, addr, &packet.Connect{Version: v, ClientID: "sub", CleanStart: true})
			sub.subscribe(1, packet.Subscription{Filter: "r/#", QoS: 1})
			got := sub.nextPublish()
			if got.Topic != "r/1" || string(got.Payload) != "new" || !got.Retain || got.QoS != 1 {
				t.Fatalf("retained delivery %+v", got)
			}
			sub.Puback(&packet.Puback{ID: got.ID})
			sub.expectNothing(100 * time.Millisecond) // r/2 was cleared

			// A live message to an existing subscription has retain 0 [MQTT-3.3.1-9].
			pub.publish(&packet.Publish{Topic: "r/3", Payload: []byte("live"), Retain: true})
			if got := sub.nextPublish(); got.Retain || string(got.Payload) != "live" {
				t.Fatalf("live delivery %+v", got)
			}
			// Subscribing again sends the retained messages again [MQTT-3.8.4-3].
			sub.subscribe(2, packet.Subscription{Filter: "r/1", QoS: 0})
			if got := sub.nextPublish(); got.Topic != "r/1" || !got.Retain || got.QoS != 0 {
				t.Fatalf("retained on resubscribe %+v", got)
			}
		})
	}
}

func TestWill(t *testing.T) {
	will := &packet.Will{Topic: "will/x", Payload: []byte("gone"), QoS: 1}
	cases := []struct {
		name string
		end  func(c *client)
		want bool
	}{
		{"unclean close", func(c *client) { c.Close() }, true},
		{"DISCONNECT", func(c *client) { c.Disconnect(&packet.Disconnect{}); c.Close() }, false},
		{"protocol error", func(c *client) { c.Connect(&packet.Connect{ClientID: "again"}) }, true}, // second CONNECT [MQTT-3.1.0-2]
	}
	for _, v := range versions {
		for _, tc := range cases {
			t.Run(v.String()+"/"+tc.name, func(t *testing.T) {
				_, addr := startBroker(t, nil)
				sub, _ := connect(t, addr, &packet.Connect{Version: v, ClientID: "sub", CleanStart: true})
				sub.subscribe(1, packet.Subscription{Filter: "will/#", QoS: 1})
				c, _ := connect(t, addr, &packet.Connect{Version: v, ClientID: "dying", CleanStart: true, Will: will})
				tc.end(c)
				if !tc.want {
					sub.expectNothing(300 * time.Millisecond)
					return
				}
				got := sub.nextPublish()
				if got.Topic != "will/x" || string(got.Payload) != "gone" || got.QoS != 1 {
					t.Fatalf("will %+v", got)
				}
			})
		}
	}
}

func TestWillOnKeepAliveTimeout(t *testing.T) {
	b, addr := startBroker(t, nil)
	timedOut := make(chan string, 1)
	b.On(Events{KeepaliveTimeout: func(c *Client) { timedOut <- c.ID }})
	sub, _ := connect(t, addr, &packet.Connect{ClientID: "sub", CleanStart: true})
	sub.subscribe(1, packet.Subscription{Filter: "will/#"})
	start := time.Now()
	silent, _ := connect(t, addr, &packet.Connect{ClientID: "silent", CleanStart: true, KeepAlive: 1,
		Will: &packet.Will{Topic: "will/silent", Payload: []byte("timeout")}})
	_ = silent // says nothing from now on
	got := sub.nextPublish()
	elapsed := time.Since(start)
	if got.Topic != "will/silent" {
		t.Fatalf("will %+v", got)
	}
	// One and a half times the keep alive [MQTT-3.1.2-24], not before.
	if elapsed < 1400*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("closed after %v, want about 1.5 s", elapsed)
	}
	select {
	case id := <-timedOut:
		if id != "silent" {
			t.Fatalf("KeepaliveTimeout for %q", id)
		}
	case <-time.After(time.Second):
		t.Fatal("no KeepaliveTimeout event")
	}
}

func TestKeepAliveKeptByPing(t *testing.T) {
	_, addr := startBroker(t, nil)
	c, _ := connect(t, addr, &packet.Connect{ClientID: "pinger", CleanStart: true, KeepAlive: 1})
	for range 4 { // 2.8 s in all: well past 1.5 s
		time.Sleep(700 * time.Millisecond)
		c.Pingreq()
		if _, ok := c.next().(*packet.Pingresp); !ok {
			t.Fatal("no PINGRESP")
		}
	}
}

func TestPersistentSession(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			b, addr := startBroker(t, nil)
			gone := make(chan string, 4)
			b.On(Events{ClientDisconnect: func(c *Client) { gone <- c.ID }})
			c, ack := connect(t, addr, &packet.Connect{Version: v, ClientID: "p"})
			if ack.SessionPresent {
				t.Fatal("session present on first connect")
			}
			c.subscribe(1, packet.Subscription{Filter: "q/#", QoS: 2})
			c.Disconnect(&packet.Disconnect{})
			c.Close()
			waitFor(t, gone, "p")

			pub, _ := connect(t, addr, &packet.Connect{Version: v, ClientID: "pub", CleanStart: true})
			for i := range 3 {
				pub.publish(&packet.Publish{Topic: "q/x", Payload: []byte(fmt.Sprint(i)), QoS: packet.QoS(1 + i%2), ID: uint16(i + 1)})
				if i%2 == 1 {
					pub.next()
					pub.Pubrel(&packet.Pubrel{ID: uint16(i + 1)})
				}
				pub.next()
			}
			pub.publish(&packet.Publish{Topic: "q/x", Payload: []byte("qos0")}) // not kept for an offline session

			c, ack = connect(t, addr, &packet.Connect{Version: v, ClientID: "p"})
			if v != packet.V31 && !ack.SessionPresent {
				t.Fatal("session not present on reconnect")
			}
			// Delivered in order; leave the first two unacknowledged.
			var ids []uint16
			for i := range 3 {
				got := c.nextPublish()
				if string(got.Payload) != fmt.Sprint(i) || got.Dup {
					t.Fatalf("offline message %d: %+v", i, got)
				}
				ids = append(ids, got.ID)
			}
			c.Pubrec(&packet.Pubrec{ID: ids[1]}) // QoS 2: half way
			if r, ok := c.next().(*packet.Pubrel); !ok || r.ID != ids[1] {
				t.Fatalf("no PUBREL: %+v", r)
			}
			c.Puback(&packet.Puback{ID: ids[2]}) // message 2 is QoS 1
			c.Close()
			waitFor(t, gone, "p")

			// Reconnect: message 0 again with DUP and its packet id, message 1's
			// PUBREL again [MQTT-4.4.0-1].
			c, _ = connect(t, addr, &packet.Connect{Version: v, ClientID: "p"})
			got := c.nextPublish()
			if !got.Dup || got.ID != ids[0] || string(got.Payload) != "0" {
				t.Fatalf("redelivery %+v", got)
			}
			if r, ok := c.next().(*packet.Pubrel); !ok || r.ID != ids[1] {
				t.Fatalf("PUBREL not resent: %+v", r)
			}
			c.Puback(&packet.Puback{ID: ids[0]})
			c.Pubcomp(&packet.Pubcomp{ID: ids[1]})
			c.expectNothing(100 * time.Millisecond)

			// A clean session throws it all away.
			c.Close()
			waitFor(t, gone, "p")
			c, ack = connect(t, addr, &packet.Connect{Version: v, ClientID: "p", CleanStart: true})
			if ack.SessionPresent {
				t.Fatal("session present after clean start")
			}
			pub.publish(&packet.Publish{Topic: "q/x", Payload: []byte("after")})
			c.expectNothing(100 * time.Millisecond)
		})
	}
}

func TestTakeover(t *testing.T) {
	_, addr := startBroker(t, nil)
	first, _ := connect(t, addr, &packet.Connect{ClientID: "same", CleanStart: true})
	second, _ := connect(t, addr, &packet.Connect{ClientID: "same", CleanStart: true})
	first.expectClosed() // [MQTT-3.1.4-3]
	second.subscribe(1, packet.Subscription{Filter: "t"})
	second.publish(&packet.Publish{Topic: "t", Payload: []byte("still here")})
	if got := second.nextPublish(); string(got.Payload) != "still here" {
		t.Fatalf("got %+v", got)
	}
}

func TestClientIDRules(t *testing.T) {
	cases := []struct {
		name string
		p    packet.Connect
		want packet.ReasonCode
	}{
		{"3.1.1 empty, clean", packet.Connect{Version: packet.V311, CleanStart: true}, packet.Success},
		{"3.1.1 empty, persistent", packet.Connect{Version: packet.V311}, packet.ClientIdentifierNotValid}, // [MQTT-3.1.3-8]
		{"3.1 empty", packet.Connect{Version: packet.V31, CleanStart: true}, packet.ClientIdentifierNotValid},
		{"3.1 23 chars", packet.Connect{Version: packet.V31, ClientID: "abcdefghijklmnopqrstuvw"}, packet.Success},
		{"3.1 24 chars", packet.Connect{Version: packet.V31, ClientID: "abcdefghijklmnopqrstuvwx"}, packet.ClientIdentifierNotValid},
		{"3.1.1 long", packet.Connect{Version: packet.V311, ClientID: string(make([]byte, 200))}, packet.Success},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startBroker(t, nil)
			p := tc.p
			if p.ClientID == string(make([]byte, 200)) {
				p.ClientID = fmt.Sprintf("%0200d", 1)
			}
			c, ack := connect(t, addr, &p)
			if ack.ReasonCode != tc.want {
				t.Fatalf("CONNACK %v, want %v", ack.ReasonCode, tc.want)
			}
			if tc.want != packet.Success {
				c.expectClosed()
			}
		})
	}
}

func TestOverlappingSubscriptionsOneCopy(t *testing.T) {
	_, addr := startBroker(t, nil)
	c, _ := connect(t, addr, &packet.Connect{ClientID: "c", CleanStart: true})
	c.subscribe(1, packet.Subscription{Filter: "a/+", QoS: 0}, packet.Subscription{Filter: "a/#", QoS: 2},
		packet.Subscription{Filter: "a/b", QoS: 1})
	c.publish(&packet.Publish{Topic: "a/b", Payload: []byte("x"), QoS: 2, ID: 1})
	// The copy for itself and the PUBREC come in either order.
	in := c.collect(2)
	if len(in[packet.TypePublish]) != 1 || len(in[packet.TypePubrec]) != 1 {
		t.Fatalf("got %v", in)
	}
	c.Pubrel(&packet.Pubrel{ID: 1})
	if _, ok := c.next().(*packet.Pubcomp); !ok {
		t.Fatal("no PUBCOMP")
	}
	got := in[packet.TypePublish][0].(*packet.Publish)
	if got.QoS != 2 { // [MQTT-3.3.5-1]: the highest QoS of the matches
		t.Fatalf("delivered at QoS %d", got.QoS)
	}
	c.Pubrec(&packet.Pubrec{ID: got.ID})
	c.next()
	c.Pubcomp(&packet.Pubcomp{ID: got.ID})
	c.expectNothing(200 * time.Millisecond)
}

func TestDollarTopicsNotMatchedByWildcards(t *testing.T) {
	b, addr := startBroker(t, &Options{HeartbeatInterval: 50 * time.Millisecond})
	all, _ := connect(t, addr, &packet.Connect{ClientID: "all", CleanStart: true})
	all.subscribe(1, packet.Subscription{Filter: "#"}, packet.Subscription{Filter: "+/+/heartbeat"})
	sys, _ := connect(t, addr, &packet.Connect{ClientID: "sys", CleanStart: true})
	sys.subscribe(1, packet.Subscription{Filter: "$SYS/#"})
	got := sys.nextPublish()
	if got.Topic == "" || got.Topic[:5] != "$SYS/" {
		t.Fatalf("$SYS subscriber got %q", got.Topic)
	}
	all.expectNothing(200 * time.Millisecond) // [MQTT-4.7.2-1]
	_ = b
}

// waitFor waits for want on ch.
func waitFor(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no %q in 5 s", want)
	}
}
