package stack

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
)

// Middleware is one layer of a stack. Handle sees every packet of every
// connection that reaches it: it passes the packet on with
// next.ServeMQTT, or stops it there by returning without calling next. An
// error ends the connection (see mqtt.Server for what the peer is told).
//
// A middleware may also implement Installer, to act when a connection
// starts, and Binder, to look up the callbacks it needs from the other
// middlewares of its stack. The callbacks a middleware offers are the
// interfaces it implements (Relayer, Forwarder, …).
type Middleware interface {
	Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error
}

// Installer is a Middleware that acts when a connection starts: Install
// runs once per connection, in stack order, before its first packet
// reaches any Handle. To act when it ends, use Stack.AfterEnd.
type Installer interface {
	Install(ctx context.Context, c *mqtt.Conn) error
}

// Selective is a Middleware that handles some packet types only: a packet
// of another type goes from the middleware before it straight to the one
// after it, without a call. Handles is asked for each packet type once,
// when the stack is built. A middleware that is not Selective sees every
// packet. (Thirteen hops cost a PUBLISH about 100 ns more than the seven
// that handle it.)
type Selective interface {
	Handles(t packet.Type) bool
}

// Binder is a Middleware that needs callbacks from others. Bind runs once,
// when the stack is built, after every middleware is in place; it looks up
// what it needs with Need, and an error from it fails the build.
type Binder interface {
	Bind(s *Stack) error
}

// Stack is a built chain of middlewares, an mqtt.Handler to serve with an
// mqtt.Server. A packet that passes every middleware reaches the final
// handler, which by default refuses it as a protocol error: a broker
// handles every packet a client may send.
//
// A Stack is safe for concurrent use; its middlewares must be too.
type Stack struct {
	mws   []Middleware
	first [16]mqtt.Handler // the chain of each packet type
	seen  *Key[bool]       // marks connections already installed
	ends  sync.WaitGroup
}

// link calls one middleware with the rest of the chain as next; the links
// are made once, at build, so passing a packet on allocates nothing.
type link struct {
	mw   Middleware
	next mqtt.Handler
}

func (l *link) ServeMQTT(ctx context.Context, c *mqtt.Conn, p packet.Packet) error {
	return l.mw.Handle(ctx, c, p, l.next)
}

// Unhandled is the default end of a stack: every packet that gets there is
// a protocol error, but DISCONNECT. A DISCONNECT that gets there was let
// through by every middleware, and needs no answer: the Connection
// middleware ends the connection once the chain has seen it.
var Unhandled mqtt.Handler = mqtt.HandlerFunc(func(_ context.Context, _ *mqtt.Conn, p packet.Packet) error {
	if _, ok := p.(*packet.Disconnect); ok {
		return nil
	}
	return &packet.Error{Code: packet.ProtocolError, Msg: fmt.Sprintf("%v not expected from a client", p.Type())}
})

// New builds a stack of mws ending in Unhandled.
func New(mws ...Middleware) (*Stack, error) { return Build(Unhandled, mws...) }

// Build builds a stack of mws ending in final. It runs every Binder and
// fails if one fails, so a missing callback is found here rather than at
// run time.
func Build(final mqtt.Handler, mws ...Middleware) (*Stack, error) {
	s := &Stack{mws: mws, seen: NewKey[bool]("installed")}
	for i, mw := range mws {
		if mw == nil {
			return nil, fmt.Errorf("stack: middleware %d is nil", i)
		}
	}
	for t := range s.first {
		next := final
		for i := len(mws) - 1; i >= 0; i-- {
			if sel, ok := mws[i].(Selective); ok && !sel.Handles(packet.Type(t)) {
				continue
			}
			next = &link{mw: mws[i], next: next}
		}
		s.first[t] = next
	}
	for _, mw := range mws {
		if b, ok := mw.(Binder); ok {
			if err := b.Bind(s); err != nil {
				return nil, fmt.Errorf("stack: %T: %w", mw, err)
			}
		}
	}
	return s, nil
}

// ServeMQTT implements mqtt.Handler: it installs the connection on its
// first packet, then passes the packet down the chain.
func (s *Stack) ServeMQTT(ctx context.Context, c *mqtt.Conn, p packet.Packet) error {
	if !s.seen.Get(c) {
		s.seen.Set(c, true)
		for _, mw := range s.mws {
			if in, ok := mw.(Installer); ok {
				if err := in.Install(ctx, c); err != nil {
					return err
				}
			}
		}
	}
	return s.first[p.Type()&15].ServeMQTT(ctx, c, p)
}

// AfterEnd runs f on its own goroutine once c has ended, as
// context.AfterFunc(c.Context(), f) would, and counts it for Wait: what a
// middleware does when a connection ends (publish its will, detach its
// session, tell the listeners) is then over before its server says it has
// stopped. Call it while c is served, from a Handle or an Install.
func (s *Stack) AfterEnd(c *mqtt.Conn, f func()) {
	s.ends.Add(1)
	// OnClose rather than context.AfterFunc: it costs an idle connection a
	// slice entry instead of some hundreds of bytes.
	c.OnClose(func(error) {
		go func() {
			defer s.ends.Done()
			f()
		}()
	})
}

// goEnd runs f on a goroutine of its own that s.Wait waits for (when s is
// not nil): work that ends a connection, off the goroutine that decided it.
func goEnd(s *Stack, f func()) {
	if s == nil {
		go f()
		return
	}
	s.ends.Add(1)
	go func() {
		defer s.ends.Done()
		f()
	}()
}

// Wait waits until the functions given to AfterEnd have run, for every
// connection served so far: call it once the server has stopped (after
// mqtt.Server.Close or Shutdown returns), when every connection has ended
// and no new one can start.
func (s *Stack) Wait() { s.ends.Wait() }

// afterEnd is Stack.AfterEnd for a middleware that may be used without a
// stack (s nil): then nothing waits for f.
func afterEnd(s *Stack, c *mqtt.Conn, f func()) {
	if s == nil {
		c.OnClose(func(error) { go f() })
		return
	}
	s.AfterEnd(c, f)
}

// Middlewares returns the stack's middlewares in order.
func (s *Stack) Middlewares() []Middleware { return append([]Middleware(nil), s.mws...) }

// Need returns the first middleware of s, in stack order, that implements
// T: the callback T as the stack provides it. It fails when none does.
func Need[T any](s *Stack) (T, error) {
	for _, mw := range s.mws {
		if v, ok := mw.(T); ok {
			return v, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("no middleware in the stack provides %v", reflect.TypeFor[T]())
}

// Key is a typed per-connection value: each middleware keeps its own state
// on the connection under its own keys.
type Key[T any] struct {
	// The key is the *Key itself: a pointer compares in one instruction,
	// and a PUBLISH looks up several keys on its way down the chain.
	// Not empty, so that every NewKey has an address of its own.
	name string
}

// NewKey returns a new key; name is for debugging.
func NewKey[T any](name string) *Key[T] { return &Key[T]{name: name} }

// Get returns the value of k on c, or the zero value.
func (k *Key[T]) Get(c *mqtt.Conn) T {
	v, _ := c.Value(k).(T)
	return v
}

// Set stores v under k on c.
func (k *Key[T]) Set(c *mqtt.Conn, v T) { c.SetValue(k, v) }

// String returns the key's name.
func (k *Key[T]) String() string { return k.name }
