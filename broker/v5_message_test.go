package broker

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/extensions/rpc"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

// TestV5TopicAliasFromClient: a client sets a topic alias and then uses it
// (MQTT 5 §3.3.2.3.4); subscribers get the topic, never the alias
// [MQTT-3.3.2-10]. An alias above the maximum ends the connection with
// 0x94 [MQTT-3.3.2-9], one never set with 0x82.
func TestV5TopicAliasFromClient(t *testing.T) {
	_, addr := startBroker(t, &Options{Capabilities: capsWith(func(c *stack.Capabilities) { c.TopicAliasMaximum = 3 })})
	sub, _ := connect5(t, addr, "sub", true, nil)
	subscribeQoS1(t, sub, "ta/#")

	// paho.golang sends the aliases.
	pub, ack := connectPaho(t, addr, &paho.Connect{ClientID: "paho-alias", CleanStart: true}, nil)
	if ack.Properties.TopicAliasMaximum == nil || *ack.Properties.TopicAliasMaximum != 3 {
		t.Fatalf("CONNACK topic alias maximum %v", ack.Properties.TopicAliasMaximum)
	}
	pub.publish(t, &paho.Publish{Topic: "ta/x", QoS: 1, Payload: []byte("set"),
		Properties: &paho.PublishProperties{TopicAlias: paho.Uint16(3), ContentType: "c"}})
	pub.publish(t, &paho.Publish{QoS: 1, Payload: []byte("used"),
		Properties: &paho.PublishProperties{TopicAlias: paho.Uint16(3), ContentType: "c"}})
	for _, want := range []string{"set", "used"} {
		p := sub.NextPublish()
		sub.Ack(p)
		if p.Topic != "ta/x" || string(p.Payload) != want {
			t.Errorf("got %q on %q, want %q on ta/x", p.Payload, p.Topic, want)
		}
		if p.Props == nil || p.Props.Has(packet.PropTopicAlias) || p.Props.ContentType != "c" {
			t.Errorf("%s: properties %+v, want the content type and no topic alias", want, p.Props)
		}
	}

	high, _ := connect5(t, addr, "high", true, nil)
	high.Publish(&packet.Publish{Topic: "ta/y", Props: &packet.Properties{TopicAlias: 4}})
	expectDisconnect(t, high, packet.TopicAliasInvalid, true)

	unset, _ := connect5(t, addr, "unset", true, nil)
	unset.Publish(&packet.Publish{Topic: "ta/y", Props: &packet.Properties{TopicAlias: 1}})
	unset.Publish(&packet.Publish{Props: &packet.Properties{TopicAlias: 2}})
	expectDisconnect(t, unset, packet.ProtocolError, true)
	if p := sub.NextPublish(); p.Topic != "ta/y" {
		t.Errorf("got %s, want ta/y (alias 1 was set)", p.Topic)
	}
}

