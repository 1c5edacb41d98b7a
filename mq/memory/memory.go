// Package memory is the in-process mq.Bus: Publish hands the message to each
// handler in the publisher's goroutine, so a message is routed before
// Publish returns, with no copy and no queue.
//
// # Concurrency
//
// A Bus is safe for concurrent use. Handlers run in the publishing
// goroutine, concurrently when several goroutines publish.
package memory

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/midge-mqtt/midge/mq"
	"github.com/midge-mqtt/midge/store"
)

// Bus is an in-process mq.Bus.
type Bus struct {
	mu       sync.Mutex // guards writes to handlers and closed
	handlers atomic.Pointer[[]*entry]
	closed   bool
}

type entry struct{ h mq.Handler }

var _ mq.Bus = (*Bus)(nil)

// New returns a bus with no handlers.
func New() *Bus { return new(Bus) }

// Publish implements mq.Bus. It reads the handler list without a lock: the
// list is replaced, never changed, when handlers come and go.
func (b *Bus) Publish(ctx context.Context, m *store.Message) error {
	hs := b.handlers.Load()
	if hs == nil {
		b.mu.Lock()
		closed := b.closed
		b.mu.Unlock()
		if closed {
			return mq.ErrClosed
		}
		return nil
	}
	for _, e := range *hs {
		e.h(ctx, m)
	}
	return nil
}

// Subscribe implements mq.Bus.
func (b *Bus) Subscribe(h mq.Handler) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, mq.ErrClosed
	}
	e := &entry{h}
	var next []*entry
	if old := b.handlers.Load(); old != nil {
		next = append(next, *old...)
	}
	next = append(next, e)
	b.handlers.Store(&next)
	return func() { b.remove(e) }, nil
}

func (b *Bus) remove(e *entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.handlers.Load()
	if old == nil {
		return
	}
	var next []*entry
	for _, x := range *old {
		if x != e {
			next = append(next, x)
		}
	}
	if len(next) == 0 {
		b.handlers.Store(nil)
		return
	}
	b.handlers.Store(&next)
}

// Close implements mq.Bus.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.handlers.Store(nil)
	return nil
}
