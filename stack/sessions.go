package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

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
// on, once the connection is accepted.
func (m *SessionManager) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	cp, ok := p.(*packet.Connect)
	if !ok {
		if sessionKey.Get(c) == nil {
			return &packet.Error{Code: packet.ProtocolError, Msg: "packet before the connection was accepted"}
		}
		return next.ServeMQTT(ctx, c, p)
	}
	return m.connect(ctx, c, cp)
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
	persistent := !p.CleanStart
	if p.Version == packet.V5 {
		// MQTT 5: the session outlives the connection by its expiry
		// interval; 0 (the default) ends it with the connection.
		persistent = p.Props != nil && p.Props.SessionExpiry > 0
	}

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
		// A session resumes only as what it was: a clean start, or a
		// change between kept and not kept, starts a new one.
		if p.CleanStart || s.Persistent() != persistent {
			m.discardLocked(ctx, s)
			s = nil
		} else {
			present = true
		}
	}
	if s == nil {
		var st store.Store
		if persistent {
			st = m.Store
		}
		s = newSession(id, st, m.Limits, m.Dropped)
		m.sessions[id] = s
	}
	if s.st != nil {
		sess := &store.Session{ClientID: id, Subscriptions: s.Subscriptions(), Expiry: 0xFFFFFFFF}
		if p.Version == packet.V5 {
			sess.Expiry = p.Props.SessionExpiry
		}
		if err := s.st.SaveSession(ctx, sess); err != nil {
			m.mu.Unlock()
			return &packet.Error{Code: packet.ServerUnavailable, Msg: "store: " + err.Error()}
		}
	}
	ack := &packet.Connack{SessionPresent: present}
	if assigned && p.Version == packet.V5 {
		ack.Props = &packet.Properties{AssignedClientID: id}
	}
	AuthConnack(c, ack)
	sessionKey.Set(c, s)
	err := c.Connack(ack)
	if err == nil {
		// Attached under m.mu, so that the end of the old connection
		// cannot discard the session between CONNACK and attach.
		s.attach(ctx, c)
	}
	m.mu.Unlock()
	if old != nil {
		// [MQTT-3.1.4-3]: the older connection goes, told why in MQTT 5.
		// It is closed off this goroutine: its flush may take as long as
		// its close timeout, and the new client should not wait for it.
		goEnd(m.stack, func() {
			if old.Version() == packet.V5 {
				old.Disconnect(&packet.Disconnect{ReasonCode: packet.SessionTakenOver})
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

// ended runs when an accepted connection ends. A clean session ends with
// its connection, unless another has taken it over meanwhile.
func (m *SessionManager) ended(c *mqtt.Conn, s *Session) {
	if m.Ended != nil {
		m.Ended(c, s)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !s.detach(c) || s.Persistent() {
		return
	}
	if m.sessions[s.ID] == s {
		m.discardLocked(context.Background(), s)
	}
}

// discardLocked ends a session: its subscriptions go, and so does its
// stored copy. m.mu is held.
func (m *SessionManager) discardLocked(ctx context.Context, s *Session) {
	delete(m.sessions, s.ID)
	// Ended first: a SUBSCRIBE its connection is still handling either
	// made its subscription before, and it goes now, or finds the session
	// ended and takes it back (Router.Subscribe).
	s.end()
	m.subs.UnsubscribeAll(ctx, s)
	if s.st != nil {
		s.st.DeleteSession(ctx, s.ID)
	}
}

// Close refuses new connections from now on; the caller closes the
// connections themselves.
func (m *SessionManager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closing = true
}

// newClientID makes an identifier for a client that sent none: "midge-"
// and 16 random hex digits, within the 23 characters every server must
// accept [MQTT-3.1.3-5].
func newClientID() string {
	var b [8]byte
	rand.Read(b[:])
	return "midge-" + hex.EncodeToString(b[:])
}
