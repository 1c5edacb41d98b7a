package broker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

func TestEvents(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			b, addr := startBroker(t, nil)
			ev := record(b)

			// Connecting: Client, ConnackSent and ClientReady, in that order,
			// with the client as its CONNECT made it.
			c := brokertest.MustConnect(t, addr, &packet.Connect{Version: v, ClientID: "c", Username: "u", KeepAlive: 60})
			ev.wait(t, "ClientReady", of("c"))
			kinds := ev.kinds()
			if want := []string{"Client", "ConnackSent", "ClientReady"}; !slices.Equal(kinds[:3], want) {
				t.Fatalf("events %v, want %v first", kinds, want)
			}
			cl := ev.all("Client", nil)[0].client
			if cl.ID != "c" || cl.Version != v || cl.Username != "u" || cl.Clean || cl.KeepAlive != 60 || cl.Conn == nil {
				t.Fatalf("Client %+v", cl)
			}
			if ack := ev.all("ConnackSent", nil)[0]; ack.client != cl || ack.connack.ReasonCode != 0 || ack.connack.SessionPresent {
				t.Fatalf("ConnackSent %+v for %v", ack.connack, ack.client)
			}
			if n := b.ConnectedClients(); n != 1 {
				t.Fatalf("ConnectedClients %d", n)
			}

			// Subscribe: one grant per subscription, failures included.
			c.MustSubscribe(1, packet.Subscription{Filter: "a/#", QoS: 2}, packet.Subscription{Filter: "bad/#/x", QoS: 1})
			e := ev.wait(t, "Subscribe", of("c"))
			if want := []Grant{{"a/#", 2, 2}, {"bad/#/x", 0, 0x80}}; !slices.Equal(e.grants, want) {
				t.Fatalf("Subscribe %+v, want %+v", e.grants, want)
			}

			// Publish, with the publisher; Ack on PUBACK and on PUBCOMP, not
			// on PUBREC.
			pub := connect(t, addr, "pub", v, true)
			pub.MustPublish(&packet.Publish{Topic: "a/1", Payload: []byte("one"), QoS: 1, ID: 1})
			if e := ev.wait(t, "Publish", of("pub")); e.msg.Topic != "a/1" || string(e.msg.Payload) != "one" || e.msg.QoS != 1 {
				t.Fatalf("Publish %+v", e.msg)
			}
			p := c.NextPublish()
			c.Puback(&packet.Puback{ID: p.ID})
			if e := ev.wait(t, "Ack", of("c")); e.msg.Topic != "a/1" {
				t.Fatalf("Ack %+v", e.msg)
			}
			pub.MustPublish(&packet.Publish{Topic: "a/2", Payload: []byte("two"), QoS: 2, ID: 2})
			p = c.NextPublish()
			c.Pubrec(&packet.Pubrec{ID: p.ID})
			c.FindAck(packet.TypePubrel, p.ID)
			time.Sleep(quiet)
			if n := len(ev.all("Ack", nil)); n != 1 {
				t.Fatalf("%d Ack events after PUBREC, want 1", n)
			}
			c.Pubcomp(&packet.Pubcomp{ID: p.ID})
			if e := ev.waitN(t, 2, "Ack", of("c")); e[1].msg.Topic != "a/2" {
				t.Fatalf("Ack %+v", e[1].msg)
			}

			// Ping.
			c.Pingreq()
			brokertest.Expect[*packet.Pingresp](c)
			ev.wait(t, "Ping", of("c"))

			// Unsubscribe, with the filters as sent.
			c.MustUnsubscribe(3, "a/#", "never")
			if e := ev.wait(t, "Unsubscribe", of("c")); !slices.Equal(e.filters, []string{"a/#", "never"}) {
				t.Fatalf("Unsubscribe %v", e.filters)
			}

			// The broker's own messages: Publish with no client.
			if err := b.Publish(context.Background(), &Message{Topic: "srv", Payload: []byte("s")}); err != nil {
				t.Fatal(err)
			}
			ev.wait(t, "Publish", func(e event) bool { return e.client == nil && e.msg.Topic == "srv" })

			// An orderly end is no error.
			c.Leave()
			if e := ev.wait(t, "ClientDisconnect", of("c")); e.client != cl {
				t.Fatalf("ClientDisconnect for %+v, want the same Client", e.client)
			}

			// A malformed packet: ClientError, once, with the decoding error.
			bad := connect(t, addr, "bad", v, true)
			bad.WriteEncoded([]byte{0x36, 3, 0, 1, 'x'}) // PUBLISH QoS 3
			bad.ExpectClosed()
			ev.wait(t, "ClientDisconnect", of("bad"))
			e = ev.wait(t, "ClientError", of("bad"))
			if !errors.Is(e.err, packet.MalformedPacket) {
				t.Fatalf("ClientError %v, want a malformed packet", e.err)
			}

			// A refused CONNECT: ConnectionError, not ClientError; no Client.
			if v == packet.V311 {
				r, ack := brokertest.Connect(t, addr, &packet.Connect{Version: v}) // empty id, persistent
				if ack.ReasonCode != packet.ClientIdentifierNotValid {
					t.Fatalf("CONNACK %v", ack.ReasonCode)
				}
				r.ExpectClosed()
				e := ev.wait(t, "ConnectionError", nil)
				if e.client == nil || !errors.Is(e.err, packet.ClientIdentifierNotValid) {
					t.Fatalf("ConnectionError(%v, %v)", e.client, e.err)
				}
			}

			time.Sleep(quiet)
			if errs := ev.all("ClientError", nil); len(errs) != 1 {
				t.Fatalf("ClientError events %v, want the malformed packet's only", errs)
			}
			if n := len(ev.all("Client", nil)); n != 3 {
				t.Fatalf("%d Client events, want 3", n)
			}
			if n := b.ConnectedClients(); n != 1 { // pub
				t.Fatalf("ConnectedClients %d, want 1", n)
			}
		})
	}
}

