package stack

import (
	"context"
	"math"
	"sync/atomic"

	"github.com/midge-mqtt/midge/store"
)

// A client that subscribes while a retained message is published on the
// topic must get that message once, and never after a newer one. The
// subscription reaches the router's tree at one moment and its retained
// messages are looked up at a later one, and the publisher stores a
// retained message at one moment and matches it against the tree at a later
// one; no lock spans either pair, since a server-side subscriber may publish
// from its delivery. Three notes settle it:
//
//   - The tree has a version that every change raises. Subscribe records
//     the version its Add produced (subStamp), and the router's match
//     stamps each retained message it relayed with the version it saw
//     (routeMark), under the tree's read lock. A stored message stamped
//     below the subscription's version was matched without it, so the
//     lookup sends it; one stamped at or above it, or not matched yet, is
//     reaching the subscriber live, so the lookup skips it.
//   - A message the router relayed but no longer expects to match (its bus
//     took it without routing it here) is settled to version 0: it is then
//     sent as retained. A message without a note of this router's (from a
//     store that copies, or another broker) is sent too: a duplicate is
//     possible there, a loss never.
//   - While a SUBSCRIBE is handled, the session holds its live deliveries
//     (holdLive) until its retained messages are queued, so an old retained
//     message looked up before a newer live one was delivered still goes
//     out first.

// pending is the stamp of a retained message relayed and not yet matched:
// above every version, so new subscriptions leave it to the live path.
const pending = math.MaxUint64

// routeMark is the Routing note a router puts on a retained message it
// relays.
type routeMark struct {
	router *Router
	// seen is the version of the router's tree its match saw; pending
	// before, 0 if the router will not match it.
	seen atomic.Uint64
}

// relayed is a retained message as the router stores and routes it: a copy
// of the publisher's, with its note, in one allocation. The publisher's
// message is left as it was.
type relayed struct {
	msg  store.Message
	mark routeMark
}

// markRetained returns a copy of m noted as relayed by r and not yet
// matched.
func (r *Router) markRetained(m *store.Message) (*store.Message, *routeMark) {
	rl := &relayed{msg: *m}
	rl.mark.router = r
	rl.mark.seen.Store(pending)
	rl.msg.Routing = &rl.mark
	return &rl.msg, &rl.mark
}

// stampOf returns where r's match of m records the version it saw: nil for
// a message r did not relay.
func (r *Router) stampOf(m *store.Message) *atomic.Uint64 {
	if mk, ok := m.Routing.(*routeMark); ok && mk.router == r {
		return &mk.seen
	}
	return nil
}

// settle runs once the bus has taken the message. With the in-process bus
// the router has matched it by then; with a bus that routes later, or only
// a copy, or failed, it would stay pending and no new subscription would
// get it: it is sent as retained instead.
func (mk *routeMark) settle() {
	if mk.seen.Load() == pending {
		mk.seen.CompareAndSwap(pending, 0)
	}
}

// subStamp says when a session's subscription was added: by which router,
// at which version of its tree.
type subStamp struct {
	router  *Router
	version uint64
}

// live reports whether the retained message m reaches the subscription
// live: relayed by the same router and matched after the subscription was
// added, or not matched yet.
func (at subStamp) live(m *store.Message) bool {
	mk, ok := m.Routing.(*routeMark)
	return ok && at.router != nil && mk.router == at.router && mk.seen.Load() >= at.version
}

// heldMsg is a live QoS 0 delivery held by holdLive.
type heldMsg struct {
	m *store.Message
	d Delivery
}

// holdLive makes the session's live deliveries wait from now until
// releaseLive, behind the retained messages given to deliverRetained
// meanwhile. QoS 1 and 2 ones are queued (and stored) at once, as usual,
// and only wait to be sent; QoS 0 ones wait aside.
//
// The hold is bounded by the session's queue limit: at that many held
// messages it gives up for the rest of the SUBSCRIBE, and what it held goes
// out then. Nothing is dropped for its sake; a retained message still to be
// queued may then follow newer live ones.
//
// Meanwhile the session notes when each subscription is added (see
// addedNow).
func (s *Session) holdLive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holds++
}

// releaseLive ends a holdLive and, when no other holds, sends what waited.
func (s *Session) releaseLive(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holds--; s.holds > 0 {
		return
	}
	s.holdOver = false
	s.subAt = nil
	s.unholdLocked(ctx)
}

// holdingLocked reports whether live deliveries are held. s.mu is held.
func (s *Session) holdingLocked() bool { return s.holds > 0 && !s.holdOver }

// hold0Locked holds a live QoS 0 delivery. s.mu is held.
func (s *Session) hold0Locked(m *store.Message, d Delivery) {
	if d.SubIDs != nil {
		d.SubIDs = append([]int(nil), d.SubIDs...)
	}
	s.held0 = append(s.held0, heldMsg{m, d})
}

// holdFullLocked gives the hold up when it holds as many messages as the
// session may queue. s.mu is held.
func (s *Session) holdFullLocked(ctx context.Context) {
	if s.held+len(s.held0) < s.limits.queue() {
		return
	}
	s.holdOver = true
	s.unholdLocked(ctx)
}

// unholdLocked sends what was held: the queue as the window allows, then
// the QoS 0 messages. s.mu is held.
func (s *Session) unholdLocked(ctx context.Context) {
	s.held = 0
	held0 := s.held0
	s.held0 = nil
	s.pumpLocked(ctx)
	for _, h := range held0 {
		s.deliverLocked(ctx, h.m, h.d, false)
	}
}

// deliverRetained gives the session a retained message for a subscription
// it just made: ahead of the live messages held meanwhile.
func (s *Session) deliverRetained(ctx context.Context, m *store.Message, d Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliverLocked(ctx, m, d, true)
}

// addedNow returns the session's subscription with filter if it was added
// (or replaced) while live deliveries are held, and when; false for one not
// added then, such as one a SUBSCRIBE failed to replace.
func (s *Session) addedNow(filter string) (store.Subscription, subStamp, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subs[filter]
	at, now := s.subAt[filter]
	return sub, at, ok && now
}
