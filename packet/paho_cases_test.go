package packet

// The packets of the differential test against Paho (paho_test.go):
// hand-written cases and a generator of random valid packets.

import (
	"bytes"
	"math/rand/v2"
	"strings"
)

// ---- hand-written packets ----

type pahoCase struct {
	name string
	v    Version
	p    Packet
}

func pahoCases() []pahoCase {
	// Properties whose zero value is sent: present, but zero.
	zeros := &Properties{}
	for _, id := range []PropID{PropSessionExpiry, PropServerKeepAlive, PropTopicAliasMaximum,
		PropMaximumQoS, PropRetainAvailable, PropWildcardSubAvailable,
		PropSubscriptionIDAvailable, PropSharedSubAvailable} {
		zeros.Include(id)
	}
	dupUsers := []UserProperty{{"k", "v1"}, {"k", "v2"}, {"k", "v1"}, {"", ""}, {"ключ", "値"}}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1100) // a 3-byte remaining length
	connackAll := &Properties{SessionExpiry: 3600, ReceiveMaximum: 20, MaximumQoS: 1, RetainAvailable: 1,
		MaximumPacketSize: 1 << 20, AssignedClientID: "auto-7f3a", TopicAliasMaximum: 10,
		ReasonString: "welcome", User: dupUsers, WildcardSubAvailable: 1, SubscriptionIDAvailable: 1,
		SharedSubAvailable: 1, ServerKeepAlive: 120, ResponseInfo: "resp/", ServerReference: "other:1883",
		AuthMethod: "SCRAM-SHA-256", AuthData: []byte{0, 1, 2, 0xFF}}
	longTopic := strings.Repeat("a/", 32766) + "éa" // 65,535 bytes
	reasonOnly := &Properties{ReasonString: "why not", User: dupUsers[:2]}

	cases := []pahoCase{
		{"connect minimal", V5, &Connect{ClientID: "c"}},
		{"connect empty client id", V5, &Connect{CleanStart: true}},
		{"connect full", V5, &Connect{Version: V5, CleanStart: true, KeepAlive: 65535, ClientID: "client-ü",
			Username: "user", Password: []byte("s3cr3t\x00"),
			Will: &Will{Topic: "clients/c/status", Payload: []byte("offline"), QoS: 2, Retain: true,
				Props: &Properties{WillDelay: 30, PayloadFormat: 1, MessageExpiry: 600, ContentType: "text/plain",
					ResponseTopic: "r/t", CorrelationData: []byte{9, 8, 7}, User: dupUsers}},
			Props: &Properties{SessionExpiry: 0xFFFFFFFF, ReceiveMaximum: 100, MaximumPacketSize: 65536,
				TopicAliasMaximum: 16, RequestResponseInfo: 1, RequestProblemInfo: 1, User: dupUsers,
				AuthMethod: "PLAIN", AuthData: []byte("x")}}},
		{"connect zero-valued properties", V5, &Connect{ClientID: "z", Props: func() *Properties {
			p := &Properties{}
			p.Include(PropSessionExpiry)
			p.Include(PropRequestProblemInfo)
			p.Include(PropRequestResponseInfo)
			p.Include(PropTopicAliasMaximum)
			return p
		}()}},
		{"connect will without properties", V5, &Connect{ClientID: "w", Will: &Will{Topic: "a", QoS: 1}}},
		{"connect empty user name and password", V5, &Connect{ClientID: "e", UsernameFlag: true, PasswordFlag: true}},
		{"connect password without user name", V5, &Connect{ClientID: "p", Password: []byte("pw")}},
		{"connack success", V5, &Connack{}},
		{"connack session present all properties", V5, &Connack{SessionPresent: true, Props: connackAll}},
		{"connack zero-valued properties", V5, &Connack{Props: zeros}},
		{"connack refused", V5, &Connack{ReasonCode: Banned, Props: reasonOnly}},
		{"publish qos 0", V5, &Publish{Topic: "a/b", Payload: []byte("hello")}},
		{"publish qos 1 empty payload", V5, &Publish{Topic: "a", QoS: 1, ID: 1}},
		{"publish qos 2 dup retain", V5, &Publish{Topic: "/lead/slash/", QoS: 2, ID: 65535, Dup: true, Retain: true, Payload: []byte{0}}},
		{"publish utf-8 topic", V5, &Publish{Topic: "日本/温度/🙂", Payload: []byte("22.5")}},
		{"publish large payload", V5, &Publish{Topic: "big", QoS: 1, ID: 9, Payload: big}},
		{"publish all properties", V5, &Publish{Topic: "sensors/1", QoS: 1, ID: 2, Payload: []byte("{}"),
			Props: &Properties{PayloadFormat: 1, MessageExpiry: 60, ContentType: "application/json",
				ResponseTopic: "reply/1", CorrelationData: []byte("corr"), SubscriptionIDs: []int{268435455},
				TopicAlias: 3, User: dupUsers}}},
		{"publish zero message expiry", V5, &Publish{Topic: "t", Props: func() *Properties {
			p := &Properties{}
			p.Include(PropMessageExpiry)
			p.Include(PropPayloadFormat)
			return p
		}()}},
		{"publish topic alias only", V5, &Publish{Topic: "", Payload: []byte("x"), Props: &Properties{TopicAlias: 7}}},
		{"publish topic of 65,535 bytes", V5, &Publish{Topic: longTopic, QoS: 1, ID: 1, Payload: []byte("p")}},
		{"publish user property of 65,535 bytes", V5, &Publish{Topic: "t", Props: &Properties{
			User: []UserProperty{{"k", strings.Repeat("v", 65535)}, {strings.Repeat("k", 65535), ""}}}}},
		{"publish many subscription ids", V5, &Publish{Topic: "t", Props: &Properties{SubscriptionIDs: []int{1, 128, 16384}}}},
		{"puback success", V5, &Puback{ID: 1}},
		{"puback reason", V5, &Puback{ID: 2, ReasonCode: NoMatchingSubscribers}},
		{"puback reason and properties", V5, &Puback{ID: 3, ReasonCode: QuotaExceeded, Props: reasonOnly}},
		{"puback success with properties", V5, &Puback{ID: 3, Props: reasonOnly}},
		{"pubrec", V5, &Pubrec{ID: 4, ReasonCode: PayloadFormatInvalid, Props: reasonOnly}},
		{"pubrel", V5, &Pubrel{ID: 5, ReasonCode: PacketIdentifierNotFound}},
		{"pubcomp", V5, &Pubcomp{ID: 6, Props: reasonOnly}},
		{"subscribe options", V5, &Subscribe{ID: 7, Subscriptions: []Subscription{
			{Filter: "a/+/c", QoS: 0},
			{Filter: "#", QoS: 1, NoLocal: true},
			{Filter: "$share/g/x/#", QoS: 2, RetainAsPublished: true, RetainHandling: 1},
			{Filter: "+", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
		}, Props: &Properties{SubscriptionIDs: []int{128}, User: dupUsers}}},
		{"suback", V5, &Suback{ID: 7, Reasons: []ReasonCode{GrantedQoS0, GrantedQoS1, GrantedQoS2, UnspecifiedError,
			ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse, QuotaExceeded,
			SharedSubscriptionsNotSupported, SubscriptionIdentifiersNotSupported, WildcardSubscriptionsNotSupported},
			Props: reasonOnly}},
		{"unsubscribe", V5, &Unsubscribe{ID: 8, Filters: []string{"a/#", "b/+/c", "ü"}, Props: &Properties{User: dupUsers}}},
		{"unsuback", V5, &Unsuback{ID: 8, Reasons: []ReasonCode{Success, NoSubscriptionExisted, UnspecifiedError,
			ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse}, Props: reasonOnly}},
		{"pingreq", V5, &Pingreq{}},
		{"pingresp", V5, &Pingresp{}},
		{"disconnect normal", V5, &Disconnect{}},
		{"disconnect with will", V5, &Disconnect{ReasonCode: DisconnectWithWillMessage}},
		{"disconnect properties", V5, &Disconnect{ReasonCode: ServerMoved, Props: &Properties{SessionExpiry: 0,
			ServerReference: "elsewhere", ReasonString: "moving", User: dupUsers}}},
		{"disconnect normal with session expiry 0", V5, &Disconnect{Props: func() *Properties {
			p := &Properties{}
			p.Include(PropSessionExpiry)
			return p
		}()}},
		{"auth success", V5, &Auth{}},
		{"auth continue", V5, &Auth{ReasonCode: ContinueAuthentication, Props: &Properties{AuthMethod: "SCRAM-SHA-1",
			AuthData: []byte("client-first"), ReasonString: "step 1", User: dupUsers[:1]}}},
		{"auth re-authenticate", V5, &Auth{ReasonCode: ReAuthenticate, Props: &Properties{AuthMethod: "K"}}},
	}
	for _, v := range []Version{V31, V311} {
		cases = append(cases,
			pahoCase{"connect minimal", v, &Connect{ClientID: "c"}},
			pahoCase{"connect full", v, &Connect{CleanStart: true, KeepAlive: 60, ClientID: "client-ü",
				Username: "u", Password: []byte("p"),
				Will: &Will{Topic: "w/t", Payload: []byte("bye"), QoS: 2, Retain: true}}},
			pahoCase{"connect empty user name and password", v, &Connect{ClientID: "e", UsernameFlag: true, PasswordFlag: true}},
			pahoCase{"connack accepted", v, &Connack{SessionPresent: true}},
			pahoCase{"connack not authorized", v, &Connack{ReasonCode: NotAuthorized}},
			pahoCase{"connack banned is not authorized", v, &Connack{ReasonCode: Banned}},
			pahoCase{"connack server busy is server unavailable", v, &Connack{ReasonCode: ServerBusy}},
			pahoCase{"connack bad user name", v, &Connack{ReasonCode: BadUserNameOrPassword}},
			pahoCase{"connack identifier rejected", v, &Connack{ReasonCode: ClientIdentifierNotValid}},
			pahoCase{"connack unacceptable version", v, &Connack{ReasonCode: UnsupportedProtocolVersion}},
			pahoCase{"publish qos 0", v, &Publish{Topic: "a/b", Payload: []byte("hello")}},
			pahoCase{"publish qos 2 dup retain", v, &Publish{Topic: "日本", QoS: 2, ID: 65535, Dup: true, Retain: true}},
			pahoCase{"publish topic of 65,535 bytes", v, &Publish{Topic: longTopic, Payload: []byte("p")}},
			pahoCase{"publish large payload", v, &Publish{Topic: "big", QoS: 1, ID: 9, Payload: big}},
			pahoCase{"puback", v, &Puback{ID: 1}},
			pahoCase{"pubrec", v, &Pubrec{ID: 2}},
			pahoCase{"pubrel", v, &Pubrel{ID: 3}},
			pahoCase{"pubcomp", v, &Pubcomp{ID: 4}},
			pahoCase{"subscribe", v, &Subscribe{ID: 5, Subscriptions: []Subscription{{Filter: "a/+", QoS: 1},
				{Filter: "#", QoS: 2, NoLocal: true, RetainHandling: 2}}}},
			pahoCase{"suback", v, &Suback{ID: 5, Reasons: []ReasonCode{GrantedQoS0, GrantedQoS2, UnspecifiedError, NotAuthorized}}},
			pahoCase{"unsubscribe", v, &Unsubscribe{ID: 6, Filters: []string{"a/+", "#"}}},
			pahoCase{"unsuback", v, &Unsuback{ID: 6}},
			pahoCase{"pingreq", v, &Pingreq{}},
			pahoCase{"pingresp", v, &Pingresp{}},
			pahoCase{"disconnect", v, &Disconnect{}},
		)
	}
	return cases
}

