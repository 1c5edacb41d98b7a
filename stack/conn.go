package stack

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// ErrDisconnected is the cause of a connection its client ended with
// DISCONNECT.
var ErrDisconnected error = orderlyEnd("stack: client disconnected")

// orderlyEnd is the cause of a connection that ended as the protocol
// intends. It matches mqtt.ErrClosed, so that the layers below count it as a
// clean end and not as a failure.
type orderlyEnd string

func (e orderlyEnd) Error() string        { return string(e) }
func (e orderlyEnd) Is(target error) bool { return target == mqtt.ErrClosed }

// ErrKeepAliveTimeout is the cause of a connection that went silent for
// longer than one and a half times its keep alive [MQTT-3.1.2-24].
var ErrKeepAliveTimeout = errors.New("stack: keep alive timeout")

// ErrConnectTimeout is the cause of a connection that sent no CONNECT in
// time.
var ErrConnectTimeout = errors.New("stack: no CONNECT in time")

// Connection handles DISCONNECT: the client ends the connection, and the
// broker closes it with ErrDisconnected as cause [MQTT-3.14.4-1].
type Connection struct{}

// Handles implements Selective: DISCONNECT.
func (Connection) Handles(t packet.Type) bool { return t == packet.TypeDisconnect }

// Handle implements Middleware.
func (Connection) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	if _, ok := p.(*packet.Disconnect); ok {
		if err := next.ServeMQTT(ctx, c, p); err != nil {
			return err
		}
		c.CloseWithCause(ErrDisconnected)
		return nil
	}
	return next.ServeMQTT(ctx, c, p)
}

// KeepAlive closes connections that go silent: one not accepted within
// ConnectTimeout, its CONNECT and any enhanced authentication exchange
// included (set its ConnContext as the mqtt.Server's), one quiet for
// one and a half times its keep alive [MQTT-3.1.2-24]. It uses the
// connection's read deadline, no timer of its own, and answers PINGREQ with
// PINGRESP [MQTT-3.12.4-1].
type KeepAlive struct {
	// ConnectTimeout is how long a new connection has to be accepted
	// (CONNECT, then AUTH packets while an enhanced authentication runs),
	// counted from ConnContext; 0 means no limit.
	ConnectTimeout time.Duration
	// Expired, if set, is told when a connection's keep alive runs out.
	Expired func(c *mqtt.Conn)
	// Caps give the server keep alive, which replaces the keep alive of
	// MQTT 5 clients [MQTT-3.2.2-21]; nil means DefaultCapabilities.
	Caps *Capabilities

	stack *Stack
}

// Bind implements Binder: the stack counts what runs at a connection's end.
func (k *KeepAlive) Bind(s *Stack) error {
	k.stack = s
	return nil
}

// keepAliveState is kept by every connection: 16 bytes.
type keepAliveState struct {
	interval time.Duration // 1.5 × keep alive; 0 when off
	moved    time.Duration // when the deadline was last moved on, since epoch
}

// epoch is the origin of keepAliveState.moved: time.Since(epoch) is
// monotonic and takes no wall clock.
var epoch = time.Now()

// slack is how late the deadline may be: see touch.
func (st *keepAliveState) slack() time.Duration { return min(st.interval/8, time.Second) }

// newKeepAliveState returns the state of a keep alive of ka seconds.
func newKeepAliveState(ka uint16) *keepAliveState {
	return &keepAliveState{interval: time.Duration(ka) * 1500 * time.Millisecond}
}

var keepAliveKey = NewKey[*keepAliveState]("keepalive")

// ConnContext starts the connect timeout of a new stream, before anything
// is read from it: use it as mqtt.Server.ConnContext. (Not an Installer:
// Install runs once the first packet has been read, too late for a client
// that sends nothing, or never finishes its CONNECT, and would hold its
// connection for ever.) A stream without read deadlines has no timeout.
func (k *KeepAlive) ConnContext(ctx context.Context, rwc io.ReadWriteCloser) context.Context {
	if d, ok := rwc.(interface{ SetReadDeadline(time.Time) error }); ok && k.ConnectTimeout > 0 {
		d.SetReadDeadline(time.Now().Add(k.ConnectTimeout))
	}
	return ctx
}

