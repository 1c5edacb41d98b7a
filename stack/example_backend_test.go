package stack_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
	"github.com/midge-mqtt/midge/store"
	storememory "github.com/midge-mqtt/midge/store/memory"
	"github.com/midge-mqtt/midge/topic"
)

// mapBackend is a routing backend written outside the stack package, in
// place of the MemoryBackend: subscriptions and retained messages in two
// maps, matched by walking them all. It serves one broker (there is no
// bus between brokers) and trades speed for brevity.
type mapBackend struct {
	mu       sync.RWMutex
	subs     map[stack.Subscriber]map[string]store.Subscription // by filter
	retained map[string]*store.Message                          // by topic
}

func newMapBackend() *mapBackend {
	return &mapBackend{subs: map[stack.Subscriber]map[string]store.Subscription{}, retained: map[string]*store.Message{}}
}

// Handle passes every packet on: a backend acts through its callbacks.
func (b *mapBackend) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	return next.ServeMQTT(ctx, c, p)
}

// Relay implements stack.Relayer: it keeps a retained message first, then
// gives each subscriber one copy at the highest QoS of its matching
// subscriptions, never above the QoS published [MQTT-3.3.5-1].
func (b *mapBackend) Relay(ctx context.Context, m *store.Message) error {
	if m.Retain {
		b.StoreRetained(ctx, m)
	}
	type delivery struct {
		to stack.Subscriber
		d  stack.Delivery
	}
	var out []delivery
	b.mu.RLock()
	for to, filters := range b.subs {
		var d stack.Delivery
		found := false
		for _, sub := range filters {
			if !topic.Match(sub.Filter, m.Topic) || sub.NoLocal && isFrom(to, m) {
				continue
			}
			d.QoS = max(d.QoS, sub.QoS)
			d.Retain = d.Retain || sub.RetainAsPublished && m.Retain // else 0 [MQTT-3.3.1-9]
			if sub.ID != 0 {
				d.SubIDs = append(d.SubIDs, sub.ID)
			}
			found = true
		}
		if found {
			d.QoS = min(d.QoS, m.QoS)
			out = append(out, delivery{to, d})
		}
	}
	b.mu.RUnlock()
	// Delivered without the lock: Deliver takes its session's, and a
	// subscriber may subscribe from it.
	for _, o := range out {
		o.to.Deliver(ctx, m, o.d)
	}
	return nil
}

func isFrom(to stack.Subscriber, m *store.Message) bool {
	s, ok := to.(*stack.Session)
	return ok && s.ID == m.From
}

// Subscribe implements stack.Subscriptions. A session records its own
// subscriptions too, for the SessionManager and the RetainManager.
func (b *mapBackend) Subscribe(ctx context.Context, to stack.Subscriber, sub store.Subscription) (bool, error) {
	b.mu.Lock()
	if b.subs[to] == nil {
		b.subs[to] = map[string]store.Subscription{}
	}
	_, existed := b.subs[to][sub.Filter]
	b.subs[to][sub.Filter] = sub
	b.mu.Unlock()
	if s, ok := to.(*stack.Session); ok {
		if err := s.RecordSubscription(ctx, sub); err != nil {
			b.Unsubscribe(ctx, to, sub.Filter) // the session ended meanwhile
			return existed, err
		}
	}
	return existed, nil
}

// Unsubscribe implements stack.Subscriptions.
func (b *mapBackend) Unsubscribe(ctx context.Context, to stack.Subscriber, filter string) (bool, error) {
	b.mu.Lock()
	_, existed := b.subs[to][filter]
	delete(b.subs[to], filter)
	if len(b.subs[to]) == 0 {
		delete(b.subs, to)
	}
	b.mu.Unlock()
	if s, ok := to.(*stack.Session); ok {
		_, err := s.ForgetSubscription(ctx, filter)
		return existed, err
	}
	return existed, nil
}

// UnsubscribeAll implements stack.Subscriptions, for a session that ends.
func (b *mapBackend) UnsubscribeAll(_ context.Context, s *stack.Session) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

// StoreRetained implements stack.Retainer: an empty payload deletes the
// topic's retained message [MQTT-3.3.1-10].
func (b *mapBackend) StoreRetained(_ context.Context, m *store.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(m.Payload) == 0 {
		delete(b.retained, m.Topic)
	} else {
		b.retained[m.Topic] = m
	}
	return nil
}

// MatchRetained implements stack.Retainer.
func (b *mapBackend) MatchRetained(_ context.Context, filter string, fn func(*store.Message) bool) error {
	var found []*store.Message
	b.mu.RLock()
	for name, m := range b.retained {
		if topic.Match(filter, name) {
			found = append(found, m)
		}
	}
	b.mu.RUnlock()
	for _, m := range found {
		if !fn(m) {
			break
		}
	}
	return nil
}

// backend is what a routing backend offers the other middlewares.
type backend interface {
	stack.Middleware
	stack.Relayer
	stack.Subscriptions
	stack.Retainer
}

// newBroker builds a complete broker from the stack: every built-in
// middleware, in the order the broker package uses, over the given
// routing backend; sessions are kept in their own store. extra
// middlewares go right after the SessionManager, where every packet they
// see comes from an accepted client.
func newBroker(sessions store.Store, routes backend, extra ...stack.Middleware) (*mqtt.Server, *stack.Stack, error) {
	keepAlive := &stack.KeepAlive{ConnectTimeout: 10 * time.Second}
	mws := []stack.Middleware{
		stack.Connection{},
		keepAlive,
		&stack.LastWill{},
		&stack.Authentication{},
		&stack.SessionManager{Store: sessions},
		&stack.TopicAliases{},
	}
	mws = append(mws, extra...)
	mws = append(mws,
		&stack.Authorize{},
		&stack.RetainManager{},
		&stack.SubscriptionManager{},
		&stack.InboundManager{},
		&stack.OutboundManager{},
		routes,
	)
	s, err := stack.New(mws...)
	if err != nil {
		return nil, nil, err
	}
	return &mqtt.Server{Handler: s, ConnContext: keepAlive.ConnContext}, s, nil
}

// A broker whose subscriptions and retained messages live in a backend of
// the program's own instead of the MemoryBackend.
func Example_backend() {
	addr, stop, err := start(newBroker(storememory.New(), newMapBackend()))
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	pub := dial(addr, packet.V311, "pub")
	defer pub.Close()
	pub.Publish(&packet.Publish{Topic: "rooms/kitchen", Payload: []byte("21.5"), Retain: true, QoS: 1, ID: 1})
	read(pub) // PUBACK: the retained message is kept

	sub := dial(addr, packet.V311, "sub")
	defer sub.Close()
	sub.Subscribe(&packet.Subscribe{ID: 1, Subscriptions: []packet.Subscription{{Filter: "rooms/+", QoS: 1}}})
	read(sub) // SUBACK
	m := read(sub).(*packet.Publish)
	fmt.Printf("%s %s retain=%v QoS %d\n", m.Topic, m.Payload, m.Retain, m.QoS)
	sub.Puback(&packet.Puback{ID: m.ID})

	pub.Publish(&packet.Publish{Topic: "rooms/hall", Payload: []byte("19.0"), QoS: 1, ID: 2})
	m = read(sub).(*packet.Publish)
	fmt.Printf("%s %s retain=%v QoS %d\n", m.Topic, m.Payload, m.Retain, m.QoS)
	// Output:
	// rooms/kitchen 21.5 retain=true QoS 1
	// rooms/hall 19.0 retain=false QoS 1
}
