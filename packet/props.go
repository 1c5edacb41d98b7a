package packet

import "fmt"

// PropID is an MQTT 5 property identifier (MQTT 5.0 section 2.2.2.2).
type PropID byte

// The property identifiers of MQTT 5.0.
const (
	PropPayloadFormat           PropID = 0x01
	PropMessageExpiry           PropID = 0x02
	PropContentType             PropID = 0x03
	PropResponseTopic           PropID = 0x08
	PropCorrelationData         PropID = 0x09
	PropSubscriptionID          PropID = 0x0B
	PropSessionExpiry           PropID = 0x11
	PropAssignedClientID        PropID = 0x12
	PropServerKeepAlive         PropID = 0x13
	PropAuthMethod              PropID = 0x15
	PropAuthData                PropID = 0x16
	PropRequestProblemInfo      PropID = 0x17
	PropWillDelay               PropID = 0x18
	PropRequestResponseInfo     PropID = 0x19
	PropResponseInfo            PropID = 0x1A
	PropServerReference         PropID = 0x1C
	PropReasonString            PropID = 0x1F
	PropReceiveMaximum          PropID = 0x21
	PropTopicAliasMaximum       PropID = 0x22
	PropTopicAlias              PropID = 0x23
	PropMaximumQoS              PropID = 0x24
	PropRetainAvailable         PropID = 0x25
	PropUser                    PropID = 0x26
	PropMaximumPacketSize       PropID = 0x27
	PropWildcardSubAvailable    PropID = 0x28
	PropSubscriptionIDAvailable PropID = 0x29
	PropSharedSubAvailable      PropID = 0x2A
)

// typeWill stands for the will properties of CONNECT in the masks below; type
// 0 is reserved, so it names no real packet.
const typeWill Type = 0

func in(ts ...Type) (m uint16) {
	for _, t := range ts {
		m |= 1 << t
	}
	return m
}

var (
	acks     = in(TypePuback, TypePubrec, TypePubrel, TypePubcomp, TypeSuback, TypeUnsuback)
	propInfo = [0x2B]struct {
		name    string
		allowed uint16 // bit t set: allowed in packet type t (bit 0: will)
	}{
		PropPayloadFormat:           {"payload format indicator", in(TypePublish, typeWill)},
		PropMessageExpiry:           {"message expiry interval", in(TypePublish, typeWill)},
		PropContentType:             {"content type", in(TypePublish, typeWill)},
		PropResponseTopic:           {"response topic", in(TypePublish, typeWill)},
		PropCorrelationData:         {"correlation data", in(TypePublish, typeWill)},
		PropSubscriptionID:          {"subscription identifier", in(TypePublish, TypeSubscribe)},
		PropSessionExpiry:           {"session expiry interval", in(TypeConnect, TypeConnack, TypeDisconnect)},
		PropAssignedClientID:        {"assigned client identifier", in(TypeConnack)},
		PropServerKeepAlive:         {"server keep alive", in(TypeConnack)},
		PropAuthMethod:              {"authentication method", in(TypeConnect, TypeConnack, TypeAuth)},
		PropAuthData:                {"authentication data", in(TypeConnect, TypeConnack, TypeAuth)},
		PropRequestProblemInfo:      {"request problem information", in(TypeConnect)},
		PropWillDelay:               {"will delay interval", in(typeWill)},
		PropRequestResponseInfo:     {"request response information", in(TypeConnect)},
		PropResponseInfo:            {"response information", in(TypeConnack)},
		PropServerReference:         {"server reference", in(TypeConnack, TypeDisconnect)},
		PropReasonString:            {"reason string", in(TypeConnack, TypeDisconnect, TypeAuth) | acks},
		PropReceiveMaximum:          {"receive maximum", in(TypeConnect, TypeConnack)},
		PropTopicAliasMaximum:       {"topic alias maximum", in(TypeConnect, TypeConnack)},
		PropTopicAlias:              {"topic alias", in(TypePublish)},
		PropMaximumQoS:              {"maximum QoS", in(TypeConnack)},
		PropRetainAvailable:         {"retain available", in(TypeConnack)},
		PropUser:                    {"user property", 0xFFFF &^ in(TypePingreq, TypePingresp)},
		PropMaximumPacketSize:       {"maximum packet size", in(TypeConnect, TypeConnack)},
		PropWildcardSubAvailable:    {"wildcard subscription available", in(TypeConnack)},
		PropSubscriptionIDAvailable: {"subscription identifier available", in(TypeConnack)},
		PropSharedSubAvailable:      {"shared subscription available", in(TypeConnack)},
	}
)

