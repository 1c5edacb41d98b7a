package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// ErrSessionTakenOver is the cause of a connection closed because another
// connected with the same client identifier [MQTT-3.1.4-3].
var ErrSessionTakenOver error = orderlyEnd("stack: session taken over")

// Sessions is the callback that finds a connection's session.
type Sessions interface {
	// SessionOf returns the session of c, nil before c is accepted.
	SessionOf(c *mqtt.Conn) *Session
}

// SessionManager accepts a CONNECT: it checks the client identifier (or
// assigns one), takes the session over from an older connection with the
// same identifier, starts it clean or resumes it, answers with CONNACK, and
// sends the resumed session what it is owed. When the connection ends, a
// clean session ends with it; a persistent one stays, collecting messages,
// until the client comes back. It provides Sessions and needs
// Subscriptions.
type SessionManager struct {
	// Store keeps persistent sessions. Required.
	Store store.Store
	// Limits bound each session.
	Limits SessionLimits
	// MaxClientIDLength is the longest client identifier accepted from an
	// MQTT 3.1 client (the 3.1 spec says 23); 0 means 23.
	MaxClientIDLength int
	// Dropped, if set, is told of each message dropped for a session.
	Dropped func(s *Session, m *store.Message, err error)
	// Accepted, if set, is told of each connection accepted, once its
	// CONNACK and what its resumed session is owed are queued.
	Accepted func(c *mqtt.Conn, s *Session, connack *packet.Connack)
	// Ended, if set, is told of each accepted connection that ends.
	Ended func(c *mqtt.Conn, s *Session)
	// Expired, if set, is told of each session discarded because its
	// session expiry interval ran out while its client was away.
	Expired func(s *Session)
	// Caps are the capabilities CONNACK announces to MQTT 5 clients and
	// the limits a CONNECT is held to; nil means DefaultCapabilities.
	Caps *Capabilities

	subs  Subscriptions
	stack *Stack

	// mu guards sessions. Lock order: before any Session's mu.
	mu       sync.Mutex
	sessions map[string]*Session
	closing  bool
}

var sessionKey = NewKey[*Session]("session")

// Bind implements Binder.
func (m *SessionManager) Bind(s *Stack) (err error) {
	if m.Store == nil {
		return errors.New("SessionManager.Store is nil")
	}
	m.stack = s
	m.subs, err = Need[Subscriptions](s)
	return err
}

// SessionOf implements Sessions.
func (m *SessionManager) SessionOf(c *mqtt.Conn) *Session { return sessionKey.Get(c) }

// Session returns the session of a client identifier, or nil.
func (m *SessionManager) Session(id string) *Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[id]
}

// Count returns the number of sessions held, connected or not.
func (m *SessionManager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// Handle implements Middleware: it takes CONNECT and passes everything else
// on, once the connection is accepted. It notes the session expiry interval
// an MQTT 5 DISCONNECT sets.
func (m *SessionManager) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	cp, ok := p.(*packet.Connect)
	if !ok {
		s := sessionKey.Get(c)
		if s == nil {
			return &packet.Error{Code: packet.ProtocolError, Msg: "packet before the connection was accepted"}
		}
		if d, ok := p.(*packet.Disconnect); ok && d.Props.Has(packet.PropSessionExpiry) {
			if err := m.changeExpiry(ctx, s, d.Props.SessionExpiry); err != nil {
				return err
			}
		}
		return next.ServeMQTT(ctx, c, p)
	}
	return m.connect(ctx, c, cp)
}

// changeExpiry applies the session expiry interval of a DISCONNECT.
func (m *SessionManager) changeExpiry(ctx context.Context, s *Session, expiry uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.expiry.Load() == 0 && expiry != 0 {
		// MQTT 5 §3.14.2.2.2: a session that was to end with the
		// connection cannot be kept from its DISCONNECT.
		return &packet.Error{Code: packet.ProtocolError, Msg: "DISCONNECT sets a session expiry interval after CONNECT set 0"}
	}
	expiry = m.capExpiry(expiry)
	s.expiry.Store(expiry)
	st := s.store()
	switch {
	case st == nil:
		return nil
	case expiry == 0:
		// Ends with the connection now: nothing of it is to be kept.
		s.setStore(nil)
		return st.DeleteSession(ctx, s.ID)
	}
	return st.SaveSession(ctx, &store.Session{ClientID: s.ID, Subscriptions: s.Subscriptions(), Expiry: expiry})
}

