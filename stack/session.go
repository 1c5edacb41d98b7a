package stack

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// ErrQueueLimit is returned when a QoS 1 or 2 message cannot be kept for a
// session because its queue is full: the message is dropped for that
// session, counted, and reported to the Dropped callback.
var ErrQueueLimit = errors.New("stack: session queue limit reached")

// SessionLimits bound what a session holds for its client.
type SessionLimits struct {
	// Inflight is the most QoS 1 and 2 messages sent to the client and not
	// yet acknowledged. 0 means 32.
	Inflight int
	// Queue is the most QoS 1 and 2 messages waiting to be sent: while the
	// client is offline, or while Inflight is reached. 0 means 1000.
	Queue int
}

func (l SessionLimits) inflight() int { return or(l.Inflight, 32) }
func (l SessionLimits) queue() int    { return or(l.Queue, 1000) }

func or(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Session is the state the broker keeps for one client identifier: its
// subscriptions, the QoS 1 and 2 messages it is owed (queued, or sent and not
// yet acknowledged), and the QoS 2 packet identifiers it sent and has not
// released. A session outlives its connections unless it is clean.
//
// The outbound flow follows MQTT's ordering rules [MQTT-4.6.0-2]: messages
// go out in the order they were delivered to the session, a bounded number
// in flight at once; on reconnection the unacknowledged ones are sent again
// first, PUBLISH with DUP set and PUBREL as they were [MQTT-4.4.0-1].
//
// A Session is safe for concurrent use.
type Session struct {
	// ID is the client identifier.
	ID string

	limits SessionLimits
	st     store.Store // nil when the session is not persisted
	drop   func(s *Session, m *store.Message, err error)

	// attached counts the connections the session has had.
	attached atomic.Uint64

	// expiry is the session expiry interval in seconds: 0 ends the session
	// with its connection, neverExpires keeps it for ever.
	expiry atomic.Uint32

	// inTree counts the session's subscriptions in the router's tree. The
	// router raises it before adding to the tree and lowers it after
	// removing, so while a match holds the tree's read lock it is never
	// below the true count: a session it shows with one subscription cannot
	// be matched twice, and skips the search for duplicates.
	inTree atomic.Int32

	// mu guards the fields below. Lock order: a Session's mu comes after
	// the session registry's and before a Conn's.
	mu       sync.Mutex
	conn     *mqtt.Conn // nil while offline
	out      sendParams // how to send on conn
	subs     map[string]store.Subscription
	nextSeq  uint64
	nextID   uint16
	inflight []*outgoing // sent and unacknowledged, in send order
	queue    []*outgoing // waiting to be sent, in order
	incoming map[uint16]struct{}
	stalled  bool // the connection's output is full: a goroutine waits for it to drain
	dropped  uint64
	ended    bool          // the session was discarded: deliver nothing more
	done     chan struct{} // closed when ended; nil until Done is called
	// While a SUBSCRIBE is handled, live deliveries wait behind its
	// retained messages (see holdLive): holds counts the holders, held is
	// how many messages at the end of queue wait, held0 the QoS 0 ones;
	// holdOver says the hold gave up.
	holds    int
	held     int
	held0    []heldMsg
	holdOver bool
	// subAt says when each subscription added during the hold was added
	// (see subStamp); nil when none is.
	subAt map[string]subStamp
	// expires runs out while the client is away. Guarded by the
	// SessionManager's mu.
	expires *time.Timer
	// pub is reused for every PUBLISH sent: the connection encodes it
	// before Publish returns, so one per session saves an allocation per
	// delivery.
	pub packet.Publish
}

// propsPool holds the scratch properties of an MQTT 5 PUBLISH whose
// properties differ from its message's (v5PropsLocked): a pool rather than
// a field, which would cost every idle session its 272 bytes.
var propsPool = sync.Pool{New: func() any { return new(packet.Properties) }}

// sendParams is what a session needs to know of its connection to send on
// it.
type sendParams struct {
	v5 bool
	// window is the most QoS 1 and 2 PUBLISH packets unacknowledged at
	// once: the session's limit, or the client's Receive Maximum if lower
	// [MQTT-3.3.4-9].
	window int
	// aliases maps topics to the topic aliases given to the client, up to
	// aliasMax of them; nil when the broker sends none.
	aliases  map[string]uint16
	aliasMax uint16
}

// outgoing is a QoS 1 or 2 message owed to the session.
type outgoing struct {
	seq   uint64
	msg   *store.Message
	d     Delivery // its SubIDs are the session's own copy
	id    uint16
	state store.OutState
}

// newSession returns an empty session. st is nil for a session that is not
// persisted.
func newSession(id string, st store.Store, limits SessionLimits, drop func(*Session, *store.Message, error)) *Session {
	return &Session{ID: id, st: st, limits: limits, drop: drop, subs: make(map[string]store.Subscription), nextSeq: 1}
}

// Persistent reports whether the session is written to the store: whether
// it outlives its connection.
func (s *Session) Persistent() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st != nil
}