// ---- generated packets ----

// The properties each packet may carry (MQTT 5.0 section 2.2.2.2, table
// 2-4), and the reason codes (section 2.4, table 2-6): written out here
// rather than taken from the codec, so that the test does not share its
// mistakes. typeWill stands for the will properties.
var (
	specProps = map[Type][]PropID{
		TypeConnect: {PropSessionExpiry, PropAuthMethod, PropAuthData, PropRequestProblemInfo,
			PropRequestResponseInfo, PropReceiveMaximum, PropTopicAliasMaximum, PropUser, PropMaximumPacketSize},
		TypeConnack: {PropSessionExpiry, PropAssignedClientID, PropServerKeepAlive, PropAuthMethod, PropAuthData,
			PropResponseInfo, PropServerReference, PropReasonString, PropReceiveMaximum, PropTopicAliasMaximum,
			PropMaximumQoS, PropRetainAvailable, PropUser, PropMaximumPacketSize, PropWildcardSubAvailable,
			PropSubscriptionIDAvailable, PropSharedSubAvailable},
		TypePublish: {PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic,
			PropCorrelationData, PropSubscriptionID, PropTopicAlias, PropUser},
		typeWill: {PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic,
			PropCorrelationData, PropWillDelay, PropUser},
		TypePuback:      {PropReasonString, PropUser},
		TypePubrec:      {PropReasonString, PropUser},
		TypePubrel:      {PropReasonString, PropUser},
		TypePubcomp:     {PropReasonString, PropUser},
		TypeSubscribe:   {PropSubscriptionID, PropUser},
		TypeSuback:      {PropReasonString, PropUser},
		TypeUnsubscribe: {PropUser},
		TypeUnsuback:    {PropReasonString, PropUser},
		TypeDisconnect:  {PropSessionExpiry, PropServerReference, PropReasonString, PropUser},
		TypeAuth:        {PropAuthMethod, PropAuthData, PropReasonString, PropUser},
	}
	pubackReasons = []ReasonCode{0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}
	pubrelReasons = []ReasonCode{0x00, 0x92}
	specReasons   = map[Type][]ReasonCode{
		TypeConnack: {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90,
			0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F},
		TypePuback:   pubackReasons,
		TypePubrec:   pubackReasons,
		TypePubrel:   pubrelReasons,
		TypePubcomp:  pubrelReasons,
		TypeSuback:   {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2},
		TypeUnsuback: {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91},
		TypeDisconnect: {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93,
			0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2},
		TypeAuth: {0x00, 0x18, 0x19},
	}
)