// allowedProps[t] has bit id set when packet type t allows property id.
var allowedProps = func() (m [16]uint64) {
	for id, info := range propInfo {
		for t := range m {
			if info.allowed&(1<<t) != 0 {
				m[t] |= 1 << id
			}
		}
	}
	return m
}()

// String returns the spec's name of the property.
func (id PropID) String() string {
	if int(id) < len(propInfo) && propInfo[id].name != "" {
		return propInfo[id].name
	}
	return fmt.Sprintf("property 0x%02X", byte(id))
}

// AllowedIn reports whether MQTT 5 allows property id in packets of type t.
func (id PropID) AllowedIn(t Type) bool {
	return int(id) < len(propInfo) && propInfo[id].allowed&(1<<t) != 0
}

// UserProperty is one name/value pair of the user property.
type UserProperty struct {
	Key, Value string
}

// Properties holds the MQTT 5 properties of a packet or of a will. Each
// packet allows only some of them; encoding a packet with a property its
// type does not allow is an error.
//
// A property is sent when its field is non-zero (non-empty for strings and
// byte slices). For the properties whose zero is a meaningful value that
// differs from their absence (Maximum QoS 0, Retain Available 0, Message
// Expiry Interval 0, Server Keep Alive 0, …), call Include to send the zero.
// Decoding marks every property it reads as included, so Has tells
// presence exactly after a decode.
//
// Strings and byte slices of decoded properties alias the packet's body.
type Properties struct {
	PayloadFormat           byte           // 0x01: 0 unspecified bytes, 1 UTF-8
	MessageExpiry           uint32         // 0x02: seconds
	ContentType             string         // 0x03
	ResponseTopic           string         // 0x08
	CorrelationData         []byte         // 0x09
	SubscriptionIDs         []int          // 0x0B: any number in PUBLISH, one in SUBSCRIBE
	SessionExpiry           uint32         // 0x11: seconds
	AssignedClientID        string         // 0x12
	ServerKeepAlive         uint16         // 0x13: seconds
	AuthMethod              string         // 0x15
	AuthData                []byte         // 0x16
	RequestProblemInfo      byte           // 0x17: absent means 1
	WillDelay               uint32         // 0x18: seconds
	RequestResponseInfo     byte           // 0x19
	ResponseInfo            string         // 0x1A
	ServerReference         string         // 0x1C
	ReasonString            string         // 0x1F
	ReceiveMaximum          uint16         // 0x21: absent means 65,535
	TopicAliasMaximum       uint16         // 0x22
	TopicAlias              uint16         // 0x23
	MaximumQoS              byte           // 0x24: absent means 2
	RetainAvailable         byte           // 0x25: absent means 1
	User                    []UserProperty // 0x26: order and duplicates kept
	MaximumPacketSize       uint32         // 0x27: absent means no limit
	WildcardSubAvailable    byte           // 0x28: absent means 1
	SubscriptionIDAvailable byte           // 0x29: absent means 1
	SharedSubAvailable      byte           // 0x2A: absent means 1

	included uint64 // bit id: property id is present even if zero
}

// Include marks property id as present, so that it is sent even when its
// field holds the zero value.
func (p *Properties) Include(id PropID) { p.included |= 1 << id }

// Included reports whether property id was marked present, by Include or
// by decoding, whatever its field holds. With a check of the field itself
// it says what Has does, without Has's look at every other field: for the
// per-message paths.
func (p *Properties) Included(id PropID) bool {
	return p != nil && p.included&(1<<id) != 0
}

