package stack

import (
	"context"
	"errors"
	"strings"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
	"github.com/midge-mqtt/midge/topic"
)

// SubscriptionManager handles SUBSCRIBE and UNSUBSCRIBE: it checks each
// topic filter, asks the SubscribeAuthorizer, records what is granted, and
// answers with SUBACK and UNSUBACK [MQTT-3.8.4-1] [MQTT-3.10.4-4]. It needs
// Sessions, Subscriptions and SubscribeAuthorizer.
//
// Shared subscriptions ("$share/{ShareName}/{filter}", MQTT 5 §4.8.2) are
// accepted from clients of every version, as other brokers do, unless
// Caps.SharedUnavailable refuses them.
type SubscriptionManager struct {
	// Caps give the highest QoS granted (lower requests are granted as
	// asked [MQTT-3.8.4-6]) and the kinds of subscription refused; nil
	// means DefaultCapabilities.
	Caps *Capabilities
	// MaxSubscriptions bounds the subscriptions of one session; one more is
	// refused with 0x97 quota exceeded (0x80 in 3.x). 0 means no bound.
	MaxSubscriptions int
	// Subscribed, if set, is told of each SUBSCRIBE answered, with the
	// reason code of each subscription in order.
	Subscribed func(c *mqtt.Conn, s *Session, p *packet.Subscribe, codes []packet.ReasonCode)
	// Unsubscribed, if set, is told of each UNSUBSCRIBE answered.
	Unsubscribed func(c *mqtt.Conn, s *Session, p *packet.Unsubscribe)

	sessions Sessions
	subs     Subscriptions
	auth     SubscribeAuthorizer
}

// Bind implements Binder.
func (m *SubscriptionManager) Bind(s *Stack) (err error) {
	if m.sessions, err = Need[Sessions](s); err != nil {
		return err
	}
	if m.subs, err = Need[Subscriptions](s); err != nil {
		return err
	}
	m.auth, err = Need[SubscribeAuthorizer](s)
	return err
}

// Handles implements Selective: SUBSCRIBE and UNSUBSCRIBE.
func (m *SubscriptionManager) Handles(t packet.Type) bool {
	return t == packet.TypeSubscribe || t == packet.TypeUnsubscribe
}

// Handle implements Middleware.
func (m *SubscriptionManager) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	switch p := p.(type) {
	case *packet.Subscribe:
		return m.subscribe(ctx, c, p)
	case *packet.Unsubscribe:
		return m.unsubscribe(ctx, c, p)
	}
	return next.ServeMQTT(ctx, c, p)
}

func (m *SubscriptionManager) subscribe(ctx context.Context, c *mqtt.Conn, p *packet.Subscribe) error {
	s := m.sessions.SessionOf(c)
	v5 := c.Version() == packet.V5
	if v5 && capsOr(m.Caps).SubscriptionIDUnavailable && p.Props != nil && len(p.Props.SubscriptionIDs) > 0 {
		return &packet.Error{Code: packet.SubscriptionIdentifiersNotSupported, Msg: "SUBSCRIBE with a subscription identifier"} // MQTT 5 §3.2.2.3.12
	}
	for _, sub := range p.Subscriptions {
		if sub.NoLocal && isShared(sub.Filter) {
			return &packet.Error{Code: packet.ProtocolError, Msg: "no local on a shared subscription [MQTT-3.8.3-4]"}
		}
	}
	codes := make([]packet.ReasonCode, len(p.Subscriptions))
	for i := range p.Subscriptions {
		codes[i] = m.one(ctx, c, s, p, &p.Subscriptions[i], v5)
	}
	if err := c.Suback(&packet.Suback{ID: p.ID, Reasons: codes}); err != nil {
		return err
	}
	if m.Subscribed != nil {
		m.Subscribed(c, s, p, codes)
	}
	return nil
}

// one decides and records one subscription, and returns its SUBACK code.
func (m *SubscriptionManager) one(ctx context.Context, c *mqtt.Conn, s *Session, p *packet.Subscribe, sub *packet.Subscription, v5 bool) packet.ReasonCode {
	fail := func(code packet.ReasonCode) packet.ReasonCode {
		if !v5 {
			return packet.UnspecifiedError // 3.1.1 has one failure code [MQTT-3.9.3-2]
		}
		return code
	}
	if code := m.check(sub.Filter); code != packet.Success {
		return fail(code)
	}
	caps := capsOr(m.Caps)
	if caps.WildcardUnavailable && strings.ContainsAny(sub.Filter, "+#") {
		return fail(packet.WildcardSubscriptionsNotSupported)
	}
	ok, err := m.auth.AuthorizeSubscribe(ctx, c, sub)
	if !ok {
		var rc packet.ReasonCode
		if errors.As(err, &rc) && rc.IsError() {
			return fail(rc)
		}
		if err != nil {
			return fail(packet.NotAuthorized)
		}
		return packet.UnspecifiedError // negated: 0x80, as Aedes does
	}
	if code := m.check(sub.Filter); code != packet.Success { // the authorizer may have rewritten it
		return fail(code)
	}
	if m.MaxSubscriptions > 0 {
		if _, replaces := s.subscription(sub.Filter); !replaces && s.subscriptionCount() >= m.MaxSubscriptions {
			return fail(packet.QuotaExceeded)
		}
	}
	qos := min(sub.QoS, caps.MaximumQoS)
	rec := store.Subscription{Filter: sub.Filter, QoS: qos, NoLocal: sub.NoLocal,
		RetainAsPublished: sub.RetainAsPublished, RetainHandling: sub.RetainHandling}
	if v5 && p.Props != nil && len(p.Props.SubscriptionIDs) > 0 {
		rec.ID = p.Props.SubscriptionIDs[0]
	}
	if _, err := m.subs.Subscribe(ctx, s, rec); err != nil {
		return fail(packet.ImplementationSpecificError)
	}
	return packet.ReasonCode(qos)
}

