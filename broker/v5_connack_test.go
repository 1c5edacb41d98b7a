package broker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

// TestV5ConnackDefaults: a broker with default capabilities announces only
// what differs from a client's assumptions: its maximum packet size and its
// 10 topic aliases, and nothing of QoS, retain, wildcards, subscription
// identifiers, shared subscriptions or receive maximum (absent means
// available / 65,535).
func TestV5ConnackDefaults(t *testing.T) {
	_, addr := startBroker(t, nil)
	_, ack := connect5(t, addr, "defaults", true, nil)
	p := ack.Props
	if p == nil {
		t.Fatal("CONNACK without properties")
	}
	if p.MaximumPacketSize != 1<<20 {
		t.Errorf("Maximum Packet Size %d, want %d", p.MaximumPacketSize, 1<<20)
	}
	if p.TopicAliasMaximum != 10 {
		t.Errorf("Topic Alias Maximum %d, want 10", p.TopicAliasMaximum)
	}
	for _, id := range []packet.PropID{packet.PropMaximumQoS, packet.PropRetainAvailable, packet.PropWildcardSubAvailable,
		packet.PropSubscriptionIDAvailable, packet.PropSharedSubAvailable, packet.PropReceiveMaximum,
		packet.PropAssignedClientID, packet.PropSessionExpiry,
		packet.PropServerKeepAlive, packet.PropResponseInfo} {
		if p.Has(id) {
			t.Errorf("CONNACK has %v: %+v", id, p)
		}
	}
}

// TestV5ConnackCapabilities: every capability is announced as configured
// (MQTT 5 §3.2.2.3), the broker assigns an identifier to a client that
// sent none [MQTT-3.2.2-16], and a capped session expiry interval is told
// (MQTT 5 §3.2.2.3.2). paho.golang reads the same.
func TestV5ConnackCapabilities(t *testing.T) {
	caps := capsWith(func(c *stack.Capabilities) {
		c.MaximumQoS = packet.AtLeastOnce
		c.RetainUnavailable = true
		c.WildcardUnavailable = true
		c.SubscriptionIDUnavailable = true
		c.SharedUnavailable = true
		c.ReceiveMaximum = 10
		c.TopicAliasMaximum = 5
		c.MaxSessionExpiry = 60
		c.ServerKeepAlive = 30
	})
	_, addr := startBroker(t, &Options{MaxPacketSize: 4096, Capabilities: caps})

	_, ack := connect5(t, addr, "", true, expiring(3600))
	p := ack.Props
	if p == nil {
		t.Fatal("CONNACK without properties")
	}
	type prop struct {
		id        packet.PropID
		got, want uint32
	}
	for _, c := range []prop{
		{packet.PropMaximumPacketSize, p.MaximumPacketSize, 4096},
		{packet.PropReceiveMaximum, uint32(p.ReceiveMaximum), 10},
		{packet.PropTopicAliasMaximum, uint32(p.TopicAliasMaximum), 5},
		{packet.PropMaximumQoS, uint32(p.MaximumQoS), 1},
		{packet.PropRetainAvailable, uint32(p.RetainAvailable), 0},
		{packet.PropWildcardSubAvailable, uint32(p.WildcardSubAvailable), 0},
		{packet.PropSubscriptionIDAvailable, uint32(p.SubscriptionIDAvailable), 0},
		{packet.PropSharedSubAvailable, uint32(p.SharedSubAvailable), 0},
		{packet.PropServerKeepAlive, uint32(p.ServerKeepAlive), 30},
		{packet.PropSessionExpiry, p.SessionExpiry, 60},
	} {
		if !p.Has(c.id) || c.got != c.want {
			t.Errorf("%v: %d (present %v), want %d", c.id, c.got, p.Has(c.id), c.want)
		}
	}
	if !strings.HasPrefix(p.AssignedClientID, "midge-") {
		t.Errorf("assigned client identifier %q", p.AssignedClientID)
	}

	// A client that asks for no more than the cap is not told its interval.
	_, ack = connect5(t, addr, "under-cap", true, expiring(30))
	if ack.Props.Has(packet.PropSessionExpiry) || ack.Props.AssignedClientID != "" {
		t.Errorf("CONNACK for a client under the cap: %+v", ack.Props)
	}

	// paho.golang understands it all.
	_, pack := connectPaho(t, addr, &paho.Connect{ClientID: "paho-caps", CleanStart: true, KeepAlive: 0,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: paho.Uint32(3600)}}, nil)
	pp := pack.Properties
	switch {
	case pp == nil:
		t.Fatal("paho: CONNACK without properties")
	case pp.MaximumQoS == nil || *pp.MaximumQoS != 1,
		pp.ReceiveMaximum == nil || *pp.ReceiveMaximum != 10,
		pp.TopicAliasMaximum == nil || *pp.TopicAliasMaximum != 5,
		pp.MaximumPacketSize == nil || *pp.MaximumPacketSize != 4096,
		pp.ServerKeepAlive == nil || *pp.ServerKeepAlive != 30,
		pp.SessionExpiryInterval == nil || *pp.SessionExpiryInterval != 60,
		pp.RetainAvailable, pp.WildcardSubAvailable, pp.SubIDAvailable, pp.SharedSubAvailable:
		t.Errorf("paho reads CONNACK as %v", pp)
	}
}

