package packet

import "fmt"

// Pingreq is the PINGREQ packet (MQTT 5.0 section 3.12).
type Pingreq struct{}

// Pingresp is the PINGRESP packet (MQTT 5.0 section 3.13).
type Pingresp struct{}

// Disconnect is the DISCONNECT packet (MQTT 5.0 section 3.14). Before MQTT 5
// it carries nothing: ReasonCode and Props are MQTT 5 only.
type Disconnect struct {
	ReasonCode ReasonCode
	Props      *Properties
}

// Auth is the AUTH packet of MQTT 5 enhanced authentication (MQTT 5.0
// section 3.15). It does not exist in earlier versions.
type Auth struct {
	ReasonCode ReasonCode
	Props      *Properties
}

// Type returns TypePingreq.
func (*Pingreq) Type() Type { return TypePingreq }

// Type returns TypePingresp.
func (*Pingresp) Type() Type { return TypePingresp }

// Type returns TypeDisconnect.
func (*Disconnect) Type() Type { return TypeDisconnect }

// Type returns TypeAuth.
func (*Auth) Type() Type { return TypeAuth }

// Append encodes the PINGREQ; it is the same for every version.
func (*Pingreq) Append(dst []byte, _ Version) ([]byte, error) {
	return append(dst, byte(TypePingreq)<<4, 0), nil
}

// Append encodes the PINGRESP; it is the same for every version.
func (*Pingresp) Append(dst []byte, _ Version) ([]byte, error) {
	return append(dst, byte(TypePingresp)<<4, 0), nil
}

func (*Pingreq) decode(body []byte, _ byte, _ Version) error  { return empty(body, TypePingreq) }
func (*Pingresp) decode(body []byte, _ byte, _ Version) error { return empty(body, TypePingresp) }

func empty(body []byte, t Type) error {
	if len(body) != 0 {
		return malformed(t.String() + " with a body")
	}
	return nil
}

// Append encodes the DISCONNECT for version v.
func (p *Disconnect) Append(dst []byte, v Version) ([]byte, error) {
	if v < V5 {
		return append(dst, byte(TypeDisconnect)<<4, 0), nil
	}
	return appendReasonProps(dst, TypeDisconnect, p.ReasonCode, p.Props)
}

func (p *Disconnect) decode(body []byte, _ byte, v Version) error {
	if v < V5 {
		p.ReasonCode, p.Props = Success, nil
		return empty(body, TypeDisconnect)
	}
	return decodeReasonProps(body, TypeDisconnect, &p.ReasonCode, &p.Props)
}

// Append encodes the AUTH; it exists in MQTT 5 only.
func (p *Auth) Append(dst []byte, v Version) ([]byte, error) {
	if v < V5 {
		return dst, protocolErr(fmt.Sprintf("AUTH does not exist in MQTT %v", v))
	}
	return appendReasonProps(dst, TypeAuth, p.ReasonCode, p.Props)
}

func (p *Auth) decode(body []byte, _ byte, v Version) error {
	if v < V5 {
		return malformed(fmt.Sprintf("packet type 15 is reserved in MQTT %v", v))
	}
	return decodeReasonProps(body, TypeAuth, &p.ReasonCode, &p.Props)
}

// appendReasonProps encodes DISCONNECT and AUTH of MQTT 5: an empty body for
// Success without properties, as the spec allows.
func appendReasonProps(dst []byte, t Type, rc ReasonCode, props *Properties) ([]byte, error) {
	if !reasonAllowed(t, rc) {
		return dst, protocolErr(fmt.Sprintf("reason code 0x%02X not allowed in %v", byte(rc), t))
	}
	n, err := propsSize(props, t)
	if err != nil {
		return dst, err
	}
	if n == 0 && rc == Success {
		return append(dst, byte(t)<<4, 0), nil
	}
	dst = appendVarint(append(dst, byte(t)<<4), 1+varintLen(n)+n)
	dst = append(dst, byte(rc))
	return appendProps(dst, props, n), nil
}

func decodeReasonProps(body []byte, t Type, rc *ReasonCode, props **Properties) error {
	*rc, *props = Success, nil
	if len(body) == 0 {
		return nil
	}
	d := decoder{b: body}
	*rc = ReasonCode(d.byte("reason code"))
	if !reasonAllowed(t, *rc) {
		return protocolErr(fmt.Sprintf("reason code 0x%02X not allowed in %v", byte(*rc), t))
	}
	if len(d.b) > 0 {
		decodeProps(&d, props, t)
	}
	d.end(t.String())
	return d.err
}