// TestV5TopicAliasToClient: with TopicAliasesToClients, a client with a
// Topic Alias Maximum of 2 gets a topic with its alias the first time,
// the alias alone afterwards [MQTT-3.3.2-12], and a third topic without
// alias [MQTT-3.3.2-9]. paho.golang gets the right topics throughout.
func TestV5TopicAliasToClient(t *testing.T) {
	_, addr := startBroker(t, &Options{Capabilities: capsWith(func(c *stack.Capabilities) { c.TopicAliasesToClients = true })})
	sub, _ := connect5(t, addr, "raw", true, &packet.Properties{TopicAliasMaximum: 2})
	subscribeQoS1(t, sub, "tat/#")

	var mu sync.Mutex
	got := map[string][]string{} // topic → payloads, as paho routes them
	router := paho.NewStandardRouter()
	for _, topic := range []string{"tat/a", "tat/b", "tat/c"} {
		router.RegisterHandler(topic, func(p *paho.Publish) {
			mu.Lock()
			defer mu.Unlock()
			got[topic] = append(got[topic], string(p.Payload))
		})
	}
	done := make(chan struct{}, 10)
	pc, _ := connectPaho(t, addr, &paho.Connect{ClientID: "paho-tat", CleanStart: true,
		Properties: &paho.ConnectProperties{TopicAliasMaximum: paho.Uint16(2)}}, func(c *paho.ClientConfig) {
		c.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(r paho.PublishReceived) (bool, error) {
			router.Route(r.Packet.Packet())
			done <- struct{}{}
			return true, nil
		}}
	})
	pc.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "tat/#", QoS: 1}}})

	order := []string{"a", "b", "a", "b", "c", "c"}
	var ps []*packet.Publish
	for i, n := range order {
		ps = append(ps, &packet.Publish{Topic: "tat/" + n, QoS: 1, ID: uint16(i + 1), Payload: []byte(n)})
	}
	publishRaw(t, addr, ps...)

	type sent struct {
		topic string
		alias uint16
	}
	want := []sent{{"tat/a", 1}, {"tat/b", 2}, {"", 1}, {"", 2}, {"tat/c", 0}, {"tat/c", 0}}
	for i, w := range want {
		p := sub.NextPublish()
		sub.Ack(p)
		var alias uint16
		if p.Props != nil {
			alias = p.Props.TopicAlias
		}
		if p.Topic != w.topic || alias != w.alias || string(p.Payload) != order[i] {
			t.Errorf("PUBLISH %d: topic %q alias %d payload %q, want %q alias %d", i, p.Topic, alias, p.Payload, w.topic, w.alias)
		}
	}
	for range order {
		select {
		case <-done:
		case <-time.After(brokertest.Wait):
			t.Fatal("paho.golang did not get every message")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for topic, want := range map[string][]string{"tat/a": {"a", "a"}, "tat/b": {"b", "b"}, "tat/c": {"c", "c"}} {
		if !slices.Equal(got[topic], want) {
			t.Errorf("paho.golang got %q on %s, want %q", got[topic], topic, want)
		}
	}
}

// TestV5MessageExpiry: a message waiting for an offline session past its
// expiry interval is not delivered; one delivered later carries what is
// left of its interval [MQTT-3.3.2-6]; an expired retained message is not
// sent to a new subscription [MQTT-3.3.2-5].
func TestV5MessageExpiry(t *testing.T) {
	_, addr := startBroker(t, nil)
	c, _ := connect5(t, addr, "away", false, expiring(60))
	subscribeQoS1(t, c, "me/t")
	c.Leave()
	publishRaw(t, addr,
		&packet.Publish{Topic: "me/t", QoS: 1, Payload: []byte("short"), Props: &packet.Properties{MessageExpiry: 1}},
		&packet.Publish{Topic: "me/t", QoS: 1, Payload: []byte("long"), Props: &packet.Properties{MessageExpiry: 100}},
		&packet.Publish{Topic: "me/r/short", Retain: true, Payload: []byte("short"), Props: &packet.Properties{MessageExpiry: 1}},
		&packet.Publish{Topic: "me/r/kept", Retain: true, Payload: []byte("kept")})
	time.Sleep(1500 * time.Millisecond) // past the short interval

	c, _ = connect5(t, addr, "away", false, expiring(60))
	p := c.NextPublish()
	c.Ack(p)
	if string(p.Payload) != "long" {
		t.Fatalf("got %q, want only the message that has not expired", p.Payload)
	}
	if p.Props == nil || !p.Props.Has(packet.PropMessageExpiry) || p.Props.MessageExpiry >= 100 {
		t.Errorf("message expiry %d, want less than the 100 s sent", p.Props.MessageExpiry)
	}
	c.ExpectNothing(quiet)

	c.MustSubscribe(2, packet.Subscription{Filter: "me/r/#"})
	if p := c.NextPublish(); p.Topic != "me/r/kept" {
		t.Errorf("retained %s, want only me/r/kept", p.Topic)
	}
	c.ExpectNothing(quiet)
}

// TestV5PropertiesPassThrough: payload format indicator, content type,
// response topic, correlation data and user properties reach subscribers
// unchanged, user properties in order and with duplicates
// [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-20].
func TestV5PropertiesPassThrough(t *testing.T) {
	_, addr := startBroker(t, nil)
	raw, _ := connect5(t, addr, "raw", true, nil)
	subscribeQoS1(t, raw, "pp/#")
	pc, _ := connectPaho(t, addr, &paho.Connect{ClientID: "paho-sub", CleanStart: true}, nil)
	pc.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "pp/#", QoS: 1}}})

	user := []packet.UserProperty{{Key: "b", Value: "1"}, {Key: "a", Value: "2"}, {Key: "b", Value: "3"}, {Key: "b", Value: "1"}}
	props := &packet.Properties{PayloadFormat: 1, ContentType: "application/json", ResponseTopic: "pp/reply",
		CorrelationData: []byte{0, 1, 2, 0xff}, User: user}
	publishRaw(t, addr, &packet.Publish{Topic: "pp/t", QoS: 1, Payload: []byte(`{}`), Props: props})

	p := raw.NextPublish()
	raw.Ack(p)
	if q := p.Props; q == nil || q.PayloadFormat != 1 || q.ContentType != "application/json" || q.ResponseTopic != "pp/reply" ||
		!bytes.Equal(q.CorrelationData, props.CorrelationData) || !slices.Equal(q.User, user) {
		t.Errorf("raw subscriber got properties %+v, want %+v", p.Props, props)
	}

	m := pc.next(t)
	q := m.Properties
	var pahoUser []packet.UserProperty
	if q != nil {
		for _, u := range q.User {
			pahoUser = append(pahoUser, packet.UserProperty{Key: u.Key, Value: u.Value})
		}
	}
	if q == nil || q.PayloadFormat == nil || *q.PayloadFormat != 1 || q.ContentType != "application/json" ||
		q.ResponseTopic != "pp/reply" || !bytes.Equal(q.CorrelationData, props.CorrelationData) || !slices.Equal(pahoUser, user) {
		t.Errorf("paho.golang got properties %+v", q)
	}
}

