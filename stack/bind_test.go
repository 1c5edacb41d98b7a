package stack

import (
	"context"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
	storememory "github.com/midge-mqtt/midge/store/memory"
)

// The callbacks each built-in middleware offers, as docs/stack.md lists
// them.
var (
	_ Sessions            = (*SessionManager)(nil)
	_ PublishAuthorizer   = (*Authorize)(nil)
	_ SubscribeAuthorizer = (*Authorize)(nil)
	_ Publisher           = (*InboundManager)(nil)
	_ Relayer             = (*Router)(nil)
	_ Subscriptions       = (*Router)(nil)
	_ Retainer            = (*Router)(nil)
)

// Stubs that offer one callback each, and nothing else.
type (
	passOn         struct{}
	offerSessions  struct{ passOn }
	offerSubs      struct{ passOn }
	offerRelayer   struct{ passOn }
	offerRetainer  struct{ passOn }
	offerPublisher struct{ passOn }
	offerPubAuth   struct{ passOn }
	offerSubAuth   struct{ passOn }
)

func (passOn) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	return next.ServeMQTT(ctx, c, p)
}
func (offerSessions) SessionOf(*mqtt.Conn) *Session { return nil }
func (offerSubs) Subscribe(context.Context, Subscriber, store.Subscription) (bool, error) {
	return false, nil
}
func (offerSubs) Unsubscribe(context.Context, Subscriber, string) (bool, error) { return false, nil }
func (offerSubs) UnsubscribeAll(context.Context, *Session)                      {}
func (offerRelayer) Relay(context.Context, *store.Message) error                { return nil }
func (offerRetainer) StoreRetained(context.Context, *store.Message) error       { return nil }
func (offerRetainer) MatchRetained(context.Context, string, func(*store.Message) bool) error {
	return nil
}
func (offerPublisher) PublishAs(context.Context, *mqtt.Conn, *store.Message) error { return nil }
func (offerPubAuth) AuthorizePublish(context.Context, *mqtt.Conn, *packet.Publish) error {
	return nil
}
func (offerSubAuth) AuthorizeSubscribe(context.Context, *mqtt.Conn, *packet.Subscription) (bool, error) {
	return true, nil
}

// stubs offers each callback interface by one stub.
var stubs = map[reflect.Type]Middleware{
	reflect.TypeFor[Sessions]():            offerSessions{},
	reflect.TypeFor[Subscriptions]():       offerSubs{},
	reflect.TypeFor[Relayer]():             offerRelayer{},
	reflect.TypeFor[Retainer]():            offerRetainer{},
	reflect.TypeFor[Publisher]():           offerPublisher{},
	reflect.TypeFor[PublishAuthorizer]():   offerPubAuth{},
	reflect.TypeFor[SubscribeAuthorizer](): offerSubAuth{},
}

// TestEachMissingCallbackFailsBuild checks, for each built-in middleware,
// the callbacks docs/stack.md says it needs: with all of them it builds;
// without any one of them stack.New fails, and its error names both the
// middleware and the missing interface. A middleware that needs nothing
// builds alone.
func TestEachMissingCallbackFailsBuild(t *testing.T) {
	cases := []struct {
		mw    func() Middleware
		needs []reflect.Type
	}{
		{func() Middleware { return &PacketEmitter{} }, nil},
		{func() Middleware { return Connection{} }, nil},
		{func() Middleware { return &KeepAlive{} }, nil},
		{func() Middleware { return &LastWill{} }, []reflect.Type{reflect.TypeFor[Publisher](), reflect.TypeFor[Sessions]()}},
		{func() Middleware { return &Authentication{} }, nil},
		{func() Middleware { return &SessionManager{Store: storememory.New()} }, []reflect.Type{reflect.TypeFor[Subscriptions]()}},
		{func() Middleware { return &TopicAliases{} }, nil},
		{func() Middleware { return &Authorize{} }, nil},
		{func() Middleware { return &RetainManager{} }, []reflect.Type{reflect.TypeFor[Sessions](), reflect.TypeFor[Retainer]()}},
		{func() Middleware { return &SubscriptionManager{} }, []reflect.Type{reflect.TypeFor[Sessions](),
			reflect.TypeFor[Subscriptions](), reflect.TypeFor[SubscribeAuthorizer]()}},
		{func() Middleware { return &InboundManager{} }, []reflect.Type{reflect.TypeFor[Sessions](),
			reflect.TypeFor[Relayer](), reflect.TypeFor[PublishAuthorizer]()}},
		{func() Middleware { return &OutboundManager{} }, []reflect.Type{reflect.TypeFor[Sessions]()}},
		{func() Middleware { return NewMemoryBackend() }, nil},
	}
	for _, tc := range cases {
		name := reflect.TypeOf(tc.mw()).String()
		t.Run(name, func(t *testing.T) {
			with := func(skip reflect.Type) []Middleware {
				mws := []Middleware{tc.mw()}
				for _, n := range tc.needs {
					if n != skip {
						mws = append(mws, stubs[n])
					}
				}
				return mws
			}
			if _, err := New(with(nil)...); err != nil {
				t.Fatalf("with every callback it needs: %v", err)
			}
			for _, missing := range tc.needs {
				_, err := New(with(missing)...)
				if err == nil {
					t.Fatalf("built without a %v", missing)
				}
				if msg := err.Error(); !strings.Contains(msg, name) || !strings.Contains(msg, missing.String()) {
					t.Errorf("without a %v: %q names not both %s and the interface", missing, msg, name)
				}
			}
		})
	}
}