func (m *SessionManager) capExpiry(expiry uint32) uint32 {
	if c := capsOr(m.Caps).MaxSessionExpiry; c != 0 && expiry > c {
		return c
	}
	return expiry
}

// clientIDError refuses a client identifier: CONNACK 0x85 (0x02 in 3.x).
func clientIDError(msg string) error {
	return &packet.Error{Code: packet.ClientIdentifierNotValid, Msg: msg}
}

func (m *SessionManager) connect(ctx context.Context, c *mqtt.Conn, p *packet.Connect) error {
	id := p.ClientID
	assigned := false
	switch {
	case p.Version == packet.V31 && (id == "" || len(id) > or(m.MaxClientIDLength, 23)):
		// MQTT 3.1: 1 to 23 characters.
		return clientIDError(fmt.Sprintf("client identifier of %d bytes", len(id)))
	case id == "" && p.Version == packet.V311 && !p.CleanStart:
		return clientIDError("empty client identifier without clean session [MQTT-3.1.3-8]")
	case id == "":
		id, assigned = newClientID(), true // [MQTT-3.1.3-6]
	}
	caps := capsOr(m.Caps)
	if w := p.Will; w != nil {
		if w.QoS > caps.MaximumQoS {
			return &packet.Error{Code: packet.QoSNotSupported, Msg: fmt.Sprintf("will of QoS %d", w.QoS)} // [MQTT-3.2.2-12]
		}
		if w.Retain && caps.RetainUnavailable {
			return &packet.Error{Code: packet.RetainNotSupported, Msg: "retained will"} // [MQTT-3.2.2-13]
		}
	}
	// The session outlives the connection by its expiry interval: in MQTT
	// 5 as the client asks (0, the default, ends it with the connection);
	// in 3.x for ever, or not at all, by clean session.
	var asked uint32
	if p.Version == packet.V5 {
		if p.Props != nil {
			asked = p.Props.SessionExpiry
		}
	} else if !p.CleanStart {
		asked = neverExpires
	}
	expiry := m.capExpiry(asked)
	persistent := expiry > 0

	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		return &packet.Error{Code: packet.ServerUnavailable, Msg: "server shutting down"}
	}
	if m.sessions == nil {
		m.sessions = make(map[string]*Session)
	}
	s := m.sessions[id]
	present := false
	var old *mqtt.Conn
	if s != nil {
		old = s.Conn()
		if old != nil && old.Context().Err() != nil && s.expiry.Load() == 0 {
			// Its connection has ended, and the session with it: the end
			// is still on its way (ended), and must not be resumed.
			m.discardLocked(ctx, s)
			s, old = nil, nil
		}
	}
	if s != nil {
		if p.CleanStart {
			m.discardLocked(ctx, s)
			s = nil
		} else {
			present = true
			s.stopExpiry()
			if st := s.store(); !persistent && st != nil {
				// Kept until now, to end with this connection.
				st.DeleteSession(ctx, id)
			}
		}
	}
	if s == nil {
		s = newSession(id, nil, m.Limits, m.Dropped)
		m.sessions[id] = s
	}
	s.expiry.Store(expiry)
	if persistent {
		s.setStore(m.Store)
		sess := &store.Session{ClientID: id, Subscriptions: s.Subscriptions(), Expiry: expiry}
		if err := m.Store.SaveSession(ctx, sess); err != nil {
			m.mu.Unlock()
			return &packet.Error{Code: packet.ServerUnavailable, Msg: "store: " + err.Error()}
		}
	} else {
		s.setStore(nil)
	}
	ack := &packet.Connack{SessionPresent: present}
	out := sendParams{window: m.Limits.inflight()}
	if p.Version == packet.V5 {
		ack.Props = m.connackProps(p, id, assigned, asked, expiry)
		out.v5 = true
		if p.Props != nil && p.Props.Has(packet.PropReceiveMaximum) {
			// [MQTT-3.3.4-9]: never more unacknowledged than the client
			// takes. (0 is a protocol error the codec refuses, MQTT 5 §3.1.2.11.3.)
			out.window = min(out.window, int(p.Props.ReceiveMaximum))
		}
		if caps.TopicAliasesToClients && p.Props != nil && p.Props.TopicAliasMaximum > 0 {
			// The client's maximum, up to the broker's own per
			// connection: the map is the broker's memory.
			out.aliasMax = min(p.Props.TopicAliasMaximum, maxAliasesToClient)
			out.aliases = make(map[string]uint16)
		}
	}
	AuthConnack(c, ack)
	sessionKey.Set(c, s)
	err := c.Connack(ack)
	if err == nil {
		// Attached under m.mu, so that the end of the old connection
		// cannot discard the session between CONNACK and attach.
		s.attach(ctx, c, out)
	}
	m.mu.Unlock()
	if old != nil {
		// [MQTT-3.1.4-3]: the older connection goes, told why in MQTT 5.
		// It is closed off this goroutine: its flush may take as long as
		// its close timeout, and the new client should not wait for it.
		goEnd(m.stack, func() {
			if old.Version() == packet.V5 {
				d := &packet.Disconnect{ReasonCode: packet.SessionTakenOver}
				if old.ProblemInfo() {
					d.Props = &packet.Properties{ReasonString: "another connection took the session over"}
				}
				old.Disconnect(d)
			}
			old.CloseWithCause(ErrSessionTakenOver)
		})
	}
	if err != nil {
		return err
	}
	// Accepted is told before the end is watched, so that Ended always
	// comes after it, even for a connection already gone.
	if m.Accepted != nil {
		m.Accepted(c, s, ack)
	}
	afterEnd(m.stack, c, func() { m.ended(c, s) })
	return nil
}

