package packet

import "fmt"

// Subscription is one topic filter of a SUBSCRIBE with its options. NoLocal,
// RetainAsPublished and RetainHandling are MQTT 5 options: encoding for an
// earlier version leaves them out.
type Subscription struct {
	Filter            string
	QoS               QoS  // the maximum QoS the client asks for
	NoLocal           bool // do not send the client its own publishes
	RetainAsPublished bool // keep the retain flag as published
	RetainHandling    byte // 0 send retained, 1 only for a new subscription, 2 never
}

// Subscribe is the SUBSCRIBE packet (MQTT 5.0 section 3.8).
type Subscribe struct {
	ID            uint16
	Subscriptions []Subscription
	Props         *Properties // MQTT 5 only: subscription identifier, user properties
}

// Suback is the SUBACK packet (MQTT 5.0 section 3.9): one reason code per
// subscription, in order. Before MQTT 5 every failure is sent as 0x80.
type Suback struct {
	ID      uint16
	Reasons []ReasonCode
	Props   *Properties // MQTT 5 only
}

// Unsubscribe is the UNSUBSCRIBE packet (MQTT 5.0 section 3.10).
type Unsubscribe struct {
	ID      uint16
	Filters []string
	Props   *Properties // MQTT 5 only
}

// Unsuback is the UNSUBACK packet (MQTT 5.0 section 3.11). Reasons, one per
// topic filter, exist in MQTT 5 only; earlier versions carry just the ID.
type Unsuback struct {
	ID      uint16
	Reasons []ReasonCode // MQTT 5 only
	Props   *Properties  // MQTT 5 only
}

// Type returns TypeSubscribe.
func (*Subscribe) Type() Type { return TypeSubscribe }

// Type returns TypeSuback.
func (*Suback) Type() Type { return TypeSuback }

// Type returns TypeUnsubscribe.
func (*Unsubscribe) Type() Type { return TypeUnsubscribe }

// Type returns TypeUnsuback.
func (*Unsuback) Type() Type { return TypeUnsuback }

// header checks the packet identifier and sizes the properties of a packet
// that has both; it returns the length of the variable header.
func idAndProps(t Type, id uint16, props *Properties, v Version) (n, propLen int, err error) {
	if id == 0 {
		return 0, 0, protocolErr(fmt.Sprintf("%v with packet identifier 0 [MQTT-2.3.1-1]", t))
	}
	if v < V5 {
		return 2, 0, nil
	}
	if propLen, err = propsSize(props, t); err != nil {
		return 0, 0, err
	}
	return 2 + varintLen(propLen) + propLen, propLen, nil
}

func appendHeader(dst []byte, t Type, n int, id uint16, props *Properties, propLen int, v Version) ([]byte, error) {
	if n > MaxRemainingLength {
		return dst, &Error{Code: PacketTooLarge, Msg: t.String() + " too large"}
	}
	dst = appendVarint(append(dst, byte(t)<<4|fixedFlags(t)), n)
	dst = appendUint16(dst, id)
	if v == V5 {
		dst = appendProps(dst, props, propLen)
	}
	return dst, nil
}

// Append encodes the SUBSCRIBE for version v.
func (p *Subscribe) Append(dst []byte, v Version) ([]byte, error) {
	n, propLen, err := idAndProps(TypeSubscribe, p.ID, p.Props, v)
	if err != nil {
		return dst, err
	}
	if len(p.Subscriptions) == 0 {
		return dst, protocolErr("SUBSCRIBE without subscriptions [MQTT-3.8.3-3]")
	}
	for _, s := range p.Subscriptions {
		if s.Filter == "" || len(s.Filter) > 0xFFFF || !validString(s.Filter) {
			return dst, malformed("topic filter empty, longer than 65,535 bytes or not valid UTF-8")
		}
		if s.QoS > ExactlyOnce || s.RetainHandling > 2 {
			return dst, malformed("subscription QoS 3 or retain handling 3")
		}
		n += 3 + len(s.Filter)
	}
	if dst, err = appendHeader(dst, TypeSubscribe, n, p.ID, p.Props, propLen, v); err != nil {
		return dst, err
	}
	for _, s := range p.Subscriptions {
		opts := byte(s.QoS)
		if v == V5 {
			if s.NoLocal {
				opts |= 0x04
			}
			if s.RetainAsPublished {
				opts |= 0x08
			}
			opts |= s.RetainHandling << 4
		}
		dst = append(appendString(dst, s.Filter), opts)
	}
	return dst, nil
}