// Handle implements Middleware.
func (k *KeepAlive) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	switch p := p.(type) {
	case *packet.Connect:
		// The keep alive starts once the connection is accepted: until its
		// CONNACK, which an enhanced authentication exchange may hold back
		// for several packets, the connect timeout stays.
		if err := next.ServeMQTT(ctx, c, p); err != nil {
			return err
		}
		if code, ok := c.ConnackCode(); !ok || code.IsError() {
			return nil
		}
		ka := p.KeepAlive
		if sk := capsOr(k.Caps).ServerKeepAlive; sk != 0 && p.Version == packet.V5 {
			// 3.x clients cannot be told, so they keep theirs.
			ka = sk
		}
		st := newKeepAliveState(ka)
		keepAliveKey.Set(c, st)
		if st.interval == 0 {
			c.SetReadDeadline(time.Time{})
		} else {
			st.moved = time.Since(epoch)
			c.SetReadDeadline(epoch.Add(st.moved + st.interval + st.slack()))
		}
		afterEnd(k.stack, c, func() { k.ended(c) })
		return nil
	case *packet.Pingreq:
		k.touch(c)
		return c.Pingresp()
	}
	k.touch(c)
	return next.ServeMQTT(ctx, c, p)
}

// touch moves the read deadline on after a packet. Moving it costs a
// timer update in the runtime's poller, too much for every packet of a
// busy client, so it moves at most once per slack (an eighth of the
// interval, at most a second), to interval+slack from then: never before
// one and a half times the keep alive after the last packet
// [MQTT-3.1.2-24], and at most slack after it. The state is the reader
// goroutine's alone.
func (k *KeepAlive) touch(c *mqtt.Conn) {
	st := keepAliveKey.Get(c)
	if st == nil || st.interval == 0 {
		return
	}
	now, slack := time.Since(epoch), st.slack()
	if now-st.moved < slack {
		return
	}
	st.moved = now
	c.SetReadDeadline(epoch.Add(now + st.interval + slack))
}

func (k *KeepAlive) ended(c *mqtt.Conn) {
	if k.Expired != nil && IsTimeout(context.Cause(c.Context())) && keepAliveKey.Get(c) != nil {
		k.Expired(c)
	}
}

// IsTimeout reports whether a connection ended because its read deadline
// passed: a keep alive or connect timeout.
func IsTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// LastWill publishes a connection's will message when the connection ends
// any way but by the client's DISCONNECT [MQTT-3.1.2-8]; a DISCONNECT
// discards it [MQTT-3.1.2-10] (in MQTT 5, unless its reason code is 0x04,
// disconnect with will message). The will is armed only once the connection
// is accepted.
//
// An MQTT 5 will with a will delay interval waits that long, or until its
// session ends if that comes first, and is not sent at all if the client
// resumes the session meanwhile [MQTT-3.1.3-9]. The will delay interval
// itself is not passed on; the other will properties travel with the
// message. It needs a Publisher and Sessions.
type LastWill struct {
	pub      Publisher
	sessions Sessions
	stack    *Stack
	stopOnce sync.Once
	stop     chan struct{} // closed by Close
}

// Publisher is the callback that publishes a message as a client would,
// through the broker's authorization: a will, for instance.
type Publisher interface {
	PublishAs(ctx context.Context, c *mqtt.Conn, m *store.Message) error
}

var willKey = NewKey[*willState]("will")

type willState struct {
	msg *store.Message
	gen uint64 // the session's connection count when the will was armed
}

// Bind implements Binder.
func (w *LastWill) Bind(s *Stack) (err error) {
	w.stack = s
	w.stopOnce.Do(func() { w.stop = make(chan struct{}) })
	if w.sessions, err = Need[Sessions](s); err != nil {
		return err
	}
	w.pub, err = Need[Publisher](s)
	return err
}

// Close sends at once the wills still waiting for their delay: the server
// stops, and the sessions they wait for end with it.
func (w *LastWill) Close() {
	w.stopOnce.Do(func() { w.stop = make(chan struct{}) })
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
}