// setStore makes the session persisted in st, or not at all (nil).
func (s *Session) setStore(st store.Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = st
}

// store returns the store the session is persisted in, or nil.
func (s *Session) store() store.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Conn returns the session's connection, or nil while it is offline.
func (s *Session) Conn() *mqtt.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// Subscriptions returns a copy of the session's subscriptions.
func (s *Session) Subscriptions() []store.Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.Subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		out = append(out, sub)
	}
	return out
}

// Pending returns how many QoS 1 and 2 messages the session holds: in
// flight, and queued.
func (s *Session) Pending() (inflight, queued int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.inflight), len(s.queue)
}

// Dropped returns how many messages were dropped for this session: QoS 0
// ones its connection had no room for, QoS 1 and 2 ones past its queue limit.
func (s *Session) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Deliver implements Subscriber: it gives the session a message as d says.
// QoS 0 goes straight to the connection when there is one, and is dropped
// otherwise or when the connection's output is full. QoS 1 and 2 are kept
// (and stored, for a persistent session) and sent as the in-flight window
// allows; past the queue limit they are dropped with ErrQueueLimit. While
// the client's SUBSCRIBE is handled, they wait behind its retained messages
// (see RetainManager).
func (s *Session) Deliver(ctx context.Context, m *store.Message, d Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliverLocked(ctx, m, d, false)
}

// deliverLocked is Deliver. A retained message sent for a new subscription
// goes before the live messages held meanwhile (see holdLive). s.mu is
// held.
func (s *Session) deliverLocked(ctx context.Context, m *store.Message, d Delivery, retained bool) error {
	if s.ended {
		return nil
	}
	hold := s.holdingLocked() && !retained
	if hold {
		s.holdFullLocked(ctx)
		hold = s.holdingLocked()
	}
	qos := d.QoS
	if qos == 0 {
		if s.conn == nil {
			return nil
		}
		if hold {
			s.hold0Locked(m, d)
			return nil
		}
		if err := s.sendLocked(m, d, 0, false); err != nil {
			s.dropped++
			if (errors.Is(err, mqtt.ErrQueueFull) || errors.Is(err, mqtt.ErrPacketTooLarge)) && s.drop != nil {
				s.drop(s, m, err)
			}
		}
		return nil
	}
	if len(s.queue) >= s.limits.queue() {
		s.dropped++
		if s.drop != nil {
			s.drop(s, m, ErrQueueLimit)
		}
		return ErrQueueLimit
	}
	if d.SubIDs != nil {
		d.SubIDs = append([]int(nil), d.SubIDs...)
	}
	o := &outgoing{seq: s.nextSeq, msg: m, d: d}
	if s.st != nil {
		if err := s.st.Enqueue(ctx, m, []store.Delivery{{ClientID: s.ID, QoS: qos, Seq: o.seq}}); err != nil {
			return err
		}
	}
	s.nextSeq++
	switch {
	case hold:
		s.queue = append(s.queue, o)
		s.held++
	case retained && s.held > 0:
		s.queue = slices.Insert(s.queue, len(s.queue)-s.held, o)
	default:
		s.queue = append(s.queue, o)
	}
	s.pumpLocked(ctx)
	return nil
}

