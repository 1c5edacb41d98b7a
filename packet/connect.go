package packet

import "fmt"

// Connect is the CONNECT packet, the first a client sends (MQTT 5.0 section
// 3.1). Version is the protocol level it asks for; the protocol name on the
// wire follows from it ("MQIsdp" for 3.1, "MQTT" otherwise).
type Connect struct {
	// Version is the protocol level. Zero encodes at the version passed to
	// Append; decoding sets it from the packet.
	Version    Version
	CleanStart bool   // Clean Session in 3.1 and 3.1.1
	KeepAlive  uint16 // seconds; 0 turns keepalive off
	ClientID   string
	Will       *Will // nil: no will

	// Username is sent when it is not empty or UsernameFlag is set (to send
	// an empty one); decoding sets UsernameFlag when the packet has one.
	// Password works the same way.
	Username     string
	UsernameFlag bool
	Password     []byte
	PasswordFlag bool

	Props *Properties // MQTT 5 only
}

// Will is the will message of a CONNECT.
type Will struct {
	Topic   string
	Payload []byte
	QoS     QoS
	Retain  bool
	Props   *Properties // MQTT 5 only; the will properties
}

// Type returns TypeConnect.
func (*Connect) Type() Type { return TypeConnect }

const (
	flagCleanStart = 0x02
	flagWill       = 0x04
	flagWillRetain = 0x20
	flagPassword   = 0x40
	flagUsername   = 0x80
)

// Append encodes the CONNECT at p.Version, or at v when p.Version is zero.
func (p *Connect) Append(dst []byte, v Version) ([]byte, error) {
	if p.Version != 0 {
		v = p.Version
	}
	if !v.Valid() {
		return dst, &Error{Code: UnsupportedProtocolVersion, Msg: fmt.Sprintf("cannot encode CONNECT for protocol level %d", byte(v))}
	}
	hasUser := p.UsernameFlag || p.Username != ""
	hasPass := p.PasswordFlag || len(p.Password) != 0
	if hasPass && !hasUser && v < V5 {
		return dst, malformed("a password needs a user name before MQTT 5 [MQTT-3.1.2-22]")
	}
	flags := byte(0)
	if p.CleanStart {
		flags |= flagCleanStart
	}
	if hasUser {
		flags |= flagUsername
	}
	if hasPass {
		flags |= flagPassword
	}
	name := v.ProtocolName()
	n := 2 + len(name) + 1 + 1 + 2 + 2 + len(p.ClientID)
	if len(p.ClientID) > 0xFFFF || !validString(p.ClientID) {
		return dst, malformed("client identifier longer than 65,535 bytes or not valid UTF-8")
	}
	var props, willProps int
	var err error
	if v == V5 {
		if props, err = propsSize(p.Props, TypeConnect); err != nil {
			return dst, err
		}
		n += varintLen(props) + props
	}
	if w := p.Will; w != nil {
		if w.QoS > ExactlyOnce {
			return dst, malformed("will QoS 3")
		}
		if err := checkTopicForEncode(w.Topic, false); err != nil {
			return dst, err
		}
		if len(w.Payload) > 0xFFFF {
			return dst, malformed("will payload longer than 65,535 bytes")
		}
		flags |= flagWill | byte(w.QoS)<<3
		if w.Retain {
			flags |= flagWillRetain
		}
		n += 2 + len(w.Topic) + 2 + len(w.Payload)
		if v == V5 {
			if willProps, err = propsSize(w.Props, typeWill); err != nil {
				return dst, err
			}
			n += varintLen(willProps) + willProps
		}
	}
	if hasUser {
		if len(p.Username) > 0xFFFF {
			return dst, malformed("user name longer than 65,535 bytes")
		}
		if !validString(p.Username) {
			return dst, malformed("user name is not a valid UTF-8 string [MQTT-1.5.4-1]")
		}
		n += 2 + len(p.Username)
	}
	if hasPass {
		if len(p.Password) > 0xFFFF {
			return dst, malformed("password longer than 65,535 bytes")
		}
		n += 2 + len(p.Password)
	}
	if n > MaxRemainingLength {
		return dst, &Error{Code: PacketTooLarge, Msg: "CONNECT too large"}
	}
	dst = appendVarint(append(dst, byte(TypeConnect)<<4), n)
	dst = appendString(dst, name)
	dst = append(dst, byte(v), flags)
	dst = appendUint16(dst, p.KeepAlive)
	if v == V5 {
		dst = appendProps(dst, p.Props, props)
	}
	dst = appendString(dst, p.ClientID)
	if w := p.Will; w != nil {
		if v == V5 {
			dst = appendProps(dst, w.Props, willProps)
		}
		dst = appendString(dst, w.Topic)
		dst = appendBytes(dst, w.Payload)
	}
	if hasUser {
		dst = appendString(dst, p.Username)
	}
	if hasPass {
		dst = appendBytes(dst, p.Password)
	}
	return dst, nil
}

