package stack

import (
	"context"
	"fmt"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

var timeNow = time.Now

// InboundManager handles what a client publishes: PUBLISH goes to the
// Relayer and is acknowledged by QoS (PUBACK for 1 [MQTT-4.3.2-2]; PUBREC for
// 2, delivered once however often the client sends it again
// [MQTT-4.3.3-9]), and PUBREL is answered with PUBCOMP [MQTT-4.3.3-11]. It
// provides Publisher and needs Sessions, Relayer and PublishAuthorizer.
type InboundManager struct {
	// Published, if set, is called after each message is relayed, before
	// it is acknowledged: a slow Published slows its publisher, and only
	// its publisher.
	Published func(ctx context.Context, c *mqtt.Conn, m *store.Message) error
	// Caps are the limits a PUBLISH is held to (maximum QoS, retain
	// available, receive maximum); nil means DefaultCapabilities.
	Caps *Capabilities

	sessions Sessions
	relay    Relayer
	auth     PublishAuthorizer
}

// Bind implements Binder.
func (m *InboundManager) Bind(s *Stack) (err error) {
	if m.sessions, err = Need[Sessions](s); err != nil {
		return err
	}
	if m.relay, err = Need[Relayer](s); err != nil {
		return err
	}
	m.auth, err = Need[PublishAuthorizer](s)
	return err
}

// Handles implements Selective: PUBLISH and PUBREL.
func (m *InboundManager) Handles(t packet.Type) bool {
	return t == packet.TypePublish || t == packet.TypePubrel
}

// Handle implements Middleware.
func (m *InboundManager) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	switch p := p.(type) {
	case *packet.Publish:
		return m.publish(ctx, c, p)
	case *packet.Pubrel:
		if s := m.sessions.SessionOf(c); s != nil {
			s.Released(ctx, p.ID)
		}
		return c.Pubcomp(&packet.Pubcomp{ID: p.ID})
	}
	return next.ServeMQTT(ctx, c, p)
}

func (m *InboundManager) publish(ctx context.Context, c *mqtt.Conn, p *packet.Publish) error {
	s := m.sessions.SessionOf(c)
	if err := m.check(c, s, p); err != nil {
		return err
	}
	msg := &store.Message{Topic: p.Topic, Payload: p.Payload, QoS: p.QoS, Retain: p.Retain,
		Props: p.Props, From: s.ID}
	if p.Props != nil && (p.Props.MessageExpiry != 0 || p.Props.Included(packet.PropMessageExpiry)) {
		// Only an expiry interval needs it, and reading the clock is a
		// measurable part of a PUBLISH's cost.
		msg.Created = timeNow()
	}
	switch p.QoS {
	case packet.AtMostOnce:
		return m.deliver(ctx, c, msg)
	case packet.AtLeastOnce:
		if err := m.deliver(ctx, c, msg); err != nil {
			return err
		}
		return c.Puback(&packet.Puback{ID: p.ID})
	}
	fresh, err := s.Received(ctx, p.ID)
	if err != nil {
		return err
	}
	if fresh {
		if err := m.deliver(ctx, c, msg); err != nil {
			return err
		}
	}
	return c.Pubrec(&packet.Pubrec{ID: p.ID})
}

// check holds a PUBLISH to the broker's capabilities.
func (m *InboundManager) check(c *mqtt.Conn, s *Session, p *packet.Publish) error {
	caps := capsOr(m.Caps)
	switch {
	case p.QoS > caps.MaximumQoS:
		return &packet.Error{Code: packet.QoSNotSupported, Msg: fmt.Sprintf("PUBLISH of QoS %d", p.QoS)} // [MQTT-3.2.2-11]
	case p.Retain && caps.RetainUnavailable:
		return &packet.Error{Code: packet.RetainNotSupported, Msg: "retained PUBLISH"} // [MQTT-3.2.2-14]
	case p.Props != nil && len(p.Props.SubscriptionIDs) > 0:
		return &packet.Error{Code: packet.ProtocolError, Msg: "PUBLISH from a client with a subscription identifier [MQTT-3.3.4-6]"}
	case p.QoS > 0 && c.Version() == packet.V5 && s.inboundFull(p.ID, p.QoS, caps.receiveMaximum()):
		// [MQTT-3.3.4-7]
		return &packet.Error{Code: packet.ReceiveMaximumExceeded, Msg: "more unacknowledged PUBLISH packets than the receive maximum"}
	}
	return nil
}