// pumpLocked sends queued messages while the window has room and the
// connection takes them, up to those held (see holdLive). s.mu is held.
func (s *Session) pumpLocked(ctx context.Context) {
	for s.conn != nil && !s.stalled && len(s.queue) > s.held && len(s.inflight) < s.out.window {
		o := s.queue[0]
		if o.msg.Expired(time.Now()) {
			s.queue = s.queue[1:]
			s.forget(ctx, o)
			continue
		}
		id, ok := s.freeIDLocked()
		if !ok {
			return
		}
		err := s.sendLocked(o.msg, o.d, id, false)
		if errors.Is(err, mqtt.ErrQueueFull) {
			s.stallLocked()
			return
		}
		if errors.Is(err, mqtt.ErrPacketTooLarge) {
			// Too large for the client: discarded, as if its flow had
			// completed [MQTT-3.1.2-25].
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.forget(ctx, o)
			s.dropped++
			if s.drop != nil {
				s.drop(s, o.msg, err)
			}
			continue
		}
		if err != nil {
			return // the connection is ending: the message stays queued
		}
		s.queue[0] = nil
		s.queue = s.queue[1:]
		o.id, o.state = id, store.Sent
		s.inflight = append(s.inflight, o)
		if s.st != nil {
			s.st.UpdateOutgoing(ctx, s.ID, &store.Outgoing{Seq: o.seq, State: o.state, PacketID: o.id})
		}
	}
}

// sendLocked sends m as a PUBLISH on the session's connection. s.mu is held.
func (s *Session) sendLocked(m *store.Message, d Delivery, id uint16, dup bool) error {
	s.pub = packet.Publish{Topic: m.Topic, Payload: m.Payload, QoS: d.QoS, Retain: d.Retain, ID: id, Dup: dup, Props: m.Props}
	var own *packet.Properties
	if s.out.v5 {
		own = s.v5PropsLocked(m, d)
	}
	err := s.conn.Publish(&s.pub)
	if own != nil {
		if err == nil && own.TopicAlias != 0 && s.pub.Topic != "" {
			s.out.aliases[m.Topic] = own.TopicAlias // the client knows it now
		}
		*own = packet.Properties{} // keep no message alive through the pool
		propsPool.Put(own)
	}
	s.pub = packet.Publish{}
	return err
}

// v5PropsLocked sets what an MQTT 5 PUBLISH carries for this client alone:
// the subscription identifiers that matched [MQTT-3.3.4-3], the message
// expiry interval left [MQTT-3.3.2-6] and a topic alias. The message's own
// properties are shared with other subscribers: when one of these applies,
// a scratch copy from propsPool carries them, which it returns (the caller
// puts it back); nil when the message's own properties do. s.mu is held.
func (s *Session) v5PropsLocked(m *store.Message, d Delivery) *packet.Properties {
	left, expires := m.ExpiryLeft(timeNow())
	alias, known := s.aliasLocked(m.Topic)
	if len(d.SubIDs) == 0 && !expires && alias == 0 {
		return nil
	}
	own := propsPool.Get().(*packet.Properties)
	if m.Props != nil {
		*own = *m.Props
	}
	own.SubscriptionIDs = d.SubIDs
	if expires {
		own.MessageExpiry = left
		own.Include(packet.PropMessageExpiry)
	}
	own.TopicAlias = alias
	if known {
		s.pub.Topic = "" // the alias stands for it (MQTT 5 §3.3.2.3.4)
	}
	s.pub.Props = own
	return own
}

// aliasLocked returns the topic alias to send topic with, and whether the
// client already knows it; 0 when none is used. A topic gets a new alias
// while the client's Topic Alias Maximum allows; later ones go without
// [MQTT-3.3.2-11] [MQTT-3.1.2-27]. s.mu is held.
func (s *Session) aliasLocked(topic string) (alias uint16, known bool) {
	if s.out.aliases == nil {
		return 0, false
	}
	if a, ok := s.out.aliases[topic]; ok {
		return a, true
	}
	if len(s.out.aliases) >= int(s.out.aliasMax) {
		return 0, false
	}
	return uint16(len(s.out.aliases) + 1), false
}

// stallLocked waits, on one goroutine, for the connection's output to
// drain, then sends what is queued. The goroutine ends with the flush or
// with the connection.
func (s *Session) stallLocked() {
	s.stalled = true
	c := s.conn
	go func() {
		err := c.Flush(c.Context())
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stalled = false
		if err == nil && s.conn == c {
			s.pumpLocked(context.Background())
		}
	}()
}

