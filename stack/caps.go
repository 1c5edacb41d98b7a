package stack

import "github.com/midge-mqtt/midge/packet"

// Capabilities are what a broker allows its MQTT 5 clients: SessionManager
// announces them in CONNACK, and the middlewares that share them enforce
// them on every client, whatever its version. Give the same *Capabilities
// to each middleware of a stack; a nil one means DefaultCapabilities.
//
// Start from DefaultCapabilities: the zero Capabilities allows QoS 0 only.
type Capabilities struct {
	// MaximumQoS is the highest QoS accepted in PUBLISH and granted in
	// SUBSCRIBE. A client publishing above it [MQTT-3.2.2-11] is
	// disconnected with 0x9B QoS not supported (MQTT 5 §3.2.2.3.4).
	MaximumQoS packet.QoS
	// RetainUnavailable refuses retained messages: a PUBLISH with the
	// retain flag [MQTT-3.2.2-14] is a protocol error answered with 0x9A
	// (MQTT 5 §3.2.2.3.5).
	RetainUnavailable bool
	// WildcardUnavailable refuses subscriptions with wildcards: SUBACK 0xA2
	// (MQTT 5 §3.2.2.3.14).
	WildcardUnavailable bool
	// SubscriptionIDUnavailable refuses subscription identifiers: a
	// SUBSCRIBE with one ends the connection with 0xA1.
	SubscriptionIDUnavailable bool
	// SharedUnavailable refuses shared subscriptions: SUBACK 0x9E.
	SharedUnavailable bool
	// ReceiveMaximum is how many QoS 1 and 2 PUBLISH packets a client may
	// have unacknowledged at once; past it the client is disconnected with
	// 0x93 [MQTT-3.3.4-7] (MQTT 5 §4.9). 0 means 65,535.
	ReceiveMaximum uint16
	// TopicAliasMaximum is the highest topic alias a client may use; 0
	// accepts none [MQTT-3.2.2-17].
	TopicAliasMaximum uint16
	// MaxSessionExpiry caps the session expiry interval, in seconds, a
	// client asks for (a 3.1.1 persistent session asks for ever); 0 means
	// no cap. CONNACK tells an MQTT 5 client the interval it got.
	MaxSessionExpiry uint32
	// ServerKeepAlive, when not 0, replaces the keep alive every client
	// asks for, in seconds; CONNACK tells MQTT 5 clients [MQTT-3.2.2-21].
	ServerKeepAlive uint16
	// MaximumPacketSize is the largest packet accepted, announced in
	// CONNACK; 0 announces none. (The connection enforces its own limit,
	// mqtt.Options.MaxPacketSize: keep the two equal.)
	MaximumPacketSize uint32
	// ResponseInformation, when set, is sent to a client that asks for it
	// (Request Response Information 1): the basis of its response topics.
	// It is given the client identifier.
	ResponseInformation func(clientID string) string
	// TopicAliasesToClients makes the broker send topic aliases to clients
	// that accept them (Topic Alias Maximum in CONNECT): a topic's name is
	// sent once per connection, then only its alias. At most 1,024 topics
	// per connection get one, whatever the client allows.
	TopicAliasesToClients bool
}

// DefaultCapabilities returns what a broker allows when nothing is said:
// everything MQTT 5 has, with 10 topic aliases per client, and none sent to
// clients.
func DefaultCapabilities() Capabilities {
	return Capabilities{MaximumQoS: packet.ExactlyOnce, TopicAliasMaximum: 10}
}

var defaultCaps = DefaultCapabilities()

// maxAliasesToClient bounds the topic aliases the broker gives one client:
// the client sets the maximum, the broker keeps the map.
const maxAliasesToClient = 1024

func capsOr(c *Capabilities) *Capabilities {
	if c == nil {
		return &defaultCaps
	}
	return c
}

// receiveMaximum returns the announced Receive Maximum.
func (c *Capabilities) receiveMaximum() int {
	if c.ReceiveMaximum == 0 {
		return 65535
	}
	return int(c.ReceiveMaximum)
}

// connackProps sets the capabilities an MQTT 5 CONNACK announces: only
// those that differ from what a client assumes when they are absent.
func (c *Capabilities) connackProps(p *packet.Properties) {
	if c.MaximumQoS < packet.ExactlyOnce {
		p.MaximumQoS = byte(c.MaximumQoS)
		p.Include(packet.PropMaximumQoS)
	}
	if c.RetainUnavailable {
		p.Include(packet.PropRetainAvailable)
	}
	if c.WildcardUnavailable {
		p.Include(packet.PropWildcardSubAvailable)
	}
	if c.SubscriptionIDUnavailable {
		p.Include(packet.PropSubscriptionIDAvailable)
	}
	if c.SharedUnavailable {
		p.Include(packet.PropSharedSubAvailable)
	}
	if c.ReceiveMaximum != 0 && c.ReceiveMaximum != 65535 {
		p.ReceiveMaximum = c.ReceiveMaximum
	}
	p.TopicAliasMaximum = c.TopicAliasMaximum
	p.MaximumPacketSize = c.MaximumPacketSize
	if c.ServerKeepAlive != 0 {
		p.ServerKeepAlive = c.ServerKeepAlive
	}
}