func (m *InboundManager) deliver(ctx context.Context, c *mqtt.Conn, msg *store.Message) error {
	if err := m.relay.Relay(ctx, msg); err != nil {
		return err
	}
	if m.Published != nil {
		return m.Published(ctx, c, msg)
	}
	return nil
}

// PublishAs implements Publisher: it authorizes m as a PUBLISH from c and
// relays it.
func (m *InboundManager) PublishAs(ctx context.Context, c *mqtt.Conn, msg *store.Message) error {
	p := &packet.Publish{Topic: msg.Topic, Payload: msg.Payload, QoS: msg.QoS, Retain: msg.Retain, Props: msg.Props}
	if err := m.auth.AuthorizePublish(ctx, c, p); err != nil {
		return err
	}
	msg.Topic, msg.Payload, msg.QoS, msg.Retain, msg.Props = p.Topic, p.Payload, p.QoS, p.Retain, p.Props
	return m.deliver(ctx, c, msg)
}

// OutboundManager handles the client's acknowledgements of what the broker
// sends it: PUBACK and PUBCOMP end a message's flow, PUBREC is answered with
// PUBREL [MQTT-4.3.3-4]. It needs Sessions.
type OutboundManager struct {
	// Acked, if set, is told of each message the client acknowledged
	// (PUBACK for QoS 1, PUBCOMP for QoS 2).
	Acked func(c *mqtt.Conn, s *Session, m *store.Message)

	sessions Sessions
}

// Bind implements Binder.
func (m *OutboundManager) Bind(s *Stack) (err error) {
	m.sessions, err = Need[Sessions](s)
	return err
}

// Handles implements Selective: PUBACK, PUBREC and PUBCOMP.
func (m *OutboundManager) Handles(t packet.Type) bool {
	return t == packet.TypePuback || t == packet.TypePubrec || t == packet.TypePubcomp
}

// Handle implements Middleware.
func (m *OutboundManager) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	var t packet.Type
	var id uint16
	var rc packet.ReasonCode
	switch p := p.(type) {
	case *packet.Puback:
		t, id, rc = packet.TypePuback, p.ID, p.ReasonCode
	case *packet.Pubrec:
		t, id, rc = packet.TypePubrec, p.ID, p.ReasonCode
	case *packet.Pubcomp:
		t, id, rc = packet.TypePubcomp, p.ID, p.ReasonCode
	default:
		return next.ServeMQTT(ctx, c, p)
	}
	s := m.sessions.SessionOf(c)
	msg := s.Acked(ctx, t, id, rc)
	if t == packet.TypePubrec && rc.IsError() {
		// The client refused the message: its flow ends with this PUBREC
		// [MQTT-4.3.3-4]; no PUBREL follows.
		if msg != nil && m.Acked != nil {
			m.Acked(c, s, msg)
		}
		return nil
	}
	if t == packet.TypePubrec {
		if msg == nil {
			// Not ours in flight: MQTT 5 says so; 3.1.1 still completes
			// the client's flow.
			return c.Pubrel(&packet.Pubrel{ID: id, ReasonCode: packet.PacketIdentifierNotFound})
		}
		return c.Pubrel(&packet.Pubrel{ID: id})
	}
	if msg != nil && m.Acked != nil {
		m.Acked(c, s, msg)
	}
	return nil
}