// freeIDLocked returns a packet identifier no in-flight message uses.
func (s *Session) freeIDLocked() (uint16, bool) {
	for range 65535 {
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		if s.findLocked(s.nextID) < 0 {
			return s.nextID, true
		}
	}
	return 0, false
}

func (s *Session) findLocked(id uint16) int {
	for i, o := range s.inflight {
		if o.id == id {
			return i
		}
	}
	return -1
}

// forget drops an outgoing message from the store.
func (s *Session) forget(ctx context.Context, o *outgoing) {
	if s.st != nil {
		s.st.RemoveOutgoing(ctx, s.ID, o.seq)
	}
}

// Acked handles the client's acknowledgement of an outgoing message: PUBACK
// (QoS 1) or PUBCOMP (QoS 2) ends it; PUBREC moves a QoS 2 message on, and the
// caller sends PUBREL, unless its reason code is a failure, which ends the
// flow there [MQTT-4.3.3-4]. It returns the acknowledged message, or nil when
// no message in flight has that identifier in the right state.
func (s *Session) Acked(ctx context.Context, t packet.Type, id uint16, rc packet.ReasonCode) *store.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findLocked(id)
	if i < 0 {
		return nil
	}
	o := s.inflight[i]
	switch {
	case t == packet.TypePuback && o.d.QoS == 1 && o.state == store.Sent,
		t == packet.TypePubcomp && o.d.QoS == 2 && o.state == store.Released,
		t == packet.TypePubrec && o.d.QoS == 2 && o.state == store.Sent && rc.IsError():
		s.inflight = append(s.inflight[:i], s.inflight[i+1:]...)
		s.forget(ctx, o)
		s.pumpLocked(ctx)
	case t == packet.TypePubrec && o.d.QoS == 2 && o.state == store.Sent:
		o.state = store.Released
		if s.st != nil {
			s.st.UpdateOutgoing(ctx, s.ID, &store.Outgoing{Seq: o.seq, State: o.state, PacketID: o.id})
		}
	case t == packet.TypePubrec && o.d.QoS == 2 && o.state == store.Released:
		// A PUBREC again: the client lost our PUBREL; the caller resends it.
	default:
		return nil
	}
	return o.msg
}

// attach makes c the session's connection and sends again what was in
// flight, then what was queued. It returns the connection it replaces.
func (s *Session) attach(ctx context.Context, c *mqtt.Conn, out sendParams) *mqtt.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.conn
	s.conn = c
	s.attached.Add(1)
	s.out = out
	if s.out.window <= 0 {
		s.out.window = s.limits.inflight()
	}
	s.stalled = false
	s.requeueLocked()
	for i := 0; i < len(s.inflight); i++ {
		o := s.inflight[i]
		var err error
		if o.state == store.Released {
			err = c.Pubrel(&packet.Pubrel{ID: o.id})
		} else {
			err = s.sendLocked(o.msg, o.d, o.id, true)
		}
		if errors.Is(err, mqtt.ErrPacketTooLarge) {
			// Too large for the client as it came back (a lower maximum
			// packet size): discarded as in pumpLocked, and told.
			s.inflight = append(s.inflight[:i], s.inflight[i+1:]...)
			i--
			s.forget(ctx, o)
			s.dropped++
			if s.drop != nil {
				s.drop(s, o.msg, err)
			}
			continue
		}
		if err != nil {
			break
		}
	}
	s.pumpLocked(ctx)
	return old
}

// requeueLocked puts back at the head of the queue the messages in flight
// that the connection's window has no room for (a client back with a lower
// Receive Maximum): sent again later, with new packet identifiers. A QoS 2
// message already released stays: its flow must end as it began. s.mu is
// held.
func (s *Session) requeueLocked() {
	if len(s.inflight) <= s.out.window {
		return
	}
	var keep, back []*outgoing
	for _, o := range s.inflight {
		if o.state == store.Released || len(keep) < s.out.window {
			keep = append(keep, o)
			continue
		}
		o.id, o.state = 0, store.Queued
		back = append(back, o)
		if s.st != nil {
			s.st.UpdateOutgoing(context.Background(), s.ID, &store.Outgoing{Seq: o.seq, State: o.state})
		}
	}
	s.inflight = keep
	s.queue = append(back, s.queue...)
}

