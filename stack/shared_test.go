package stack

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/mq/memory"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
	storememory "github.com/midge-mqtt/midge/store/memory"
)

// counter is a Subscriber that counts what it is given.
type counter struct {
	n   atomic.Int64
	qos []packet.QoS // as delivered; not for concurrent use
}

func (c *counter) Deliver(_ context.Context, _ *store.Message, d Delivery) error {
	c.n.Add(1)
	if c.qos != nil {
		c.qos = append(c.qos, d.QoS)
	}
	return nil
}

// newTestRouter returns a started router on an in-memory store and bus.
func newTestRouter(t testing.TB) *Router {
	r := &Router{Store: storememory.New(), Bus: memory.New()}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

func TestShareGroupDeliversToOne(t *testing.T) {
	ctx := context.Background()
	r := newTestRouter(t)
	members := []*counter{{qos: []packet.QoS{}}, {qos: []packet.QoS{}}, {qos: []packet.QoS{}}}
	for i, m := range members {
		if _, err := r.Subscribe(ctx, m, store.Subscription{Filter: "$share/g/a/+", QoS: packet.QoS(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.Count(); n != 3 {
		t.Fatalf("Count %d, want 3: each member counts", n)
	}
	for range 30 {
		r.route(ctx, &store.Message{Topic: "a/b", QoS: packet.ExactlyOnce})
	}
	for i, m := range members {
		if got := m.n.Load(); got != 10 {
			t.Errorf("member %d got %d messages, want 10", i, got)
		}
		for _, q := range m.qos {
			if q != packet.QoS(i) {
				t.Errorf("member %d got QoS %d, want its own, %d [MQTT-4.8.2-3]", i, q, i)
				break
			}
		}
	}
	for _, m := range members {
		if existed, _ := r.Unsubscribe(ctx, m, "$share/g/a/+"); !existed {
			t.Fatal("Unsubscribe: no such member")
		}
	}
	if n, tn := r.Count(), r.tree.Len(); n != 0 || tn != 0 {
		t.Fatalf("after the last member left: Count %d, tree %d, want 0, 0", n, tn)
	}
	r.route(ctx, &store.Message{Topic: "a/b", QoS: 1})
	for i, m := range members {
		if got := m.n.Load(); got != 10 {
			t.Errorf("member %d got %d messages after leaving, want 10", i, got)
		}
	}
}

func TestShareStrategyIndexOutOfRange(t *testing.T) {
	// Pick's index is taken modulo the number of members, negative ones too.
	ctx := context.Background()
	for _, pick := range []int{-1, 5} {
		r := newTestRouter(t)
		r.Share = ShareStrategyFunc(func(string, []Subscriber, uint64, *store.Message) int { return pick })
		a, b := new(counter), new(counter)
		r.Subscribe(ctx, a, store.Subscription{Filter: "$share/g/t", QoS: 1})
		r.Subscribe(ctx, b, store.Subscription{Filter: "$share/g/t", QoS: 1})
		r.route(ctx, &store.Message{Topic: "t", QoS: 1})
		if a.n.Load() != 0 || b.n.Load() != 1 {
			t.Errorf("Pick %d: a got %d, b %d, want b only", pick, a.n.Load(), b.n.Load())
		}
	}
}

func TestShareSubscribeInvalid(t *testing.T) {
	r := newTestRouter(t)
	for _, f := range []string{"$share/g", "$share//t", "$share/g+/t"} {
		if _, err := r.Subscribe(context.Background(), new(counter), store.Subscription{Filter: f}); err == nil {
			t.Errorf("Subscribe %q: no error", f)
		}
	}
	if r.Count() != 0 {
		t.Fatalf("Count %d after invalid subscriptions, want 0", r.Count())
	}
}

func TestShareGroupConcurrent(t *testing.T) {
	// Members come and go while messages are routed: with one member there
	// throughout, every message reaches exactly one member.
	ctx := context.Background()
	r := newTestRouter(t)
	const filter = "$share/g/t"
	stay := new(counter)
	r.Subscribe(ctx, stay, store.Subscription{Filter: filter, QoS: 1})
	churn := []*counter{new(counter), new(counter), new(counter)}
	const publishers, each = 4, 500
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			c := churn[i%len(churn)]
			r.Subscribe(ctx, c, store.Subscription{Filter: filter, QoS: 1})
			r.Unsubscribe(ctx, c, filter)
		}
	}()
	var wg sync.WaitGroup
	for range publishers {
		wg.Go(func() {
			for range each {
				r.route(ctx, &store.Message{Topic: "t", QoS: 1})
			}
		})
	}
	wg.Wait()
	<-done
	total := stay.n.Load()
	for _, c := range churn {
		total += c.n.Load()
	}
	if total != publishers*each {
		t.Fatalf("%d deliveries for %d messages", total, publishers*each)
	}
	if r.Count() != 1 {
		t.Fatalf("Count %d, want 1", r.Count())
	}
}

// serveShared serves a stack with the capabilities caps on a loopback port
// and returns its address.
func serveShared(t *testing.T, caps *Capabilities) string {
	t.Helper()
	st := storememory.New()
	bus := memory.New()
	r := &Router{Store: st, Bus: bus}
	s, err := New(Connection{}, &SessionManager{Store: st, Caps: caps}, &Authorize{}, &RetainManager{},
		&SubscriptionManager{Caps: caps}, &InboundManager{}, &OutboundManager{}, r)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTCP(t, s)
	t.Cleanup(func() {
		r.Stop()
		bus.Close()
		st.Close()
	})
	return addr
}

func TestSharedUnavailable(t *testing.T) {
	caps := DefaultCapabilities()
	caps.SharedUnavailable = true
	for _, tc := range []struct {
		v    packet.Version
		want packet.ReasonCode
	}{
		{packet.V5, packet.SharedSubscriptionsNotSupported},
		{packet.V311, packet.UnspecifiedError}, // 3.1.1 has one failure code
	} {
		t.Run(fmt.Sprint(tc.v), func(t *testing.T) {
			addr := serveShared(t, &caps)
			c := brokertest.MustConnect(t, addr, &packet.Connect{Version: tc.v, ClientID: "c", CleanStart: true})
			ack := c.MustSubscribe(1, packet.Subscription{Filter: "$share/g/t", QoS: 1}, packet.Subscription{Filter: "t", QoS: 1})
			if ack.Reasons[0] != tc.want || ack.Reasons[1] != packet.GrantedQoS1 {
				t.Fatalf("SUBACK %v, want [%v, QoS 1]", ack.Reasons, tc.want)
			}
		})
	}
	t.Run("available", func(t *testing.T) {
		addr := serveShared(t, nil)
		c := brokertest.MustConnect(t, addr, &packet.Connect{Version: packet.V5, ClientID: "c", CleanStart: true})
		if ack := c.MustSubscribe(1, packet.Subscription{Filter: "$share/g/t", QoS: 1}); ack.Reasons[0] != packet.GrantedQoS1 {
			t.Fatalf("SUBACK %v, want QoS 1", ack.Reasons)
		}
	})
}

// BenchmarkShareGroup routes messages to one share group of 8 members:
// fan-in, the group's Deliver on every message.
func BenchmarkShareGroup(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		s    ShareStrategy
	}{{"roundrobin", ShareRoundRobin{}}, {"random", ShareRandom{}}} {
		r := newTestRouter(b)
		r.Share = tc.s
		for range 8 {
			r.Subscribe(ctx, new(counter), store.Subscription{Filter: "$share/g/sensors/+/temp", QoS: 1})
		}
		m := &store.Message{Topic: "sensors/k/temp", QoS: 1}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.route(ctx, m)
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r.route(ctx, m)
				}
			})
		})
	}
}
