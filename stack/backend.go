package stack

import (
	"context"

	"github.com/midge-mqtt/midge/store"
)

// ErrSessionEnded is returned by RecordSubscription, and by a Subscriptions
// backend, for a session discarded while its connection still runs (a
// clean session taken over): the subscription is not made.
var ErrSessionEnded = errSessionEnded

// RecordSubscription records sub in the session's own list of its
// subscriptions, and in the store for a persistent session. A
// Subscriptions backend written outside this package calls it from
// Subscribe once sub is in its own index, as Router does: SessionManager
// saves and restores what the list holds, and RetainManager sends the
// retained messages of what it finds there.
//
// It fails with ErrSessionEnded, recording nothing, when the session was
// discarded meanwhile; the backend then takes sub out of its index again,
// since the UnsubscribeAll of the session's end, which runs after the
// session is marked ended, may have missed it.
func (s *Session) RecordSubscription(ctx context.Context, sub store.Subscription) error {
	// No stamp: a backend of its own has no tree version, so every
	// retained message is sent on subscribe (one racing a live copy may
	// arrive twice; none is lost).
	if !s.addSub(sub, subStamp{}) {
		return ErrSessionEnded
	}
	if st := s.store(); st != nil {
		return st.AddSubscriptions(ctx, s.ID, []store.Subscription{sub})
	}
	return nil
}

// ForgetSubscription takes the subscription with filter off the session's
// list, and off the store for a persistent session: the counterpart of
// RecordSubscription, for a backend's Unsubscribe. It reports whether the
// session had it.
func (s *Session) ForgetSubscription(ctx context.Context, filter string) (existed bool, err error) {
	existed = s.removeSub(filter)
	if st := s.store(); existed && st != nil {
		err = st.RemoveSubscriptions(ctx, s.ID, []string{filter})
	}
	return existed, err
}