// countFilters counts the topic filter and options pairs of a SUBSCRIBE
// payload, as far as their lengths say; the decoder checks the rest.
func countFilters(b []byte) (n int) {
	for len(b) >= 2 {
		skip := 2 + (int(b[0])<<8 | int(b[1])) + 1
		if skip > len(b) {
			return n + 1
		}
		b = b[skip:]
		n++
	}
	return n
}

func (p *Subscribe) decode(body []byte, _ byte, v Version) error {
	d := decoder{b: body}
	p.ID = d.uint16("packet identifier")
	if d.err == nil && p.ID == 0 {
		return protocolErr("SUBSCRIBE with packet identifier 0 [MQTT-2.3.1-1]")
	}
	if v == V5 {
		decodeProps(&d, &p.Props, TypeSubscribe)
	} else {
		p.Props = nil
	}
	subs := p.Subscriptions[:0]
	// One allocation for the usual SUBSCRIBE, not one per doubling; the
	// count is bounded, so a hostile packet of empty filters costs no
	// more than the packet itself.
	if n := min(countFilters(d.b), 32); cap(subs) < n {
		subs = make([]Subscription, 0, n)
	}
	for len(d.b) > 0 && d.err == nil {
		s := Subscription{Filter: d.string("topic filter")}
		opts := d.byte("subscription options")
		if d.err != nil {
			break
		}
		if s.Filter == "" {
			return protocolErr("empty topic filter [MQTT-4.7.3-1]")
		}
		if v < V5 && opts&0xFC != 0 {
			return malformed("reserved bits set in requested QoS [MQTT-3.8.3-4]")
		}
		if opts&0xC0 != 0 {
			return malformed("reserved bits set in subscription options [MQTT-3.8.3-5]")
		}
		s.QoS = QoS(opts & 3)
		if s.QoS > ExactlyOnce {
			if v == V5 { // MQTT 5.0 section 3.8.3.1
				return protocolErr("subscription QoS 3")
			}
			return malformed("subscription QoS 3 [MQTT-3.8.3-4]")
		}
		s.NoLocal = opts&0x04 != 0
		s.RetainAsPublished = opts&0x08 != 0
		s.RetainHandling = opts >> 4 & 3
		if s.RetainHandling > 2 {
			return protocolErr("retain handling 3")
		}
		subs = append(subs, s)
	}
	p.Subscriptions = subs
	if d.err != nil {
		return d.err
	}
	if len(subs) == 0 {
		return protocolErr("SUBSCRIBE without subscriptions [MQTT-3.8.3-3]")
	}
	return nil
}

// Append encodes the SUBACK for version v.
func (p *Suback) Append(dst []byte, v Version) ([]byte, error) {
	n, propLen, err := idAndProps(TypeSuback, p.ID, p.Props, v)
	if err != nil {
		return dst, err
	}
	if len(p.Reasons) == 0 {
		return dst, protocolErr("SUBACK without reason codes")
	}
	for _, rc := range p.Reasons {
		if v == V5 && !reasonAllowed(TypeSuback, rc) {
			return dst, protocolErr(fmt.Sprintf("reason code 0x%02X not allowed in SUBACK", byte(rc)))
		}
		if v < V5 && rc > GrantedQoS2 && rc < UnspecifiedError {
			return dst, protocolErr(fmt.Sprintf("return code 0x%02X not allowed in SUBACK", byte(rc)))
		}
	}
	n += len(p.Reasons)
	if dst, err = appendHeader(dst, TypeSuback, n, p.ID, p.Props, propLen, v); err != nil {
		return dst, err
	}
	for _, rc := range p.Reasons {
		if v < V5 && rc.IsError() {
			rc = UnspecifiedError // 3.1.1 knows one failure code, 0x80
		}
		dst = append(dst, byte(rc))
	}
	return dst, nil
}

