package packet

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// connectWire is a CONNECT of version v with the given connect flags, keep
// alive 0, an empty property section in MQTT 5, and then the payload
// fields.
func connectWire(v Version, flags byte, payload ...[]byte) []byte {
	vh := cat(str(v.ProtocolName()), []byte{byte(v), flags, 0, 0})
	if v == V5 {
		vh = append(vh, 0) // property length 0
	}
	return rawPacket(0x10, vh, cat(payload...))
}

// rawPacket is a packet with first byte first and body parts as its body.
func rawPacket(first byte, parts ...[]byte) []byte {
	body := cat(parts...)
	return cat([]byte{first}, appendVarint(nil, len(body)), body)
}

var (
	all  = []Version{V31, V311, V5}
	v3   = []Version{V31, V311}
	v311 = []Version{V311}
	v5   = []Version{V5}
)

// invalid are inputs the decoder must refuse, each with the reason code the
// spec names for it, in the versions listed.
var invalid = []struct {
	name  string
	vs    []Version
	wire  []byte
	code  ReasonCode
	build func(v Version) []byte // the input, when it differs by version
}{
	// The fixed header [MQTT-2.1.3-1] [MQTT-2.2.2-2] [MQTT-1.5.5-1].
	{"packet type 0", all, []byte{0x00, 0x00}, MalformedPacket, nil},
	{"packet type 0 with flags", all, []byte{0x0F, 0x00}, MalformedPacket, nil},
	{"PUBLISH QoS 3", all, []byte{0x36, 0x05, 0x00, 0x01, 't', 0x00, 0x01}, MalformedPacket, nil},
	{"PUBLISH QoS 3 with DUP and retain", all, []byte{0x3F, 0x05, 0x00, 0x01, 't', 0x00, 0x01}, MalformedPacket, nil},
	{"PUBLISH DUP on QoS 0", all, []byte{0x38, 0x03, 0x00, 0x01, 't'}, MalformedPacket, nil},
	{"remaining length of five bytes", all, []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, MalformedPacket, nil},
	{"remaining length of five bytes, last zero", all, []byte{0xC0, 0x80, 0x80, 0x80, 0x80, 0x00}, MalformedPacket, nil},
	{"remaining length 0 in two bytes", all, []byte{0xC0, 0x80, 0x00}, MalformedPacket, nil},
	{"remaining length 127 in two bytes", all, []byte{0x30, 0xFF, 0x00}, MalformedPacket, nil},
	{"remaining length 5 in three bytes", all, []byte{0xE0, 0x85, 0x80, 0x00}, MalformedPacket, nil},
	{"remaining length 16383 in three bytes", all, []byte{0x30, 0xFF, 0xFF, 0x00}, MalformedPacket, nil},
	{"remaining length 2097151 in four bytes", all, []byte{0x30, 0xFF, 0xFF, 0xFF, 0x00}, MalformedPacket, nil},

	// UTF-8 strings [MQTT-1.5.4-1] [MQTT-1.5.4-2].
	{name: "topic with U+0000", vs: all, code: MalformedPacket, build: topicWire('a', 0x00, 'b')},
	{name: "topic with U+0000 after non-ASCII", vs: all, code: MalformedPacket, build: topicWire(0xC3, 0xA9, 0x00)},
	{name: "topic with surrogate U+D800", vs: all, code: MalformedPacket, build: topicWire(0xED, 0xA0, 0x80)},
	{name: "topic with surrogate U+DFFF", vs: all, code: MalformedPacket, build: topicWire('a', 0xED, 0xBF, 0xBF)},
	{name: "topic with byte 0xFF", vs: all, code: MalformedPacket, build: topicWire(0xFF)},
	{name: "topic with a lone continuation byte", vs: all, code: MalformedPacket, build: topicWire('a', 0x80)},
	{name: "topic with a truncated sequence", vs: all, code: MalformedPacket, build: topicWire(0xE2, 0x82)},
	{name: "topic with an overlong '/'", vs: all, code: MalformedPacket, build: topicWire(0xC0, 0xAF)},
	{name: "topic with an overlong U+0000", vs: all, code: MalformedPacket, build: topicWire(0xC0, 0x80)},
	{name: "topic above U+10FFFF", vs: all, code: MalformedPacket, build: topicWire(0xF4, 0x90, 0x80, 0x80)},
	{name: "client identifier with U+0000", vs: all, code: MalformedPacket, build: func(v Version) []byte { return connectWire(v, 0, []byte{0x00, 0x02, 'c', 0x00}) }},
	{"protocol name not UTF-8", all, rawPacket(0x10, []byte{0x00, 0x04, 'M', 0xFF, 'T', 'T', 0x04, 0x00, 0x00, 0x00}, str("c")), MalformedPacket, nil},
	{"user name with a surrogate", v311, connectWire(V311, flagUsername, str("c"), []byte{0x00, 0x03, 0xED, 0xA0, 0x80}), MalformedPacket, nil},
	{"will topic not UTF-8", v311, connectWire(V311, flagWill, str("c"), []byte{0x00, 0x01, 0xFE}, str("")), MalformedPacket, nil},
	{"topic filter with U+0000", v311, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00}, MalformedPacket, nil},
	{"unsubscribe filter not UTF-8", v311, []byte{0xA2, 0x05, 0x00, 0x01, 0x00, 0x01, 0xC0}, MalformedPacket, nil},
	{"user property name with a surrogate", v5, withProps(TypePuback, []byte{0x26, 0x00, 0x03, 0xED, 0xB0, 0x80, 0x00, 0x00}), MalformedPacket, nil},
	{"user property value with U+0000", v5, withProps(TypePuback, []byte{0x26, 0x00, 0x01, 'k', 0x00, 0x01, 0x00}), MalformedPacket, nil},
	{"reason string not UTF-8", v5, withProps(TypeDisconnect, []byte{0x1F, 0x00, 0x01, 0xFF}), MalformedPacket, nil},
	{"content type not UTF-8", v5, withProps(TypePublish, []byte{0x03, 0x00, 0x01, 0x80}), MalformedPacket, nil},

	// Topic names [MQTT-3.3.2-2] [MQTT-4.7.3-1] [MQTT-3.3.2-8].
	{name: "topic with +", vs: all, code: TopicNameInvalid, build: topicWire('a', '/', '+')},
	{name: "topic #", vs: all, code: TopicNameInvalid, build: topicWire('#')},
	{name: "topic with # after non-ASCII", vs: all, code: TopicNameInvalid, build: topicWire(0xC3, 0xA9, '#')},
	{"empty topic", v3, []byte{0x30, 0x02, 0x00, 0x00}, ProtocolError, nil},
	{"empty topic without topic alias", v5, []byte{0x30, 0x03, 0x00, 0x00, 0x00}, ProtocolError, nil},
	{"empty topic with properties but no alias", v5, []byte{0x30, 0x05, 0x00, 0x00, 0x02, 0x01, 0x01}, ProtocolError, nil},
	{"empty topic on QoS 1", v3, []byte{0x32, 0x04, 0x00, 0x00, 0x00, 0x01}, ProtocolError, nil},
	{"topic alias 0", v5, withProps(TypePublish, []byte{0x23, 0x00, 0x00}), TopicAliasInvalid, nil},
	{name: "will topic with wildcard", vs: all, code: TopicNameInvalid, build: func(v Version) []byte { return connectWire(v, flagWill, str("c"), willProps(v), str("a/#"), str("x")) }},
	{name: "empty will topic", vs: all, code: ProtocolError, build: func(v Version) []byte { return connectWire(v, flagWill, str("c"), willProps(v), str(""), str("x")) }},

	// Packet identifiers [MQTT-2.3.1-1].
	{"PUBLISH QoS 1 packet identifier 0", all, []byte{0x32, 0x06, 0x00, 0x01, 't', 0x00, 0x00, 0x00}, ProtocolError, nil},
	{"PUBLISH QoS 2 packet identifier 0", all, []byte{0x34, 0x06, 0x00, 0x01, 't', 0x00, 0x00, 0x00}, ProtocolError, nil},
	{"PUBACK packet identifier 0", all, []byte{0x40, 0x02, 0x00, 0x00}, ProtocolError, nil},
	{"PUBREC packet identifier 0", all, []byte{0x50, 0x02, 0x00, 0x00}, ProtocolError, nil},
	{"PUBREL packet identifier 0", all, []byte{0x62, 0x02, 0x00, 0x00}, ProtocolError, nil},
	{"PUBCOMP packet identifier 0", all, []byte{0x70, 0x02, 0x00, 0x00}, ProtocolError, nil},
	{"SUBSCRIBE packet identifier 0", all, []byte{0x82, 0x07, 0x00, 0x00, 0x00, 0x00, 0x01, 't', 0x00}, ProtocolError, nil},
	{"SUBACK packet identifier 0", all, []byte{0x90, 0x04, 0x00, 0x00, 0x00, 0x00}, ProtocolError, nil},
	{"UNSUBSCRIBE packet identifier 0", all, []byte{0xA2, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, 't'}, ProtocolError, nil},
	{"UNSUBACK packet identifier 0", all, []byte{0xB0, 0x02, 0x00, 0x00}, ProtocolError, nil},

	// Properties (MQTT 5.0 section 2.2.2 and each property's clause).
	{"message expiry twice in PUBLISH", v5, withProps(TypePublish, []byte{0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2}), ProtocolError, nil},
	{"maximum QoS twice in CONNACK", v5, withProps(TypeConnack, []byte{0x24, 0x00, 0x24, 0x00}), ProtocolError, nil},
	{"authentication method twice in AUTH", v5, withProps(TypeAuth, []byte{0x15, 0, 1, 'm', 0x15, 0, 1, 'm'}), ProtocolError, nil},
	{"reason string twice in PUBACK", v5, withProps(TypePuback, []byte{0x1F, 0, 1, 'a', 0x1F, 0, 1, 'b'}), ProtocolError, nil},
	{"session expiry twice in CONNECT", v5, withProps(TypeConnect, []byte{0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 1}), ProtocolError, nil},
	{"will delay twice", v5, withProps(typeWill, []byte{0x18, 0, 0, 0, 1, 0x18, 0, 0, 0, 1}), ProtocolError, nil},
	{"topic alias twice", v5, withProps(TypePublish, []byte{0x23, 0, 1, 0x23, 0, 2}), ProtocolError, nil},
	{"server reference twice in DISCONNECT", v5, withProps(TypeDisconnect, []byte{0x1C, 0, 0, 0x1C, 0, 0}), ProtocolError, nil},
	{"two subscription identifiers in SUBSCRIBE", v5, []byte{0x82, 0x0B, 0x00, 0x01, 0x04, 0x0B, 0x01, 0x0B, 0x02, 0x00, 0x01, 't', 0x00}, ProtocolError, nil},
	{"topic alias in CONNECT", v5, withProps(TypeConnect, []byte{0x23, 0x00, 0x01}), MalformedPacket, nil},
	{"will delay in CONNECT properties", v5, withProps(TypeConnect, []byte{0x18, 0, 0, 0, 1}), MalformedPacket, nil},
	{"session expiry in will properties", v5, withProps(typeWill, []byte{0x11, 0, 0, 0, 1}), MalformedPacket, nil},
	{"subscription identifier in SUBACK", v5, withProps(TypeSuback, []byte{0x0B, 0x01}), MalformedPacket, nil},
	{"reason string in PUBLISH", v5, withProps(TypePublish, []byte{0x1F, 0x00, 0x00}), MalformedPacket, nil},
	{"unknown property 0x04", v5, withProps(TypePublish, []byte{0x04, 0x00}), MalformedPacket, nil},
	{"unknown property 0x2B", v5, withProps(TypeConnack, []byte{0x2B, 0x00}), MalformedPacket, nil},
	{"property identifier 128 as a varint", v5, withProps(TypePublish, []byte{0x80, 0x01, 0x00}), MalformedPacket, nil},
	{"property identifier 1 not minimal", v5, withProps(TypePublish, []byte{0x81, 0x00, 0x01}), MalformedPacket, nil},
	{"subscription identifier 0 in PUBLISH", v5, withProps(TypePublish, []byte{0x0B, 0x00}), ProtocolError, nil},
	{"subscription identifier 0 in SUBSCRIBE", v5, withProps(TypeSubscribe, []byte{0x0B, 0x00}), ProtocolError, nil},
	{"subscription identifier not minimal", v5, withProps(TypePublish, []byte{0x0B, 0x81, 0x00}), MalformedPacket, nil},
	{"subscription identifier of five bytes", v5, withProps(TypePublish, []byte{0x0B, 0x80, 0x80, 0x80, 0x80, 0x01}), MalformedPacket, nil},
	{"receive maximum 0 in CONNECT", v5, withProps(TypeConnect, []byte{0x21, 0x00, 0x00}), ProtocolError, nil},
	{"receive maximum 0 in CONNACK", v5, withProps(TypeConnack, []byte{0x21, 0x00, 0x00}), ProtocolError, nil},
	{"maximum packet size 0 in CONNECT", v5, withProps(TypeConnect, []byte{0x27, 0, 0, 0, 0}), ProtocolError, nil},
	{"maximum packet size 0 in CONNACK", v5, withProps(TypeConnack, []byte{0x27, 0, 0, 0, 0}), ProtocolError, nil},
	{"payload format indicator 2", v5, withProps(TypePublish, []byte{0x01, 0x02}), ProtocolError, nil},
	{"will payload format indicator 2", v5, withProps(typeWill, []byte{0x01, 0x02}), ProtocolError, nil},
	{"request problem information 2", v5, withProps(TypeConnect, []byte{0x17, 0x02}), ProtocolError, nil},
	{"request response information 2", v5, withProps(TypeConnect, []byte{0x19, 0x02}), ProtocolError, nil},
	{"maximum QoS 2", v5, withProps(TypeConnack, []byte{0x24, 0x02}), ProtocolError, nil},
	{"maximum QoS 255", v5, withProps(TypeConnack, []byte{0x24, 0xFF}), ProtocolError, nil},
	{"retain available 2", v5, withProps(TypeConnack, []byte{0x25, 0x02}), ProtocolError, nil},
	{"wildcard subscription available 2", v5, withProps(TypeConnack, []byte{0x28, 0x02}), ProtocolError, nil},
	{"subscription identifier available 2", v5, withProps(TypeConnack, []byte{0x29, 0x02}), ProtocolError, nil},
	{"shared subscription available 2", v5, withProps(TypeConnack, []byte{0x2A, 0x02}), ProtocolError, nil},
	{"response topic with wildcard", v5, withProps(TypePublish, []byte{0x08, 0x00, 0x03, 'a', '/', '#'}), ProtocolError, nil},
	{"empty response topic", v5, withProps(TypePublish, []byte{0x08, 0x00, 0x00}), ProtocolError, nil},
	{"will response topic with wildcard", v5, withProps(typeWill, []byte{0x08, 0x00, 0x01, '+'}), ProtocolError, nil},
	{"authentication data without method in CONNECT", v5, withProps(TypeConnect, []byte{0x16, 0x00, 0x01, 0x01}), ProtocolError, nil},
	{"property length past the end", v5, []byte{0x30, 0x05, 0x00, 0x01, 't', 0x05, 0x01}, MalformedPacket, nil},
	{"property length not minimal", v5, []byte{0x30, 0x06, 0x00, 0x01, 't', 0x80, 0x00, 'x'}, MalformedPacket, nil},
	{"property length of five bytes", v5, []byte{0x30, 0x08, 0x00, 0x01, 't', 0x80, 0x80, 0x80, 0x80, 0x01}, MalformedPacket, nil},
	{"four-byte property cut by its section", v5, withProps(TypePublish, []byte{0x02, 0x00, 0x00}), MalformedPacket, nil},
	{"string property cut by its section", v5, withProps(TypePublish, []byte{0x03, 0x00, 0x05, 'a'}), MalformedPacket, nil},
	{"user property without value", v5, withProps(TypePublish, []byte{0x26, 0x00, 0x01, 'k'}), MalformedPacket, nil},
	{"property identifier without value", v5, withProps(TypePublish, []byte{0x23}), MalformedPacket, nil},
	{"PUBLISH without property length", v5, []byte{0x30, 0x03, 0x00, 0x01, 't'}, MalformedPacket, nil},
	{"CONNACK without property length", v5, []byte{0x20, 0x02, 0x00, 0x00}, MalformedPacket, nil},
	{"SUBSCRIBE without property length", v5, []byte{0x82, 0x02, 0x00, 0x01}, MalformedPacket, nil},
	{"SUBACK without property length", v5, []byte{0x90, 0x02, 0x00, 0x01}, MalformedPacket, nil},
	{"CONNECT without property length", v5, rawPacket(0x10, str("MQTT"), []byte{0x05, 0x00, 0x00, 0x00}), MalformedPacket, nil},

	// CONNECT [MQTT-3.1.2-1] [MQTT-3.1.2-2] [MQTT-3.1.2-3] [MQTT-3.1.2-11]
	// [MQTT-3.1.2-12] [MQTT-3.1.2-13] [MQTT-3.1.2-22].
	{name: "CONNECT reserved flag", vs: all, code: MalformedPacket, build: func(v Version) []byte { return connectWire(v, 0x01|flagCleanStart, str("c")) }},
	{name: "will QoS without will", vs: all, code: MalformedPacket, build: func(v Version) []byte { return connectWire(v, 0x08, str("c")) }},
	{name: "will retain without will", vs: all, code: MalformedPacket, build: func(v Version) []byte { return connectWire(v, flagWillRetain, str("c")) }},
	{name: "will QoS 3", vs: all, code: MalformedPacket, build: func(v Version) []byte {
		return connectWire(v, flagWill|0x18, str("c"), willProps(v), str("w"), str("x"))
	}},
	{name: "user name flag without user name", vs: all, code: MalformedPacket, build: func(v Version) []byte { return connectWire(v, flagUsername, str("c")) }},
	{name: "password without user name", vs: v3, code: MalformedPacket, build: func(v Version) []byte { return connectWire(v, flagPassword, str("c"), str("p")) }},
	{"protocol level 6", all, rawPacket(0x10, str("MQTT"), []byte{0x06, 0x02, 0x00, 0x00}, str("c")), UnsupportedProtocolVersion, nil},
	{"protocol level 0", all, rawPacket(0x10, str("MQTT"), []byte{0x00, 0x02, 0x00, 0x00}, str("c")), UnsupportedProtocolVersion, nil},
	{"protocol level 255", all, rawPacket(0x10, str("MQTT"), []byte{0xFF, 0x02, 0x00, 0x00}, str("c")), UnsupportedProtocolVersion, nil},
	{"protocol name MQTX", all, rawPacket(0x10, str("MQTX"), []byte{0x04, 0x02, 0x00, 0x00}, str("c")), UnsupportedProtocolVersion, nil},
	{"protocol name mqtt", all, rawPacket(0x10, str("mqtt"), []byte{0x04, 0x02, 0x00, 0x00}, str("c")), UnsupportedProtocolVersion, nil},
	{"empty protocol name", all, rawPacket(0x10, str(""), []byte{0x04, 0x02, 0x00, 0x00}, str("c")), UnsupportedProtocolVersion, nil},
	{"MQIsdp at level 4", all, rawPacket(0x10, str("MQIsdp"), []byte{0x04, 0x02, 0x00, 0x00}, str("c")), UnsupportedProtocolVersion, nil},
	{"MQTT at level 3", all, rawPacket(0x10, str("MQTT"), []byte{0x03, 0x02, 0x00, 0x00}, str("c")), UnsupportedProtocolVersion, nil},
	{"CONNECT cut after the protocol name", all, rawPacket(0x10, str("MQTT")), MalformedPacket, nil},
	{"CONNECT cut in the keep alive", all, rawPacket(0x10, str("MQTT"), []byte{0x04, 0x02, 0x00}), MalformedPacket, nil},
	{"CONNECT without client identifier", v311, rawPacket(0x10, str("MQTT"), []byte{0x04, 0x02, 0x00, 0x00}), MalformedPacket, nil},
	{"CONNECT will without will message", v311, connectWire(V311, flagWill, str("c"), str("w")), MalformedPacket, nil},
	{"CONNECT password flag without password", v311, connectWire(V311, flagUsername|flagPassword, str("c"), str("u")), MalformedPacket, nil},
	{"CONNECT with a trailing byte", v311, connectWire(V311, 0, str("c"), []byte{0x00}), MalformedPacket, nil},
	{"CONNECT 5 with a trailing byte", v5, connectWire(V5, 0, str("c"), []byte{0x00}), MalformedPacket, nil},

	// CONNACK [MQTT-3.2.2-1] [MQTT-3.2.2-6] (3.1.1: [MQTT-3.2.2-4]).
	{"CONNACK reserved flag", v311, []byte{0x20, 0x02, 0x02, 0x00}, MalformedPacket, nil},
	{"CONNACK high reserved flag", v5, []byte{0x20, 0x03, 0x80, 0x00, 0x00}, MalformedPacket, nil},
	{"CONNACK session present on refusal", v311, []byte{0x20, 0x02, 0x01, 0x05}, ProtocolError, nil},
	{"CONNACK 5 session present on refusal", v5, []byte{0x20, 0x03, 0x01, 0x87, 0x00}, ProtocolError, nil},
	{"CONNACK return code 6", v3, []byte{0x20, 0x02, 0x00, 0x06}, MalformedPacket, nil},
	{"CONNACK return code 0x80", v3, []byte{0x20, 0x02, 0x00, 0x80}, MalformedPacket, nil},
	{"CONNACK reason code 0x04", v5, []byte{0x20, 0x03, 0x00, 0x04, 0x00}, ProtocolError, nil},
	{"CONNACK reason code 0x8B", v5, []byte{0x20, 0x03, 0x00, 0x8B, 0x00}, ProtocolError, nil},
	{"CONNACK reason code 0x01", v5, []byte{0x20, 0x03, 0x00, 0x01, 0x00}, ProtocolError, nil},
	{"CONNACK cut short", all, []byte{0x20, 0x01, 0x00}, MalformedPacket, nil},
	{"CONNACK with a trailing byte", v3, []byte{0x20, 0x03, 0x00, 0x00, 0x00}, MalformedPacket, nil},
	{"CONNACK 5 with a trailing byte", v5, []byte{0x20, 0x04, 0x00, 0x00, 0x00, 0x00}, MalformedPacket, nil},

	// SUBSCRIBE [MQTT-3.8.3-3] [MQTT-3.8.3-4] [MQTT-3.8.3-5], MQTT 5.0
	// section 3.8.3.1.
	{"SUBSCRIBE without filters", v3, []byte{0x82, 0x02, 0x00, 0x01}, ProtocolError, nil},
	{"SUBSCRIBE 5 without filters", v5, []byte{0x82, 0x03, 0x00, 0x01, 0x00}, ProtocolError, nil},
	{"SUBSCRIBE empty filter", v3, []byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00}, ProtocolError, nil},
	{"SUBSCRIBE 5 empty filter", v5, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}, ProtocolError, nil},
	{"SUBSCRIBE without options", v3, []byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x01, 't'}, MalformedPacket, nil},
	{"SUBSCRIBE filter cut short", v3, []byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x05, 't'}, MalformedPacket, nil},
	{"SUBSCRIBE requested QoS bit 2", v3, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x04}, MalformedPacket, nil},
	{"SUBSCRIBE requested QoS bit 7", v3, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x80}, MalformedPacket, nil},
	{"SUBSCRIBE requested QoS 3", v3, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x03}, MalformedPacket, nil},
	{"SUBSCRIBE 5 maximum QoS 3", v5, []byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 't', 0x03}, ProtocolError, nil},
	{"SUBSCRIBE 5 reserved option bit 6", v5, []byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 't', 0x40}, MalformedPacket, nil},
	{"SUBSCRIBE 5 reserved option bit 7", v5, []byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 't', 0x81}, MalformedPacket, nil},
	{"SUBSCRIBE 5 retain handling 3", v5, []byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 't', 0x30}, ProtocolError, nil},
	{"SUBSCRIBE 5 second subscription bad", v5, []byte{0x82, 0x0B, 0x00, 0x01, 0x00, 0x00, 0x01, 't', 0x00, 0x00, 0x01, 'u', 0x3E}, ProtocolError, nil},

	// UNSUBSCRIBE [MQTT-3.10.3-2].
	{"UNSUBSCRIBE without filters", v3, []byte{0xA2, 0x02, 0x00, 0x01}, ProtocolError, nil},
	{"UNSUBSCRIBE 5 without filters", v5, []byte{0xA2, 0x03, 0x00, 0x01, 0x00}, ProtocolError, nil},
	{"UNSUBSCRIBE empty filter", v3, []byte{0xA2, 0x04, 0x00, 0x01, 0x00, 0x00}, ProtocolError, nil},
	{"UNSUBSCRIBE 5 empty filter", v5, []byte{0xA2, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00}, ProtocolError, nil},
	{"UNSUBSCRIBE filter cut short", v3, []byte{0xA2, 0x04, 0x00, 0x01, 0x00, 0x05}, MalformedPacket, nil},
	{"UNSUBSCRIBE odd byte at the end", v3, []byte{0xA2, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x00}, MalformedPacket, nil},

	// SUBACK [MQTT-3.9.3-2] (3.1.1) and MQTT 5.0 section 3.9.3.
	{"SUBACK return code 3", v3, []byte{0x90, 0x03, 0x00, 0x01, 0x03}, ProtocolError, nil},
	{"SUBACK return code 0x81", v3, []byte{0x90, 0x03, 0x00, 0x01, 0x81}, ProtocolError, nil},
	{"SUBACK return code 0x87", v3, []byte{0x90, 0x03, 0x00, 0x01, 0x87}, ProtocolError, nil},
	{"SUBACK 5 reason code 0x03", v5, []byte{0x90, 0x04, 0x00, 0x01, 0x00, 0x03}, ProtocolError, nil},
	{"SUBACK 5 reason code 0x11", v5, []byte{0x90, 0x04, 0x00, 0x01, 0x00, 0x11}, ProtocolError, nil},
	{"SUBACK 5 reason code 0x81", v5, []byte{0x90, 0x04, 0x00, 0x01, 0x00, 0x81}, ProtocolError, nil},
	{"SUBACK without return codes", v3, []byte{0x90, 0x02, 0x00, 0x01}, ProtocolError, nil},
	{"SUBACK 5 without reason codes", v5, []byte{0x90, 0x03, 0x00, 0x01, 0x00}, ProtocolError, nil},

	// UNSUBACK (MQTT 5.0 section 3.11.3).
	{"UNSUBACK with a trailing byte", v3, []byte{0xB0, 0x03, 0x00, 0x01, 0x00}, MalformedPacket, nil},
	{"UNSUBACK 5 reason code 0x01", v5, []byte{0xB0, 0x04, 0x00, 0x01, 0x00, 0x01}, ProtocolError, nil},
	{"UNSUBACK 5 reason code 0x10", v5, []byte{0xB0, 0x04, 0x00, 0x01, 0x00, 0x10}, ProtocolError, nil},
	{"UNSUBACK 5 without reason codes", v5, []byte{0xB0, 0x03, 0x00, 0x01, 0x00}, ProtocolError, nil},

	// PUBACK, PUBREC, PUBREL, PUBCOMP (MQTT 5.0 sections 3.4 to 3.7).
	{"PUBACK with a reason code before MQTT 5", v3, []byte{0x40, 0x03, 0x00, 0x01, 0x00}, MalformedPacket, nil},
	{"PUBREC with a reason code before MQTT 5", v3, []byte{0x50, 0x03, 0x00, 0x01, 0x00}, MalformedPacket, nil},
	{"PUBREL with a reason code before MQTT 5", v3, []byte{0x62, 0x03, 0x00, 0x01, 0x00}, MalformedPacket, nil},
	{"PUBCOMP with a reason code before MQTT 5", v3, []byte{0x70, 0x03, 0x00, 0x01, 0x00}, MalformedPacket, nil},
	{"PUBACK cut short", all, []byte{0x40, 0x01, 0x00}, MalformedPacket, nil},
	{"PUBACK empty", all, []byte{0x40, 0x00}, MalformedPacket, nil},
	{"PUBACK reason code 0x92", v5, []byte{0x40, 0x03, 0x00, 0x01, 0x92}, ProtocolError, nil},
	{"PUBACK reason code 0x01", v5, []byte{0x40, 0x03, 0x00, 0x01, 0x01}, ProtocolError, nil},
	{"PUBREC reason code 0x04", v5, []byte{0x50, 0x03, 0x00, 0x01, 0x04}, ProtocolError, nil},
	{"PUBREL reason code 0x10", v5, []byte{0x62, 0x03, 0x00, 0x01, 0x10}, ProtocolError, nil},
	{"PUBCOMP reason code 0x80", v5, []byte{0x70, 0x03, 0x00, 0x01, 0x80}, ProtocolError, nil},
	{"PUBACK property length past the end", v5, []byte{0x40, 0x04, 0x00, 0x01, 0x00, 0x05}, MalformedPacket, nil},
	{"PUBACK byte after the properties", v5, []byte{0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0xFF}, MalformedPacket, nil},

	// DISCONNECT, AUTH, PINGREQ, PINGRESP.
	{"DISCONNECT with a body before MQTT 5", v3, []byte{0xE0, 0x01, 0x00}, MalformedPacket, nil},
	{"DISCONNECT reason code 0x01", v5, []byte{0xE0, 0x01, 0x01}, ProtocolError, nil},
	{"DISCONNECT reason code 0x18", v5, []byte{0xE0, 0x01, 0x18}, ProtocolError, nil},
	{"DISCONNECT reason code 0x84", v5, []byte{0xE0, 0x01, 0x84}, ProtocolError, nil},
	{"DISCONNECT topic alias", v5, withProps(TypeDisconnect, []byte{0x23, 0x00, 0x01}), MalformedPacket, nil},
	{"DISCONNECT byte after the properties", v5, []byte{0xE0, 0x03, 0x00, 0x00, 0x00}, MalformedPacket, nil},
	{"AUTH before MQTT 5", v3, []byte{0xF0, 0x00}, MalformedPacket, nil},
	{"AUTH with a body before MQTT 5", v3, []byte{0xF0, 0x02, 0x18, 0x00}, MalformedPacket, nil},
	{"AUTH reason code 0x80", v5, []byte{0xF0, 0x01, 0x80}, ProtocolError, nil},
	{"AUTH reason code 0x04", v5, []byte{0xF0, 0x02, 0x04, 0x00}, ProtocolError, nil},
	{"AUTH receive maximum", v5, withProps(TypeAuth, []byte{0x21, 0x00, 0x01}), MalformedPacket, nil},
	{"PINGREQ with a body", all, []byte{0xC0, 0x01, 0x00}, MalformedPacket, nil},
	{"PINGRESP with a body", all, []byte{0xD0, 0x01, 0x00}, MalformedPacket, nil},
}