func (p *Connect) decode(body []byte, _ byte, _ Version) error {
	d := decoder{b: body}
	name := d.string("protocol name")
	level := Version(d.byte("protocol level"))
	if d.err != nil {
		return d.err
	}
	// [MQTT-3.1.2-1] [MQTT-3.1.2-2]: an unknown name or level is answered
	// with CONNACK "unsupported protocol version" by the server.
	if !level.Valid() || name != level.ProtocolName() {
		return &Error{Code: UnsupportedProtocolVersion, Msg: fmt.Sprintf("unsupported protocol %q level %d", name, byte(level))}
	}
	v := level
	*p = Connect{Version: v, Props: p.Props, Will: p.Will} // reused by DecodeInto
	flags := d.byte("connect flags")
	if d.err != nil {
		return d.err
	}
	if flags&0x01 != 0 {
		return malformed("reserved connect flag set [MQTT-3.1.2-3]")
	}
	p.CleanStart = flags&flagCleanStart != 0
	willQoS := QoS(flags>>3) & 3
	if flags&flagWill == 0 {
		if willQoS != 0 || flags&flagWillRetain != 0 {
			return malformed("will QoS or will retain set without a will [MQTT-3.1.2-11] [MQTT-3.1.2-13]")
		}
	} else if willQoS > ExactlyOnce {
		return malformed("will QoS 3 [MQTT-3.1.2-12]")
	}
	if v < V5 && flags&flagPassword != 0 && flags&flagUsername == 0 {
		return malformed("password flag without user name flag [MQTT-3.1.2-22]")
	}
	p.KeepAlive = d.uint16("keep alive")
	if v == V5 {
		decodeProps(&d, &p.Props, TypeConnect)
	} else {
		p.Props = nil
	}
	p.ClientID = d.string("client identifier")
	if flags&flagWill == 0 {
		p.Will = nil
	} else {
		w := p.Will
		if w == nil {
			w = new(Will)
		}
		*w = Will{QoS: willQoS, Retain: flags&flagWillRetain != 0, Props: w.Props}
		if v == V5 {
			decodeProps(&d, &w.Props, typeWill)
		} else {
			w.Props = nil
		}
		w.Topic = d.string("will topic")
		if d.err == nil {
			if err := checkTopicName(w.Topic, false); err != nil {
				return err
			}
		}
		w.Payload = d.binary("will payload")
		p.Will = w
	}
	if flags&flagUsername != 0 {
		p.UsernameFlag = true
		p.Username = d.string("user name")
	}
	if flags&flagPassword != 0 {
		p.PasswordFlag = true
		p.Password = d.binary("password")
	}
	d.end("CONNECT")
	return d.err
}

// Connack is the CONNACK packet (MQTT 5.0 section 3.2). ReasonCode is in the
// MQTT 5 space for every version: encoding for 3.1 or 3.1.1 maps it to the
// nearest return code (UnsupportedProtocolVersion to 1,
// ClientIdentifierNotValid to 2, BadUserNameOrPassword to 4, NotAuthorized and
// Banned to 5, any other refusal to 3 "server unavailable"), and decoding maps
// the return codes 1..5 back.
type Connack struct {
	SessionPresent bool // always false in 3.1, which has no such flag
	ReasonCode     ReasonCode
	Props          *Properties // MQTT 5 only
}

// Type returns TypeConnack.
func (*Connack) Type() Type { return TypeConnack }

// Append encodes the CONNACK for version v.
func (p *Connack) Append(dst []byte, v Version) ([]byte, error) {
	if p.SessionPresent && p.ReasonCode != Success {
		return dst, protocolErr("session present on a refused connection [MQTT-3.2.2-6]")
	}
	// Checked for every version: a code CONNACK cannot carry would map to
	// a misleading 3.1.1 return code.
	if !reasonAllowed(TypeConnack, p.ReasonCode) {
		return dst, protocolErr(fmt.Sprintf("reason code 0x%02X not allowed in CONNACK", byte(p.ReasonCode)))
	}
	flags := byte(0)
	if p.SessionPresent && v != V31 {
		flags = 1
	}
	if v < V5 {
		return append(dst, byte(TypeConnack)<<4, 2, flags, connackV3(p.ReasonCode)), nil
	}
	props, err := propsSize(p.Props, TypeConnack)
	if err != nil {
		return dst, err
	}
	dst = appendVarint(append(dst, byte(TypeConnack)<<4), 2+varintLen(props)+props)
	dst = append(dst, flags, byte(p.ReasonCode))
	return appendProps(dst, p.Props, props), nil
}

func (p *Connack) decode(body []byte, _ byte, v Version) error {
	d := decoder{b: body}
	flags := d.byte("acknowledge flags")
	code := d.byte("return code")
	if d.err != nil {
		return d.err
	}
	*p = Connack{Props: p.Props}
	if v == V31 {
		// 3.1 has no session present flag; its first byte is unused.
		flags = 0
	}
	if flags&^1 != 0 {
		return malformed("reserved acknowledge flags set [MQTT-3.2.2-1]")
	}
	p.SessionPresent = flags == 1
	if v < V5 {
		rc, ok := connackV5(code)
		if !ok {
			return malformed(fmt.Sprintf("reserved CONNACK return code %d", code))
		}
		p.ReasonCode = rc
		p.Props = nil
	} else {
		p.ReasonCode = ReasonCode(code)
		if !reasonAllowed(TypeConnack, p.ReasonCode) {
			return protocolErr(fmt.Sprintf("reason code 0x%02X not allowed in CONNACK", code))
		}
		decodeProps(&d, &p.Props, TypeConnack)
	}
	if p.SessionPresent && p.ReasonCode != Success {
		return protocolErr("session present on a refused connection [MQTT-3.2.2-6]")
	}
	d.end("CONNACK")
	return d.err
}
