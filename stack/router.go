package stack

import (
	"context"
	"errors"
	"sync"

	"github.com/midge-mqtt/midge/mq"
	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
	"github.com/midge-mqtt/midge/topic"
)

// Subscriber receives the messages its subscriptions match. *Session is
// one; a broker's server-side subscriptions are others.
type Subscriber interface {
	// Deliver gives the subscriber m, as d says. m is shared with every
	// other subscriber: it must not be changed.
	Deliver(ctx context.Context, m *store.Message, d Delivery) error
}

// Delivery says how a message goes to one subscriber.
type Delivery struct {
	// QoS is the QoS it is delivered at: the highest of the matching
	// subscriptions', never above the QoS it was published with
	// [MQTT-3.8.4-8].
	QoS packet.QoS
	// Retain is the retain flag to send it with.
	Retain bool
	// SubIDs are the MQTT 5 subscription identifiers of the matching
	// subscriptions that have one [MQTT-3.3.4-3]; nil for none. The slice
	// belongs to the caller: keep a copy, not the slice.
	SubIDs []int

	// via is the share group the message came through, nil for none: a
	// session that ends hands such messages back to their group.
	via *shareGroup
}

// Relayer is the callback that takes a published message into the broker:
// to every subscription it matches, on this broker and on every other one
// sharing its bus.
type Relayer interface {
	Relay(ctx context.Context, m *store.Message) error
}

// Subscriptions is the callback that keeps who is subscribed to what.
type Subscriptions interface {
	// Subscribe adds or replaces sub's subscription for to. It reports
	// whether it replaced one.
	Subscribe(ctx context.Context, to Subscriber, sub store.Subscription) (existed bool, err error)
	// Unsubscribe removes the subscription of to with filter, and reports
	// whether there was one.
	Unsubscribe(ctx context.Context, to Subscriber, filter string) (existed bool, err error)
	// UnsubscribeAll removes every subscription of a session that ends.
	UnsubscribeAll(ctx context.Context, s *Session)
}

// Retainer is the callback that keeps retained messages.
type Retainer interface {
	StoreRetained(ctx context.Context, m *store.Message) error
	MatchRetained(ctx context.Context, filter string, fn func(*store.Message) bool) error
}

// ForwardFunc decides, per subscriber, whether and what to forward: it
// returns m, a changed copy, or nil to drop the message for that subscriber.
type ForwardFunc func(ctx context.Context, to Subscriber, m *store.Message) *store.Message

// Router is the routing backend: it keeps subscriptions in a topic tree,
// relays published messages through a bus and delivers what the bus brings
// to the matching subscribers, and keeps retained messages in a store. It
// provides Relayer, Subscriptions and Retainer.
//
// It delivers one copy per subscriber, at the highest QoS of its matching
// subscriptions [MQTT-3.3.5-1], and never more than the QoS published
// [MQTT-3.8.4-8]. A shared subscription, "$share/{ShareName}/{filter}",
// joins its subscriber to a share group, which gets one copy of each
// message its filter matches and gives it to one member (see
// ShareStrategy). A client with a shared and a non-shared subscription
// that both match may receive the message through each (MQTT 5 §4.8.2).
type Router struct {
	// Store keeps retained messages. Required.
	Store store.Store
	// Bus carries messages between broker instances. Required.
	Bus mq.Bus
	// Forward, if set, is asked per subscriber before each delivery; for a
	// shared subscription, for the member picked (nil then drops the
	// message for the whole group).
	Forward ForwardFunc
	// Delivered, if set, is told of each delivery error (a session's queue
	// limit, mostly).
	Delivered func(to Subscriber, m *store.Message, err error)
	// Share picks the member of a share group each message goes to. nil
	// means ShareRoundRobin.
	Share ShareStrategy

	tree    topic.Tree[Subscriber, store.Subscription]
	once    sync.Once
	unsub   func()
	err     error
	scratch sync.Pool // *matches

	// shareMu guards the fields below. Lock order: before the tree's, and
	// never held while a Session's is taken.
	shareMu sync.Mutex
	groups  map[string]*shareGroup // by "$share/{ShareName}/{filter}"
	members int                    // subscriptions in all groups
}

// matches collects one message's deliveries, one per subscriber.
type matches struct {
	list  []match
	index map[Subscriber]int // used once list is long
	one   [1]int             // the identifiers of a delivery with one
}

