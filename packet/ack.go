package packet

import "fmt"

// Puback is the PUBACK packet, the answer to a QoS 1 PUBLISH (MQTT 5.0
// section 3.4).
type Puback struct {
	ID         uint16
	ReasonCode ReasonCode  // MQTT 5 only
	Props      *Properties // MQTT 5 only
}

// Pubrec is the PUBREC packet, the first answer to a QoS 2 PUBLISH (MQTT 5.0
// section 3.5).
type Pubrec struct {
	ID         uint16
	ReasonCode ReasonCode  // MQTT 5 only
	Props      *Properties // MQTT 5 only
}

// Pubrel is the PUBREL packet, the answer to a PUBREC (MQTT 5.0 section 3.6).
type Pubrel struct {
	ID         uint16
	ReasonCode ReasonCode  // MQTT 5 only
	Props      *Properties // MQTT 5 only
}

// Pubcomp is the PUBCOMP packet, the answer to a PUBREL (MQTT 5.0 section
// 3.7).
type Pubcomp struct {
	ID         uint16
	ReasonCode ReasonCode  // MQTT 5 only
	Props      *Properties // MQTT 5 only
}

// Type returns TypePuback.
func (*Puback) Type() Type { return TypePuback }

// Type returns TypePubrec.
func (*Pubrec) Type() Type { return TypePubrec }

// Type returns TypePubrel.
func (*Pubrel) Type() Type { return TypePubrel }

// Type returns TypePubcomp.
func (*Pubcomp) Type() Type { return TypePubcomp }

// Append encodes the PUBACK for version v.
func (p *Puback) Append(dst []byte, v Version) ([]byte, error) {
	return appendAck(dst, TypePuback, p.ID, p.ReasonCode, p.Props, v)
}

// Append encodes the PUBREC for version v.
func (p *Pubrec) Append(dst []byte, v Version) ([]byte, error) {
	return appendAck(dst, TypePubrec, p.ID, p.ReasonCode, p.Props, v)
}

// Append encodes the PUBREL for version v.
func (p *Pubrel) Append(dst []byte, v Version) ([]byte, error) {
	return appendAck(dst, TypePubrel, p.ID, p.ReasonCode, p.Props, v)
}

// Append encodes the PUBCOMP for version v.
func (p *Pubcomp) Append(dst []byte, v Version) ([]byte, error) {
	return appendAck(dst, TypePubcomp, p.ID, p.ReasonCode, p.Props, v)
}

func (p *Puback) decode(body []byte, _ byte, v Version) error {
	return decodeAck(body, TypePuback, &p.ID, &p.ReasonCode, &p.Props, v)
}

func (p *Pubrec) decode(body []byte, _ byte, v Version) error {
	return decodeAck(body, TypePubrec, &p.ID, &p.ReasonCode, &p.Props, v)
}

func (p *Pubrel) decode(body []byte, _ byte, v Version) error {
	return decodeAck(body, TypePubrel, &p.ID, &p.ReasonCode, &p.Props, v)
}

func (p *Pubcomp) decode(body []byte, _ byte, v Version) error {
	return decodeAck(body, TypePubcomp, &p.ID, &p.ReasonCode, &p.Props, v)
}

// fixedFlags are the flags of the first byte each type must carry
// [MQTT-2.2.2-1]; PUBLISH is the one type whose flags vary.
func fixedFlags(t Type) byte {
	if t == TypePubrel || t == TypeSubscribe || t == TypeUnsubscribe {
		return 0x02
	}
	return 0
}

// appendAck encodes PUBACK, PUBREC, PUBREL and PUBCOMP. In MQTT 5 it uses
// the short forms the spec allows: no reason code when it is Success and
// there are no properties, no property length when there are none.
func appendAck(dst []byte, t Type, id uint16, rc ReasonCode, props *Properties, v Version) ([]byte, error) {
	if id == 0 {
		return dst, protocolErr(fmt.Sprintf("%v with packet identifier 0 [MQTT-2.3.1-1]", t))
	}
	first := byte(t)<<4 | fixedFlags(t)
	if v < V5 {
		return append(dst, first, 2, byte(id>>8), byte(id)), nil
	}
	if !reasonAllowed(t, rc) {
		return dst, protocolErr(fmt.Sprintf("reason code 0x%02X not allowed in %v", byte(rc), t))
	}
	n, err := propsSize(props, t)
	if err != nil {
		return dst, err
	}
	switch {
	case n == 0 && rc == Success:
		return append(dst, first, 2, byte(id>>8), byte(id)), nil
	case n == 0:
		return append(dst, first, 3, byte(id>>8), byte(id), byte(rc)), nil
	}
	dst = appendVarint(append(dst, first), 3+varintLen(n)+n)
	dst = append(dst, byte(id>>8), byte(id), byte(rc))
	return appendProps(dst, props, n), nil
}

