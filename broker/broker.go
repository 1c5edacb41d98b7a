package broker

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/mq"
	mqmemory "github.com/midge-mqtt/midge/mq/memory"
	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
	"github.com/midge-mqtt/midge/store"
	storememory "github.com/midge-mqtt/midge/store/memory"
	"github.com/midge-mqtt/midge/topic"
)

// Message is an application message as the broker routes it.
type Message = store.Message

// ErrClosed is returned by a broker used after Close.
var ErrClosed = errors.New("broker: closed")

// Options configure a Broker. A nil *Options, like every zero field, means
// the default.
type Options struct {
	// ID identifies the broker, in $SYS topics among others. Default: a
	// random UUID.
	ID string
	// Store keeps sessions and retained messages. Default: in memory.
	Store store.Store
	// Bus carries messages between broker instances. Default: in-process.
	Bus mq.Bus
	// MaxClientIDLength is the longest client identifier accepted from an
	// MQTT 3.1 client. Default: 23, as the 3.1 spec says.
	MaxClientIDLength int
	// HeartbeatInterval is how often the broker publishes
	// $SYS/{id}/heartbeat. Default: 60 s.
	HeartbeatInterval time.Duration
	// ConnectTimeout is how long a new connection has to send CONNECT and
	// be accepted, an enhanced authentication exchange included. Default:
	// 30 s.
	ConnectTimeout time.Duration
	// MaxInflight is the most QoS 1 and 2 messages sent to one client and
	// not yet acknowledged. Default: 32.
	MaxInflight int
	// MaxQueued is the most QoS 1 and 2 messages kept for one session
	// beyond those in flight (while it is offline or its window is full);
	// past it a message is dropped for that session and reported to
	// Events.Dropped. Default: 1000.
	MaxQueued int
	// MaxPacketSize is the largest packet accepted from a client. Default:
	// 1 MiB.
	MaxPacketSize int
	// MaxPending bounds, in bytes, the output queued for one client and not
	// yet written; past it QoS 0 messages are dropped for that client.
	// Default: 1 MiB.
	MaxPending int
	// Capabilities are what the broker allows its clients, whatever their
	// version, and announces to MQTT 5 clients in CONNACK: maximum QoS,
	// retained messages, wildcard, shared and identified subscriptions,
	// receive maximum, topic aliases both ways, a cap on session expiry,
	// a server keep alive, response information. Default:
	// stack.DefaultCapabilities(). Its MaximumPacketSize is taken from
	// MaxPacketSize.
	Capabilities *stack.Capabilities
	// MaxSubscriptions bounds the subscriptions of one session; one more is
	// refused in SUBACK (MQTT 5: 0x97 quota exceeded). Default: no bound.
	MaxSubscriptions int
	// ShareStrategy picks the member of a shared subscription's group
	// ("$share/{ShareName}/{filter}") each message goes to. Default:
	// stack.ShareRoundRobin; stack.ShareRandom is the other built in.
	ShareStrategy stack.ShareStrategy
	// Logger receives the broker's logs. Default: slog.Default().
	Logger *slog.Logger
	// Hooks customise the broker's decisions.
	Hooks Hooks
}

// Broker is an embeddable MQTT broker. Serve it on a listener, or hand it
// single connections with HandleConn; subscribe and publish on the server
// side with Subscribe and Publish; watch it with On.
//
// A Broker is safe for concurrent use.
type Broker struct {
	id       string
	opts     Options
	log      *slog.Logger
	st       store.Store
	bus      mq.Bus
	ownStore bool
	ownBus   bool

	router   *stack.Router
	sessions *stack.SessionManager
	will     *stack.LastWill
	caps     stack.Capabilities
	server   *mqtt.Server
	stack    *stack.Stack

	events  events
	clients sync.Map // *mqtt.Conn → *Client, accepted connections
	count   atomic.Int64
	closed  atomic.Bool
	stop    chan struct{}
	sys     chan sysMsg // $SYS messages to publish, in order (sysLoop)
	done    sync.WaitGroup
}

