package broker

import (
	"slices"
	"testing"

	"github.com/eclipse/paho.golang/paho"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

// TestV5NoLocal: a client does not get its own messages on a no local
// subscription [MQTT-3.8.3-3]; others do.
func TestV5NoLocal(t *testing.T) {
	_, addr := startBroker(t, nil)
	self, _ := connectPaho(t, addr, &paho.Connect{ClientID: "self", CleanStart: true}, nil)
	self.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "nl/#", QoS: 1, NoLocal: true}}})
	other, _ := connect5(t, addr, "other", true, nil)
	subscribeQoS1(t, other, "nl/#")

	self.publish(t, &paho.Publish{Topic: "nl/own", QoS: 1, Payload: []byte("own")})
	if p := other.NextPublish(); p.Topic != "nl/own" {
		t.Fatalf("other got %s", p.Topic)
	}
	publishRaw(t, addr, &packet.Publish{Topic: "nl/sentinel", QoS: 1})
	if m := self.next(t); m.Topic != "nl/sentinel" {
		t.Errorf("got %s on a no local subscription, want only the sentinel", m.Topic)
	}
}

// TestV5RetainAsPublished: a live message keeps its retain flag on a
// retain as published subscription, and loses it on others
// [MQTT-3.3.1-12] [MQTT-3.3.1-13].
func TestV5RetainAsPublished(t *testing.T) {
	_, addr := startBroker(t, nil)
	keeps, _ := connect5(t, addr, "keeps", true, nil)
	keeps.MustSubscribe(1, packet.Subscription{Filter: "rap/t", QoS: 1, RetainAsPublished: true})
	clears, _ := connect5(t, addr, "clears", true, nil)
	subscribeQoS1(t, clears, "rap/t")
	publishRaw(t, addr, &packet.Publish{Topic: "rap/t", QoS: 1, Retain: true, Payload: []byte("r")},
		&packet.Publish{Topic: "rap/t", QoS: 1, Payload: []byte("n")})
	for _, tt := range []struct {
		name string
		want []bool
		got  []bool
	}{
		{"retain as published", []bool{true, false}, retainFlags(t, keeps, 2)},
		{"default", []bool{false, false}, retainFlags(t, clears, 2)},
	} {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s: retain flags %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// retainFlags returns the retain flags of the next n PUBLISH packets to c,
// acknowledged.
func retainFlags(t *testing.T, c *brokertest.Client, n int) []bool {
	t.Helper()
	var out []bool
	for range n {
		p := c.NextPublish()
		c.Ack(p)
		out = append(out, p.Retain)
	}
	return out
}

// TestV5RetainHandling: retained messages are sent on every subscription
// (0), on a new one only (1), or never (2) [MQTT-3.3.1-9] [MQTT-3.3.1-10]
// [MQTT-3.3.1-11].
func TestV5RetainHandling(t *testing.T) {
	_, addr := startBroker(t, nil)
	publishRaw(t, addr, &packet.Publish{Topic: "rh/t", QoS: 1, Retain: true, Payload: []byte("kept")})
	c, _ := connect5(t, addr, "rh", true, nil)
	id := uint16(0)
	for _, tt := range []struct {
		name     string
		handling byte
		want     []bool // retained sent on the first subscription, on the second
	}{
		{"0: always", 0, []bool{true, true}},
		{"1: new only", 1, []bool{true, false}},
		{"2: never", 2, []bool{false, false}},
	} {
		c.MustUnsubscribe(100, "rh/t")
		for i, want := range tt.want {
			id++
			c.MustSubscribe(id, packet.Subscription{Filter: "rh/t", QoS: 1, RetainHandling: tt.handling})
			// A live message after it is the sentinel.
			publishRaw(t, addr, &packet.Publish{Topic: "rh/t", QoS: 1, Payload: []byte("live")})
			p := c.NextPublish()
			c.Ack(p)
			if got := string(p.Payload) == "kept"; got != want {
				t.Errorf("%s, subscription %d: retained sent %v, want %v", tt.name, i+1, got, want)
			}
			if string(p.Payload) == "kept" {
				if p := c.NextPublish(); string(p.Payload) != "live" {
					t.Fatalf("got %q, want the live message", p.Payload)
				} else {
					c.Ack(p)
				}
			}
		}
	}
}

// TestV5SubackCodes: SUBACK has one code per subscription, refusals among
// grants (MQTT 5 §3.9.3): QoS capped by the maximum QoS, 0x8F for an
// invalid filter, 0xA2 for a wildcard when wildcards are unavailable, 0x97
// past MaxSubscriptions; UNSUBACK says 0x11 for a filter not subscribed.
func TestV5SubackCodes(t *testing.T) {
	_, addr := startBroker(t, &Options{MaxSubscriptions: 2, Capabilities: capsWith(func(c *stack.Capabilities) {
		c.MaximumQoS = packet.AtLeastOnce
		c.WildcardUnavailable = true
	})})
	c, _ := connect5(t, addr, "codes", true, nil)
	ack := c.MustSubscribe(1,
		packet.Subscription{Filter: "sc/a", QoS: 2},
		packet.Subscription{Filter: "sc/+", QoS: 1},
		packet.Subscription{Filter: "sc/#/x", QoS: 1},
		packet.Subscription{Filter: "sc/b", QoS: 0},
		packet.Subscription{Filter: "sc/c", QoS: 1},
		packet.Subscription{Filter: "sc/a", QoS: 1}, // replaces: within the quota
	)
	want := []packet.ReasonCode{packet.GrantedQoS1, packet.WildcardSubscriptionsNotSupported, packet.TopicFilterInvalid,
		packet.GrantedQoS0, packet.QuotaExceeded, packet.GrantedQoS1}
	if !slices.Equal(ack.Reasons, want) {
		t.Errorf("SUBACK %v, want %v", ack.Reasons, want)
	}
	if err := c.Unsubscribe(&packet.Unsubscribe{ID: 2, Filters: []string{"sc/a", "sc/none"}}); err != nil {
		t.Fatal(err)
	}
	uack := c.FindAck(packet.TypeUnsuback, 2).(*packet.Unsuback)
	if !slices.Equal(uack.Reasons, []packet.ReasonCode{packet.Success, packet.NoSubscriptionExisted}) {
		t.Errorf("UNSUBACK %v, want [success, 0x11]", uack.Reasons)
	}
}