type match struct {
	to   Subscriber
	qos  packet.QoS
	rap  bool  // retain as published
	id   int   // a subscription identifier, 0 for none
	more []int // every identifier, once there are two or more
}

// Start subscribes the router to its bus. It is called by Relay and
// Subscribe as needed; call it early to receive messages from other
// brokers before any client subscribes.
func (r *Router) Start() error {
	r.once.Do(func() {
		r.unsub, r.err = r.Bus.Subscribe(r.route)
	})
	return r.err
}

// Stop unsubscribes the router from its bus.
func (r *Router) Stop() {
	r.Start()
	if r.unsub != nil {
		r.unsub()
	}
}

// Handles implements Selective: no packet; the router acts through its
// callbacks, and a stack never calls its Handle.
func (r *Router) Handles(packet.Type) bool { return false }

// Handle passes every packet on: the router acts through its callbacks.
func (r *Router) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	return next.ServeMQTT(ctx, c, p)
}

// Relay implements Relayer. A message with the retain flag is stored (or,
// with an empty payload, its topic's retained message deleted) before it is
// routed, so that it is kept before the publisher is acknowledged. What is
// stored and routed is then a copy of m noting whether the router has
// matched it yet, so that a client subscribing meanwhile gets it once,
// live or retained (see Store.MatchRetained): exactly so with a bus that
// routes before Publish returns, such as the in-process one.
func (r *Router) Relay(ctx context.Context, m *store.Message) error {
	if err := r.Start(); err != nil {
		return err
	}
	var mark *routeMark
	if m.Retain {
		if len(m.Payload) > 0 {
			m, mark = r.markRetained(m)
		}
		if err := r.Store.StoreRetained(ctx, m); err != nil {
			return err
		}
	}
	err := r.Bus.Publish(ctx, m)
	if mark != nil {
		mark.settle()
	}
	return err
}

// route delivers a message from the bus to the matching subscribers.
func (r *Router) route(ctx context.Context, m *store.Message) {
	ms, _ := r.scratch.Get().(*matches)
	if ms == nil {
		ms = new(matches)
	}
	// The stamp is in place before the read lock is released: see
	// retained.go.
	r.tree.MatchStamp(m.Topic, r.stampOf(m), func(to Subscriber, sub store.Subscription) {
		if sub.NoLocal && m.From != "" {
			if s, ok := to.(*Session); ok && s.ID == m.From {
				return // [MQTT-3.8.3-3]
			}
		}
		ms.add(to, sub)
	})
	for _, d := range ms.list {
		if g, ok := d.to.(*shareGroup); ok {
			g.deliver(ctx, m) // Forward is asked for the member it picks
			continue
		}
		qos := min(d.qos, m.QoS)
		msg := m
		if r.Forward != nil {
			if msg = r.Forward(ctx, d.to, m); msg == nil {
				continue
			}
		}
		// A message to an existing subscription goes out with retain 0
		// [MQTT-3.3.1-9], unless the subscription keeps it as published.
		if err := d.to.Deliver(ctx, msg, Delivery{QoS: qos, Retain: d.rap && m.Retain, SubIDs: ms.subIDs(&d)}); err != nil && r.Delivered != nil {
			r.Delivered(d.to, msg, err)
		}
	}
	ms.reset()
	r.scratch.Put(ms)
}

func (ms *matches) add(to Subscriber, sub store.Subscription) {
	if s, ok := to.(*Session); ok && s.inTree.Load() <= 1 {
		// A session with one subscription in the tree cannot match twice:
		// no need to look for it among the others.
		ms.list = append(ms.list, newMatch(to, sub))
		return
	}
	i := -1
	if ms.index != nil {
		if j, ok := ms.index[to]; ok {
			i = j
		}
	} else {
		for j := range ms.list {
			if ms.list[j].to == to {
				i = j
				break
			}
		}
	}
	if i >= 0 {
		d := &ms.list[i]
		d.qos = max(d.qos, sub.QoS)
		d.rap = d.rap || sub.RetainAsPublished
		switch {
		case sub.ID == 0:
		case d.id == 0:
			d.id = sub.ID
		case d.more == nil:
			d.more = []int{d.id, sub.ID}
		default:
			d.more = append(d.more, sub.ID)
		}
		return
	}
	ms.list = append(ms.list, newMatch(to, sub))
	const indexAt = 16 // past this many subscribers a map beats a scan
	if ms.index != nil {
		ms.index[to] = len(ms.list) - 1
	} else if len(ms.list) > indexAt {
		ms.index = make(map[Subscriber]int, 2*len(ms.list))
		for j, d := range ms.list {
			ms.index[d.to] = j
		}
	}
}

