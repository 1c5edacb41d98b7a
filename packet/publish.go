package packet

import (
	"strings"
	"unsafe"
)

// Publish is the PUBLISH packet (MQTT 5.0 section 3.3).
type Publish struct {
	Topic   string // empty only in MQTT 5 with a topic alias
	Payload []byte
	QoS     QoS
	Retain  bool
	Dup     bool
	ID      uint16      // packet identifier, non-zero for QoS 1 and 2 only
	Props   *Properties // MQTT 5 only
}

// Type returns TypePublish.
func (*Publish) Type() Type { return TypePublish }

// Append encodes the PUBLISH for version v.
func (p *Publish) Append(dst []byte, v Version) ([]byte, error) {
	if p.QoS > ExactlyOnce {
		return dst, malformed("PUBLISH QoS 3")
	}
	first := byte(TypePublish)<<4 | byte(p.QoS)<<1
	if p.Retain {
		first |= 1
	}
	n := 2 + len(p.Topic) + len(p.Payload)
	if p.QoS > 0 {
		if p.ID == 0 {
			return dst, protocolErr("PUBLISH QoS > 0 without packet identifier [MQTT-2.3.1-1]")
		}
		n += 2
	}
	if p.Dup {
		if p.QoS == 0 {
			return dst, protocolErr("DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]")
		}
		first |= 0x08
	}
	aliased := false
	var props int
	if v == V5 && p.Props != nil {
		var err error
		if props, err = propsSize(p.Props, TypePublish); err != nil {
			return dst, err
		}
		aliased = p.Props.TopicAlias != 0
	}
	if v == V5 {
		n += varintLen(props) + props
	}
	if err := checkTopicForEncode(p.Topic, aliased); err != nil {
		return dst, err
	}
	if n > MaxRemainingLength {
		return dst, &Error{Code: PacketTooLarge, Msg: "PUBLISH too large"}
	}
	dst = appendVarint(append(dst, first), n)
	dst = appendString(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendUint16(dst, p.ID)
	}
	if v == V5 {
		dst = appendProps(dst, p.Props, props)
	}
	return append(dst, p.Payload...), nil
}

func (p *Publish) decode(body []byte, flags byte, v Version) error {
	p.QoS = QoS(flags>>1) & 3
	p.Retain = flags&1 != 0
	p.Dup = flags&0x08 != 0
	if p.QoS > ExactlyOnce {
		return malformed("PUBLISH QoS 3 [MQTT-3.3.1-4]")
	}
	if p.Dup && p.QoS == 0 {
		return malformed("DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2]")
	}
	// The topic is read by hand: this is the hot path.
	if len(body) < 2 {
		return malformed("topic name runs past the end of the packet")
	}
	tl := int(body[0])<<8 | int(body[1])
	if len(body) < 2+tl {
		return malformed("topic name runs past the end of the packet")
	}
	if tl == 0 {
		p.Topic = ""
	} else {
		p.Topic = unsafe.String(&body[2], tl)
	}
	d := decoder{b: body[2+tl:]}
	p.ID = 0
	if p.QoS > 0 {
		p.ID = d.uint16("packet identifier")
		if d.err == nil && p.ID == 0 {
			return protocolErr("PUBLISH QoS > 0 with packet identifier 0 [MQTT-2.3.1-1]")
		}
	}
	aliased := false
	if v == V5 {
		decodeProps(&d, &p.Props, TypePublish)
		aliased = p.Props != nil && p.Props.TopicAlias != 0
	} else {
		p.Props = nil
	}
	if d.err != nil {
		return d.err
	}
	if err := checkTopicName(p.Topic, aliased); err != nil {
		return err
	}
	p.Payload = d.rest()
	return nil
}

// checkTopicName validates a decoded topic name: a valid UTF-8 string, no
// wildcards [MQTT-3.3.2-2], at least one character [MQTT-4.7.3-1] unless a
// topic alias stands in for it (MQTT 5).
func checkTopicName(s string, aliased bool) error {
	if s == "" {
		if aliased {
			return nil
		}
		return protocolErr("empty topic name [MQTT-4.7.3-1]")
	}
	for i := plainPrefix(s, true); i < len(s); i++ {
		switch c := s[i]; {
		case c == '+' || c == '#':
			return &Error{Code: TopicNameInvalid, Msg: "wildcard in topic name [MQTT-3.3.2-2]"}
		case c == 0:
			return malformed("topic name contains U+0000 [MQTT-1.5.4-2]")
		case c >= 0x80:
			if !validString(s[i:]) {
				return malformed("topic name is not valid UTF-8 [MQTT-1.5.4-1]")
			}
			if strings.ContainsAny(s[i:], "+#") {
				return &Error{Code: TopicNameInvalid, Msg: "wildcard in topic name [MQTT-3.3.2-2]"}
			}
			return nil
		}
	}
	return nil
}

// checkTopicForEncode checks a topic name to be sent: its length, and all
// that checkTopicName checks of a received one, so that the encoder never
// sends what the decoder refuses.
func checkTopicForEncode(s string, aliased bool) error {
	if len(s) > 0xFFFF {
		return malformed("topic name longer than 65,535 bytes")
	}
	return checkTopicName(s, aliased)
}

// validTopicName reports whether s is a non-empty topic name without
// wildcards; the UTF-8 check is the string decoder's.
func validTopicName(s string) bool {
	return s != "" && !strings.ContainsAny(s, "+#")
}