// TestV5ServerKeepAlive: the server keep alive replaces the client's
// [MQTT-3.2.2-21]: a client asking for 60 s but told 1 s is disconnected
// with 0x8D after one and a half seconds of silence [MQTT-3.1.2-24].
func TestV5ServerKeepAlive(t *testing.T) {
	b, addr := startBroker(t, &Options{Capabilities: capsWith(func(c *stack.Capabilities) { c.ServerKeepAlive = 1 })})
	rec := record(b)
	c, ack := brokertest.Connect(t, addr, &packet.Connect{Version: packet.V5, ClientID: "ska", CleanStart: true, KeepAlive: 60})
	start := time.Now()
	if ack.ReasonCode != packet.Success || ack.Props.ServerKeepAlive != 1 {
		t.Fatalf("CONNACK %v, server keep alive %d, want 1", ack.ReasonCode, ack.Props.ServerKeepAlive)
	}
	expectDisconnect(t, c, packet.KeepAliveTimeout, true)
	if d := time.Since(start); d < 1400*time.Millisecond {
		t.Errorf("disconnected after %v, before 1.5 s of silence", d)
	}
	rec.wait(t, "KeepaliveTimeout", of("ska"))

	// A 3.1.1 client cannot be told, and keeps its own keep alive.
	old := connect(t, addr, "ska-311", packet.V311, true)
	old.ExpectNothing(2 * time.Second)
}

// TestV5ResponseInformation: the response information goes to a client
// that asks for it (Request Response Information 1), and only to it
// (MQTT 5 §3.1.2.11.7).
func TestV5ResponseInformation(t *testing.T) {
	caps := capsWith(func(c *stack.Capabilities) {
		c.ResponseInformation = func(id string) string { return "responses/" + id }
	})
	_, addr := startBroker(t, &Options{Capabilities: caps})
	_, ack := connect5(t, addr, "asks", true, &packet.Properties{RequestResponseInfo: 1})
	if ack.Props.ResponseInfo != "responses/asks" {
		t.Errorf("response information %q, want responses/asks", ack.Props.ResponseInfo)
	}
	_, ack = connect5(t, addr, "silent", true, nil)
	if ack.Props.Has(packet.PropResponseInfo) {
		t.Errorf("response information %q sent unasked", ack.Props.ResponseInfo)
	}
	// paho.golang, asking.
	_, pack := connectPaho(t, addr, &paho.Connect{ClientID: "paho-asks", CleanStart: true,
		Properties: &paho.ConnectProperties{RequestResponseInfo: true}}, nil)
	if pack.Properties == nil || pack.Properties.ResponseInfo != "responses/paho-asks" {
		t.Errorf("paho: response information %v", pack.Properties)
	}
}

// TestV5MaximumQoS: with a maximum QoS of 1, a QoS 2 PUBLISH ends the
// connection with 0x9B [MQTT-3.2.2-11], a QoS 2 will is refused in CONNACK
// with 0x9B [MQTT-3.2.2-12], and a QoS 2 subscription is granted QoS 1.
func TestV5MaximumQoS(t *testing.T) {
	_, addr := startBroker(t, &Options{Capabilities: capsWith(func(c *stack.Capabilities) { c.MaximumQoS = packet.AtLeastOnce })})

	c, _ := connect5(t, addr, "q2", true, nil)
	ack := c.MustSubscribe(1, packet.Subscription{Filter: "mq/t", QoS: 2})
	if ack.Reasons[0] != packet.GrantedQoS1 {
		t.Errorf("SUBACK %v, want QoS 1 granted", ack.Reasons[0])
	}
	c.MustPublish(&packet.Publish{Topic: "mq/t", QoS: 1, ID: 2, Payload: []byte("one")})
	if p := c.FindPublish(); p.QoS != 1 {
		t.Errorf("delivered at QoS %d", p.QoS)
	}
	c.Publish(&packet.Publish{Topic: "mq/t", QoS: 2, ID: 3})
	expectDisconnect(t, c, packet.QoSNotSupported, true)

	_, cack := brokertest.Connect(t, addr, &packet.Connect{Version: packet.V5, ClientID: "will2", CleanStart: true,
		Will: &packet.Will{Topic: "w", Payload: []byte("x"), QoS: 2}})
	if cack.ReasonCode != packet.QoSNotSupported {
		t.Errorf("CONNACK for a QoS 2 will: %v, want 0x9B", cack.ReasonCode)
	}
}

