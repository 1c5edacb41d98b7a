package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
	"github.com/midge-mqtt/midge/store"
)

// Events are what a program can listen to, the events of Aedes in Go form.
// Each is optional. They are notifications: they run on the goroutine of
// what happened and must not block; take long work elsewhere.
type Events struct {
	// Client: a client's CONNECT was accepted and its session set up.
	Client func(c *Client)
	// ClientReady: the client's CONNACK and what its resumed session was
	// owed are on their way; it is ready for messages.
	ClientReady func(c *Client)
	// ClientDisconnect: an accepted client's connection ended, however.
	ClientDisconnect func(c *Client)
	// ClientError: an accepted client's connection failed, or one of its
	// packets was refused.
	ClientError func(c *Client, err error)
	// ConnectionError: a CONNECT was refused, or its connection failed
	// before it was accepted. A connection that fails before a CONNECT is
	// read (none in time, a malformed one, another packet first) is not
	// told: the broker has no Client for it; its logger has it, at debug
	// level.
	ConnectionError func(c *Client, err error)
	// KeepaliveTimeout: a client went silent for longer than its keep
	// alive allows, and was disconnected.
	KeepaliveTimeout func(c *Client)
	// Publish: a message was published and delivered to its subscribers.
	// c is nil for the broker's own messages ($SYS, Broker.Publish).
	Publish func(m *Message, c *Client)
	// Ack: a client acknowledged a QoS 1 (PUBACK) or 2 (PUBCOMP) message.
	Ack func(m *Message, c *Client)
	// Ping: a client sent PINGREQ.
	Ping func(c *Client)
	// Subscribe: a client's SUBSCRIBE was answered; one Grant per
	// subscription, failures and negated ones included.
	Subscribe func(subs []Grant, c *Client)
	// Unsubscribe: a client's UNSUBSCRIBE was answered.
	Unsubscribe func(filters []string, c *Client)
	// ConnackSent: the broker accepted a client with this CONNACK.
	ConnackSent func(p *packet.Connack, c *Client)
	// Dropped: a message was dropped for a client: a QoS 0 one its
	// connection had no room for, a QoS 1 or 2 one past its session's
	// queue limit (stack.ErrQueueLimit), or one larger than the client's
	// MQTT 5 maximum packet size (mqtt.ErrPacketTooLarge). id is the client
	// identifier.
	Dropped func(m *Message, id string, err error)
	// Disconnect: a client sent DISCONNECT; for MQTT 5 with its reason code
	// and properties (a changed session expiry interval, a reason string,
	// user properties).
	Disconnect func(p *packet.Disconnect, c *Client)
	// SessionExpired: a session's expiry interval ran out while its client
	// was away, and it was discarded. id is the client identifier.
	SessionExpired func(id string)
	// Closed: the broker closed.
	Closed func()
}

// Grant is one subscription of a SUBSCRIBE and how it was answered.
type Grant struct {
	Filter string
	QoS    packet.QoS        // as granted; meaningless when Code is a failure
	Code   packet.ReasonCode // the SUBACK code: the granted QoS, or a failure (0x80 or more)
}

// events is the broker's list of listeners, replaced whole on change so
// that emitting takes no lock.
type events struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*Events]
}

// On adds a listener and returns the function that removes it.
func (b *Broker) On(e Events) (remove func()) {
	p := &e
	b.events.mu.Lock()
	defer b.events.mu.Unlock()
	var next []*Events
	if old := b.events.list.Load(); old != nil {
		next = append(next, *old...)
	}
	next = append(next, p)
	b.events.list.Store(&next)
	return func() {
		b.events.mu.Lock()
		defer b.events.mu.Unlock()
		var next []*Events
		for _, x := range *b.events.list.Load() {
			if x != p {
				next = append(next, x)
			}
		}
		b.events.list.Store(&next)
	}
}

func (ev *events) each(f func(e *Events)) {
	if l := ev.list.Load(); l != nil {
		for _, e := range *l {
			f(e)
		}
	}
}

func (ev *events) publish(m *Message, c *Client) {
	ev.each(func(e *Events) {
		if e.Publish != nil {
			e.Publish(m, c)
		}
	})
}

func (ev *events) clientError(c *Client, err error) {
	ev.each(func(e *Events) {
		if e.ClientError != nil {
			e.ClientError(c, err)
		}
	})
}

func (ev *events) connectionError(c *Client, err error) {
	ev.each(func(e *Events) {
		if e.ConnectionError != nil {
			e.ConnectionError(c, err)
		}
	})
}

func (ev *events) closed() {
	ev.each(func(e *Events) {
		if e.Closed != nil {
			e.Closed()
		}
	})
}

// handled is the PacketEmitter's Handled function: once a CONNECT has been
// handled, accepted or refused, it watches the connection's end. Not
// before: the end would race with the acceptance it reports on.
func (b *Broker) handled(_ context.Context, c *mqtt.Conn, p packet.Packet, _ error) {
	if _, ok := p.(*packet.Connect); ok {
		b.stack.AfterEnd(c, func() { b.connEnded(c) })
	}
}