// check returns the reason code that refuses filter, Success if none does.
func (m *SubscriptionManager) check(filter string) packet.ReasonCode {
	_, _, shared, err := topic.ParseShared(filter)
	if !shared && err == nil {
		err = topic.ValidateFilter(filter)
	}
	switch {
	case err != nil:
		return packet.TopicFilterInvalid
	case shared && capsOr(m.Caps).SharedUnavailable:
		return packet.SharedSubscriptionsNotSupported
	}
	return packet.Success
}

func (m *SubscriptionManager) unsubscribe(ctx context.Context, c *mqtt.Conn, p *packet.Unsubscribe) error {
	s := m.sessions.SessionOf(c)
	codes := make([]packet.ReasonCode, len(p.Filters))
	for i, f := range p.Filters {
		existed, err := m.subs.Unsubscribe(ctx, s, f)
		switch {
		case err != nil:
			codes[i] = packet.ImplementationSpecificError
		case !existed:
			codes[i] = packet.NoSubscriptionExisted
		}
	}
	// [MQTT-3.10.4-5]: UNSUBACK even when nothing was subscribed. Its
	// reason codes exist in MQTT 5 only; the codec leaves them out before.
	if err := c.Unsuback(&packet.Unsuback{ID: p.ID, Reasons: codes}); err != nil {
		return err
	}
	if m.Unsubscribed != nil {
		m.Unsubscribed(c, s, p)
	}
	return nil
}

// RetainManager sends a new subscription the retained messages its filter
// matches, with the retain flag set [MQTT-3.3.1-6], after the SUBACK; in
// MQTT 5 as the subscription's retain handling says (0 always, 1 only for a
// new subscription, 2 never). Storing retained messages is the Relayer's
// part of publishing. It needs Sessions and Retainer.
type RetainManager struct {
	// Forward, if set, is asked before each retained message is sent.
	Forward ForwardFunc

	sessions Sessions
	retained Retainer
}

// Bind implements Binder.
func (m *RetainManager) Bind(s *Stack) (err error) {
	if m.sessions, err = Need[Sessions](s); err != nil {
		return err
	}
	m.retained, err = Need[Retainer](s)
	return err
}

// Handles implements Selective: SUBSCRIBE.
func (m *RetainManager) Handles(t packet.Type) bool { return t == packet.TypeSubscribe }

// Handle implements Middleware: it lets the SUBSCRIBE through, then sends
// the retained messages of what was granted.
//
// Each retained message reaches the new subscription once: a message the
// router matches after the subscription was added goes to it live and is
// skipped here. Live messages wait meanwhile (Session.holdLive), so that a
// retained message goes out before the newer live ones of its topic
// [MQTT-4.6.0-6].
func (m *RetainManager) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	sp, ok := p.(*packet.Subscribe)
	if !ok {
		return next.ServeMQTT(ctx, c, p) // the common case: no session look-up
	}
	s := m.sessions.SessionOf(c)
	if s == nil {
		return next.ServeMQTT(ctx, c, p)
	}
	s.holdLive() // before the subscriptions reach the tree
	defer s.releaseLive(ctx)
	had := make([]bool, len(sp.Subscriptions))
	for i, sub := range sp.Subscriptions {
		_, had[i] = s.subscription(sub.Filter)
	}
	if err := next.ServeMQTT(ctx, c, p); err != nil {
		return err
	}
	for i, sub := range sp.Subscriptions {
		// A subscription made before and refused now gets nothing again.
		rec, at, ok := s.addedNow(sub.Filter)
		if !ok || rec.RetainHandling == 2 || rec.RetainHandling == 1 && had[i] {
			continue
		}
		if isShared(rec.Filter) {
			continue // none for a shared subscription (MQTT 5 §4.8.2)
		}
		err := m.retained.MatchRetained(ctx, rec.Filter, func(msg *store.Message) bool {
			if at.live(msg) || msg.Expired(timeNow()) {
				return true
			}
			if m.Forward != nil {
				if msg = m.Forward(ctx, s, msg); msg == nil {
					return true
				}
			}
			d := Delivery{QoS: min(msg.QoS, rec.QoS), Retain: true}
			if rec.ID != 0 {
				d.SubIDs = []int{rec.ID}
			}
			s.deliverRetained(ctx, msg, d)
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// PacketEmitter tells a function of every packet that reaches it, then
// passes the packet on, and tells another once the rest of the stack has
// handled it: a bridge to event listeners.
type PacketEmitter struct {
	// Packet, if set, is told of each packet before it is handled.
	Packet func(ctx context.Context, c *mqtt.Conn, p packet.Packet)
	// Handled, if set, is told of each packet after it was handled, with
	// the error that ends the connection, if any.
	Handled func(ctx context.Context, c *mqtt.Conn, p packet.Packet, err error)
}

// Handle implements Middleware.
func (e *PacketEmitter) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	if e.Packet != nil {
		e.Packet(ctx, c, p)
	}
	err := next.ServeMQTT(ctx, c, p)
	if e.Handled != nil {
		e.Handled(ctx, c, p, err)
	}
	return err
}