// TestV5RetainUnavailable: without retained messages, a retained PUBLISH
// ends the connection with 0x9A [MQTT-3.2.2-14] and a retained will is
// refused in CONNACK with 0x9A [MQTT-3.2.2-13].
func TestV5RetainUnavailable(t *testing.T) {
	_, addr := startBroker(t, &Options{Capabilities: capsWith(func(c *stack.Capabilities) { c.RetainUnavailable = true })})
	c, _ := connect5(t, addr, "retains", true, nil)
	c.MustPublish(&packet.Publish{Topic: "ru/t", QoS: 1, ID: 1}) // not retained: fine
	c.Publish(&packet.Publish{Topic: "ru/t", QoS: 1, ID: 2, Retain: true})
	expectDisconnect(t, c, packet.RetainNotSupported, true)

	_, cack := brokertest.Connect(t, addr, &packet.Connect{Version: packet.V5, ClientID: "rwill", CleanStart: true,
		Will: &packet.Will{Topic: "w", Payload: []byte("x"), Retain: true}})
	if cack.ReasonCode != packet.RetainNotSupported {
		t.Errorf("CONNACK for a retained will: %v, want 0x9A", cack.ReasonCode)
	}
}

// TestV5ServerDisconnectReasons: the broker tells an MQTT 5 client why it
// ends its connection [MQTT-3.14.0-1], with a reason string unless the
// client asked for no problem information (Request Problem Information 0).
func TestV5ServerDisconnectReasons(t *testing.T) {
	noProblems := func(p *packet.Properties) *packet.Properties {
		p.RequestProblemInfo = 0
		p.Include(packet.PropRequestProblemInfo)
		return p
	}
	for _, info := range []bool{true, false} {
		props := func() *packet.Properties {
			if info {
				return &packet.Properties{}
			}
			return noProblems(&packet.Properties{})
		}
		name := map[bool]string{true: "reason strings", false: "no problem information"}[info]
		t.Run(name, func(t *testing.T) {
			b, addr := startBroker(t, nil)

			// Session taken over: 0x8E [MQTT-3.1.4-3].
			first, _ := connect5(t, addr, "twice", true, props())
			connect5(t, addr, "twice", true, props())
			expectDisconnect(t, first, packet.SessionTakenOver, info)

			// Keep alive timeout: 0x8D.
			idle, ack := brokertest.Connect(t, addr, &packet.Connect{Version: packet.V5, ClientID: "idle", CleanStart: true,
				KeepAlive: 1, Props: props()})
			if ack.ReasonCode != packet.Success {
				t.Fatal(ack.ReasonCode)
			}
			expectDisconnect(t, idle, packet.KeepAliveTimeout, info)

			// Protocol error: 0x82 (a PUBLISH with a subscription
			// identifier [MQTT-3.3.4-6]).
			bad, _ := connect5(t, addr, "bad", true, props())
			bad.Publish(&packet.Publish{Topic: "x", Props: &packet.Properties{SubscriptionIDs: []int{1}}})
			expectDisconnect(t, bad, packet.ProtocolError, info)

			// Server shutting down: 0x8B.
			last, _ := connect5(t, addr, "last", true, props())
			closed := make(chan error, 1)
			go func() { closed <- b.Close() }()
			expectDisconnect(t, last, packet.ServerShuttingDown, info)
			if err := <-closed; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestV5ServerDisconnectPaho: paho.golang is told the broker's reason.
func TestV5ServerDisconnectPaho(t *testing.T) {
	_, addr := startBroker(t, nil)
	first, _ := connectPaho(t, addr, &paho.Connect{ClientID: "paho-twice", CleanStart: true}, nil)
	connectPaho(t, addr, &paho.Connect{ClientID: "paho-twice", CleanStart: true}, nil)
	select {
	case d := <-first.disconnects:
		if d.ReasonCode != byte(packet.SessionTakenOver) {
			t.Errorf("paho told %#x, want 0x8E", d.ReasonCode)
		}
	case <-time.After(brokertest.Wait):
		t.Fatal("paho client not told of the takeover")
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.Wait)
	defer cancel()
	select {
	case <-first.Done():
	case <-ctx.Done():
		t.Fatal("paho client still running after the takeover")
	}
}
