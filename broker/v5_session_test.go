package broker

import (
	"slices"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

// subscribeQoS1 subscribes a raw client to filter at QoS 1.
func subscribeQoS1(t *testing.T, c *brokertest.Client, filter string) {
	t.Helper()
	if ack := c.MustSubscribe(1, packet.Subscription{Filter: filter, QoS: 1}); ack.Reasons[0] != packet.GrantedQoS1 {
		t.Fatalf("SUBACK %v", ack.Reasons[0])
	}
}

// TestV5SessionExpiry: the session expiry interval of CONNECT, and of
// DISCONNECT, decides how long a session outlives its connection
// (MQTT 5 §3.1.2.11.2, §4.1).
func TestV5SessionExpiry(t *testing.T) {
	t.Run("0 ends the session with the connection", func(t *testing.T) {
		_, addr := startBroker(t, nil)
		c, _ := connect5(t, addr, "s0", false, nil)
		subscribeQoS1(t, c, "se/t")
		c.Leave()
		_, ack := connect5(t, addr, "s0", false, nil)
		if ack.SessionPresent {
			t.Error("session present after an expiry interval of 0")
		}
	})

	t.Run("N keeps the session N seconds", func(t *testing.T) {
		b, addr := startBroker(t, nil)
		rec := record(b)
		recordV5(b, rec)
		c, _ := connect5(t, addr, "s2", false, expiring(2))
		subscribeQoS1(t, c, "se/t")
		c.Leave()
		publishRaw(t, addr, &packet.Publish{Topic: "se/t", QoS: 1, Payload: []byte("kept")})
		c, ack := connect5(t, addr, "s2", false, expiring(2))
		if !ack.SessionPresent {
			t.Fatal("session not present within its expiry interval")
		}
		if p := c.NextPublish(); string(p.Payload) != "kept" {
			t.Fatalf("got %q, want the message queued while away", p.Payload)
		}
		c.Leave()
		left := time.Now()
		rec.wait(t, "SessionExpired", func(e event) bool { return e.id == "s2" })
		if d := time.Since(left); d < 1900*time.Millisecond {
			t.Errorf("session expired after %v, want 2 s", d)
		}
		_, ack = connect5(t, addr, "s2", false, nil)
		if ack.SessionPresent {
			t.Error("session present after it expired")
		}
	})

	t.Run("0xFFFFFFFF never expires", func(t *testing.T) {
		b, addr := startBroker(t, nil)
		c, ack := connect5(t, addr, "sever", false, expiring(0xFFFFFFFF))
		if ack.Props.Has(packet.PropSessionExpiry) {
			t.Errorf("CONNACK changes the interval to %d", ack.Props.SessionExpiry)
		}
		c.Leave()
		s := b.sessions.Session("sever")
		if s == nil || s.Expiry() != 0xFFFFFFFF {
			t.Fatalf("session %v after disconnect, want one that never expires", s)
		}
		_, ack = connect5(t, addr, "sever", false, nil)
		if !ack.SessionPresent {
			t.Error("session not present")
		}
	})

	t.Run("capped by MaxSessionExpiry", func(t *testing.T) {
		b, addr := startBroker(t, &Options{Capabilities: capsWith(func(c *stack.Capabilities) { c.MaxSessionExpiry = 1 })})
		rec := record(b)
		recordV5(b, rec)
		c, ack := connect5(t, addr, "capped", false, expiring(0xFFFFFFFF))
		if !ack.Props.Has(packet.PropSessionExpiry) || ack.Props.SessionExpiry != 1 {
			t.Fatalf("CONNACK session expiry %d, want 1", ack.Props.SessionExpiry)
		}
		c.Leave()
		rec.wait(t, "SessionExpired", func(e event) bool { return e.id == "capped" })
	})

	t.Run("DISCONNECT sets 0: the session ends", func(t *testing.T) {
		b, addr := startBroker(t, nil)
		c, _ := connect5(t, addr, "s-then-0", false, expiring(60))
		subscribeQoS1(t, c, "se/t")
		d := &packet.Disconnect{Props: &packet.Properties{}}
		d.Props.Include(packet.PropSessionExpiry) // MQTT 5 §3.14.2.2.2: 0, present
		c.Disconnect(d)
		c.ExpectClosed()
		waitNoSession(t, b, "s-then-0")
		_, ack := connect5(t, addr, "s-then-0", false, nil)
		if ack.SessionPresent {
			t.Error("session present after DISCONNECT set its expiry interval to 0")
		}
	})

	t.Run("DISCONNECT sets N after 0: protocol error", func(t *testing.T) {
		b, addr := startBroker(t, nil)
		rec := record(b)
		recordV5(b, rec)
		c, _ := connect5(t, addr, "0-then-s", false, nil)
		subscribeQoS1(t, c, "se/t")
		// [MQTT-3.14.2-2]: the server answers with 0x82; the session
		// still ends with the connection.
		c.Disconnect(&packet.Disconnect{Props: expiring(60)})
		expectDisconnect(t, c, packet.ProtocolError, true)
		waitNoSession(t, b, "0-then-s")
		_, ack := connect5(t, addr, "0-then-s", false, nil)
		if ack.SessionPresent {
			t.Error("session kept by a DISCONNECT after CONNECT set 0")
		}
		if len(rec.all("SessionExpired", nil)) != 0 {
			t.Error("SessionExpired for a session that ended with its connection")
		}
	})
}

// waitNoSession waits until the broker holds no session for id: the end of
// a connection is handled on a goroutine of its own.
func waitNoSession(t *testing.T, b *Broker, id string) {
	t.Helper()
	for deadline := time.Now().Add(brokertest.Wait); b.sessions.Session(id) != nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("session %q still held after %v", id, brokertest.Wait)
		}
	}
}