// Has reports whether property id is present: included, or non-zero.
func (p *Properties) Has(id PropID) bool {
	if p == nil {
		return false
	}
	if p.included&(1<<id) != 0 {
		return true
	}
	w := propWriter{count: true}
	p.walk(&w)
	return w.used&(1<<id) != 0
}

// reset clears p for a decode, keeping the capacity of its slices.
func (p *Properties) reset() {
	*p = Properties{User: p.User[:0], SubscriptionIDs: p.SubscriptionIDs[:0]}
}

// propWriter sizes or appends properties: walk runs once to count and once to
// write, so the two can never disagree.
type propWriter struct {
	count bool
	n     int
	dst   []byte
	used  uint64
	err   error
}

// refuse records the first value the encoder will not send: each is one the
// decoder refuses.
func (w *propWriter) refuse(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *propWriter) u8(id PropID, v byte) {
	w.used |= 1 << id
	if w.count {
		if v > 1 { // every byte property is 0 or 1
			w.refuse(protocolErr(fmt.Sprintf("%v is %d, not 0 or 1", id, v)))
		}
		w.n += 2
		return
	}
	w.dst = append(w.dst, byte(id), v)
}

func (w *propWriter) u16(id PropID, v uint16) {
	w.used |= 1 << id
	if w.count {
		switch {
		case v == 0 && id == PropTopicAlias:
			w.refuse(&Error{Code: TopicAliasInvalid, Msg: "topic alias 0 [MQTT-3.3.2-8]"})
		case v == 0 && id == PropReceiveMaximum:
			w.refuse(protocolErr("receive maximum 0"))
		}
		w.n += 3
		return
	}
	w.dst = appendUint16(append(w.dst, byte(id)), v)
}

func (w *propWriter) u32(id PropID, v uint32) {
	w.used |= 1 << id
	if w.count {
		if v == 0 && id == PropMaximumPacketSize {
			w.refuse(protocolErr("maximum packet size 0"))
		}
		w.n += 5
		return
	}
	w.dst = appendUint32(append(w.dst, byte(id)), v)
}

func (w *propWriter) varint(id PropID, v int) {
	w.used |= 1 << id
	if w.count {
		if (v < 1 || v > MaxRemainingLength) && w.err == nil {
			w.err = &Error{Code: ProtocolError, Msg: fmt.Sprintf("subscription identifier %d out of range", v)}
		}
		w.n += 1 + varintLen(v)
		return
	}
	w.dst = appendVarint(append(w.dst, byte(id)), v)
}

func (w *propWriter) str(id PropID, s string) {
	w.used |= 1 << id
	if w.count {
		if len(s) > 0xFFFF && w.err == nil {
			w.err = &Error{Code: MalformedPacket, Msg: id.String() + " longer than 65,535 bytes"}
		}
		if !validString(s) {
			w.refuse(malformed(id.String() + " is not a valid UTF-8 string [MQTT-1.5.4-1]"))
		}
		if id == PropResponseTopic && !validTopicName(s) {
			w.refuse(protocolErr("response topic is not a valid topic name [MQTT-3.3.2-14]"))
		}
		w.n += 3 + len(s)
		return
	}
	w.dst = appendString(append(w.dst, byte(id)), s)
}

func (w *propWriter) bin(id PropID, b []byte) {
	w.used |= 1 << id
	if w.count {
		if len(b) > 0xFFFF && w.err == nil {
			w.err = &Error{Code: MalformedPacket, Msg: id.String() + " longer than 65,535 bytes"}
		}
		w.n += 3 + len(b)
		return
	}
	w.dst = appendBytes(append(w.dst, byte(id)), b)
}