// neverExpires is the session expiry interval of a session kept for ever.
const neverExpires = 0xFFFFFFFF

// connackProps returns the properties of an MQTT 5 CONNACK: the broker's
// capabilities, and what it decided for this client.
func (m *SessionManager) connackProps(p *packet.Connect, id string, assigned bool, asked, expiry uint32) *packet.Properties {
	caps := capsOr(m.Caps)
	props := &packet.Properties{}
	caps.connackProps(props)
	if assigned {
		props.AssignedClientID = id // [MQTT-3.2.2-16]
	}
	if expiry != asked {
		props.SessionExpiry = expiry // the server's choice wins (MQTT 5 §3.2.2.3.2)
		props.Include(packet.PropSessionExpiry)
	}
	if p.Props != nil && p.Props.RequestResponseInfo == 1 && caps.ResponseInformation != nil {
		props.ResponseInfo = caps.ResponseInformation(id)
	}
	return props
}

// ended runs when an accepted connection ends. A session that expires at
// once ends with its connection, unless another has taken it over
// meanwhile; one that expires later is discarded then, unless its client is
// back by that time.
func (m *SessionManager) ended(c *mqtt.Conn, s *Session) {
	if m.Ended != nil {
		m.Ended(c, s)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !s.detach(c) || m.sessions[s.ID] != s {
		return
	}
	switch e := s.expiry.Load(); {
	case e == 0:
		m.discardLocked(context.Background(), s)
	case e != neverExpires:
		s.expireAfter(time.Duration(e)*time.Second, func() { m.expire(s) })
	}
}

// expire discards a session whose expiry interval ran out, if its client
// is still away.
func (m *SessionManager) expire(s *Session) {
	m.mu.Lock()
	if m.sessions[s.ID] != s || s.Conn() != nil || m.closing {
		m.mu.Unlock()
		return
	}
	m.discardLocked(context.Background(), s)
	m.mu.Unlock()
	if m.Expired != nil {
		m.Expired(s)
	}
}

// discardLocked ends a session: its subscriptions go, and so does its
// stored copy. m.mu is held.
func (m *SessionManager) discardLocked(ctx context.Context, s *Session) {
	delete(m.sessions, s.ID)
	s.stopExpiry()
	// Ended first: a SUBSCRIBE its connection is still handling either
	// made its subscription before, and it goes now, or finds the session
	// ended and takes it back (Router.Subscribe).
	s.end()
	m.subs.UnsubscribeAll(ctx, s)
	if st := s.store(); st != nil {
		st.DeleteSession(ctx, s.ID)
	}
}

// Close refuses new connections from now on; the caller closes the
// connections themselves.
func (m *SessionManager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closing = true
	for _, s := range m.sessions {
		s.stopExpiry()
	}
}

// newClientID makes an identifier for a client that sent none: "midge-"
// and 16 random hex digits, within the 23 characters every server must
// accept [MQTT-3.1.3-5].
func newClientID() string {
	var b [8]byte
	rand.Read(b[:])
	return "midge-" + hex.EncodeToString(b[:])
}