// TestV5RequestResponse: request and response through the broker between
// two paho.golang clients (MQTT 5 §4.10): the requester's response topic
// and correlation data reach the responder, which answers on that topic
// with that correlation data.
func TestV5RequestResponse(t *testing.T) {
	_, addr := startBroker(t, nil)
	var responder *pahoClient
	responder, _ = connectPaho(t, addr, &paho.Connect{ClientID: "responder", CleanStart: true}, func(c *paho.ClientConfig) {
		c.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(r paho.PublishReceived) (bool, error) {
			req := r.Packet
			if req.Properties == nil || req.Properties.ResponseTopic == "" {
				return false, nil
			}
			// Answered off paho's goroutine, which must go on reading.
			go responder.Publish(context.Background(), &paho.Publish{Topic: req.Properties.ResponseTopic, QoS: 1,
				Payload:    append([]byte("re: "), req.Payload...),
				Properties: &paho.PublishProperties{CorrelationData: req.Properties.CorrelationData}})
			return true, nil
		}}
	})
	responder.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "rr/requests", QoS: 1}}})

	requester, _ := connectPaho(t, addr, &paho.Connect{ClientID: "requester", CleanStart: true}, func(c *paho.ClientConfig) {
		c.OnPublishReceived = nil // the rpc handler adds its own
	})
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.Wait)
	defer cancel()
	h, err := rpc.NewHandler(ctx, requester.Client)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"one", "two"} {
		resp, err := h.Request(ctx, &paho.Publish{Topic: "rr/requests", QoS: 1, Payload: []byte(q)})
		if err != nil {
			t.Fatalf("request %s: %v", q, err)
		}
		if string(resp.Payload) != "re: "+q {
			t.Errorf("response %q to %q", resp.Payload, q)
		}
	}
}