func newMatch(to Subscriber, sub store.Subscription) match {
	return match{to: to, qos: sub.QoS, rap: sub.RetainAsPublished, id: sub.ID}
}

// subIDs returns d's subscription identifiers; one alone goes in ms.one,
// so that a delivery with one allocates nothing (Subscriber.Deliver keeps a
// copy of what it keeps).
func (ms *matches) subIDs(d *match) []int {
	switch {
	case d.more != nil:
		return d.more
	case d.id != 0:
		ms.one[0] = d.id
		return ms.one[:]
	}
	return nil
}

func (ms *matches) reset() {
	clear(ms.list)
	ms.list = ms.list[:0]
	if ms.index != nil {
		if len(ms.index) > 4096 {
			ms.index = nil // do not keep a huge map for a rare huge fan-out
		} else {
			clear(ms.index)
		}
	}
}

// Subscribe implements Subscriptions.
func (r *Router) Subscribe(ctx context.Context, to Subscriber, sub store.Subscription) (bool, error) {
	if err := r.Start(); err != nil {
		return false, err
	}
	_, filter, shared, err := topic.ParseShared(sub.Filter)
	if err != nil {
		return false, err
	}
	s, isSession := to.(*Session)
	var existed bool
	var version uint64 // of the tree after the Add: see RetainManager
	if shared {
		// No retained messages for a shared subscription: no version.
		existed = r.join(filter, to, sub)
	} else {
		if isSession {
			s.inTree.Add(1) // before the tree has it: see Session.inTree
		}
		var added bool
		added, version = r.tree.AddVersion(sub.Filter, to, sub)
		existed = !added
		if isSession && existed {
			s.inTree.Add(-1) // replaced, not added
		}
	}
	if isSession {
		if !s.addSub(sub, subStamp{router: r, version: version}) {
			// The session was discarded meanwhile (a clean takeover), and
			// its subscriptions with it: this one too, or it would stay
			// in the tree for good. Its connection is closing.
			r.remove(context.Background(), s, sub.Filter)
			return existed, errSessionEnded
		}
		if st := s.store(); st != nil {
			if err := st.AddSubscriptions(ctx, s.ID, []store.Subscription{sub}); err != nil {
				return existed, err
			}
		}
	}
	return existed, nil
}

// errSessionEnded refuses a subscription for a session discarded while its
// connection still runs.
var errSessionEnded = errors.New("stack: session ended")

// Unsubscribe implements Subscriptions.
func (r *Router) Unsubscribe(ctx context.Context, to Subscriber, filter string) (bool, error) {
	existed := r.remove(ctx, to, filter)
	if s, ok := to.(*Session); ok {
		s.removeSub(filter)
		if st := s.store(); existed && st != nil {
			if err := st.RemoveSubscriptions(ctx, s.ID, []string{filter}); err != nil {
				return existed, err
			}
		}
	}
	return existed, nil
}

// UnsubscribeAll implements Subscriptions. The store is not told: a session
// that ends is deleted from it whole.
func (r *Router) UnsubscribeAll(ctx context.Context, s *Session) {
	for _, sub := range s.Subscriptions() {
		r.remove(ctx, s, sub.Filter)
	}
}

// remove takes the subscription of to with filter out of the tree, or out
// of its share group, and reports whether there was one.
func (r *Router) remove(ctx context.Context, to Subscriber, filter string) bool {
	if isShared(filter) {
		return r.leave(ctx, to, filter)
	}
	existed := r.tree.Remove(filter, to)
	if s, ok := to.(*Session); ok && existed {
		s.inTree.Add(-1) // after the tree lost it
	}
	return existed
}

// StoreRetained implements Retainer.
func (r *Router) StoreRetained(ctx context.Context, m *store.Message) error {
	return r.Store.StoreRetained(ctx, m)
}

// MatchRetained implements Retainer.
func (r *Router) MatchRetained(ctx context.Context, filter string, fn func(*store.Message) bool) error {
	return r.Store.MatchRetained(ctx, filter, fn)
}

// Count returns the number of subscriptions the router holds, each member
// of a share group counted.
func (r *Router) Count() int {
	r.shareMu.Lock()
	defer r.shareMu.Unlock()
	return r.tree.Len() - len(r.groups) + r.members
}