func (p *Suback) decode(body []byte, _ byte, v Version) error {
	d := decoder{b: body}
	p.ID = d.uint16("packet identifier")
	if d.err == nil && p.ID == 0 {
		return protocolErr("SUBACK with packet identifier 0 [MQTT-2.3.1-1]")
	}
	if v == V5 {
		decodeProps(&d, &p.Props, TypeSuback)
	} else {
		p.Props = nil
	}
	if d.err != nil {
		return d.err
	}
	rs := p.Reasons[:0]
	for _, c := range d.rest() {
		rc := ReasonCode(c)
		if v == V5 && !reasonAllowed(TypeSuback, rc) || v < V5 && rc > GrantedQoS2 && rc != UnspecifiedError {
			return protocolErr(fmt.Sprintf("reason code 0x%02X not allowed in SUBACK [MQTT-3.9.3-2]", c))
		}
		rs = append(rs, rc)
	}
	p.Reasons = rs
	if len(rs) == 0 {
		return protocolErr("SUBACK without reason codes")
	}
	return nil
}

// Append encodes the UNSUBSCRIBE for version v.
func (p *Unsubscribe) Append(dst []byte, v Version) ([]byte, error) {
	n, propLen, err := idAndProps(TypeUnsubscribe, p.ID, p.Props, v)
	if err != nil {
		return dst, err
	}
	if len(p.Filters) == 0 {
		return dst, protocolErr("UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]")
	}
	for _, f := range p.Filters {
		if f == "" || len(f) > 0xFFFF || !validString(f) {
			return dst, malformed("topic filter empty, longer than 65,535 bytes or not valid UTF-8")
		}
		n += 2 + len(f)
	}
	if dst, err = appendHeader(dst, TypeUnsubscribe, n, p.ID, p.Props, propLen, v); err != nil {
		return dst, err
	}
	for _, f := range p.Filters {
		dst = appendString(dst, f)
	}
	return dst, nil
}

func (p *Unsubscribe) decode(body []byte, _ byte, v Version) error {
	d := decoder{b: body}
	p.ID = d.uint16("packet identifier")
	if d.err == nil && p.ID == 0 {
		return protocolErr("UNSUBSCRIBE with packet identifier 0 [MQTT-2.3.1-1]")
	}
	if v == V5 {
		decodeProps(&d, &p.Props, TypeUnsubscribe)
	} else {
		p.Props = nil
	}
	fs := p.Filters[:0]
	for len(d.b) > 0 && d.err == nil {
		f := d.string("topic filter")
		if d.err == nil && f == "" {
			return protocolErr("empty topic filter [MQTT-4.7.3-1]")
		}
		fs = append(fs, f)
	}
	p.Filters = fs
	if d.err != nil {
		return d.err
	}
	if len(fs) == 0 {
		return protocolErr("UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]")
	}
	return nil
}

// Append encodes the UNSUBACK for version v.
func (p *Unsuback) Append(dst []byte, v Version) ([]byte, error) {
	n, propLen, err := idAndProps(TypeUnsuback, p.ID, p.Props, v)
	if err != nil {
		return dst, err
	}
	if v == V5 {
		if len(p.Reasons) == 0 {
			return dst, protocolErr("UNSUBACK without reason codes")
		}
		for _, rc := range p.Reasons {
			if !reasonAllowed(TypeUnsuback, rc) {
				return dst, protocolErr(fmt.Sprintf("reason code 0x%02X not allowed in UNSUBACK", byte(rc)))
			}
		}
		n += len(p.Reasons)
	}
	if dst, err = appendHeader(dst, TypeUnsuback, n, p.ID, p.Props, propLen, v); err != nil {
		return dst, err
	}
	if v == V5 {
		for _, rc := range p.Reasons {
			dst = append(dst, byte(rc))
		}
	}
	return dst, nil
}

func (p *Unsuback) decode(body []byte, _ byte, v Version) error {
	d := decoder{b: body}
	p.ID = d.uint16("packet identifier")
	if d.err == nil && p.ID == 0 {
		return protocolErr("UNSUBACK with packet identifier 0 [MQTT-2.3.1-1]")
	}
	if v < V5 {
		p.Props, p.Reasons = nil, nil
		d.end("UNSUBACK")
		return d.err
	}
	decodeProps(&d, &p.Props, TypeUnsuback)
	if d.err != nil {
		return d.err
	}
	rs := p.Reasons[:0]
	for _, c := range d.rest() {
		if !reasonAllowed(TypeUnsuback, ReasonCode(c)) {
			return protocolErr(fmt.Sprintf("reason code 0x%02X not allowed in UNSUBACK", c))
		}
		rs = append(rs, ReasonCode(c))
	}
	p.Reasons = rs
	if len(rs) == 0 {
		return protocolErr("UNSUBACK without reason codes")
	}
	return nil
}
