package stack

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync/atomic"

	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
	"github.com/midge-mqtt/midge/topic"
)

// ShareStrategy chooses which member of a share group receives a message
// (MQTT 5 §4.8.2 leaves the choice to the server, message by message).
//
// Pick returns the index in members of the member to try first for m. group
// is the shared subscription's filter, "$share/{ShareName}/{filter}";
// members are the group's subscribers, in the order they joined (the slice
// is shared: do not keep or change it); cursor is the index just past the
// member that received the group's previous message, the state a round
// robin needs. An index out of range is taken modulo len(members).
//
// The group then delivers to the first member, from the picked one on in
// order, that can take the message now: connected, with room in its
// in-flight window. Failing that it takes one that is connected (the
// message waits in its queue), then a persistent session that is offline,
// then one whose queue is full (the message is dropped for it and reported
// as for any subscriber). A session that has ended is never chosen.
//
// Pick is called on the publisher's goroutine, from many goroutines at
// once, and must not block.
type ShareStrategy interface {
	Pick(group string, members []Subscriber, cursor uint64, m *store.Message) int
}

// ShareStrategyFunc is a function that implements ShareStrategy.
type ShareStrategyFunc func(group string, members []Subscriber, cursor uint64, m *store.Message) int

// Pick implements ShareStrategy.
func (f ShareStrategyFunc) Pick(group string, members []Subscriber, cursor uint64, m *store.Message) int {
	return f(group, members, cursor, m)
}

// ShareRoundRobin gives a group's messages to its members in turn: each
// message to the member after the one that received the previous message.
// Members that cannot take a message now are passed over, so the turn goes
// round those that can. Concurrent publishers may both read the same turn:
// the spread is even over time, not exact message by message.
type ShareRoundRobin struct{}

// Pick implements ShareStrategy.
func (ShareRoundRobin) Pick(_ string, members []Subscriber, cursor uint64, _ *store.Message) int {
	return int(cursor % uint64(len(members)))
}

// ShareRandom gives each message to a member drawn at random.
type ShareRandom struct{}

// Pick implements ShareStrategy.
func (ShareRandom) Pick(_ string, members []Subscriber, _ uint64, _ *store.Message) int {
	return rand.IntN(len(members))
}

// shareGroup is one shared subscription: the members of a share name on one
// topic filter. It is a Subscriber in the router's tree under the plain
// filter, and delivers each message it is given to one member
// [MQTT-4.8.2-3: at the member's own granted QoS].
type shareGroup struct {
	r      *Router
	key    string // "$share/{ShareName}/{filter}", as subscribed
	filter string // the topic filter

	// set is replaced, never changed, under the router's shareMu, so that
	// a delivery reads it without a lock.
	set    atomic.Pointer[shareSet]
	cursor atomic.Uint64
}

// shareSet is a group's members at one time. The slices are read-only.
type shareSet struct {
	subs []Subscriber
	recs []store.Subscription
	ids  [][]int // each member's subscription identifier, nil for none
}

// The ranks of a member for one message, best first.
const (
	rankReady   = iota // connected, room in its window: sent now
	rankBusy           // connected, window full: queued
	rankOffline        // a persistent session away: queued
	rankFull           // its queue is full: dropped
	rankNever          // ended: never chosen
)

// shareRank says how well a member takes a message at qos now.
func shareRank(to Subscriber, qos packet.QoS) int {
	s, ok := to.(*Session)
	if !ok {
		return rankReady
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.ended:
		return rankNever
	case qos > 0 && len(s.queue) >= s.limits.queue():
		return rankFull
	case s.conn == nil:
		return rankOffline
	case qos > 0 && (s.stalled || len(s.inflight)+len(s.queue) >= s.out.window):
		return rankBusy
	}
	return rankReady
}

// Deliver implements Subscriber: the group takes what the tree matches
// for it, whatever d says.
func (g *shareGroup) Deliver(ctx context.Context, m *store.Message, _ Delivery) error {
	g.deliver(ctx, m)
	return nil
}

// deliver gives m to one member, as the router's ShareStrategy and the
// members' states decide, at the member's own subscription options. The
// router's Forward is asked for that member.
func (g *shareGroup) deliver(ctx context.Context, m *store.Message) {
	set := g.set.Load()
	n := len(set.subs)
	if n == 0 {
		return // the group is going: its last member left
	}
	strategy := g.r.Share
	if strategy == nil {
		strategy = ShareRoundRobin{}
	}
	start := strategy.Pick(g.key, set.subs, g.cursor.Load(), m) % n
	if start < 0 {
		start += n
	}
	best, bestRank := -1, rankNever
	for k := range n {
		i := (start + k) % n
		if r := shareRank(set.subs[i], min(set.recs[i].QoS, m.QoS)); r < bestRank {
			best, bestRank = i, r
			if r == rankReady {
				break
			}
		}
	}
	if best < 0 {
		return // every member has ended
	}
	g.cursor.Store(uint64(best) + 1)
	to, rec := set.subs[best], set.recs[best]
	msg := m
	if f := g.r.Forward; f != nil {
		if msg = f(ctx, to, m); msg == nil {
			return
		}
	}
	d := Delivery{QoS: min(rec.QoS, m.QoS), Retain: rec.RetainAsPublished && m.Retain, SubIDs: set.ids[best], via: g}
	if err := to.Deliver(ctx, msg, d); err != nil && g.r.Delivered != nil {
		g.r.Delivered(to, msg, err)
	}
}

