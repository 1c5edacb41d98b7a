// Package mq defines the message bus that carries published messages
// between broker instances. Every instance publishes what its clients send
// onto the bus and routes what it receives from the bus to its own
// subscribers, so several brokers sharing a bus act as one.
//
// The default bus, mq/memory, is in-process: one broker alone, or several in
// one program. Every bus passes the shared suite in mq/mqtest.
//
// # Concurrency
//
// A Bus is safe for concurrent use. Messages one goroutine publishes reach
// each handler in the order published.
package mq

import (
	"context"
	"errors"

	"github.com/midge-mqtt/midge/store"
)

// ErrClosed is returned by a bus used after Close.
var ErrClosed = errors.New("mq: closed")

// Handler receives a message from the bus. It must treat the message as
// read-only: the same message goes to every handler.
type Handler func(ctx context.Context, m *store.Message)

// Bus moves messages between broker instances.
type Bus interface {
	// Publish sends m to every handler subscribed to the bus, in this
	// process and in every other instance sharing the bus. It returns once
	// the bus has taken m; the in-memory bus returns after every handler
	// has.
	Publish(ctx context.Context, m *store.Message) error
	// Subscribe adds h; the returned function removes it.
	Subscribe(h Handler) (unsubscribe func(), err error)
	// Close stops the bus: Publish and Subscribe then return ErrClosed.
	Close() error
}
