package stack

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqmemory "github.com/midge-mqtt/midge/mq/memory"
	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
	storememory "github.com/midge-mqtt/midge/store/memory"
)

// The tests below force each interleaving of a SUBSCRIBE with a retained
// PUBLISH on the topic, with a store and a bus that stop at the moment that
// matters, over real sockets: the retained message must reach the new
// subscription once, and before the newer live ones.

// gateStore is a memory store whose next MatchRetained can be stopped
// between its lookup and its calls to fn.
type gateStore struct {
	*storememory.Store
	mu     sync.Mutex
	looked chan struct{} // told once the lookup is done, before fn runs
	gate   chan struct{} // fn runs once it is closed
	done   chan struct{} // told once fn has run for every message
}

// stopNext makes the next MatchRetained stop after its lookup until open
// is called (at the latest when the test ends).
func (g *gateStore) stopNext(t *testing.T) (looked <-chan struct{}, open func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.looked, g.gate = make(chan struct{}, 1), make(chan struct{})
	return g.looked, opener(t, g.gate)
}

// opener returns a function closing gate once, and calls it at the end of
// the test, so that a failed test leaves nothing stopped.
func opener(t *testing.T, gate chan struct{}) func() {
	var once sync.Once
	open := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(open)
	return open
}

// await waits to be told on ch.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not in 5s", what)
	}
}

// watchNext returns a channel told when the next MatchRetained is done.
func (g *gateStore) watchNext() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done = make(chan struct{}, 1)
	return g.done
}

func (g *gateStore) MatchRetained(ctx context.Context, filter string, fn func(*store.Message) bool) error {
	g.mu.Lock()
	looked, gate, done := g.looked, g.gate, g.done
	g.looked, g.gate, g.done = nil, nil, nil
	g.mu.Unlock()
	var found []*store.Message
	err := g.Store.MatchRetained(ctx, filter, func(m *store.Message) bool {
		found = append(found, m)
		return true
	})
	if looked != nil {
		looked <- struct{}{}
		<-gate
	}
	for _, m := range found {
		if !fn(m) {
			break
		}
	}
	if done != nil {
		done <- struct{}{}
	}
	return err
}

// gateBus is an in-process bus whose next Publish can be stopped before it
// routes the message: a retained one is stored by then.
type gateBus struct {
	*mqmemory.Bus
	mu      sync.Mutex
	stopped chan struct{}
	gate    chan struct{}
	// copies makes it carry copies, as a bus between processes does: the
	// router never matches the message it stored.
	copies atomic.Bool
}

// stopNext makes the next Publish wait, once it is told on stopped, until
// open is called (at the latest when the test ends).
func (b *gateBus) stopNext(t *testing.T) (stopped <-chan struct{}, open func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped, b.gate = make(chan struct{}, 1), make(chan struct{})
	return b.stopped, opener(t, b.gate)
}

func (b *gateBus) Publish(ctx context.Context, m *store.Message) error {
	b.mu.Lock()
	stopped, gate := b.stopped, b.gate
	b.stopped, b.gate = nil, nil
	b.mu.Unlock()
	if stopped != nil {
		stopped <- struct{}{}
		<-gate
	}
	if b.copies.Load() {
		cp := *m
		cp.Routing = nil
		m = &cp
	}
	return b.Bus.Publish(ctx, m)
}

// retainBroker is a broker built from the stack's middlewares, with a gate
// store and bus.
type retainBroker struct {
	addr    string
	st      *gateStore
	bus     *gateBus
	dropped atomic.Int64
	refuse  atomic.Bool // refuse every subscription from now on
}

func newRetainBroker(t *testing.T, limits SessionLimits) *retainBroker {
	t.Helper()
	b := &retainBroker{st: &gateStore{Store: storememory.New()}, bus: &gateBus{Bus: mqmemory.New()}}
	s, err := New(
		Connection{},
		&KeepAlive{ConnectTimeout: 5 * time.Second},
		&SessionManager{Store: b.st, Limits: limits, Dropped: func(*Session, *store.Message, error) { b.dropped.Add(1) }},
		&Authorize{Subscribe: func(context.Context, *mqtt.Conn, *packet.Subscription) (bool, error) {
			return !b.refuse.Load(), nil
		}},
		&RetainManager{},
		&SubscriptionManager{},
		&InboundManager{},
		&OutboundManager{},
		&Router{Store: b.st, Bus: b.bus},
	)
	if err != nil {
		t.Fatal(err)
	}
	b.addr = serveTCP(t, s)
	return b
}