func TestKeepaliveTimeoutEvent(t *testing.T) {
	b, addr := startBroker(t, nil)
	ev := record(b)
	c := brokertest.MustConnect(t, addr, &packet.Connect{ClientID: "silent", CleanStart: true, KeepAlive: 1})
	c.ExpectClosed()
	if e := ev.wait(t, "KeepaliveTimeout", nil); e.client.ID != "silent" {
		t.Fatalf("KeepaliveTimeout for %q", e.client.ID)
	}
	e := ev.wait(t, "ClientError", of("silent"))
	if !errors.Is(e.err, stack.ErrKeepAliveTimeout) {
		t.Fatalf("ClientError %v, want a keep alive timeout", e.err)
	}
	ev.wait(t, "ClientDisconnect", of("silent"))
	time.Sleep(quiet)
	if n := len(ev.all("KeepaliveTimeout", nil)); n != 1 {
		t.Fatalf("%d KeepaliveTimeout events", n)
	}
}

func TestConnectTimeout(t *testing.T) {
	_, addr := startBroker(t, &Options{ConnectTimeout: 300 * time.Millisecond})
	start := time.Now()
	c := brokertest.Dial(t, addr, packet.V311) // and says nothing
	c.ExpectClosed()
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("closed after %v, before the connect timeout", d)
	}
	// A CONNECT that never ends is no better.
	c = brokertest.Dial(t, addr, packet.V311)
	c.WriteEncoded([]byte{0x10, 0x20, 0x00, 0x04, 'M', 'Q'})
	c.ExpectClosed()
}

func TestClosedEvent(t *testing.T) {
	b, addr := startBroker(t, nil)
	ev := record(b)
	c := connect(t, addr, "c", packet.V311, false)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// Everything about the clients is told before Closed, and Closed once.
	kinds := ev.kinds()
	if i := slices.Index(kinds, "ClientDisconnect"); i < 0 || kinds[len(kinds)-1] != "Closed" {
		t.Fatalf("events after Close: %v, want ClientDisconnect then Closed", kinds)
	}
	c.ExpectClosed()
	b.Close()
	time.Sleep(quiet)
	if n := len(ev.all("Closed", nil)); n != 1 {
		t.Fatalf("%d Closed events", n)
	}
}

// TestClientIDLength: 3.1.1 takes identifiers longer than 23 characters, as
// it may [MQTT-3.1.3-5]; 3.1 takes up to MaxClientIDLength.
func TestClientIDLength(t *testing.T) {
	_, addr := startBroker(t, &Options{MaxClientIDLength: 30})
	for _, tc := range []struct {
		v    packet.Version
		n    int
		want packet.ReasonCode
	}{
		{packet.V311, 200, packet.Success},
		{packet.V31, 30, packet.Success},
		{packet.V31, 31, packet.ClientIdentifierNotValid},
	} {
		id := strings.Repeat("i", tc.n)
		c, ack := brokertest.Connect(t, addr, &packet.Connect{Version: tc.v, ClientID: id, CleanStart: true})
		if ack.ReasonCode != tc.want {
			t.Errorf("%v, %d characters: CONNACK %v, want %v", tc.v, tc.n, ack.ReasonCode, tc.want)
		}
		if tc.want != packet.Success {
			c.ExpectClosed()
		}
	}
}