// topicWire builds a QoS 0 PUBLISH with a raw topic for any version.
func topicWire(topic ...byte) func(v Version) []byte {
	return func(v Version) []byte { return publishWire(v, topic, []byte("x")) }
}

// willProps is the will property section of a CONNECT: empty in MQTT 5,
// absent before.
func willProps(v Version) []byte {
	if v == V5 {
		return []byte{0x00}
	}
	return nil
}

func TestDecodeInvalid(t *testing.T) {
	for _, tt := range invalid {
		for _, v := range tt.vs {
			wire := tt.wire
			if tt.build != nil {
				wire = tt.build(v)
			}
			t.Run(tt.name+"/"+v.String(), func(t *testing.T) {
				if wire == nil {
					t.Fatal("no input")
				}
				p, n, err := Decode(wire, v, 0)
				if p != nil || n != 0 {
					t.Errorf("Decode returned %T and %d bytes with its error", p, n)
				}
				wantCode(t, err, tt.code)

				// The stream decoders report the same.
				r := NewReader(bytes.NewReader(wire), 0)
				r.Version = v
				_, err = r.ReadPacket()
				wantCode(t, err, tt.code)
				ps := &Parser{Version: v}
				ps.Write(wire)
				_, err = ps.Next()
				wantCode(t, err, tt.code)
			})
		}
	}
}