// New returns a broker ready to serve. o may be nil.
func New(o *Options) (*Broker, error) {
	b := &Broker{stop: make(chan struct{}), sys: make(chan sysMsg, 256)}
	if o != nil {
		b.opts = *o
	}
	b.id = b.opts.ID
	if b.id == "" {
		b.id = newUUID()
	}
	b.log = b.opts.Logger
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.st = b.opts.Store; b.st == nil {
		b.st, b.ownStore = storememory.New(), true
	}
	if b.bus = b.opts.Bus; b.bus == nil {
		b.bus, b.ownBus = mqmemory.New(), true
	}
	h := &b.opts.Hooks
	b.caps = stack.DefaultCapabilities()
	if b.opts.Capabilities != nil {
		b.caps = *b.opts.Capabilities
	}
	b.caps.MaximumPacketSize = uint32(or(b.opts.MaxPacketSize, mqtt.DefaultMaxPacketSize))
	caps := &b.caps
	b.router = &stack.Router{Store: b.st, Bus: b.bus, Forward: b.forward, Share: b.opts.ShareStrategy,
		Delivered: func(stack.Subscriber, *Message, error) {}}
	b.sessions = &stack.SessionManager{
		Store:             b.st,
		Limits:            stack.SessionLimits{Inflight: b.opts.MaxInflight, Queue: b.opts.MaxQueued},
		MaxClientIDLength: b.opts.MaxClientIDLength,
		Dropped:           b.dropped,
		Accepted:          b.accepted,
		Ended:             b.ended,
		Expired:           b.sessionExpired,
		Caps:              caps,
	}
	keepAlive := &stack.KeepAlive{ConnectTimeout: or(b.opts.ConnectTimeout, 30*time.Second), Expired: b.keepAliveExpired, Caps: caps}
	b.will = &stack.LastWill{}
	mws := []stack.Middleware{
		&stack.PacketEmitter{Packet: b.packet, Handled: b.handled},
		stack.Connection{},
		keepAlive,
		b.will,
		&stack.Authentication{PreConnect: b.preConnect(h), Authenticate: b.authenticate(h), StartAuth: b.startAuth(h)},
		b.sessions,
		&stack.TopicAliases{Caps: caps},
		&stack.Authorize{Publish: b.authorizePublish(h), Subscribe: b.authorizeSubscribe(h)},
		&stack.RetainManager{Forward: b.forward},
		&stack.SubscriptionManager{Subscribed: b.subscribed, Unsubscribed: b.unsubscribed, Caps: caps,
			MaxSubscriptions: b.opts.MaxSubscriptions},
		&stack.InboundManager{Published: b.published, Caps: caps},
		&stack.OutboundManager{Acked: b.acked},
		b.router,
	}
	var err error
	if b.stack, err = stack.New(mws...); err != nil {
		return nil, err
	}
	if err := b.router.Start(); err != nil {
		return nil, err
	}
	b.server = &mqtt.Server{
		Handler: b.stack,
		Options: &mqtt.Options{MaxPacketSize: b.opts.MaxPacketSize, MaxPending: b.opts.MaxPending},
		Logger:  b.log,
		// The connect timeout starts when the connection does, not when
		// its first packet has been read.
		ConnContext: keepAlive.ConnContext,
	}
	b.done.Add(2)
	go b.heartbeat(or(b.opts.HeartbeatInterval, 60*time.Second))
	go b.sysLoop()
	return b, nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// ID returns the broker's identifier.
func (b *Broker) ID() string { return b.id }

// ConnectedClients returns the number of clients connected now.
func (b *Broker) ConnectedClients() int { return int(b.count.Load()) }

// Closed reports whether Close was called.
func (b *Broker) Closed() bool { return b.closed.Load() }

// Stack returns the middleware stack the broker is built from.
func (b *Broker) Stack() *stack.Stack { return b.stack }

// Serve accepts connections on l and serves them until Close. It returns
// ErrClosed after Close, or the accept error.
func (b *Broker) Serve(l net.Listener) error {
	if b.closed.Load() {
		l.Close()
		return ErrClosed
	}
	err := b.server.Serve(l)
	if errors.Is(err, mqtt.ErrServerClosed) {
		return ErrClosed
	}
	return err
}

// HandleConn serves one connection, any byte stream, on its own goroutine,
// and returns at once. The broker closes it when it ends or on Close.
func (b *Broker) HandleConn(rwc io.ReadWriteCloser) {
	if b.closed.Load() {
		rwc.Close()
		return
	}
	b.done.Add(1)
	go func() {
		defer b.done.Done()
		b.server.ServeConn(rwc)
	}()
}

// Publish publishes m on behalf of the server: to every subscriber, on this
// broker and those sharing its bus. It bypasses Hooks.AuthorizePublish.
func (b *Broker) Publish(ctx context.Context, m *Message) error {
	if b.closed.Load() {
		return ErrClosed
	}
	if err := topic.ValidateName(m.Topic); err != nil {
		return err
	}
	if m.QoS > packet.ExactlyOnce {
		return fmt.Errorf("broker: QoS %d", m.QoS)
	}
	if m.Created.IsZero() {
		m.Created = time.Now()
	}
	if err := b.router.Relay(ctx, m); err != nil {
		return err
	}
	b.events.publish(m, nil)
	return nil
}

// publishSys publishes a $SYS message for the broker, in order, on the
// broker's $SYS goroutine: the events that cause them (a connect, a
// subscribe) happen on a client's reader goroutine, whose stack would
// otherwise grow for good with the depth of routing (an idle connection
// keeps the stack its CONNECT needed). Once the broker is closing they are
// dropped.
func (b *Broker) publishSys(suffix string, payload []byte) {
	b.queueSys(sysMsg{suffix: suffix, payload: payload, at: time.Now()})
}

// publishSysSubs publishes the JSON of a client's subscriptions or
// unsubscriptions, encoded on the $SYS goroutine too (encoding/json runs
// deep).
func (b *Broker) publishSysSubs(suffix, clientID string, subs any) {
	b.queueSys(sysMsg{suffix: suffix, clientID: clientID, subs: subs, at: time.Now()})
}

// sysMsg is a $SYS message waiting for the $SYS goroutine: its payload, or
// the subscriptions to encode as its payload.
type sysMsg struct {
	suffix   string
	payload  []byte
	clientID string
	subs     any
	at       time.Time
}

func (b *Broker) queueSys(m sysMsg) {
	select {
	case b.sys <- m:
	case <-b.stop:
	}
}

// sysLoop publishes the $SYS messages publishSys queues.
func (b *Broker) sysLoop() {
	defer b.done.Done()
	for {
		select {
		case <-b.stop:
			return
		case q := <-b.sys:
			if q.subs != nil {
				q.payload = sysJSON(q.clientID, q.subs)
			}
			b.relaySys(&Message{Topic: "$SYS/" + b.id + "/" + q.suffix, Payload: q.payload, Created: q.at})
		}
	}
}

// relaySys publishes one $SYS message; failures are logged.
func (b *Broker) relaySys(m *Message) {
	if err := b.router.Relay(context.Background(), m); err != nil {
		if !b.closed.Load() {
			b.log.Warn("publishing $SYS message", "topic", m.Topic, "err", err)
		}
		return
	}
	b.events.publish(m, nil)
}

func (b *Broker) heartbeat(every time.Duration) {
	defer b.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.publishSys("heartbeat", []byte(b.id))
		}
	}
}

