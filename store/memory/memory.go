// Package memory is the in-memory store.Store: the default, with nothing to
// install and nothing kept across a restart.
//
// # Concurrency
//
// A Store is safe for concurrent use; one mutex guards it all, held only
// for map and slice updates.
package memory

import (
	"context"
	"slices"
	"sync"

	"github.com/midge-mqtt/midge/store"
	"github.com/midge-mqtt/midge/topic"
)

// Store is an in-memory store.Store.
type Store struct {
	mu       sync.Mutex // guards the fields below
	closed   bool
	retained topic.Names[*store.Message]
	sessions map[string]*session
}

type session struct {
	s        *store.Session
	out      []*store.Outgoing // in Seq order
	incoming map[uint16]struct{}
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{sessions: make(map[string]*session)} }

func (m *Store) lock() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return store.ErrClosed
	}
	return nil
}

// StoreRetained implements store.Store.
func (m *Store) StoreRetained(_ context.Context, msg *store.Message) error {
	if err := m.lock(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if len(msg.Payload) == 0 {
		m.retained.Delete(msg.Topic)
		return nil
	}
	m.retained.Set(msg.Topic, msg)
	return nil
}

// MatchRetained implements store.Store. fn runs without the store's lock
// held, so it may call the store.
func (m *Store) MatchRetained(_ context.Context, filter string, fn func(*store.Message) bool) error {
	if err := m.lock(); err != nil {
		return err
	}
	var found []*store.Message
	m.retained.Match(filter, func(_ string, msg *store.Message) bool {
		found = append(found, msg)
		return true
	})
	m.mu.Unlock()
	for _, msg := range found {
		if !fn(msg) {
			break
		}
	}
	return nil
}

// RetainedCount returns the number of retained messages held.
func (m *Store) RetainedCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.retained.Len()
}