// publishWire is a QoS 0 PUBLISH of version v with a raw topic and payload.
func publishWire(v Version, topic, payload []byte) []byte {
	vh := cat([]byte{byte(len(topic) >> 8), byte(len(topic))}, topic)
	if v == V5 {
		vh = append(vh, 0x00) // property length 0
	}
	return rawPacket(0x30, vh, payload)
}

// TestValid lists inputs close to invalid ones that the decoder must
// accept, and re-encode.
func TestValid(t *testing.T) {
	fixed := func(b []byte) func(Version) []byte { return func(Version) []byte { return b } }
	tests := []struct {
		name  string
		vs    []Version
		wires func(v Version) [][]byte
		wire  func(v Version) []byte
	}{
		{name: "PUBLISH every valid flag combination", vs: all, wires: func(v Version) (ws [][]byte) {
			for flags := byte(0); flags < 16; flags++ {
				qos := flags >> 1 & 3
				if qos == 3 || qos == 0 && flags&8 != 0 {
					continue
				}
				body := []byte{0x00, 0x01, 't'}
				if qos > 0 {
					body = append(body, 0x00, 0x01)
				}
				if v == V5 {
					body = append(body, 0x00)
				}
				ws = append(ws, rawPacket(0x30|flags, body))
			}
			return ws
		}},
		{name: "PUBACK every reason code it allows", vs: v5, wires: func(Version) (ws [][]byte) {
			for _, rc := range reasonCodes[TypePuback] {
				ws = append(ws, []byte{0x40, 0x03, 0x00, 0x01, byte(rc)})
			}
			return ws
		}},
		{name: "DISCONNECT every reason code it allows", vs: v5, wires: func(Version) (ws [][]byte) {
			for _, rc := range reasonCodes[TypeDisconnect] {
				ws = append(ws, []byte{0xE0, 0x01, byte(rc)})
			}
			return ws
		}},
		{name: "CONNACK every reason code it allows", vs: v5, wires: func(Version) (ws [][]byte) {
			for _, rc := range reasonCodes[TypeConnack] {
				ws = append(ws, []byte{0x20, 0x03, 0x00, byte(rc), 0x00})
			}
			return ws
		}},
		{name: "CONNACK every return code", vs: v3, wires: func(Version) (ws [][]byte) {
			for rc := byte(0); rc <= 5; rc++ {
				ws = append(ws, []byte{0x20, 0x02, 0x00, rc})
			}
			return ws
		}},
		{name: "password without user name in MQTT 5", vs: v5, wire: fixed(connectWire(V5, flagPassword, str("c"), str("p")))},
		{name: "user property twice with the same name", vs: v5, wire: fixed(withProps(TypePublish, []byte{0x26, 0, 1, 'k', 0, 0, 0x26, 0, 1, 'k', 0, 0}))},
		{name: "two subscription identifiers in PUBLISH", vs: v5, wire: fixed(withProps(TypePublish, []byte{0x0B, 0x01, 0x0B, 0x01}))},
		{name: "subscription identifier 268435455", vs: v5, wire: fixed(withProps(TypeSubscribe, []byte{0x0B, 0xFF, 0xFF, 0xFF, 0x7F}))},
		{name: "topic alias with a topic", vs: v5, wire: fixed(withProps(TypePublish, []byte{0x23, 0xFF, 0xFF}))},
		{name: "U+FEFF in a topic", vs: all, wire: func(v Version) []byte { return publishWire(v, []byte{0xEF, 0xBB, 0xBF}, nil) }},
		{name: "U+10FFFF in a topic", vs: all, wire: func(v Version) []byte { return publishWire(v, []byte{0xF4, 0x8F, 0xBF, 0xBF}, nil) }},
		{name: "control characters in a topic", vs: all, wire: func(v Version) []byte { return publishWire(v, []byte{0x01, 0x1F, 0x7F}, nil) }},
		{name: "space and $ in a topic", vs: all, wire: func(v Version) []byte { return publishWire(v, []byte("$SYS/ a"), nil) }},
		{name: "U+0000 in a payload", vs: all, wire: func(v Version) []byte { return publishWire(v, []byte("t"), []byte{0x00, 0xFF}) }},
		{name: "U+0000 in binary data", vs: v5, wire: fixed(withProps(TypePublish, []byte{0x09, 0x00, 0x01, 0x00}))},
		{name: "U+0000 in a password", vs: v311, wire: fixed(connectWire(V311, flagUsername|flagPassword, str("c"), str("u"), []byte{0x00, 0x01, 0x00}))},
		{name: "wildcards in a topic filter", vs: v3, wire: fixed([]byte{0xA2, 0x07, 0x00, 0x01, 0x00, 0x03, '+', '/', '#'})},
		{name: "empty client identifier", vs: all, wire: func(v Version) []byte { return connectWire(v, flagCleanStart, str("")) }},
		{name: "CONNACK 3.1 reserved first byte", vs: []Version{V31}, wire: fixed([]byte{0x20, 0x02, 0xFE, 0x00})},
		{name: "CONNACK session present on success", vs: v311, wire: fixed([]byte{0x20, 0x02, 0x01, 0x00})},
		{name: "CONNACK 5 session present on success", vs: v5, wire: fixed([]byte{0x20, 0x03, 0x01, 0x00, 0x00})},
	}
	for _, tt := range tests {
		for _, v := range tt.vs {
			t.Run(tt.name+"/"+v.String(), func(t *testing.T) {
				var wires [][]byte
				if tt.wires != nil {
					wires = tt.wires(v)
				} else {
					wires = [][]byte{tt.wire(v)}
				}
				for _, w := range wires {
					p, n, err := Decode(w, v, 0)
					if err != nil || n != len(w) {
						t.Fatalf("Decode(% X) = %d bytes, %v", w, n, err)
					}
					// A valid packet re-encodes, and decodes the same.
					b, err := p.Append(nil, v)
					if err != nil {
						t.Fatalf("Append of %s: %v", dump(p), err)
					}
					q, _, err := Decode(b, v, 0)
					if err != nil || !samePacket(q, p) {
						t.Fatalf("re-decode\n got %s, %v\nwant %s", dump(q), err, dump(p))
					}
				}
			})
		}
	}
}