// packetGen makes random valid packets.
type packetGen struct{ *rand.Rand }

// levelRunes may appear anywhere; "/", "+" and "#" are added where they
// are allowed. The multi-byte runes take 2, 3 and 4 bytes in UTF-8.
// U+0001, U+007F and U+0085 are control characters a receiver may, but
// need not, refuse; U+FEFF must be kept as it is [MQTT-1.5.4-3]; U+FFFF is
// a noncharacter, valid in UTF-8.
var levelRunes = []rune("abcxyzABC019 -_.:$éüßЖ€日本語🙂𝄞\u0001\u007f\u0085\ufeff\uffff")

func (g packetGen) pick(rs []rune, min, max int) string {
	n := min + g.IntN(max-min+1)
	var b strings.Builder
	for range n {
		b.WriteRune(rs[g.IntN(len(rs))])
	}
	return b.String()
}

// textRunes adds the characters that only topic names and filters treat
// specially.
var textRunes = append(levelRunes[:len(levelRunes):len(levelRunes)], '/', '+', '#')

func (g packetGen) text(min, max int) string { return g.pick(textRunes, min, max) }

func (g packetGen) topic() string {
	levels := make([]string, 1+g.IntN(4))
	for i := range levels {
		levels[i] = g.pick(levelRunes, 0, 8)
	}
	if t := strings.Join(levels, "/"); t != "" {
		return t
	}
	return "t"
}