// SaveSession implements store.Store.
func (m *Store) SaveSession(_ context.Context, s *store.Session) error {
	if err := m.lock(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	cp := *s
	cp.Subscriptions = slices.Clone(s.Subscriptions)
	if rec := m.sessions[s.ClientID]; rec != nil {
		rec.s = &cp
		return nil
	}
	m.sessions[s.ClientID] = &session{s: &cp}
	return nil
}

// LoadSession implements store.Store. The session returned is a copy.
func (m *Store) LoadSession(_ context.Context, clientID string) (*store.Session, error) {
	if err := m.lock(); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	rec := m.sessions[clientID]
	if rec == nil {
		return nil, store.ErrNotFound
	}
	cp := *rec.s
	cp.Subscriptions = slices.Clone(rec.s.Subscriptions)
	return &cp, nil
}

// DeleteSession implements store.Store.
func (m *Store) DeleteSession(_ context.Context, clientID string) error {
	if err := m.lock(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	delete(m.sessions, clientID)
	return nil
}

// RangeSessions implements store.Store. fn gets copies and runs without the
// store's lock held.
func (m *Store) RangeSessions(_ context.Context, fn func(*store.Session) bool) error {
	if err := m.lock(); err != nil {
		return err
	}
	all := make([]*store.Session, 0, len(m.sessions))
	for _, rec := range m.sessions {
		cp := *rec.s
		cp.Subscriptions = slices.Clone(rec.s.Subscriptions)
		all = append(all, &cp)
	}
	m.mu.Unlock()
	for _, s := range all {
		if !fn(s) {
			break
		}
	}
	return nil
}

// AddSubscriptions implements store.Store.
func (m *Store) AddSubscriptions(_ context.Context, clientID string, subs []store.Subscription) error {
	return m.withSession(clientID, func(rec *session) error {
		list := slices.Clone(rec.s.Subscriptions)
		for _, sub := range subs {
			i := slices.IndexFunc(list, func(x store.Subscription) bool { return x.Filter == sub.Filter })
			if i >= 0 {
				list[i] = sub
			} else {
				list = append(list, sub)
			}
		}
		cp := *rec.s
		cp.Subscriptions = list
		rec.s = &cp
		return nil
	})
}

// RemoveSubscriptions implements store.Store.
func (m *Store) RemoveSubscriptions(_ context.Context, clientID string, filters []string) error {
	return m.withSession(clientID, func(rec *session) error {
		cp := *rec.s
		cp.Subscriptions = slices.DeleteFunc(slices.Clone(rec.s.Subscriptions), func(x store.Subscription) bool {
			return slices.Contains(filters, x.Filter)
		})
		rec.s = &cp
		return nil
	})
}

// Enqueue implements store.Store.
func (m *Store) Enqueue(_ context.Context, msg *store.Message, to []store.Delivery) error {
	if err := m.lock(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	for _, d := range to {
		rec := m.sessions[d.ClientID]
		if rec == nil {
			continue
		}
		o := &store.Outgoing{Seq: d.Seq, Message: msg, QoS: d.QoS}
		if n := len(rec.out); n == 0 || rec.out[n-1].Seq < d.Seq {
			rec.out = append(rec.out, o)
		} else if i, found := rec.find(d.Seq); found {
			rec.out[i] = o
		} else {
			rec.out = slices.Insert(rec.out, i, o)
		}
	}
	return nil
}

// Outgoing implements store.Store. fn gets copies and runs without the
// store's lock held.
func (m *Store) Outgoing(_ context.Context, clientID string, fn func(*store.Outgoing) bool) error {
	if err := m.lock(); err != nil {
		return err
	}
	rec := m.sessions[clientID]
	if rec == nil {
		m.mu.Unlock()
		return store.ErrNotFound
	}
	out := make([]store.Outgoing, len(rec.out))
	for i, o := range rec.out {
		out[i] = *o
	}
	m.mu.Unlock()
	for i := range out {
		if !fn(&out[i]) {
			break
		}
	}
	return nil
}

// find returns the position of seq in rec.out.
func (rec *session) find(seq uint64) (int, bool) {
	return slices.BinarySearchFunc(rec.out, seq, func(o *store.Outgoing, seq uint64) int {
		switch {
		case o.Seq < seq:
			return -1
		case o.Seq > seq:
			return 1
		}
		return 0
	})
}

// UpdateOutgoing implements store.Store.
func (m *Store) UpdateOutgoing(_ context.Context, clientID string, o *store.Outgoing) error {
	return m.withSession(clientID, func(rec *session) error {
		i, ok := rec.find(o.Seq)
		if !ok {
			return store.ErrNotFound
		}
		cp := *rec.out[i]
		cp.State, cp.PacketID = o.State, o.PacketID
		rec.out[i] = &cp
		return nil
	})
}

// RemoveOutgoing implements store.Store.
func (m *Store) RemoveOutgoing(_ context.Context, clientID string, seq uint64) error {
	return m.withSession(clientID, func(rec *session) error {
		i, ok := rec.find(seq)
		if !ok {
			return store.ErrNotFound
		}
		if i == 0 {
			rec.out[0] = nil
			rec.out = rec.out[1:] // acks come mostly in order: drop the head cheaply
		} else {
			rec.out = slices.Delete(rec.out, i, i+1)
		}
		return nil
	})
}

// AddIncoming implements store.Store.
func (m *Store) AddIncoming(_ context.Context, clientID string, id uint16) error {
	return m.withSession(clientID, func(rec *session) error {
		if rec.incoming == nil {
			rec.incoming = make(map[uint16]struct{})
		}
		rec.incoming[id] = struct{}{}
		return nil
	})
}

// HasIncoming implements store.Store.
func (m *Store) HasIncoming(_ context.Context, clientID string, id uint16) (has bool, err error) {
	err = m.withSession(clientID, func(rec *session) error {
		_, has = rec.incoming[id]
		return nil
	})
	return has, err
}

// RemoveIncoming implements store.Store.
func (m *Store) RemoveIncoming(_ context.Context, clientID string, id uint16) error {
	return m.withSession(clientID, func(rec *session) error {
		delete(rec.incoming, id)
		return nil
	})
}

// withSession runs fn on the record of clientID's session, with the store
// locked; a missing session is store.ErrNotFound.
func (m *Store) withSession(clientID string, fn func(rec *session) error) error {
	if err := m.lock(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	rec := m.sessions[clientID]
	if rec == nil {
		return store.ErrNotFound
	}
	return fn(rec)
}

// Close implements store.Store. A closed store answers store.ErrClosed.
func (m *Store) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.sessions = nil
	return nil
}