// TestFixedHeaderFlags tries every first byte: the flags of every type but
// PUBLISH are fixed [MQTT-2.2.2-1] [MQTT-2.2.2-2], and MQTT 3.1 also allows
// DUP on the three types whose QoS bits are 01.
func TestFixedHeaderFlags(t *testing.T) {
	for _, v := range versions {
		for ty := Type(1); ty <= TypeAuth; ty++ {
			if ty == TypePublish {
				continue
			}
			for flags := byte(0); flags < 16; flags++ {
				ok := flags == fixedFlags(ty) || v == V31 && fixedFlags(ty) == 0x02 && flags == 0x0A
				_, _, err := Decode([]byte{byte(ty)<<4 | flags, 0x00}, v, 0)
				if ty == TypeAuth && v != V5 {
					wantCode(t, err, MalformedPacket) // no AUTH before MQTT 5
					continue
				}
				bad := errors.Is(err, MalformedPacket) && strings.Contains(err.Error(), "fixed header flags")
				if bad == ok {
					t.Errorf("%v %v flags %04b: %v", v, ty, flags, err)
				}
			}
		}
	}
}

// TestPartial checks that a packet cut anywhere, and a header whose
// remaining length is still going, ask for more bytes.
func TestPartial(t *testing.T) {
	tests := [][]byte{
		{},
		{0x30},
		{0x30, 0x80},
		{0x30, 0xFF, 0xFF},
		{0x30, 0xFF, 0xFF, 0xFF},
		{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, // 268,435,455 announced: legal
		{0x30, 0x05, 0x00, 0x03, 'a', '/'},
		{0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05},
	}
	for _, wire := range tests {
		for _, v := range versions {
			if _, _, err := Decode(wire, v, 0); err != io.ErrUnexpectedEOF {
				t.Errorf("Decode(% X, %v) = %v, want io.ErrUnexpectedEOF", wire, v, err)
			}
		}
	}
}

// TestDecodeVersionZero checks that version 0 decodes as 3.1.1.
func TestDecodeVersionZero(t *testing.T) {
	p, _, err := Decode([]byte{0x40, 0x02, 0x00, 0x01}, 0, 0)
	if err != nil || !samePacket(p, &Puback{ID: 1}) {
		t.Fatalf("PUBACK: %s, %v", dump(p), err)
	}
	if _, _, err := Decode([]byte{0x40, 0x03, 0x00, 0x01, 0x10}, 0, 0); !errors.Is(err, MalformedPacket) {
		t.Errorf("PUBACK with a reason code: %v, want malformed as in 3.1.1", err)
	}
	if _, _, err := Decode([]byte{0xF0, 0x00}, 0, 0); !errors.Is(err, MalformedPacket) {
		t.Errorf("AUTH: %v, want malformed as in 3.1.1", err)
	}
	// A CONNECT carries its version.
	p, _, err = Decode(connectWire(V5, 0, str("c")), 0, 0)
	if err != nil || p.(*Connect).Version != V5 {
		t.Fatalf("CONNECT 5 at version 0: %s, %v", dump(p), err)
	}
}

// invalidPackets are packets the encoder must refuse, each with the reason
// code of the rule it breaks.
var invalidPackets = []struct {
	name string
	vs   []Version
	pkt  Packet
	code ReasonCode
}{
	{"PUBLISH QoS 1 without packet identifier", all, &Publish{Topic: "t", QoS: 1}, ProtocolError},
	{"PUBLISH QoS 2 without packet identifier", all, &Publish{Topic: "t", QoS: 2}, ProtocolError},
	{"PUBLISH QoS 3", all, &Publish{Topic: "t", QoS: 3, ID: 1}, MalformedPacket},
	{"PUBLISH DUP on QoS 0", all, &Publish{Topic: "t", Dup: true}, ProtocolError},
	{"PUBLISH wildcard +", all, &Publish{Topic: "a/+"}, TopicNameInvalid},
	{"PUBLISH wildcard #", all, &Publish{Topic: "#"}, TopicNameInvalid},
	{"PUBLISH empty topic", all, &Publish{}, ProtocolError},
	{"PUBLISH topic alias before MQTT 5", v3, &Publish{Props: &Properties{TopicAlias: 1}}, ProtocolError},
	{"PUBLISH topic longer than 65,535 bytes", all, &Publish{Topic: strings.Repeat("t", 0x10000)}, MalformedPacket},
	{"PUBLISH session expiry", v5, &Publish{Topic: "t", Props: &Properties{SessionExpiry: 1}}, MalformedPacket},
	{"PUBLISH reason string", v5, &Publish{Topic: "t", Props: &Properties{ReasonString: "r"}}, MalformedPacket},
	{"PUBLISH subscription identifier 0", v5, &Publish{Topic: "t", Props: &Properties{SubscriptionIDs: []int{0}}}, ProtocolError},
	{"PUBLISH subscription identifier 268435456", v5, &Publish{Topic: "t", Props: &Properties{SubscriptionIDs: []int{MaxRemainingLength + 1}}}, ProtocolError},
	{"PUBLISH negative subscription identifier", v5, &Publish{Topic: "t", Props: &Properties{SubscriptionIDs: []int{-1}}}, ProtocolError},
	{"PUBLISH topic alias 0 included", v5, &Publish{Topic: "t", Props: includeZero(PropTopicAlias)}, TopicAliasInvalid},
	{"PUBLISH payload format indicator 2", v5, &Publish{Topic: "t", Props: &Properties{PayloadFormat: 2}}, ProtocolError},
	{"PUBLISH response topic with wildcard", v5, &Publish{Topic: "t", Props: &Properties{ResponseTopic: "a/#"}}, ProtocolError},
	{"PUBLISH empty response topic included", v5, &Publish{Topic: "t", Props: includeZero(PropResponseTopic)}, ProtocolError},
	{"PUBLISH content type longer than 65,535 bytes", v5, &Publish{Topic: "t", Props: &Properties{ContentType: strings.Repeat("c", 0x10000)}}, MalformedPacket},
	{"PUBLISH correlation data longer than 65,535 bytes", v5, &Publish{Topic: "t", Props: &Properties{CorrelationData: make([]byte, 0x10000)}}, MalformedPacket},
	{"PUBLISH user property name longer than 65,535 bytes", v5, &Publish{Topic: "t", Props: &Properties{User: []UserProperty{{strings.Repeat("k", 0x10000), ""}}}}, MalformedPacket},
	{"PUBLISH user property value longer than 65,535 bytes", v5, &Publish{Topic: "t", Props: &Properties{User: []UserProperty{{"k", strings.Repeat("v", 0x10000)}}}}, MalformedPacket},
	{"PUBLISH topic with U+0000", all, &Publish{Topic: "a\x00"}, MalformedPacket},
	{"PUBLISH topic with a surrogate", all, &Publish{Topic: "a\xed\xa0\x80"}, MalformedPacket},
	{"PUBLISH topic not UTF-8", all, &Publish{Topic: "\xff"}, MalformedPacket},
	{"PUBLISH content type not UTF-8", v5, &Publish{Topic: "t", Props: &Properties{ContentType: "\xc0\x80"}}, MalformedPacket},
	{"PUBLISH user property name with U+0000", v5, &Publish{Topic: "t", Props: &Properties{User: []UserProperty{{"\x00", "v"}}}}, MalformedPacket},
	{"PUBLISH user property value not UTF-8", v5, &Publish{Topic: "t", Props: &Properties{User: []UserProperty{{"k", "\xfe"}}}}, MalformedPacket},
	{"PUBLISH larger than the protocol allows", all, &Publish{Topic: "t", Payload: make([]byte, MaxRemainingLength)}, PacketTooLarge},

	{"CONNECT protocol level 6", all, &Connect{Version: 6, ClientID: "c"}, UnsupportedProtocolVersion},
	{"CONNECT at version 0", []Version{0}, &Connect{ClientID: "c"}, UnsupportedProtocolVersion},
	{"CONNECT password without user name", v3, &Connect{ClientID: "c", Password: []byte("p")}, MalformedPacket},
	{"CONNECT empty password flag without user name", v3, &Connect{ClientID: "c", PasswordFlag: true}, MalformedPacket},
	{"CONNECT will QoS 3", all, &Connect{ClientID: "c", Will: &Will{Topic: "w", QoS: 3}}, MalformedPacket},
	{"CONNECT will topic with wildcard", all, &Connect{ClientID: "c", Will: &Will{Topic: "w/+"}}, TopicNameInvalid},
	{"CONNECT empty will topic", all, &Connect{ClientID: "c", Will: &Will{}}, ProtocolError},
	{"CONNECT will message longer than 65,535 bytes", all, &Connect{ClientID: "c", Will: &Will{Topic: "w", Payload: make([]byte, 0x10000)}}, MalformedPacket},
	{"CONNECT client identifier longer than 65,535 bytes", all, &Connect{ClientID: strings.Repeat("c", 0x10000)}, MalformedPacket},
	{"CONNECT user name longer than 65,535 bytes", all, &Connect{Username: strings.Repeat("u", 0x10000)}, MalformedPacket},
	{"CONNECT password longer than 65,535 bytes", all, &Connect{Username: "u", Password: make([]byte, 0x10000)}, MalformedPacket},
	{"CONNECT client identifier with U+0000", all, &Connect{ClientID: "c\x00"}, MalformedPacket},
	{"CONNECT user name not UTF-8", all, &Connect{Username: "\xff"}, MalformedPacket},
	{"CONNECT will topic with a surrogate", all, &Connect{Will: &Will{Topic: "\xed\xbf\xbf"}}, MalformedPacket},
	{"CONNECT topic alias", v5, &Connect{ClientID: "c", Props: &Properties{TopicAlias: 1}}, MalformedPacket},
	{"CONNECT will delay in CONNECT properties", v5, &Connect{ClientID: "c", Props: &Properties{WillDelay: 1}}, MalformedPacket},
	{"CONNECT session expiry in will properties", v5, &Connect{ClientID: "c", Will: &Will{Topic: "w", Props: &Properties{SessionExpiry: 1}}}, MalformedPacket},
	{"CONNECT receive maximum 0 included", v5, &Connect{ClientID: "c", Props: includeZero(PropReceiveMaximum)}, ProtocolError},
	{"CONNECT maximum packet size 0 included", v5, &Connect{ClientID: "c", Props: includeZero(PropMaximumPacketSize)}, ProtocolError},
	{"CONNECT request problem information 2", v5, &Connect{ClientID: "c", Props: &Properties{RequestProblemInfo: 2}}, ProtocolError},
	{"CONNECT request response information 7", v5, &Connect{ClientID: "c", Props: &Properties{RequestResponseInfo: 7}}, ProtocolError},
	{"CONNECT authentication data without method", v5, &Connect{ClientID: "c", Props: &Properties{AuthData: []byte{1}}}, ProtocolError},
	{"CONNECT will payload format indicator 2", v5, &Connect{ClientID: "c", Will: &Will{Topic: "w", Props: &Properties{PayloadFormat: 2}}}, ProtocolError},

	{"CONNACK session present on refusal", all, &Connack{SessionPresent: true, ReasonCode: NotAuthorized}, ProtocolError},
	{"CONNACK reason code 0x10", all, &Connack{ReasonCode: NoMatchingSubscribers}, ProtocolError},
	{"CONNACK reason code 0x01", all, &Connack{ReasonCode: GrantedQoS1}, ProtocolError},
	{"CONNACK reason code 0x8B", all, &Connack{ReasonCode: ServerShuttingDown}, ProtocolError},
	{"CONNACK topic alias", v5, &Connack{Props: &Properties{TopicAlias: 1}}, MalformedPacket},
	{"CONNACK maximum QoS 2", v5, &Connack{Props: &Properties{MaximumQoS: 2}}, ProtocolError},
	{"CONNACK retain available 2", v5, &Connack{Props: &Properties{RetainAvailable: 2}}, ProtocolError},
	{"CONNACK shared subscription available 9", v5, &Connack{Props: &Properties{SharedSubAvailable: 9}}, ProtocolError},
	{"CONNACK receive maximum 0 included", v5, &Connack{Props: includeZero(PropReceiveMaximum)}, ProtocolError},

	{"PUBACK packet identifier 0", all, &Puback{}, ProtocolError},
	{"PUBREC packet identifier 0", all, &Pubrec{}, ProtocolError},
	{"PUBREL packet identifier 0", all, &Pubrel{}, ProtocolError},
	{"PUBCOMP packet identifier 0", all, &Pubcomp{}, ProtocolError},
	{"PUBACK reason code 0x92", v5, &Puback{ID: 1, ReasonCode: PacketIdentifierNotFound}, ProtocolError},
	{"PUBREL reason code 0x80", v5, &Pubrel{ID: 1, ReasonCode: UnspecifiedError}, ProtocolError},
	{"PUBCOMP reason code 0x10", v5, &Pubcomp{ID: 1, ReasonCode: NoMatchingSubscribers}, ProtocolError},
	{"PUBREC session expiry", v5, &Pubrec{ID: 1, Props: &Properties{SessionExpiry: 1}}, MalformedPacket},

	{"SUBSCRIBE packet identifier 0", all, &Subscribe{Subscriptions: []Subscription{{Filter: "t"}}}, ProtocolError},
	{"SUBSCRIBE without subscriptions", all, &Subscribe{ID: 1}, ProtocolError},
	{"SUBSCRIBE empty filter", all, &Subscribe{ID: 1, Subscriptions: []Subscription{{Filter: ""}}}, MalformedPacket},
	{"SUBSCRIBE filter longer than 65,535 bytes", all, &Subscribe{ID: 1, Subscriptions: []Subscription{{Filter: strings.Repeat("f", 0x10000)}}}, MalformedPacket},
	{"SUBSCRIBE QoS 3", all, &Subscribe{ID: 1, Subscriptions: []Subscription{{Filter: "t", QoS: 3}}}, MalformedPacket},
	{"SUBSCRIBE retain handling 3", all, &Subscribe{ID: 1, Subscriptions: []Subscription{{Filter: "t", RetainHandling: 3}}}, MalformedPacket},
	{"SUBSCRIBE filter with U+0000", all, &Subscribe{ID: 1, Subscriptions: []Subscription{{Filter: "a/\x00"}}}, MalformedPacket},
	{"SUBSCRIBE two subscription identifiers", v5, &Subscribe{ID: 1, Subscriptions: []Subscription{{Filter: "t"}}, Props: &Properties{SubscriptionIDs: []int{1, 2}}}, ProtocolError},
	{"SUBSCRIBE topic alias", v5, &Subscribe{ID: 1, Subscriptions: []Subscription{{Filter: "t"}}, Props: &Properties{TopicAlias: 1}}, MalformedPacket},

	{"SUBACK packet identifier 0", all, &Suback{Reasons: []ReasonCode{0}}, ProtocolError},
	{"SUBACK without reason codes", all, &Suback{ID: 1}, ProtocolError},
	{"SUBACK reason code 0x10", v5, &Suback{ID: 1, Reasons: []ReasonCode{NoMatchingSubscribers}}, ProtocolError},
	{"SUBACK return code 3", v3, &Suback{ID: 1, Reasons: []ReasonCode{3}}, ProtocolError},
	{"SUBACK reason code 0x81", v5, &Suback{ID: 1, Reasons: []ReasonCode{MalformedPacket}}, ProtocolError},

	{"UNSUBSCRIBE packet identifier 0", all, &Unsubscribe{Filters: []string{"t"}}, ProtocolError},
	{"UNSUBSCRIBE without filters", all, &Unsubscribe{ID: 1}, ProtocolError},
	{"UNSUBSCRIBE empty filter", all, &Unsubscribe{ID: 1, Filters: []string{""}}, MalformedPacket},

	{"UNSUBSCRIBE filter not UTF-8", all, &Unsubscribe{ID: 1, Filters: []string{"\xc3"}}, MalformedPacket},
	{"UNSUBACK packet identifier 0", all, &Unsuback{Reasons: []ReasonCode{0}}, ProtocolError},
	{"UNSUBACK without reason codes", v5, &Unsuback{ID: 1}, ProtocolError},
	{"UNSUBACK reason code 0x01", v5, &Unsuback{ID: 1, Reasons: []ReasonCode{GrantedQoS1}}, ProtocolError},

	{"DISCONNECT reason code 0x18", v5, &Disconnect{ReasonCode: ContinueAuthentication}, ProtocolError},
	{"DISCONNECT reason string not UTF-8", v5, &Disconnect{Props: &Properties{ReasonString: "\x80"}}, MalformedPacket},
	{"DISCONNECT authentication method", v5, &Disconnect{Props: &Properties{AuthMethod: "m"}}, MalformedPacket},
	{"AUTH before MQTT 5", v3, &Auth{}, ProtocolError},
	{"AUTH reason code 0x87", v5, &Auth{ReasonCode: NotAuthorized}, ProtocolError},
	{"AUTH session expiry", v5, &Auth{Props: &Properties{SessionExpiry: 1}}, MalformedPacket},
}

// includeZero is a property set holding property id with its zero value.
func includeZero(id PropID) *Properties {
	p := new(Properties)
	p.Include(id)
	return p
}

func TestAppendInvalid(t *testing.T) {
	for _, tt := range invalidPackets {
		for _, v := range tt.vs {
			t.Run(tt.name+"/"+v.String(), func(t *testing.T) {
				dst := []byte{1, 2, 3}
				got, err := tt.pkt.Append(dst, v)
				wantCode(t, err, tt.code)
				if !bytes.Equal(got, dst) || len(got) != 3 {
					t.Errorf("Append changed dst to % X", got)
				}
			})
		}
	}
}