func decodeAck(body []byte, t Type, id *uint16, rc *ReasonCode, props **Properties, v Version) error {
	d := decoder{b: body}
	*id = d.uint16("packet identifier")
	if d.err == nil && *id == 0 {
		return protocolErr(fmt.Sprintf("%v with packet identifier 0 [MQTT-2.3.1-1]", t))
	}
	*rc = Success
	if v < V5 {
		*props = nil
		d.end(t.String())
		return d.err
	}
	if len(d.b) > 0 {
		*rc = ReasonCode(d.byte("reason code"))
		if !reasonAllowed(t, *rc) {
			return protocolErr(fmt.Sprintf("reason code 0x%02X not allowed in %v", byte(*rc), t))
		}
	}
	if len(d.b) > 0 {
		decodeProps(&d, props, t)
	} else {
		*props = nil
	}
	d.end(t.String())
	return d.err
}

// reasonCodes lists the reason codes each MQTT 5 packet may carry (MQTT 5.0
// section 2.4 and each packet's reason code table).
var reasonCodes = map[Type][]ReasonCode{
	TypeConnack: {Success, UnspecifiedError, MalformedPacket, ProtocolError,
		ImplementationSpecificError, UnsupportedProtocolVersion, ClientIdentifierNotValid,
		BadUserNameOrPassword, NotAuthorized, ServerUnavailable, ServerBusy, Banned,
		BadAuthenticationMethod, TopicNameInvalid, PacketTooLarge, QuotaExceeded,
		PayloadFormatInvalid, RetainNotSupported, QoSNotSupported, UseAnotherServer,
		ServerMoved, ConnectionRateExceeded},
	TypePuback: {Success, NoMatchingSubscribers, UnspecifiedError, ImplementationSpecificError,
		NotAuthorized, TopicNameInvalid, PacketIdentifierInUse, QuotaExceeded, PayloadFormatInvalid},
	TypePubrel: {Success, PacketIdentifierNotFound},
	TypeSuback: {GrantedQoS0, GrantedQoS1, GrantedQoS2, UnspecifiedError,
		ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse,
		QuotaExceeded, SharedSubscriptionsNotSupported, SubscriptionIdentifiersNotSupported,
		WildcardSubscriptionsNotSupported},
	TypeUnsuback: {Success, NoSubscriptionExisted, UnspecifiedError, ImplementationSpecificError,
		NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse},
	TypeDisconnect: {NormalDisconnection, DisconnectWithWillMessage, UnspecifiedError,
		MalformedPacket, ProtocolError, ImplementationSpecificError, NotAuthorized, ServerBusy,
		ServerShuttingDown, KeepAliveTimeout, SessionTakenOver, TopicFilterInvalid,
		TopicNameInvalid, ReceiveMaximumExceeded, TopicAliasInvalid, PacketTooLarge,
		MessageRateTooHigh, QuotaExceeded, AdministrativeAction, PayloadFormatInvalid,
		RetainNotSupported, QoSNotSupported, UseAnotherServer, ServerMoved,
		SharedSubscriptionsNotSupported, ConnectionRateExceeded, MaximumConnectTime,
		SubscriptionIdentifiersNotSupported, WildcardSubscriptionsNotSupported},
	TypeAuth: {Success, ContinueAuthentication, ReAuthenticate},
}

// reasonSets[t] is reasonCodes[t] as a 256-bit set; PUBREC shares PUBACK's
// codes and PUBCOMP PUBREL's.
var reasonSets = func() (s [16][4]uint64) {
	reasonCodes[TypePubrec] = reasonCodes[TypePuback]
	reasonCodes[TypePubcomp] = reasonCodes[TypePubrel]
	for t, codes := range reasonCodes {
		for _, c := range codes {
			s[t][c>>6] |= 1 << (c & 63)
		}
	}
	return s
}()

// reasonAllowed reports whether an MQTT 5 packet of type t may carry rc.
func reasonAllowed(t Type, rc ReasonCode) bool {
	return reasonSets[t][rc>>6]&(1<<(rc&63)) != 0
}

// ReasonAllowed reports whether an MQTT 5 packet of type t may carry
// reason code rc.
func ReasonAllowed(t Type, rc ReasonCode) bool { return reasonAllowed(t, rc) }