// packet is the PacketEmitter's Packet function: it tells of PINGREQ.
func (b *Broker) packet(_ context.Context, c *mqtt.Conn, p packet.Packet) {
	switch p := p.(type) {
	case *packet.Disconnect:
		if cl := clientOf(c); cl != nil && cl.session != nil {
			b.events.each(func(e *Events) {
				if e.Disconnect != nil {
					e.Disconnect(p, cl)
				}
			})
		}
	case *packet.Pingreq:
		if cl := clientOf(c); cl != nil && cl.session != nil {
			b.events.each(func(e *Events) {
				if e.Ping != nil {
					e.Ping(cl)
				}
			})
		}
	}
}

// connEnded reports a failed connection as an error event: before it was
// accepted, ConnectionError; after, ClientError.
func (b *Broker) connEnded(c *mqtt.Conn) {
	cause := context.Cause(c.Context())
	if quietEnd(cause) {
		return
	}
	cl := clientOf(c)
	if cl != nil && cl.told.Load() {
		return // the refusal that ended it was told already, once
	}
	if cl != nil && cl.session != nil {
		if stack.IsTimeout(cause) {
			// The read deadline that ended it is the keep alive's.
			cause = fmt.Errorf("%w: %w", stack.ErrKeepAliveTimeout, cause)
		}
		b.events.clientError(cl, cause)
	} else {
		b.events.connectionError(cl, cause)
	}
}

// quietEnd reports whether a connection ended in a way that is no error.
func quietEnd(cause error) bool {
	return cause == nil || errors.Is(cause, io.EOF) || errors.Is(cause, stack.ErrDisconnected) ||
		errors.Is(cause, stack.ErrSessionTakenOver) || errors.Is(cause, mqtt.ErrServerClosed) ||
		errors.Is(cause, mqtt.ErrClosed) && errors.Unwrap(cause) == nil
}

func (b *Broker) accepted(c *mqtt.Conn, s *stack.Session, ack *packet.Connack) {
	cl := clientOf(c)
	cl.ID, cl.session = s.ID, s
	b.count.Add(1)
	b.clients.Store(c, cl)
	b.events.each(func(e *Events) {
		if e.Client != nil {
			e.Client(cl)
		}
		if e.ConnackSent != nil {
			e.ConnackSent(ack, cl)
		}
		if e.ClientReady != nil {
			e.ClientReady(cl)
		}
	})
	b.publishSys("new/clients", []byte(cl.ID))
}

func (b *Broker) ended(c *mqtt.Conn, _ *stack.Session) {
	cl := clientOf(c)
	b.clients.Delete(c)
	b.count.Add(-1)
	b.events.each(func(e *Events) {
		if e.ClientDisconnect != nil {
			e.ClientDisconnect(cl)
		}
	})
	b.publishSys("disconnect/clients", []byte(cl.ID))
}

func (b *Broker) sessionExpired(s *stack.Session) {
	b.events.each(func(e *Events) {
		if e.SessionExpired != nil {
			e.SessionExpired(s.ID)
		}
	})
}

func (b *Broker) keepAliveExpired(c *mqtt.Conn) {
	if cl := clientOf(c); cl != nil {
		b.events.each(func(e *Events) {
			if e.KeepaliveTimeout != nil {
				e.KeepaliveTimeout(cl)
			}
		})
	}
}

func (b *Broker) subscribed(c *mqtt.Conn, _ *stack.Session, p *packet.Subscribe, codes []packet.ReasonCode) {
	cl := clientOf(c)
	grants := make([]Grant, len(codes))
	subs := make([]subJSON, len(codes))
	for i, code := range codes {
		grants[i] = Grant{Filter: p.Subscriptions[i].Filter, Code: code}
		if !code.IsError() {
			grants[i].QoS = packet.QoS(code)
		}
		subs[i] = subJSON{Topic: grants[i].Filter, QoS: int(code)}
	}
	b.events.each(func(e *Events) {
		if e.Subscribe != nil {
			e.Subscribe(grants, cl)
		}
	})
	b.publishSysSubs("new/subscribers", cl.ID, subs)
}

func (b *Broker) unsubscribed(c *mqtt.Conn, _ *stack.Session, p *packet.Unsubscribe) {
	cl := clientOf(c)
	b.events.each(func(e *Events) {
		if e.Unsubscribe != nil {
			e.Unsubscribe(p.Filters, cl)
		}
	})
	b.publishSysSubs("new/unsubscribers", cl.ID, p.Filters)
}

func (b *Broker) acked(c *mqtt.Conn, _ *stack.Session, m *store.Message) {
	cl := clientOf(c)
	b.events.each(func(e *Events) {
		if e.Ack != nil {
			e.Ack(m, cl)
		}
	})
}

func (b *Broker) dropped(s *stack.Session, m *store.Message, err error) {
	b.events.each(func(e *Events) {
		if e.Dropped != nil {
			e.Dropped(m, s.ID, err)
		}
	})
}
