package broker

import (
	"context"
	"errors"
	"strings"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
	"github.com/midge-mqtt/midge/store"
)

// Hooks let a program make the broker's decisions. Each is optional; a nil
// hook takes the default. Decisions return an error to refuse: an error
// that is, or wraps, a packet.ReasonCode (return packet.NotAuthorized)
// refuses with that code, any other error with the hook's default code.
// Hooks run on the connection's goroutine: a slow hook slows that client
// only.
type Hooks struct {
	// PreConnect is asked first for every CONNECT, before credentials are
	// looked at: to refuse by address, by rate, by load, or to send the
	// client elsewhere with a *stack.Redirect. A refusal is sent as CONNACK
	// with its code (default NotAuthorized), and the connection closed.
	// The packet may be changed.
	PreConnect func(ctx context.Context, c *Client, p *packet.Connect) error
	// Authenticate checks the credentials of a CONNECT without an MQTT 5
	// Authentication Method (those go to StartAuth). A refusal is sent as
	// CONNACK with its code (default NotAuthorized, 3.1.1 return code 5;
	// BadUserNameOrPassword is 4, ClientIdentifierNotValid 2,
	// ServerUnavailable 3). Default: everyone is accepted.
	Authenticate func(ctx context.Context, c *Client, username string, password []byte) error
	// StartAuth runs MQTT 5 enhanced authentication (MQTT 5.0 section
	// 4.12). It is asked for each CONNECT that names an Authentication
	// Method, instead of Authenticate, and for each re-authentication of
	// such a client (c.Conn.ConnackCode then reports success); it returns
	// the exchange that runs method for c, such as a *scram.Exchange of
	// package auth/scram (see stack.AuthExchange). The exchange's AUTH
	// packets run before the CONNACK, which carries the method and the
	// exchange's final data, and the connect timeout covers them; a
	// failure is sent as CONNACK with its code (default NotAuthorized), or
	// after a re-authentication as DISCONNECT. Return nil and no error for
	// a method it does not support: CONNACK 0x8C bad authentication
	// method. Default: no method is supported.
	StartAuth func(ctx context.Context, c *Client, method string) (stack.AuthExchange, error)
	// AuthorizePublish decides each PUBLISH of a client, and each will
	// before it is published. It may change the packet. A refused PUBLISH
	// closes the client's connection without telling it why
	// [MQTT-3.3.5-2]. Default: refuse topics under "$SYS/".
	AuthorizePublish func(ctx context.Context, c *Client, p *packet.Publish) error
	// AuthorizeSubscribe decides each subscription of a SUBSCRIBE. It may
	// change the subscription (its filter, its QoS), negate it by
	// returning false and no error (it is granted as 0x80 and not made),
	// or refuse it with an error (a failure code in SUBACK: 0x80 for 3.x,
	// the error's code or NotAuthorized for MQTT 5; the ClientError event
	// is told). Default: everything is allowed.
	AuthorizeSubscribe func(ctx context.Context, c *Client, s *packet.Subscription) (bool, error)
	// AuthorizeForward is asked before a message is sent to a client,
	// retained messages included: it returns the message to send (m, or a
	// changed copy; never change m itself, other clients share it), or nil
	// not to send it. c is nil for a server-side subscription.
	AuthorizeForward func(c *Client, m *Message) *Message
	// Published is called after each message from a client is delivered to
	// its subscribers, before the client's acknowledgement: the client
	// waits for it (backpressure).
	Published func(ctx context.Context, m *Message, c *Client) error
}

// errSysTopic refuses clients publishing under $SYS/.
var errSysTopic = errors.New("broker: $SYS/ topics are reserved for the broker")

func (b *Broker) preConnect(h *Hooks) func(context.Context, *mqtt.Conn, *packet.Connect) error {
	return func(ctx context.Context, c *mqtt.Conn, p *packet.Connect) error {
		cl := newClient(c, p)
		if h.PreConnect == nil {
			return nil
		}
		err := h.PreConnect(ctx, cl, p)
		if err != nil {
			cl.told.Store(true)
			b.events.connectionError(cl, err)
		}
		return err
	}
}