func (g packetGen) filter() string {
	levels := make([]string, 1+g.IntN(4))
	for i := range levels {
		switch g.IntN(5) {
		case 0:
			levels[i] = "+"
		default:
			levels[i] = g.pick(levelRunes, 0, 6)
		}
	}
	if g.IntN(4) == 0 {
		levels[len(levels)-1] = "#"
	}
	if f := strings.Join(levels, "/"); f != "" {
		return f
	}
	return "#"
}

func (g packetGen) blob(min, max int) []byte {
	b := make([]byte, min+g.IntN(max-min+1))
	for i := range b {
		b[i] = byte(g.UintN(256))
	}
	return b
}

func (g packetGen) payload() []byte {
	switch g.IntN(20) {
	case 0:
		return nil
	case 1:
		return g.blob(128, 20000) // a 2- or 3-byte remaining length
	}
	return g.blob(0, 64)
}

func (g packetGen) id() uint16 { return uint16(1 + g.IntN(65535)) }

func (g packetGen) u16() uint16 {
	return [...]uint16{0, 1, 0xFFFF, uint16(g.UintN(1 << 16))}[g.IntN(4)]
}

func (g packetGen) u32() uint32 { return [...]uint32{0, 1, 0xFFFFFFFF, g.Uint32()}[g.IntN(4)] }