// TestV5SubscriptionIdentifiers: a message carries the identifiers of the
// subscriptions it matches [MQTT-3.3.4-3], all of them in one PUBLISH when
// several overlap [MQTT-3.3.4-4] [MQTT-3.3.4-5]; a broker without them
// ends a SUBSCRIBE carrying one with 0xA1.
func TestV5SubscriptionIdentifiers(t *testing.T) {
	_, addr := startBroker(t, nil)
	c, _ := connect5(t, addr, "ids", true, nil)
	sub := func(id uint16, filter string, sid int) {
		t.Helper()
		c.Subscribe(&packet.Subscribe{ID: id, Subscriptions: []packet.Subscription{{Filter: filter, QoS: 1}},
			Props: &packet.Properties{SubscriptionIDs: []int{sid}}})
		c.FindAck(packet.TypeSuback, id)
	}
	sub(1, "si/+", 5)
	sub(2, "si/#", 7)
	c.MustSubscribe(3, packet.Subscription{Filter: "si/x/+", QoS: 1}) // no identifier
	for _, tt := range []struct {
		topic string
		want  []int
	}{
		{"si/x", []int{5, 7}},
		{"si/x/y", []int{7}},
	} {
		publishRaw(t, addr, &packet.Publish{Topic: tt.topic, QoS: 1})
		p := c.NextPublish()
		c.Ack(p)
		var got []int
		if p.Props != nil {
			got = slices.Sorted(slices.Values(p.Props.SubscriptionIDs))
		}
		if p.Topic != tt.topic || !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %s with identifiers %v, want %v", tt.topic, p.Topic, got, tt.want)
		}
		c.ExpectNothing(quiet) // one PUBLISH for overlapping subscriptions
	}

	// paho.golang gets its identifier.
	pc, _ := connectPaho(t, addr, &paho.Connect{ClientID: "paho-ids", CleanStart: true}, nil)
	pc.subscribe(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "si/p", QoS: 1}},
		Properties: &paho.SubscribeProperties{SubscriptionIdentifier: new(42)}})
	publishRaw(t, addr, &packet.Publish{Topic: "si/p", QoS: 1})
	if m := pc.next(t); m.Properties == nil || m.Properties.SubscriptionIdentifier == nil || *m.Properties.SubscriptionIdentifier != 42 {
		t.Errorf("paho.golang got properties %+v, want subscription identifier 42", m.Properties)
	}

	t.Run("unavailable", func(t *testing.T) {
		_, addr := startBroker(t, &Options{Capabilities: capsWith(func(c *stack.Capabilities) { c.SubscriptionIDUnavailable = true })})
		c, _ := connect5(t, addr, "no-ids", true, nil)
		c.MustSubscribe(1, packet.Subscription{Filter: "x"}) // without: fine
		c.Subscribe(&packet.Subscribe{ID: 2, Subscriptions: []packet.Subscription{{Filter: "y"}},
			Props: &packet.Properties{SubscriptionIDs: []int{1}}})
		expectDisconnect(t, c, packet.SubscriptionIdentifiersNotSupported, true)
	})
}

// TestV5TopicAliasToClientBounded: a client may allow 65,535 topic aliases,
// but the broker gives at most 1,024 topics one per connection (the map is
// its memory); the rest go by name [MQTT-3.3.2-11] allows fewer.
func TestV5TopicAliasToClientBounded(t *testing.T) {
	_, addr := startBroker(t, &Options{Capabilities: capsWith(func(c *stack.Capabilities) { c.TopicAliasesToClients = true })})
	sub, _ := connect5(t, addr, "many", true, &packet.Properties{TopicAliasMaximum: 65535})
	if ack := sub.MustSubscribe(1, packet.Subscription{Filter: "tab/#"}); ack.Reasons[0] != 0 {
		t.Fatal(ack.Reasons[0])
	}
	const topics = 1030
	ps := make([]*packet.Publish, topics)
	for i := range ps {
		ps[i] = &packet.Publish{Topic: fmt.Sprint("tab/", i), Payload: []byte("x")}
	}
	publishRaw(t, addr, ps...)
	aliased := 0
	for i := range topics {
		p := sub.NextPublish()
		if p.Topic != fmt.Sprint("tab/", i) {
			t.Fatalf("message %d: topic %q", i, p.Topic)
		}
		if p.Props != nil && p.Props.TopicAlias != 0 {
			aliased++
			if int(p.Props.TopicAlias) != i+1 {
				t.Fatalf("message %d: alias %d", i, p.Props.TopicAlias)
			}
		}
	}
	if aliased != 1024 {
		t.Errorf("%d topics got an alias, want 1024", aliased)
	}
}