// Subscription is a server-side subscription made with Subscribe.
type Subscription struct {
	b       *Broker
	filter  string
	deliver func(ctx context.Context, m *Message) error
	once    sync.Once
}

// Deliver implements stack.Subscriber: it calls the deliver function in
// the publisher's goroutine, so a slow function slows the publisher down
// (backpressure), and a message the function fails is logged.
func (s *Subscription) Deliver(ctx context.Context, m *Message, d stack.Delivery) error {
	cp := *m
	cp.QoS, cp.Retain = d.QoS, d.Retain
	if err := s.deliver(ctx, &cp); err != nil {
		s.b.log.Warn("server-side subscriber failed", "filter", s.filter, "topic", m.Topic, "err", err)
		return err
	}
	return nil
}

// Filter returns the subscription's topic filter.
func (s *Subscription) Filter() string { return s.filter }

// Unsubscribe removes the subscription; calling it again does nothing.
func (s *Subscription) Unsubscribe() {
	s.once.Do(func() { s.b.router.Unsubscribe(context.Background(), s, s.filter) })
}

// Subscribe subscribes the server itself to filter, at QoS 2: deliver is
// called with every matching message, at the QoS it was published with, in
// the publisher's goroutine. It bypasses Hooks.AuthorizeSubscribe. The
// returned Subscription (the filter and this deliver function together)
// removes it.
func (b *Broker) Subscribe(filter string, deliver func(ctx context.Context, m *Message) error) (*Subscription, error) {
	if b.closed.Load() {
		return nil, ErrClosed
	}
	if err := topic.ValidateFilter(filter); err != nil {
		return nil, err
	}
	s := &Subscription{b: b, filter: filter, deliver: deliver}
	if _, err := b.router.Subscribe(context.Background(), s, store.Subscription{Filter: filter, QoS: packet.ExactlyOnce}); err != nil {
		return nil, err
	}
	return s, nil
}

// Close disconnects every client (MQTT 5 clients with DISCONNECT "server
// shutting down"), stops the broker's goroutines and the store and bus it
// made itself, and returns when all is stopped.
func (b *Broker) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	close(b.stop)
	b.sessions.Close()
	// Wills waiting for their delay go now: their sessions end with the
	// broker.
	b.will.Close()
	err := b.server.Close()
	// What the connections' ends do (wills, sessions, events) is done
	// before Close returns and the store and bus close under it.
	b.stack.Wait()
	b.done.Wait()
	b.router.Stop()
	if b.ownBus {
		b.bus.Close()
	}
	if b.ownStore {
		b.st.Close()
	}
	b.events.closed()
	return err
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0F | 0x40
	u[8] = u[8]&0x3F | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// subsPayload is the JSON of $SYS/{id}/new/subscribers, as Aedes sends it.
type subsPayload struct {
	ClientID string `json:"clientId"`
	Subs     any    `json:"subs"`
}

type subJSON struct {
	Topic string `json:"topic"`
	QoS   int    `json:"qos"`
}

func sysJSON(clientID string, subs any) []byte {
	b, _ := json.Marshal(subsPayload{ClientID: clientID, Subs: subs})
	return b
}

// sysPrefix starts the topics of the broker's own messages.
const sysPrefix = "$SYS/"