func (g packetGen) reason(t Type) ReasonCode {
	rs := specReasons[t]
	return rs[g.IntN(len(rs))]
}

func (g packetGen) subID() int {
	return [...]int{1, 127, 128, 16383, 16384, MaxRemainingLength, 1 + g.IntN(MaxRemainingLength)}[g.IntN(7)]
}

// props returns random properties for packets of type t: nil, empty, or
// some of those the spec allows, numeric ones always marked present (so a
// zero is sent), user properties with repeated names and pairs.
func (g packetGen) props(t Type) *Properties {
	switch g.IntN(6) {
	case 0:
		return nil
	case 1:
		return &Properties{}
	}
	p := &Properties{}
	for _, id := range specProps[t] {
		if g.IntN(3) != 0 {
			continue
		}
		switch id {
		case PropPayloadFormat:
			p.PayloadFormat = byte(g.IntN(2))
		case PropMessageExpiry:
			p.MessageExpiry = g.u32()
		case PropContentType:
			p.ContentType = g.text(1, 20)
		case PropResponseTopic:
			p.ResponseTopic = g.topic()
		case PropCorrelationData:
			p.CorrelationData = g.blob(1, 32)
		case PropSubscriptionID:
			p.SubscriptionIDs = []int{g.subID()}
			for t == TypePublish && g.IntN(2) == 0 {
				p.SubscriptionIDs = append(p.SubscriptionIDs, g.subID())
			}
		case PropSessionExpiry:
			p.SessionExpiry = g.u32()
		case PropAssignedClientID:
			p.AssignedClientID = g.text(1, 23)
		case PropServerKeepAlive:
			p.ServerKeepAlive = g.u16()
		case PropAuthMethod:
			p.AuthMethod = g.text(1, 16)
		case PropAuthData:
			p.AuthData = g.blob(1, 40)
		case PropRequestProblemInfo:
			p.RequestProblemInfo = byte(g.IntN(2))
		case PropWillDelay:
			p.WillDelay = g.u32()
		case PropRequestResponseInfo:
			p.RequestResponseInfo = byte(g.IntN(2))
		case PropResponseInfo:
			p.ResponseInfo = g.text(1, 20)
		case PropServerReference:
			p.ServerReference = g.text(1, 20)
		case PropReasonString:
			p.ReasonString = g.text(1, 40)
		case PropReceiveMaximum:
			p.ReceiveMaximum = max(1, g.u16())
		case PropTopicAliasMaximum:
			p.TopicAliasMaximum = g.u16()
		case PropTopicAlias:
			p.TopicAlias = max(1, g.u16())
		case PropMaximumQoS:
			p.MaximumQoS = byte(g.IntN(2))
		case PropRetainAvailable:
			p.RetainAvailable = byte(g.IntN(2))
		case PropUser:
			keys := []string{"k", "k", "region", "ключ", "", g.text(0, 10)}
			for range 1 + g.IntN(5) {
				u := UserProperty{keys[g.IntN(len(keys))], g.text(0, 12)}
				if n := len(p.User); n > 0 && g.IntN(4) == 0 {
					u = p.User[g.IntN(n)] // the same pair again
				}
				p.User = append(p.User, u)
			}
		case PropMaximumPacketSize:
			p.MaximumPacketSize = max(1, g.u32())
		case PropWildcardSubAvailable:
			p.WildcardSubAvailable = byte(g.IntN(2))
		case PropSubscriptionIDAvailable:
			p.SubscriptionIDAvailable = byte(g.IntN(2))
		case PropSharedSubAvailable:
			p.SharedSubAvailable = byte(g.IntN(2))
		}
		if id != PropUser && id != PropSubscriptionID && propInfo[id].name != "" {
			p.Include(id) // a no-op for strings, which are never empty here
		}
	}
	if p.AuthData != nil && p.AuthMethod == "" {
		// Authentication Data needs an Authentication Method (MQTT 5.0
		// sections 3.1.2.11.10, 3.2.2.3.18 and 3.15.2.2.3).
		p.AuthMethod = g.text(1, 16)
	}
	return p
}