// willConnect returns the CONNECT of an MQTT 5 client with a will on
// topic, delayed by delay seconds, whose session expires after expiry
// seconds.
func willConnect(id, topic string, delay, expiry uint32) *packet.Connect {
	return &packet.Connect{Version: packet.V5, ClientID: id, CleanStart: true, Props: expiring(expiry),
		Will: &packet.Will{Topic: topic, Payload: []byte("gone"), QoS: 1, Props: &packet.Properties{
			WillDelay:   delay,
			ContentType: "text/plain",
			User:        []packet.UserProperty{{Key: "k", Value: "1"}, {Key: "k", Value: "2"}},
		}}}
}

// watchWills starts a broker and a client subscribed to the wills of the
// tests, on will/#.
func watchWills(t *testing.T) (string, *brokertest.Client) {
	t.Helper()
	_, addr := startBroker(t, nil)
	watch, _ := connect5(t, addr, "watch", true, nil)
	subscribeQoS1(t, watch, "will/#")
	return addr, watch
}

// TestV5WillDelay: a will waits its delay after an unclean end, is not
// sent if the client resumes its session meanwhile, and goes at once when
// the session ends first [MQTT-3.1.3-9]. It carries its properties, but not
// the delay.
func TestV5WillDelay(t *testing.T) {
	t.Run("sent after the delay", func(t *testing.T) {
		addr, watch := watchWills(t)
		c := brokertest.MustConnect(t, addr, willConnect("dies", "will/dies", 2, 60))
		c.Close() // no DISCONNECT
		dropped := time.Now()
		p := watch.NextPublish()
		if d := time.Since(dropped); d < 1800*time.Millisecond {
			t.Errorf("will sent after %v, before its delay of 2 s", d)
		}
		if p.Topic != "will/dies" || string(p.Payload) != "gone" {
			t.Fatalf("got %s %q", p.Topic, p.Payload)
		}
		if p.Props == nil || p.Props.ContentType != "text/plain" ||
			!slices.Equal(p.Props.User, []packet.UserProperty{{Key: "k", Value: "1"}, {Key: "k", Value: "2"}}) {
			t.Errorf("will properties %+v", p.Props)
		}
		if p.Props.Has(packet.PropWillDelay) {
			t.Error("the will delay interval was forwarded")
		}
	})

	t.Run("cancelled by a reconnection", func(t *testing.T) {
		addr, watch := watchWills(t)
		c := brokertest.MustConnect(t, addr, willConnect("back", "will/back", 2, 60))
		c.Close()
		_, ack := connect5(t, addr, "back", false, expiring(60))
		if !ack.SessionPresent {
			t.Fatal("session not resumed")
		}
		watch.ExpectNothing(3 * time.Second)
		publishRaw(t, addr, &packet.Publish{Topic: "will/sentinel", QoS: 1})
		if p := watch.NextPublish(); p.Topic != "will/sentinel" {
			t.Errorf("got %s, want only the sentinel", p.Topic)
		}
	})

	t.Run("sent when the session expires first", func(t *testing.T) {
		addr, watch := watchWills(t)
		c := brokertest.MustConnect(t, addr, willConnect("short", "will/short", 10, 1))
		c.Close()
		dropped := time.Now()
		p := watch.NextPublish()
		d := time.Since(dropped)
		if d < 900*time.Millisecond || d > 5*time.Second {
			t.Errorf("will sent after %v, want about 1 s, when the session expires", d)
		}
		if p.Topic != "will/short" {
			t.Errorf("got %s", p.Topic)
		}
	})

	t.Run("session expiry 0: sent at once", func(t *testing.T) {
		addr, watch := watchWills(t)
		c := brokertest.MustConnect(t, addr, willConnect("now", "will/now", 10, 0))
		c.Close()
		dropped := time.Now()
		watch.NextPublish()
		if d := time.Since(dropped); d > 5*time.Second {
			t.Errorf("will sent after %v, want at once", d)
		}
	})
}