// Handles implements Selective: CONNECT and DISCONNECT.
func (w *LastWill) Handles(t packet.Type) bool {
	return t == packet.TypeConnect || t == packet.TypeDisconnect
}

// Handle implements Middleware.
func (w *LastWill) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	switch p := p.(type) {
	case *packet.Connect:
		if err := next.ServeMQTT(ctx, c, p); err != nil || p.Will == nil {
			return err
		}
		if code, ok := c.ConnackCode(); !ok || code != packet.Success {
			return nil
		}
		props, delay := willProps(p.Will.Props)
		st := &willState{msg: &store.Message{Topic: p.Will.Topic, Payload: p.Will.Payload, QoS: p.Will.QoS,
			Retain: p.Will.Retain, Props: props, From: p.ClientID}}
		if s := w.sessions.SessionOf(c); s != nil {
			st.gen = s.attached.Load()
		}
		willKey.Set(c, st)
		afterEnd(w.stack, c, func() {
			m := st.msg
			if m == nil || delay > 0 && !w.waitDelay(c, st.gen, delay) {
				return
			}
			m.Created = time.Now()
			w.pub.PublishAs(context.Background(), c, m)
		})
		return nil
	case *packet.Disconnect:
		if st := willKey.Get(c); st != nil && p.ReasonCode != packet.DisconnectWithWillMessage {
			st.msg = nil
		}
	}
	return next.ServeMQTT(ctx, c, p)
}

// willProps splits a will's properties into those its message carries and
// the will delay interval, which is the server's alone.
func willProps(p *packet.Properties) (*packet.Properties, time.Duration) {
	if p == nil || p.WillDelay == 0 {
		return p, 0
	}
	// A copy with WillDelay 0 would still mark it present, as decoded,
	// and no PUBLISH may carry it: the message gets its own properties.
	return messageProps(p), time.Duration(p.WillDelay) * time.Second
}

// waitDelay waits out a will's delay after c ended, and reports whether the
// will is still to be sent: not if c's session was resumed by another
// connection (its count is no longer gen) [MQTT-3.1.3-9]. The session's
// end, or the server's, cuts the wait short.
func (w *LastWill) waitDelay(c *mqtt.Conn, gen uint64, d time.Duration) bool {
	s := w.sessions.SessionOf(c)
	if s == nil {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.Done():
	case <-w.stop:
	}
	return s.attached.Load() == gen
}

// Authentication decides whether a CONNECT is accepted, and runs MQTT 5
// enhanced authentication (MQTT 5.0 section 4.12). A refusal ends the
// connection with a CONNACK carrying the refusal's reason code (and the
// properties of a mqtt.PropertiesError, such as a Redirect's).
//
// A CONNECT without an Authentication Method goes to PreConnect, then to
// Authenticate. A CONNECT with one goes to PreConnect, then to the exchange
// StartAuth returns for the method instead of Authenticate: AUTH packets
// both ways until the exchange is done (this middleware reads the client's
// AUTH packets itself: no other one sees them), and the CONNECT is passed on
// only then, so the middlewares before this one (KeepAlive, LastWill, …)
// see it once the client is authenticated, and act on it when next returns
// as for any CONNECT. SessionManager's CONNACK carries the method and the
// final data (see AuthConnack). Until then the client may send only AUTH or
// DISCONNECT [MQTT-3.1.2-30]. After CONNACK, a client that named a method
// may re-authenticate [MQTT-4.12.1-1]: its AUTH packets stop here, a new
// exchange runs while its other packets flow, and a failure ends the
// connection with DISCONNECT [MQTT-4.12.1-2].
type Authentication struct {
	// PreConnect, if set, is asked first, before the client's credentials
	// are looked at: to refuse by address, rate or load.
	PreConnect func(ctx context.Context, c *mqtt.Conn, p *packet.Connect) error
	// Authenticate, if set, checks the credentials of a CONNECT without an
	// Authentication Method. An error that carries a packet.ReasonCode
	// refuses with that code; any other error refuses with
	// packet.NotAuthorized. nil accepts everyone.
	Authenticate func(ctx context.Context, c *mqtt.Conn, p *packet.Connect) error
	// StartAuth, if set, starts an exchange of an enhanced authentication
	// method for c: for a CONNECT that names method, or a re-authentication
	// (c.ConnackCode then reports success). It returns nil and no error
	// for a method it does not support, which is refused with 0x8C bad
	// authentication method [MQTT-4.12.0-1]; an error refuses with its
	// code, packet.NotAuthorized if it has none. nil supports no method.
	StartAuth func(ctx context.Context, c *mqtt.Conn, method string) (AuthExchange, error)
}