func (w *propWriter) pair(u UserProperty) {
	w.used |= 1 << PropUser
	if w.count {
		if (len(u.Key) > 0xFFFF || len(u.Value) > 0xFFFF) && w.err == nil {
			w.err = &Error{Code: MalformedPacket, Msg: "user property longer than 65,535 bytes"}
		}
		if !validString(u.Key) || !validString(u.Value) {
			w.refuse(malformed("user property is not a valid UTF-8 string pair [MQTT-1.5.4-1]"))
		}
		w.n += 5 + len(u.Key) + len(u.Value)
		return
	}
	w.dst = appendString(appendString(append(w.dst, byte(PropUser)), u.Key), u.Value)
}

// on reports whether property id is to be written: included or non-zero.
func (p *Properties) on(id PropID, nonZero bool) bool {
	return nonZero || p.included&(1<<id) != 0
}

// walk hands every present property to w, in identifier order.
func (p *Properties) walk(w *propWriter) {
	if p.on(PropPayloadFormat, p.PayloadFormat != 0) {
		w.u8(PropPayloadFormat, p.PayloadFormat)
	}
	if p.on(PropMessageExpiry, p.MessageExpiry != 0) {
		w.u32(PropMessageExpiry, p.MessageExpiry)
	}
	if p.on(PropContentType, p.ContentType != "") {
		w.str(PropContentType, p.ContentType)
	}
	if p.on(PropResponseTopic, p.ResponseTopic != "") {
		w.str(PropResponseTopic, p.ResponseTopic)
	}
	if p.on(PropCorrelationData, len(p.CorrelationData) != 0) {
		w.bin(PropCorrelationData, p.CorrelationData)
	}
	for _, id := range p.SubscriptionIDs {
		w.varint(PropSubscriptionID, id)
	}
	if p.on(PropSessionExpiry, p.SessionExpiry != 0) {
		w.u32(PropSessionExpiry, p.SessionExpiry)
	}
	if p.on(PropAssignedClientID, p.AssignedClientID != "") {
		w.str(PropAssignedClientID, p.AssignedClientID)
	}
	if p.on(PropServerKeepAlive, p.ServerKeepAlive != 0) {
		w.u16(PropServerKeepAlive, p.ServerKeepAlive)
	}
	if p.on(PropAuthMethod, p.AuthMethod != "") {
		w.str(PropAuthMethod, p.AuthMethod)
	}
	if p.on(PropAuthData, len(p.AuthData) != 0) {
		w.bin(PropAuthData, p.AuthData)
	}
	if p.on(PropRequestProblemInfo, p.RequestProblemInfo != 0) {
		w.u8(PropRequestProblemInfo, p.RequestProblemInfo)
	}
	if p.on(PropWillDelay, p.WillDelay != 0) {
		w.u32(PropWillDelay, p.WillDelay)
	}
	if p.on(PropRequestResponseInfo, p.RequestResponseInfo != 0) {
		w.u8(PropRequestResponseInfo, p.RequestResponseInfo)
	}
	if p.on(PropResponseInfo, p.ResponseInfo != "") {
		w.str(PropResponseInfo, p.ResponseInfo)
	}
	if p.on(PropServerReference, p.ServerReference != "") {
		w.str(PropServerReference, p.ServerReference)
	}
	if p.on(PropReasonString, p.ReasonString != "") {
		w.str(PropReasonString, p.ReasonString)
	}
	if p.on(PropReceiveMaximum, p.ReceiveMaximum != 0) {
		w.u16(PropReceiveMaximum, p.ReceiveMaximum)
	}
	if p.on(PropTopicAliasMaximum, p.TopicAliasMaximum != 0) {
		w.u16(PropTopicAliasMaximum, p.TopicAliasMaximum)
	}
	if p.on(PropTopicAlias, p.TopicAlias != 0) {
		w.u16(PropTopicAlias, p.TopicAlias)
	}
	if p.on(PropMaximumQoS, p.MaximumQoS != 0) {
		w.u8(PropMaximumQoS, p.MaximumQoS)
	}
	if p.on(PropRetainAvailable, p.RetainAvailable != 0) {
		w.u8(PropRetainAvailable, p.RetainAvailable)
	}
	for _, u := range p.User {
		w.pair(u)
	}
	if p.on(PropMaximumPacketSize, p.MaximumPacketSize != 0) {
		w.u32(PropMaximumPacketSize, p.MaximumPacketSize)
	}
	if p.on(PropWildcardSubAvailable, p.WildcardSubAvailable != 0) {
		w.u8(PropWildcardSubAvailable, p.WildcardSubAvailable)
	}
	if p.on(PropSubscriptionIDAvailable, p.SubscriptionIDAvailable != 0) {
		w.u8(PropSubscriptionIDAvailable, p.SubscriptionIDAvailable)
	}
	if p.on(PropSharedSubAvailable, p.SharedSubAvailable != 0) {
		w.u8(PropSharedSubAvailable, p.SharedSubAvailable)
	}
}