// join adds to to the group of the shared subscription sub (topic filter
// filter), making the group if it is new, or replaces its options. It
// reports whether to was a member already.
func (r *Router) join(filter string, to Subscriber, sub store.Subscription) (existed bool) {
	r.shareMu.Lock()
	defer r.shareMu.Unlock()
	g := r.groups[sub.Filter]
	if g == nil {
		if r.groups == nil {
			r.groups = make(map[string]*shareGroup)
		}
		g = &shareGroup{r: r, key: sub.Filter, filter: filter}
		g.set.Store(&shareSet{})
		r.groups[sub.Filter] = g
		// The group's own options are the widest: it hands each message
		// on at its member's options.
		r.tree.Add(filter, g, store.Subscription{Filter: filter, QoS: packet.ExactlyOnce})
	}
	old := g.set.Load()
	set := &shareSet{
		subs: append([]Subscriber(nil), old.subs...),
		recs: append([]store.Subscription(nil), old.recs...),
		ids:  append([][]int(nil), old.ids...),
	}
	var ids []int
	if sub.ID != 0 {
		ids = []int{sub.ID} // [MQTT-3.3.4-3]
	}
	i := set.index(to)
	if i < 0 {
		set.subs = append(set.subs, to)
		set.recs = append(set.recs, sub)
		set.ids = append(set.ids, ids)
		r.members++
	} else {
		set.recs[i], set.ids[i] = sub, ids
	}
	g.set.Store(set)
	return i >= 0
}

// leave takes to out of the group of shared filter key, and ends the group
// with its last member. A session that leaves hands back to the group the
// messages of it that it has queued and not sent: an UNSUBSCRIBE leaves
// those in flight to complete [MQTT-3.10.4-3].
func (r *Router) leave(ctx context.Context, to Subscriber, key string) (existed bool) {
	r.shareMu.Lock()
	g := r.groups[key]
	if g == nil {
		r.shareMu.Unlock()
		return false
	}
	old := g.set.Load()
	i := old.index(to)
	if i < 0 {
		r.shareMu.Unlock()
		return false
	}
	set := &shareSet{
		subs: append(old.subs[:i:i], old.subs[i+1:]...),
		recs: append(old.recs[:i:i], old.recs[i+1:]...),
		ids:  append(old.ids[:i:i], old.ids[i+1:]...),
	}
	g.set.Store(set)
	r.members--
	if len(set.subs) == 0 {
		// A shared subscription lasts while a session is attached to it;
		// what it still holds goes with it (MQTT 5 §4.8.2).
		delete(r.groups, key)
		r.tree.Remove(g.filter, g)
	}
	r.shareMu.Unlock()
	if s, ok := to.(*Session); ok {
		for _, m := range s.takeShared(ctx, g) {
			g.deliver(ctx, m)
		}
	}
	return true
}

func (set *shareSet) index(to Subscriber) int {
	for i, s := range set.subs {
		if s == to {
			return i
		}
	}
	return -1
}

// isShared reports whether filter is a shared subscription's.
func isShared(filter string) bool { return strings.HasPrefix(filter, topic.SharePrefix) }

// takeShared removes from the session the messages that came through g
// and are queued, not yet sent, and returns them.
func (s *Session) takeShared(ctx context.Context, g *shareGroup) []*store.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*store.Message
	keep := s.queue[:0]
	heldFrom := len(s.queue) - s.held // the held ones are the queue's tail
	for i, o := range s.queue {
		if o.d.via != g {
			keep = append(keep, o)
			continue
		}
		if i >= heldFrom {
			s.held-- // one fewer held behind a retained look-up
		}
		out = append(out, o.msg)
		s.forget(ctx, o)
	}
	clear(s.queue[len(keep):])
	s.queue = keep
	return out
}

// sharedLocked returns, for a session that ends, the messages it got
// through share groups that another member may still have: queued ones,
// and QoS 1 ones in flight (MQTT 5 §4.8.2 says the server should send
// those to another member). A QoS 2 message sent is lost with the session
// [MQTT-4.8.2-5]. s.mu is held.
func (s *Session) sharedLocked() []*outgoing {
	var out []*outgoing
	for _, o := range s.inflight {
		if o.d.via != nil && o.d.QoS == packet.AtLeastOnce {
			out = append(out, o)
		}
	}
	for _, o := range s.queue {
		if o.d.via != nil {
			out = append(out, o)
		}
	}
	return out
}

// handBack gives messages of a session that ended back to the groups they
// came through, in their order. No session lock is held.
func handBack(ctx context.Context, back []*outgoing) {
	for _, o := range back {
		o.d.via.deliver(ctx, o.msg)
	}
}