// serveTCP serves h on a local port until the test ends, and returns its
// address.
func serveTCP(t *testing.T, h mqtt.Handler) string {
	t.Helper()
	srv := &mqtt.Server{Handler: h}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		srv.Close()
		if s, ok := h.(*Stack); ok {
			s.Wait() // what runs at the connections' ends is over
		}
	})
	return l.Addr().String()
}

// testClient is a raw MQTT client reading one packet at a time.
type testClient struct {
	t  *testing.T
	id string
	c  *mqtt.Conn
}

func (b *retainBroker) dial(t *testing.T, id string, v packet.Version) *testClient {
	t.Helper()
	nc, err := net.Dial("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := mqtt.NewConn(nc, &mqtt.Options{Version: v})
	t.Cleanup(func() { c.Close() })
	tc := &testClient{t: t, id: id, c: c}
	c.Connect(&packet.Connect{Version: v, ClientID: id, CleanStart: true})
	if p := tc.next(); p.Type() != packet.TypeConnack {
		t.Fatalf("%s: got %v, want CONNACK", id, p)
	}
	return tc
}

func (tc *testClient) next() packet.Packet {
	tc.t.Helper()
	tc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := tc.c.ReadPacket()
	if err != nil {
		tc.t.Fatalf("%s: %v", tc.id, err)
	}
	return p
}

// subscribe sends a SUBSCRIBE and returns its SUBACK's reason code.
func (tc *testClient) subscribe(filter string, qos packet.QoS) packet.ReasonCode {
	tc.t.Helper()
	tc.c.Subscribe(&packet.Subscribe{ID: 1, Subscriptions: []packet.Subscription{{Filter: filter, QoS: qos}}})
	p, ok := tc.next().(*packet.Suback)
	if !ok || len(p.Reasons) != 1 {
		tc.t.Fatalf("%s: got %v, want a SUBACK", tc.id, p)
	}
	return p.Reasons[0]
}

// publish sends a QoS 1 PUBLISH; wait waits for its PUBACK.
func (tc *testClient) publish(topic, payload string, retain bool) (wait func()) {
	tc.c.Publish(&packet.Publish{Topic: topic, Payload: []byte(payload), QoS: 1, ID: 1, Retain: retain})
	return func() {
		tc.t.Helper()
		if p := tc.next(); p.Type() != packet.TypePuback {
			tc.t.Fatalf("%s: got %v, want PUBACK", tc.id, p)
		}
	}
}

// expect reads the next PUBLISH, acknowledges it, and checks it.
func (tc *testClient) expect(payload string, retain bool) {
	tc.t.Helper()
	p, ok := tc.next().(*packet.Publish)
	if !ok {
		tc.t.Fatalf("%s: got %v, want PUBLISH %q", tc.id, p, payload)
	}
	if p.QoS > 0 {
		tc.c.Puback(&packet.Puback{ID: p.ID})
	}
	if string(p.Payload) != payload || p.Retain != retain {
		tc.t.Fatalf("%s: got %q retain %v, want %q retain %v", tc.id, p.Payload, p.Retain, payload, retain)
	}
}

var retainVersions = []packet.Version{packet.V311, packet.V5}

// eachVersion runs f for each protocol version and subscription QoS.
func eachVersion(t *testing.T, f func(t *testing.T, v packet.Version, qos packet.QoS)) {
	for _, v := range retainVersions {
		for _, qos := range []packet.QoS{0, 1} {
			t.Run(fmt.Sprintf("v%d/qos%d", v, qos), func(t *testing.T) { f(t, v, qos) })
		}
	}
}

// TestRetainedStoredNotRouted subscribes while a retained message is
// stored and not yet routed: it comes live, once, not also as retained.
func TestRetainedStoredNotRouted(t *testing.T) {
	eachVersion(t, func(t *testing.T, v packet.Version, qos packet.QoS) {
		b := newRetainBroker(t, SessionLimits{})
		pub, sub := b.dial(t, "pub", v), b.dial(t, "sub", v)
		stopped, open := b.bus.stopNext(t)
		acked := pub.publish("t", "1", true)
		await(t, stopped, "publish stored")
		done := b.st.watchNext()
		if rc := sub.subscribe("t", qos); rc != packet.ReasonCode(qos) {
			t.Fatalf("SUBACK %v", rc)
		}
		await(t, done, "retained lookup")
		open()
		acked()
		pub.publish("t", "2", false)()
		sub.expect("1", false)
		sub.expect("2", false)
	})
}

// TestRetainedBeforeNewerLive subscribes while a newer retained message is
// published between the lookup of the old one and its delivery: the old one
// comes first, as retained, then the new one, live, once.
func TestRetainedBeforeNewerLive(t *testing.T) {
	eachVersion(t, func(t *testing.T, v packet.Version, qos packet.QoS) {
		b := newRetainBroker(t, SessionLimits{})
		pub, sub := b.dial(t, "pub", v), b.dial(t, "sub", v)
		pub.publish("t", "1", true)()
		looked, open := b.st.stopNext(t)
		if rc := sub.subscribe("t", qos); rc != packet.ReasonCode(qos) {
			t.Fatalf("SUBACK %v", rc)
		}
		await(t, looked, "retained lookup") // "1" found, not yet delivered
		pub.publish("t", "2", true)()
		open()
		pub.publish("t", "3", false)()
		sub.expect("1", true)
		sub.expect("2", false)
		sub.expect("3", false)
		if n := b.dropped.Load(); n != 0 {
			t.Errorf("%d messages dropped", n)
		}
	})
}

// TestRetainedHoldLimit fills the session's hold on live messages during a
// retained lookup: past the session's queue limit the hold gives up, the
// live messages go out at once, and none is dropped.
func TestRetainedHoldLimit(t *testing.T) {
	eachVersion(t, func(t *testing.T, v packet.Version, qos packet.QoS) {
		b := newRetainBroker(t, SessionLimits{Queue: 2})
		pub, sub := b.dial(t, "pub", v), b.dial(t, "sub", v)
		pub.publish("t", "old", true)()
		looked, open := b.st.stopNext(t)
		sub.subscribe("t", qos)
		await(t, looked, "retained lookup")
		for _, p := range []string{"a", "b", "c"} {
			pub.publish("t", p, false)()
		}
		// The lookup still waits: these come only because the hold gave up.
		sub.expect("a", false)
		sub.expect("b", false)
		sub.expect("c", false)
		open()
		sub.expect("old", true)
		pub.publish("t", "d", false)()
		sub.expect("d", false)
		if n := b.dropped.Load(); n != 0 {
			t.Errorf("%d messages dropped", n)
		}
	})
}

// TestRetainedRefusedResubscription refuses a SUBSCRIBE for a filter
// already subscribed: the subscription stays as it was, and no retained
// message is sent again.
func TestRetainedRefusedResubscription(t *testing.T) {
	eachVersion(t, func(t *testing.T, v packet.Version, qos packet.QoS) {
		b := newRetainBroker(t, SessionLimits{})
		pub, sub := b.dial(t, "pub", v), b.dial(t, "sub", v)
		pub.publish("t", "1", true)()
		sub.subscribe("t", qos)
		sub.expect("1", true)
		b.refuse.Store(true)
		if rc := sub.subscribe("t", qos); !rc.IsError() {
			t.Fatalf("SUBACK %v, want a failure", rc)
		}
		pub.publish("t", "2", false)()
		sub.expect("2", false)
	})
}

// TestRetainedCopyingBus relays retained messages through a bus that
// carries copies: the router never matches the message it stored, and a
// later subscription must still get it as retained.
func TestRetainedCopyingBus(t *testing.T) {
	eachVersion(t, func(t *testing.T, v packet.Version, qos packet.QoS) {
		b := newRetainBroker(t, SessionLimits{})
		b.bus.copies.Store(true)
		pub, sub := b.dial(t, "pub", v), b.dial(t, "sub", v)
		pub.publish("t", "1", true)()
		sub.subscribe("t", qos)
		sub.expect("1", true)
		pub.publish("t", "2", true)()
		sub.expect("2", false)
	})
}