// propsSize returns the length of p's property section for a packet of type
// t, not counting its own length prefix, and checks that t allows every
// property p holds. A nil p has length 0.
func propsSize(p *Properties, t Type) (int, error) {
	if p == nil {
		return 0, nil
	}
	w := propWriter{count: true}
	p.walk(&w)
	if bad := w.used &^ allowedProps[t]; bad != 0 {
		for id := 0; id < 64; id++ {
			if bad&(1<<id) != 0 {
				return 0, &Error{Code: MalformedPacket, Msg: fmt.Sprintf("%v not allowed in %v", PropID(id), typeLabel(t))}
			}
		}
	}
	if w.err != nil {
		return 0, w.err
	}
	if t == TypeConnect && w.used&(1<<PropAuthData) != 0 && w.used&(1<<PropAuthMethod) == 0 {
		return 0, authDataAlone()
	}
	if t == TypeSubscribe && len(p.SubscriptionIDs) > 1 {
		return 0, protocolErr("SUBSCRIBE carries at most one subscription identifier")
	}
	if w.n > MaxRemainingLength {
		return 0, &Error{Code: PacketTooLarge, Msg: "properties too long"}
	}
	return w.n, nil
}

// appendProps appends p's property section, length first; size is what
// propsSize returned.
func appendProps(dst []byte, p *Properties, size int) []byte {
	dst = appendVarint(dst, size)
	if p == nil || size == 0 {
		return dst
	}
	w := propWriter{dst: dst}
	p.walk(&w)
	return w.dst
}

func typeLabel(t Type) string {
	if t == typeWill {
		return "will properties"
	}
	return t.String()
}

// multi are the properties that may appear more than once.
const multi = 1<<PropUser | 1<<PropSubscriptionID

// decodeProps reads a property section (length first) for a packet of type t
// into *pp, allocating a Properties only when the section is not empty, and
// reusing *pp when it is already there.
func decodeProps(d *decoder, pp **Properties, t Type) {
	n := d.varint("property length")
	if d.err != nil {
		return
	}
	if n == 0 {
		*pp = nil
		return
	}
	if n > len(d.b) {
		d.short("properties")
		return
	}
	p := *pp
	if p == nil {
		p = new(Properties)
		*pp = p
	} else {
		p.reset()
	}
	sub := decoder{b: d.b[:n]}
	d.b = d.b[n:]
	p.decode(&sub, t)
	if sub.err != nil {
		d.fail(sub.err)
		return
	}
	if t == TypeConnect && p.included&(1<<PropAuthData) != 0 && p.included&(1<<PropAuthMethod) == 0 {
		d.fail(authDataAlone())
	}
}

// authDataAlone is the error for a CONNECT with authentication data but no
// authentication method (MQTT 5.0 section 3.1.2.11.10).
func authDataAlone() error {
	return protocolErr("authentication data without authentication method")
}

