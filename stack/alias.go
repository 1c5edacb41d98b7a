package stack

import (
	"context"
	"fmt"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
)

// TopicAliases resolves the topic aliases of an MQTT 5 client's PUBLISH
// packets (MQTT 5 §3.3.2.3.4): a PUBLISH with a topic and an alias sets the
// alias; one with an alias alone gets the topic the alias stands for. The
// packets after it see the full topic and no alias, so put it before any
// middleware that looks at PUBLISH topics (Authorize, InboundManager).
//
// An alias of 0 or above Caps.TopicAliasMaximum, or an alias the client
// never set, ends the connection with 0x94 topic alias invalid or 0x82
// protocol error.
type TopicAliases struct {
	// Caps give the Topic Alias Maximum announced to clients; nil means
	// DefaultCapabilities (no aliases).
	Caps *Capabilities
}

// aliasesKey holds a connection's topic aliases, by alias; nil until the
// client sets the first.
var aliasesKey = NewKey[map[uint16]string]("aliases")

// Handles implements Selective: PUBLISH.
func (a *TopicAliases) Handles(t packet.Type) bool { return t == packet.TypePublish }

// Handle implements Middleware.
func (a *TopicAliases) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	if pub, ok := p.(*packet.Publish); ok && pub.Props != nil && pub.Props.TopicAlias != 0 {
		if err := a.resolve(c, pub); err != nil {
			return err
		}
	}
	return next.ServeMQTT(ctx, c, p)
}

func (a *TopicAliases) resolve(c *mqtt.Conn, p *packet.Publish) error {
	alias := p.Props.TopicAlias
	if alias > capsOr(a.Caps).TopicAliasMaximum {
		// [MQTT-3.3.2-9]: above the maximum the server announced.
		return &packet.Error{Code: packet.TopicAliasInvalid, Msg: fmt.Sprintf("topic alias %d above the maximum", alias)}
	}
	aliases := aliasesKey.Get(c)
	if p.Topic == "" {
		topic, ok := aliases[alias]
		if !ok {
			return &packet.Error{Code: packet.ProtocolError, Msg: fmt.Sprintf("topic alias %d was never set", alias)}
		}
		p.Topic = topic
	} else {
		if aliases == nil {
			aliases = make(map[uint16]string)
			aliasesKey.Set(c, aliases)
		}
		// The topic aliases the packet's body: keep a copy.
		aliases[alias] = string([]byte(p.Topic))
	}
	// The alias is the client's, for this connection only
	// [MQTT-3.3.2-7]: it does not travel with the message. (Zeroing it
	// would not do: decoded, it stays marked present.)
	p.Props = messageProps(p.Props)
	return nil
}

// messageProps returns the properties of p that an application message
// carries to its subscribers (MQTT 5 §3.3.2.3), as a new Properties: not
// a topic alias, a subscription identifier or a will delay interval.
func messageProps(p *packet.Properties) *packet.Properties {
	m := &packet.Properties{PayloadFormat: p.PayloadFormat, MessageExpiry: p.MessageExpiry,
		ContentType: p.ContentType, ResponseTopic: p.ResponseTopic, CorrelationData: p.CorrelationData, User: p.User}
	for _, id := range []packet.PropID{packet.PropPayloadFormat, packet.PropMessageExpiry} {
		if p.Included(id) {
			m.Include(id) // their 0 is not their absence
		}
	}
	return m
}