// Handle implements Middleware.
// Handles implements Selective: CONNECT and AUTH.
func (a *Authentication) Handles(t packet.Type) bool {
	return t == packet.TypeConnect || t == packet.TypeAuth
}

// Handle implements Middleware.
func (a *Authentication) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	switch cp := p.(type) {
	case *packet.Connect:
		if a.PreConnect != nil {
			if err := a.PreConnect(ctx, c, cp); err != nil {
				return refusal(err, packet.NotAuthorized)
			}
		}
		if method := authMethod(cp); method != "" {
			if err := a.connectExchange(ctx, c, cp, method); err != nil {
				return err
			}
		} else if a.Authenticate != nil {
			if err := a.Authenticate(ctx, c, cp); err != nil {
				return refusal(err, packet.NotAuthorized)
			}
		}
	case *packet.Auth:
		return a.reauthenticate(ctx, c, cp)
	}
	return next.ServeMQTT(ctx, c, p)
}

// refusal returns err as an error carrying a reason code of 0x80 or more,
// def when err carries none.
func refusal(err error, def packet.ReasonCode) error {
	var rc packet.ReasonCode
	if errors.As(err, &rc) && rc.IsError() {
		return err
	}
	return &packet.Error{Code: def, Msg: err.Error()}
}

// Authorize decides what a client may publish and subscribe to. A refused
// PUBLISH ends the connection [MQTT-3.3.5-2]; a refused subscription is
// answered with a failure code in SUBACK (0x80, or the refusal's own code in
// MQTT 5). It provides PublishAuthorizer and SubscribeAuthorizer.
type Authorize struct {
	// Publish, if set, may refuse a PUBLISH with an error, or change it in
	// place. nil allows everything.
	Publish func(ctx context.Context, c *mqtt.Conn, p *packet.Publish) error
	// Subscribe, if set, may refuse a subscription with an error, change it
	// in place, or negate it by returning false: it is then not made, and
	// answered with 0x80 without an error.
	Subscribe func(ctx context.Context, c *mqtt.Conn, s *packet.Subscription) (bool, error)
}

// SubscribeAuthorizer is the callback that decides each subscription of a
// SUBSCRIBE: ok false refuses it, with err's reason code if it has one.
type SubscribeAuthorizer interface {
	AuthorizeSubscribe(ctx context.Context, c *mqtt.Conn, s *packet.Subscription) (ok bool, err error)
}

// PublishAuthorizer is the callback that decides a PUBLISH, or a message
// published as a client (a will): an error refuses it.
type PublishAuthorizer interface {
	AuthorizePublish(ctx context.Context, c *mqtt.Conn, p *packet.Publish) error
}

// AuthorizePublish implements PublishAuthorizer.
func (a *Authorize) AuthorizePublish(ctx context.Context, c *mqtt.Conn, p *packet.Publish) error {
	if a.Publish == nil {
		return nil
	}
	if err := a.Publish(ctx, c, p); err != nil {
		return refusal(err, packet.NotAuthorized)
	}
	return nil
}

// AuthorizeSubscribe implements SubscribeAuthorizer.
func (a *Authorize) AuthorizeSubscribe(ctx context.Context, c *mqtt.Conn, s *packet.Subscription) (bool, error) {
	if a.Subscribe == nil {
		return true, nil
	}
	ok, err := a.Subscribe(ctx, c, s)
	return ok && err == nil, err
}

// Handles implements Selective: PUBLISH.
func (a *Authorize) Handles(t packet.Type) bool { return t == packet.TypePublish }

// Handle implements Middleware.
func (a *Authorize) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	if pub, ok := p.(*packet.Publish); ok {
		if err := a.AuthorizePublish(ctx, c, pub); err != nil {
			return err
		}
	}
	return next.ServeMQTT(ctx, c, p)
}