func (b *Broker) authenticate(h *Hooks) func(context.Context, *mqtt.Conn, *packet.Connect) error {
	if h.Authenticate == nil {
		return nil
	}
	return func(ctx context.Context, c *mqtt.Conn, p *packet.Connect) error {
		cl := clientOf(c)
		err := h.Authenticate(ctx, cl, p.Username, p.Password)
		if err != nil {
			cl.told.Store(true)
			b.events.connectionError(cl, err)
		}
		return err
	}
}

func (b *Broker) startAuth(h *Hooks) func(context.Context, *mqtt.Conn, string) (stack.AuthExchange, error) {
	if h.StartAuth == nil {
		return nil
	}
	return func(ctx context.Context, c *mqtt.Conn, method string) (stack.AuthExchange, error) {
		cl := clientOf(c)
		ex, err := h.StartAuth(ctx, cl, method)
		if err != nil {
			b.authFailed(cl, err)
			return nil, err
		}
		if ex == nil {
			return nil, nil
		}
		return &toldExchange{AuthExchange: ex, b: b, cl: cl}, nil
	}
}

// toldExchange tells the listeners of the failure of an exchange, with the
// exchange's own error.
type toldExchange struct {
	stack.AuthExchange
	b  *Broker
	cl *Client
}

func (x *toldExchange) Next(ctx context.Context, data []byte) ([]byte, bool, error) {
	reply, done, err := x.AuthExchange.Next(ctx, data)
	if err != nil {
		x.b.authFailed(x.cl, err)
	}
	return reply, done, err
}

// authFailed tells of a failed authentication, which ends the connection:
// a ConnectionError before it was accepted, a ClientError after.
func (b *Broker) authFailed(cl *Client, err error) {
	cl.told.Store(true)
	if cl.session != nil {
		b.events.clientError(cl, err)
	} else {
		b.events.connectionError(cl, err)
	}
}

func (b *Broker) authorizePublish(h *Hooks) func(context.Context, *mqtt.Conn, *packet.Publish) error {
	return func(ctx context.Context, c *mqtt.Conn, p *packet.Publish) error {
		cl := clientOf(c)
		var err error
		if h.AuthorizePublish != nil {
			err = h.AuthorizePublish(ctx, cl, p)
		} else if strings.HasPrefix(p.Topic, sysPrefix) {
			err = errSysTopic
		}
		if err != nil {
			// A refused PUBLISH ends the connection: its end is this
			// error, told here with the hook's own error. A refused will
			// comes after the end, which is told on its own.
			if c.Context().Err() == nil {
				cl.told.Store(true)
			}
			b.events.clientError(cl, err)
		}
		return err
	}
}

func (b *Broker) authorizeSubscribe(h *Hooks) func(context.Context, *mqtt.Conn, *packet.Subscription) (bool, error) {
	if h.AuthorizeSubscribe == nil {
		return nil
	}
	return func(ctx context.Context, c *mqtt.Conn, s *packet.Subscription) (bool, error) {
		cl := clientOf(c)
		ok, err := h.AuthorizeSubscribe(ctx, cl, s)
		if err != nil {
			b.events.clientError(cl, err)
		}
		return ok, err
	}
}

// forward applies Hooks.AuthorizeForward for one subscriber.
func (b *Broker) forward(_ context.Context, to stack.Subscriber, m *Message) *Message {
	f := b.opts.Hooks.AuthorizeForward
	if f == nil {
		return m
	}
	var cl *Client
	if s, ok := to.(*stack.Session); ok {
		if c := s.Conn(); c != nil {
			cl = clientOf(c)
		}
	}
	return f(cl, m)
}

func (b *Broker) published(ctx context.Context, c *mqtt.Conn, m *store.Message) error {
	cl := clientOf(c)
	if f := b.opts.Hooks.Published; f != nil {
		if err := f(ctx, m, cl); err != nil {
			return err
		}
	}
	b.events.publish(m, cl)
	return nil
}
