package packet

import "fmt"

// Version is an MQTT protocol level as carried in CONNECT.
type Version byte

// The protocol levels midge speaks.
const (
	V31  Version = 3 // MQTT 3.1, protocol name "MQIsdp"
	V311 Version = 4 // MQTT 3.1.1, protocol name "MQTT"
	V5   Version = 5 // MQTT 5.0, protocol name "MQTT"
)

// String returns the version as people write it: "3.1", "3.1.1", "5.0".
func (v Version) String() string {
	switch v {
	case V31:
		return "3.1"
	case V311:
		return "3.1.1"
	case V5:
		return "5.0"
	}
	return fmt.Sprintf("Version(%d)", byte(v))
}

// Valid reports whether v is a protocol level midge speaks.
func (v Version) Valid() bool { return v == V31 || v == V311 || v == V5 }

// ProtocolName is the protocol name CONNECT carries for v: "MQIsdp" for 3.1,
// "MQTT" otherwise.
func (v Version) ProtocolName() string {
	if v == V31 {
		return "MQIsdp"
	}
	return "MQTT"
}

// Type is the control packet type, the high nibble of the first byte.
type Type byte

// The control packet types (MQTT 5.0 section 2.1.2).
const (
	TypeConnect     Type = 1
	TypeConnack     Type = 2
	TypePublish     Type = 3
	TypePuback      Type = 4
	TypePubrec      Type = 5
	TypePubrel      Type = 6
	TypePubcomp     Type = 7
	TypeSubscribe   Type = 8
	TypeSuback      Type = 9
	TypeUnsubscribe Type = 10
	TypeUnsuback    Type = 11
	TypePingreq     Type = 12
	TypePingresp    Type = 13
	TypeDisconnect  Type = 14
	TypeAuth        Type = 15
)

var typeNames = [...]string{
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
}

// String returns the spec's name of the packet type, such as "PUBLISH".
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", byte(t))
}

// QoS is a quality of service level: 0 at most once, 1 at least once,
// 2 exactly once.
type QoS byte

// The three QoS levels.
const (
	AtMostOnce  QoS = 0
	AtLeastOnce QoS = 1
	ExactlyOnce QoS = 2
)

// Packet is one MQTT control packet. The concrete types are the pointers to
// the structs of this package: *Connect, *Connack, *Publish, *Puback, *Pubrec,
// *Pubrel, *Pubcomp, *Subscribe, *Suback, *Unsubscribe, *Unsuback, *Pingreq,
// *Pingresp, *Disconnect and *Auth.
type Packet interface {
	// Type is the control packet type.
	Type() Type
	// Append encodes the packet for protocol version v and appends it to
	// dst. It allocates only when dst lacks the capacity. A packet that
	// cannot be encoded for v (an invalid field, a property v5 does not
	// allow in this packet) returns an *Error and dst unchanged.
	Append(dst []byte, v Version) ([]byte, error)
	// decode parses the packet's body: the bytes after the fixed header.
	// flags is the low nibble of the first byte. Strings and byte slices of
	// the result may alias body.
	decode(body []byte, flags byte, v Version) error
}

// New returns a new, empty packet of type t, or nil for a reserved type.
func New(t Type) Packet {
	switch t {
	case TypeConnect:
		return new(Connect)
	case TypeConnack:
		return new(Connack)
	case TypePublish:
		return new(Publish)
	case TypePuback:
		return new(Puback)
	case TypePubrec:
		return new(Pubrec)
	case TypePubrel:
		return new(Pubrel)
	case TypePubcomp:
		return new(Pubcomp)
	case TypeSubscribe:
		return new(Subscribe)
	case TypeSuback:
		return new(Suback)
	case TypeUnsubscribe:
		return new(Unsubscribe)
	case TypeUnsuback:
		return new(Unsuback)
	case TypePingreq:
		return new(Pingreq)
	case TypePingresp:
		return new(Pingresp)
	case TypeDisconnect:
		return new(Disconnect)
	case TypeAuth:
		return new(Auth)
	}
	return nil
}