// expireAfter runs f after d unless stopExpiry comes first. The
// SessionManager's mu is held.
func (s *Session) expireAfter(d time.Duration, f func()) {
	s.stopExpiry()
	s.expires = time.AfterFunc(d, f)
}

// stopExpiry stops the expiry timer, if one runs. The SessionManager's mu is
// held.
func (s *Session) stopExpiry() {
	if s.expires != nil {
		s.expires.Stop()
		s.expires = nil
	}
}

// Expiry returns the session expiry interval in seconds: 0 when the
// session ends with its connection, 0xFFFFFFFF when it never expires.
func (s *Session) Expiry() uint32 { return s.expiry.Load() }

// detach takes c off the session if it is still the session's connection,
// and reports whether it was.
func (s *Session) detach(c *mqtt.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c {
		return false
	}
	s.conn = nil
	return true
}

// end marks the session discarded: later deliveries are ignored. What it
// got through share groups and may go to another member goes back to them.
func (s *Session) end() {
	s.mu.Lock()
	s.ended = true
	s.conn = nil
	back := s.sharedLocked()
	s.queue, s.inflight = nil, nil
	s.held, s.held0 = 0, nil
	if s.done != nil {
		close(s.done)
	}
	s.mu.Unlock()
	handBack(context.Background(), back)
}

// Done returns a channel closed when the session ends (discarded: clean,
// expired or replaced by a clean start).
func (s *Session) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		// Made on demand: most sessions are never waited for.
		s.done = make(chan struct{})
		if s.ended {
			close(s.done)
		}
	}
	return s.done
}

// Received records an incoming QoS 2 packet identifier and reports whether
// it is new: false means the PUBLISH is a duplicate, already delivered, to be
// answered with PUBREC and not delivered again [MQTT-4.3.3-9].
func (s *Session) Received(ctx context.Context, id uint16) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.incoming[id]; ok {
		return false, nil
	}
	if s.st != nil {
		if err := s.st.AddIncoming(ctx, s.ID, id); err != nil {
			return false, err
		}
	}
	if s.incoming == nil {
		s.incoming = make(map[uint16]struct{})
	}
	s.incoming[id] = struct{}{}
	return true, nil
}

// inboundFull reports whether a PUBLISH of qos with packet identifier id
// would take the client past max unacknowledged QoS 1 and 2 PUBLISH
// packets: QoS 1 ones are answered before the next packet is read, so what
// counts besides this one are the QoS 2 ones waiting for PUBREL. A QoS 2
// PUBLISH sent again is not a new one.
func (s *Session) inboundFull(id uint16, qos packet.QoS, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, again := s.incoming[id]; again && qos == 2 {
		return false
	}
	return len(s.incoming) >= max
}

// Released forgets an incoming QoS 2 packet identifier on PUBREL.
func (s *Session) Released(ctx context.Context, id uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.incoming[id]; !ok {
		return
	}
	delete(s.incoming, id)
	if s.st != nil {
		s.st.RemoveIncoming(ctx, s.ID, id)
	}
}

// subscription bookkeeping, used by the router. addSub reports false,
// and records nothing, for a session already discarded. at says when the
// router added it: kept while a SUBSCRIBE is handled (see holdLive).
func (s *Session) addSub(sub store.Subscription, at subStamp) (ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.subs[sub.Filter] = sub
	if s.holds > 0 {
		if s.subAt == nil {
			s.subAt = make(map[string]subStamp)
		}
		s.subAt[sub.Filter] = at
	}
	return true
}

func (s *Session) removeSub(filter string) (existed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, existed = s.subs[filter]
	delete(s.subs, filter)
	delete(s.subAt, filter)
	return existed
}

// subscriptionCount returns how many subscriptions the session has.
func (s *Session) subscriptionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// subscription returns the session's subscription with filter.
func (s *Session) subscription(filter string) (store.Subscription, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subs[filter]
	return sub, ok
}