func (p *Properties) decode(d *decoder, t Type) {
	for len(d.b) > 0 && d.err == nil {
		// A property identifier is a variable byte integer, but every one
		// MQTT 5 defines is below 0x80: a first byte from 0x80 on starts
		// an unknown identifier, whatever its length.
		id := PropID(d.byte("property identifier"))
		if int(id) >= len(propInfo) || !id.AllowedIn(t) {
			d.fail(&Error{Code: MalformedPacket, Msg: fmt.Sprintf("%v not allowed in %v", id, typeLabel(t))})
			return
		}
		if p.included&(1<<id) != 0 && multi&(1<<id) == 0 {
			d.fail(protocolErr(fmt.Sprintf("%v appears twice in %v", id, typeLabel(t))))
			return
		}
		p.included |= 1 << id
		name := propInfo[id].name // allowed, so named
		switch id {
		case PropPayloadFormat:
			p.PayloadFormat = d.bool01(name)
		case PropMessageExpiry:
			p.MessageExpiry = d.uint32(name)
		case PropContentType:
			p.ContentType = d.string(name)
		case PropResponseTopic:
			p.ResponseTopic = d.string(name)
			if d.err == nil && !validTopicName(p.ResponseTopic) {
				d.fail(protocolErr("response topic is not a valid topic name"))
			}
		case PropCorrelationData:
			p.CorrelationData = d.binary(name)
		case PropSubscriptionID:
			v := d.varint(name)
			if d.err == nil && v == 0 {
				d.fail(protocolErr("subscription identifier 0"))
			}
			if t == TypeSubscribe && len(p.SubscriptionIDs) > 0 {
				d.fail(protocolErr("subscription identifier appears twice in SUBSCRIBE"))
			}
			p.SubscriptionIDs = append(p.SubscriptionIDs, v)
		case PropSessionExpiry:
			p.SessionExpiry = d.uint32(name)
		case PropAssignedClientID:
			p.AssignedClientID = d.string(name)
		case PropServerKeepAlive:
			p.ServerKeepAlive = d.uint16(name)
		case PropAuthMethod:
			p.AuthMethod = d.string(name)
		case PropAuthData:
			p.AuthData = d.binary(name)
		case PropRequestProblemInfo:
			p.RequestProblemInfo = d.bool01(name)
		case PropWillDelay:
			p.WillDelay = d.uint32(name)
		case PropRequestResponseInfo:
			p.RequestResponseInfo = d.bool01(name)
		case PropResponseInfo:
			p.ResponseInfo = d.string(name)
		case PropServerReference:
			p.ServerReference = d.string(name)
		case PropReasonString:
			p.ReasonString = d.string(name)
		case PropReceiveMaximum:
			p.ReceiveMaximum = d.uint16(name)
			if d.err == nil && p.ReceiveMaximum == 0 {
				d.fail(protocolErr("receive maximum 0"))
			}
		case PropTopicAliasMaximum:
			p.TopicAliasMaximum = d.uint16(name)
		case PropTopicAlias:
			p.TopicAlias = d.uint16(name)
			if d.err == nil && p.TopicAlias == 0 {
				d.fail(&Error{Code: TopicAliasInvalid, Msg: "topic alias 0"})
			}
		case PropMaximumQoS:
			p.MaximumQoS = d.bool01(name)
		case PropRetainAvailable:
			p.RetainAvailable = d.bool01(name)
		case PropUser:
			k := d.string("user property name")
			v := d.string("user property value")
			p.User = append(p.User, UserProperty{k, v})
		case PropMaximumPacketSize:
			p.MaximumPacketSize = d.uint32(name)
			if d.err == nil && p.MaximumPacketSize == 0 {
				d.fail(protocolErr("maximum packet size 0"))
			}
		case PropWildcardSubAvailable:
			p.WildcardSubAvailable = d.bool01(name)
		case PropSubscriptionIDAvailable:
			p.SubscriptionIDAvailable = d.bool01(name)
		case PropSharedSubAvailable:
			p.SharedSubAvailable = d.bool01(name)
		}
	}
}

// bool01 reads a byte property that may only be 0 or 1.
func (d *decoder) bool01(what string) byte {
	v := d.byte(what)
	if d.err == nil && v > 1 {
		d.fail(protocolErr(fmt.Sprintf("%s is %d, not 0 or 1", what, v)))
	}
	return v
}