// packet returns a random valid packet of type t for version v. Fields that
// v does not carry are sometimes set anyway: encoding must leave them out.
func (g packetGen) packet(t Type, v Version) Packet {
	props := func(t Type) *Properties {
		if v < V5 {
			return nil
		}
		return g.props(t)
	}
	rc := func(t Type) ReasonCode {
		if v < V5 && t != TypeConnack && t != TypeSuback {
			return 0
		}
		return g.reason(t)
	}
	yes := func() bool { return g.IntN(2) == 0 }
	switch t {
	case TypeConnect:
		c := &Connect{CleanStart: yes(), KeepAlive: g.u16(), ClientID: g.text(0, 23), Props: props(TypeConnect)}
		if yes() {
			c.Version = v
		}
		if g.IntN(3) == 0 {
			c.Will = &Will{Topic: g.topic(), Payload: g.payload(), QoS: QoS(g.IntN(3)), Retain: yes(), Props: props(typeWill)}
		}
		if yes() {
			c.Username, c.UsernameFlag = g.text(0, 12), yes()
		}
		if (v == V5 || c.Username != "" || c.UsernameFlag) && yes() {
			c.Password, c.PasswordFlag = g.blob(0, 16), yes()
		}
		return c
	case TypeConnack:
		c := &Connack{ReasonCode: rc(t), Props: props(t)}
		c.SessionPresent = c.ReasonCode == Success && yes()
		return c
	case TypePublish:
		p := &Publish{Topic: g.topic(), Payload: g.payload(), QoS: QoS(g.IntN(3)), Retain: yes(), Props: props(t)}
		if p.QoS > 0 {
			p.ID, p.Dup = g.id(), yes()
		}
		if p.Props != nil && p.Props.TopicAlias != 0 && yes() {
			p.Topic = ""
		}
		return p
	case TypePuback:
		return &Puback{ID: g.id(), ReasonCode: rc(t), Props: props(t)}
	case TypePubrec:
		return &Pubrec{ID: g.id(), ReasonCode: rc(t), Props: props(t)}
	case TypePubrel:
		return &Pubrel{ID: g.id(), ReasonCode: rc(t), Props: props(t)}
	case TypePubcomp:
		return &Pubcomp{ID: g.id(), ReasonCode: rc(t), Props: props(t)}
	case TypeSubscribe:
		s := &Subscribe{ID: g.id(), Props: props(t)}
		for range 1 + g.IntN(5) {
			s.Subscriptions = append(s.Subscriptions, Subscription{Filter: g.filter(), QoS: QoS(g.IntN(3)),
				NoLocal: yes(), RetainAsPublished: yes(), RetainHandling: byte(g.IntN(3))})
		}
		return s
	case TypeSuback:
		s := &Suback{ID: g.id(), Props: props(t)}
		for range 1 + g.IntN(5) {
			s.Reasons = append(s.Reasons, g.reason(t))
		}
		return s
	case TypeUnsubscribe:
		u := &Unsubscribe{ID: g.id(), Props: props(t)}
		for range 1 + g.IntN(5) {
			u.Filters = append(u.Filters, g.filter())
		}
		return u
	case TypeUnsuback:
		u := &Unsuback{ID: g.id(), Props: props(t)}
		for range 1 + g.IntN(5) {
			u.Reasons = append(u.Reasons, g.reason(t)) // ignored before MQTT 5
		}
		return u
	case TypePingreq:
		return &Pingreq{}
	case TypePingresp:
		return &Pingresp{}
	case TypeDisconnect:
		return &Disconnect{ReasonCode: rc(t), Props: props(t)}
	case TypeAuth:
		return &Auth{ReasonCode: rc(t), Props: props(t)}
	}
	panic(t)
}