// TestSessionManagerNeedsStore: a SessionManager without a store fails at
// build, not at its first persistent session.
func TestSessionManagerNeedsStore(t *testing.T) {
	_, err := New(&SessionManager{}, NewMemoryBackend())
	if err == nil || !strings.Contains(err.Error(), "Store") {
		t.Fatalf("New: %v", err)
	}
}

// TestKeysAreDistinct: two keys of one type and name are two keys.
func TestKeysAreDistinct(t *testing.T) {
	a, b := NewKey[int]("same"), NewKey[int]("same")
	c := mqtt.NewConn(nopConn{}, nil)
	defer c.Close()
	a.Set(c, 1)
	b.Set(c, 2)
	if a.Get(c) != 1 || b.Get(c) != 2 {
		t.Fatalf("got %d and %d, want 1 and 2", a.Get(c), b.Get(c))
	}
}

// counting counts the packets its Handle sees, by type, and passes them on;
// only says which types it handles (nil: it is not asked, see
// TestSelectiveSkipped).
type counting struct {
	seen map[packet.Type]int
	only map[packet.Type]bool
}

func (m *counting) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	m.seen[p.Type()]++
	return next.ServeMQTT(ctx, c, p)
}

type selective struct{ *counting }

func (m selective) Handles(t packet.Type) bool { return m.only[t] }

// TestSelectiveSkipped: a Selective middleware's Handle sees only the packet
// types it handles, the others go on past it; one that is not Selective
// sees every packet; both reach the end of the chain.
func TestSelectiveSkipped(t *testing.T) {
	all := &counting{seen: map[packet.Type]int{}}
	some := selective{&counting{seen: map[packet.Type]int{}, only: map[packet.Type]bool{packet.TypePublish: true}}}
	var ended []packet.Type
	s, err := Build(mqtt.HandlerFunc(func(_ context.Context, _ *mqtt.Conn, p packet.Packet) error {
		ended = append(ended, p.Type())
		return nil
	}), all, some)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	defer a.Close()
	c := mqtt.NewConn(b, nil)
	defer c.Close()
	for _, p := range []packet.Packet{&packet.Connect{ClientID: "x"}, &packet.Pingreq{}, &packet.Publish{Topic: "t"}, &packet.Publish{Topic: "t"}} {
		if err := s.ServeMQTT(context.Background(), c, p); err != nil {
			t.Fatal(err)
		}
	}
	if all.seen[packet.TypeConnect] != 1 || all.seen[packet.TypePingreq] != 1 || all.seen[packet.TypePublish] != 2 {
		t.Errorf("the middleware that is not Selective saw %v", all.seen)
	}
	if len(some.seen) != 1 || some.seen[packet.TypePublish] != 2 {
		t.Errorf("the Selective middleware for PUBLISH saw %v", some.seen)
	}
	if len(ended) != 4 {
		t.Errorf("the end of the chain saw %v", ended)
	}
}

// idsSeen is a Subscriber that notes the subscription identifiers of what
// it is given.
type idsSeen struct{ last []int }

func (s *idsSeen) Deliver(_ context.Context, _ *store.Message, d Delivery) error {
	s.last = append(s.last[:0], d.SubIDs...)
	return nil
}

// TestRouteSubscriptionIDsAllocateNothing: a delivery carrying one
// subscription identifier costs the router no allocation (two, from
// overlapping subscriptions of one subscriber, cost a small slice), and
// each delivery carries the right identifiers.
func TestRouteSubscriptionIDsAllocateNothing(t *testing.T) {
	r := NewMemoryBackend()
	defer r.Stop()
	one, two := &idsSeen{}, &idsSeen{}
	ctx := context.Background()
	subscribe := func(to Subscriber, filter string, id int) {
		if _, err := r.Subscribe(ctx, to, store.Subscription{Filter: filter, ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	subscribe(one, "a/b", 7)
	m := &store.Message{Topic: "a/b", Payload: []byte("x")}
	relay := func() {
		if err := r.Relay(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if allocs := testing.AllocsPerRun(100, relay); allocs != 0 {
		t.Errorf("%.1f allocations per message", allocs)
	}
	subscribe(two, "a/b", 8)
	subscribe(two, "a/+", 9)
	relay()
	slices.Sort(two.last)
	if !slices.Equal(one.last, []int{7}) || !slices.Equal(two.last, []int{8, 9}) {
		t.Errorf("identifiers %v and %v, want [7] and [8 9]", one.last, two.last)
	}
}
