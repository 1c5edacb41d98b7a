package store

import (
	"context"
	"errors"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// ErrNotFound is returned when a session or message asked for is not there.
var ErrNotFound = errors.New("store: not found")

// ErrClosed is returned by a store used after Close.
var ErrClosed = errors.New("store: closed")

// Message is an application message as the broker keeps it: a PUBLISH's
// content and the facts the broker needs to route it later.
type Message struct {
	Topic   string
	Payload []byte
	QoS     packet.QoS
	Retain  bool
	// Props are the MQTT 5 properties that travel with the message (payload
	// format, content type, response topic, correlation data, user
	// properties, message expiry); nil when there are none.
	Props *packet.Properties
	// From is the client identifier of the publisher; empty for messages
	// the broker publishes itself.
	From string
	// Created is when the broker received the message, for a message with
	// an MQTT 5 expiry interval: it says when the message expires. The
	// broker leaves it zero on a client's message without one (nothing
	// needs it, and reading the clock for every message costs); its own
	// messages and wills have it.
	Created time.Time
	// Routing is the broker's own note on a retained message it relays:
	// whether its router has matched it against the subscriptions yet, so
	// that a new subscription gets it either live or as retained, not both
	// (see Store). Only the broker reads or sets it; it lives in this
	// process alone and is never persisted.
	Routing any
}

// Expired reports whether the message's MQTT 5 expiry interval has run out
// at now.
func (m *Message) Expired(now time.Time) bool {
	if m.Props == nil || m.Props.MessageExpiry == 0 && !m.Props.Included(packet.PropMessageExpiry) {
		return false
	}
	return now.Sub(m.Created) >= time.Duration(m.Props.MessageExpiry)*time.Second
}

// ExpiryLeft returns the seconds left of the message's MQTT 5 expiry
// interval at now, and false when it has none.
func (m *Message) ExpiryLeft(now time.Time) (uint32, bool) {
	p := m.Props
	if p == nil || p.MessageExpiry == 0 && !p.Included(packet.PropMessageExpiry) {
		return 0, false
	}
	waited := now.Sub(m.Created) / time.Second
	if waited <= 0 {
		return p.MessageExpiry, true
	}
	if uint64(waited) >= uint64(p.MessageExpiry) {
		return 0, true
	}
	return p.MessageExpiry - uint32(waited), true
}

// Subscription is one subscription of a session.
type Subscription struct {
	Filter            string // as the client sent it, $share prefix included
	QoS               packet.QoS
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	ID                int // MQTT 5 subscription identifier; 0 for none
}

// Session is the persistent part of a client's session.
type Session struct {
	ClientID string
	// Expiry is the session expiry interval in seconds after the network
	// connection closes; 0xFFFFFFFF never expires. A 3.1.1 session with
	// clean session 0 never expires.
	Expiry uint32
	// Disconnected is when the session's last connection closed; zero
	// while it is connected.
	Disconnected  time.Time
	Subscriptions []Subscription
	// Will is the will message of the session's connection, with the delay
	// it is due after, if any.
	Will      *Message
	WillDelay uint32
}

// OutState is where a message owed to a session stands in its flow.
type OutState byte

// The states of an outgoing message.
const (
	Queued   OutState = iota // not sent yet
	Sent                     // PUBLISH sent with PacketID, no PUBACK/PUBREC yet
	Released                 // QoS 2: PUBREC received, PUBREL sent with PacketID
)

// Outgoing is a message owed to a session: queued, or in flight.
type Outgoing struct {
	// Seq orders the session's outgoing messages: the broker numbers them,
	// increasing within a session, and the store keeps them in Seq order.
	Seq      uint64
	Message  *Message
	QoS      packet.QoS // the QoS it is delivered at
	PacketID uint16     // set once sent
	State    OutState
}

// Store keeps what a broker must not lose: sessions with their
// subscriptions and the messages owed to them, retained messages, and the
// QoS 2 packet identifiers a client has sent but not yet released.
//
// Every method is safe for concurrent use. A method that returns nil has
// made its change durable, as far as the store is durable at all: the broker
// acknowledges a QoS 1 or 2 PUBLISH only after the Enqueue and StoreRetained
// calls it owes for it have returned. A durable store commits the writes
// of many concurrent calls together.
type Store interface {
	// StoreRetained keeps m as the retained message of its topic,
	// replacing the one before; an empty payload deletes it
	// [MQTT-3.3.1-10] [MQTT-3.3.1-11].
	StoreRetained(ctx context.Context, m *Message) error
	// MatchRetained calls fn for each retained message whose topic matches
	// filter, until fn returns false.
	//
	// A store that hands back the *Message StoreRetained was given (as the
	// memory store does), or a copy of it made in this process, keeps its
	// Routing note, and a new subscription then gets each retained
	// message exactly once: live or retained. A store that hands back
	// messages without it (one that persists them, or shares them between
	// broker instances) is still correct, but a retained message published
	// while a client subscribes may then reach it twice. It is never lost.
	MatchRetained(ctx context.Context, filter string, fn func(*Message) bool) error

	// SaveSession creates or replaces a session: its expiry, disconnect
	// time, will and subscriptions. The messages it is owed are kept.
	SaveSession(ctx context.Context, s *Session) error
	// LoadSession returns a session, or ErrNotFound.
	LoadSession(ctx context.Context, clientID string) (*Session, error)
	// DeleteSession removes a session and everything it owns: its
	// subscriptions, its outgoing messages and its incoming QoS 2 state.
	DeleteSession(ctx context.Context, clientID string) error
	// RangeSessions calls fn for every session until fn returns false.
	RangeSessions(ctx context.Context, fn func(*Session) bool) error
	// AddSubscriptions adds subscriptions to a session, replacing those
	// with the same filter; RemoveSubscriptions removes them by filter.
	// Both return ErrNotFound when there is no such session.
	AddSubscriptions(ctx context.Context, clientID string, subs []Subscription) error
	RemoveSubscriptions(ctx context.Context, clientID string, filters []string) error

	// Enqueue adds m to the outgoing messages of every session in to, with
	// the QoS and sequence number given for each (a fan-out is one call, and
	// one commit). Sessions that do not exist are skipped.
	Enqueue(ctx context.Context, m *Message, to []Delivery) error
	// Outgoing calls fn for the messages owed to a session, in Seq order,
	// until fn returns false.
	Outgoing(ctx context.Context, clientID string, fn func(*Outgoing) bool) error
	// UpdateOutgoing records a new state and packet identifier for the
	// outgoing message of a session with sequence number o.Seq.
	UpdateOutgoing(ctx context.Context, clientID string, o *Outgoing) error
	// RemoveOutgoing drops a session's outgoing message by sequence
	// number: it was acknowledged, expired or dropped.
	RemoveOutgoing(ctx context.Context, clientID string, seq uint64) error

	// AddIncoming records that a session received QoS 2 packet id and has
	// not yet seen its PUBREL; HasIncoming tells whether it has;
	// RemoveIncoming forgets it on PUBREL.
	AddIncoming(ctx context.Context, clientID string, id uint16) error
	HasIncoming(ctx context.Context, clientID string, id uint16) (bool, error)
	RemoveIncoming(ctx context.Context, clientID string, id uint16) error

	// Close releases the store's resources.
	Close() error
}

// Delivery names a session a message is owed to, the QoS it is owed at and
// its place in the session's order.
type Delivery struct {
	ClientID string
	QoS      packet.QoS
	Seq      uint64
}
