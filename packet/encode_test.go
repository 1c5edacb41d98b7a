package packet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestAppend(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			got, err := f.pkt.Append(nil, f.v)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.Equal(got, f.wire) {
				t.Fatalf("Append\n got % X\nwant % X", got, f.wire)
			}
			// Append appends: what dst held stays, and the packet follows.
			prefix := []byte{0xAA, 0xBB}
			got, err = f.pkt.Append(prefix, f.v)
			if err != nil || !bytes.Equal(got, cat(prefix, f.wire)) {
				t.Fatalf("Append after a prefix\n got % X, %v\nwant % X", got, err, cat(prefix, f.wire))
			}
		})
	}
}

func TestDecode(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			got, n, err := Decode(f.wire, f.v, 0)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if n != len(f.wire) {
				t.Errorf("Decode took %d bytes, want %d", n, len(f.wire))
			}
			if !samePacket(got, f.pkt) {
				t.Fatalf("Decode\n got %s\nwant %s", dump(got), dump(f.pkt))
			}
			// Trailing bytes belong to the next packet.
			_, n, err = Decode(cat(f.wire, []byte{0xC0}), f.v, 0)
			if err != nil || n != len(f.wire) {
				t.Fatalf("Decode with a following byte took %d bytes, %v; want %d", n, err, len(f.wire))
			}
			// Every strict prefix is a partial packet.
			for i := range f.wire {
				if _, _, err := Decode(f.wire[:i], f.v, 0); !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("Decode of the first %d bytes: %v, want io.ErrUnexpectedEOF", i, err)
				}
			}
		})
	}
}

// TestDecodeInto decodes every fixture into a packet that already holds
// another decoded packet of the same type: nothing of the old one may leak.
func TestDecodeInto(t *testing.T) {
	last := map[Type]Packet{}
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			p := last[f.pkt.Type()]
			if p == nil {
				p = New(f.pkt.Type())
			}
			n, err := DecodeInto(p, f.wire, f.v, 0)
			if err != nil || n != len(f.wire) {
				t.Fatalf("DecodeInto: %d bytes, %v", n, err)
			}
			// A reused packet keeps the capacity of its property lists:
			// they may come back empty rather than nil.
			got := p
			for _, pp := range propsOf(got) {
				if pp != nil && len(pp.User) == 0 {
					pp.User = nil
				}
				if pp != nil && len(pp.SubscriptionIDs) == 0 {
					pp.SubscriptionIDs = nil
				}
			}
			if !samePacket(got, f.pkt) {
				t.Fatalf("DecodeInto\n got %s\nwant %s", dump(got), dump(f.pkt))
			}
			last[f.pkt.Type()] = p
		})
	}
	if _, err := DecodeInto(new(Puback), []byte{0xC0, 0x00}, V5, 0); err == nil {
		t.Error("DecodeInto a *Puback accepted a PINGREQ")
	}
}

// TestDecodeNoAlias checks that a decoded packet does not alias the buffer
// it was decoded from, and that its payload can be written and appended to
// without touching its strings.
func TestDecodeNoAlias(t *testing.T) {
	wire := []byte{0x30, 0x08, 0x00, 0x03, 'a', '/', 'b', 'x', 'y', 'z'}
	buf := bytes.Clone(wire)
	p, _, err := Decode(buf, V311, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 0
	}
	pub := p.(*Publish)
	if pub.Topic != "a/b" || string(pub.Payload) != "xyz" {
		t.Fatalf("decoded packet changed with the input buffer: %q %q", pub.Topic, pub.Payload)
	}
	pub.Payload[0] = 'X'
	_ = append(pub.Payload, "more"...)
	if pub.Topic != "a/b" {
		t.Fatalf("writing the payload changed the topic to %q", pub.Topic)
	}
}

// decodeOnly are encodings that are valid but not what Append produces (a
// long form where a short one exists, properties in another order, flags
// an older version ignores): Decode must accept them and give pkt, and
// Append of pkt gives canon.
var decodeOnly = []struct {
	name  string
	v     Version
	wire  []byte
	pkt   Packet
	canon []byte
}{
	{
		name: "PUBACK 5 success spelt out",
		v:    V5,
		wire: []byte{0x40, 0x03, 0x00, 0x07, // PUBACK, remaining length 3, packet identifier 7
			0x00, // reason code: success
		},
		pkt:   &Puback{ID: 7},
		canon: []byte{0x40, 0x02, 0x00, 0x07},
	},
	{
		name: "PUBCOMP 5 empty property section",
		v:    V5,
		wire: []byte{0x70, 0x04, 0x00, 0x07, // PUBCOMP, remaining length 4, packet identifier 7
			0x00, // reason code: success
			0x00, // property length 0
		},
		pkt:   &Pubcomp{ID: 7},
		canon: []byte{0x70, 0x02, 0x00, 0x07},
	},
	{
		name: "PUBREC 5 reason code with empty property section",
		v:    V5,
		wire: []byte{0x50, 0x04, 0x00, 0x07, // PUBREC, remaining length 4, packet identifier 7
			0x80, // reason code: unspecified error
			0x00, // property length 0
		},
		pkt:   &Pubrec{ID: 7, ReasonCode: UnspecifiedError},
		canon: []byte{0x50, 0x03, 0x00, 0x07, 0x80},
	},
	{
		name: "DISCONNECT 5 success spelt out",
		v:    V5,
		wire: []byte{0xE0, 0x02, // DISCONNECT, remaining length 2
			0x00, // reason code: normal disconnection
			0x00, // property length 0
		},
		pkt:   &Disconnect{},
		canon: []byte{0xE0, 0x00},
	},
	{
		name: "DISCONNECT 5 success without property length",
		v:    V5,
		wire: []byte{0xE0, 0x01, // DISCONNECT, remaining length 1
			0x00, // reason code: normal disconnection
		},
		pkt:   &Disconnect{},
		canon: []byte{0xE0, 0x00},
	},
	{
		name: "DISCONNECT 5 reason code without property length",
		v:    V5,
		wire: []byte{0xE0, 0x01, // DISCONNECT, remaining length 1
			0x04, // reason code: disconnect with will message; no property length
		},
		pkt:   &Disconnect{ReasonCode: DisconnectWithWillMessage},
		canon: []byte{0xE0, 0x02, 0x04, 0x00},
	},
	{
		name: "AUTH 5 success spelt out",
		v:    V5,
		wire: []byte{0xF0, 0x02, // AUTH, remaining length 2
			0x00, // reason code: success
			0x00, // property length 0
		},
		pkt:   &Auth{},
		canon: []byte{0xF0, 0x00},
	},
	{
		name: "CONNACK 3.1 ignores its reserved first byte",
		v:    V31,
		wire: []byte{0x20, 0x02, // CONNACK, remaining length 2
			0xFF, // topic name compression response: reserved, not used
			0x00, // return code 0
		},
		pkt:   &Connack{},
		canon: []byte{0x20, 0x02, 0x00, 0x00},
	},
	{
		name: "PUBLISH 5 properties out of identifier order",
		v:    V5,
		wire: []byte{
			0x30,            // PUBLISH QoS 0
			0x15,            // remaining length 21
			0x00, 0x01, 't', // topic name "t"
			0x11,                                   // property length 17
			0x26, 0x00, 0x01, 'b', 0x00, 0x01, '2', // user property b=2
			0x23, 0x00, 0x05, // topic alias 5
			0x26, 0x00, 0x01, 'a', 0x00, 0x01, '1', // user property a=1
		},
		pkt: &Publish{Topic: "t", Props: &Properties{TopicAlias: 5, User: []UserProperty{{"b", "2"}, {"a", "1"}}}},
		canon: []byte{
			0x30, 0x15, 0x00, 0x01, 't', 0x11,
			0x23, 0x00, 0x05, // topic alias first: identifier order
			0x26, 0x00, 0x01, 'b', 0x00, 0x01, '2', // user properties keep their order
			0x26, 0x00, 0x01, 'a', 0x00, 0x01, '1',
		},
	},
	{
		name: "PUBLISH 5 subscription identifiers out of order",
		v:    V5,
		wire: []byte{
			0x30,            // PUBLISH QoS 0
			0x0C,            // remaining length 12
			0x00, 0x01, 't', // topic name "t"
			0x08,             // property length 8
			0x0B, 0x80, 0x01, // subscription identifier 128
			0x23, 0x00, 0x01, // topic alias 1
			0x0B, 0x05, // subscription identifier 5, after another property
		},
		pkt: &Publish{Topic: "t", Props: &Properties{SubscriptionIDs: []int{128, 5}, TopicAlias: 1}},
		canon: []byte{
			0x30, 0x0C, 0x00, 0x01, 't', 0x08,
			0x0B, 0x80, 0x01, // subscription identifiers keep their order
			0x0B, 0x05,
			0x23, 0x00, 0x01,
		},
	},
	{
		name: "PUBREL 3.1 retried with DUP",
		v:    V31,
		wire: []byte{0x6A, 0x02, // PUBREL with DUP (flags 1010): 3.1 sets DUP on a retry
			0x00, 0x07, // packet identifier 7
		},
		pkt:   &Pubrel{ID: 7},
		canon: []byte{0x62, 0x02, 0x00, 0x07},
	},
	{
		name: "SUBSCRIBE 3.1 retried with DUP",
		v:    V31,
		wire: []byte{0x8A, 0x06, // SUBSCRIBE with DUP (flags 1010)
			0x00, 0x01, // packet identifier 1
			0x00, 0x01, 't', // topic filter "t"
			0x01, // requested QoS 1
		},
		pkt:   &Subscribe{ID: 1, Subscriptions: []Subscription{{Filter: "t", QoS: AtLeastOnce}}},
		canon: []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x01},
	},
	{
		name: "UNSUBSCRIBE 3.1 retried with DUP",
		v:    V31,
		wire: []byte{0xAA, 0x05, // UNSUBSCRIBE with DUP (flags 1010)
			0x00, 0x01, // packet identifier 1
			0x00, 0x01, 't', // topic filter "t"
		},
		pkt:   &Unsubscribe{ID: 1, Filters: []string{"t"}},
		canon: []byte{0xA2, 0x05, 0x00, 0x01, 0x00, 0x01, 't'},
	},
	{
		name: "CONNECT 5 properties out of identifier order",
		v:    V5,
		wire: []byte{
			0x10,                           // CONNECT
			0x16,                           // remaining length 22
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name "MQTT"
			0x05,       // protocol level 5
			0x00,       // flags
			0x00, 0x00, // keep alive 0
			0x08,                         // property length 8
			0x27, 0x00, 0x00, 0x00, 0x80, // maximum packet size 128
			0x21, 0x00, 0x01, // receive maximum 1
			0x00, 0x01, 'c', // client identifier
		},
		pkt: &Connect{Version: V5, ClientID: "c", Props: &Properties{MaximumPacketSize: 128, ReceiveMaximum: 1}},
		canon: []byte{
			0x10, 0x16, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x00, 0x00, 0x00, 0x08,
			0x21, 0x00, 0x01,
			0x27, 0x00, 0x00, 0x00, 0x80,
			0x00, 0x01, 'c',
		},
	},
}

func TestDecodeNonCanonical(t *testing.T) {
	for _, f := range decodeOnly {
		t.Run(f.name, func(t *testing.T) {
			got, n, err := Decode(f.wire, f.v, 0)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if n != len(f.wire) {
				t.Errorf("Decode took %d bytes, want %d", n, len(f.wire))
			}
			if !samePacket(got, f.pkt) {
				t.Fatalf("Decode\n got %s\nwant %s", dump(got), dump(f.pkt))
			}
			canon, err := got.Append(nil, f.v)
			if err != nil || !bytes.Equal(canon, f.canon) {
				t.Fatalf("Append\n got % X, %v\nwant % X", canon, err, f.canon)
			}
		})
	}
}

// encodeOnly are packets whose fields do not all exist in the version they
// are encoded for: Append leaves out or maps what the version lacks, and a
// decode gives back pkt as that version sees it.
var encodeOnly = []struct {
	name string
	v    Version
	pkt  Packet
	wire []byte
	back Packet // what decoding wire gives
}{
	{
		name: "CONNECT 3.1.1 drops properties",
		v:    V311,
		pkt: &Connect{ClientID: "c", Props: &Properties{SessionExpiry: 5},
			Will: &Will{Topic: "w", Props: &Properties{WillDelay: 5}}},
		wire: []byte{0x10, 0x12, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
			0x04,       // flags: will
			0x00, 0x00, // keep alive
			0x00, 0x01, 'c', // client identifier
			0x00, 0x01, 'w', // will topic
			0x00, 0x00, // will message, empty
		},
		back: &Connect{Version: V311, ClientID: "c", Will: &Will{Topic: "w"}},
	},
	{
		name: "CONNECT Version overrides the version passed to Append",
		v:    V5,
		pkt:  &Connect{Version: V31, ClientID: "c"},
		wire: []byte{0x10, 0x0F, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 'c'},
		back: &Connect{Version: V31, ClientID: "c"},
	},
	{
		name: "CONNACK 3.1 has no session present flag",
		v:    V31,
		pkt:  &Connack{SessionPresent: true},
		wire: []byte{0x20, 0x02, 0x00, 0x00},
		back: &Connack{},
	},
	{
		name: "CONNACK 3.1.1 maps bad authentication method to 4",
		v:    V311,
		pkt:  &Connack{ReasonCode: BadAuthenticationMethod},
		wire: []byte{0x20, 0x02, 0x00, 0x04},
		back: &Connack{ReasonCode: BadUserNameOrPassword},
	},
	{
		name: "CONNACK 3.1.1 maps banned to 5",
		v:    V311,
		pkt:  &Connack{ReasonCode: Banned},
		wire: []byte{0x20, 0x02, 0x00, 0x05},
		back: &Connack{ReasonCode: NotAuthorized},
	},
	{
		name: "CONNACK 3.1.1 maps server busy to 3",
		v:    V311,
		pkt:  &Connack{ReasonCode: ServerBusy},
		wire: []byte{0x20, 0x02, 0x00, 0x03},
		back: &Connack{ReasonCode: ServerUnavailable},
	},
	{
		name: "CONNACK 3.1 maps unspecified error to 3",
		v:    V31,
		pkt:  &Connack{ReasonCode: UnspecifiedError, Props: &Properties{ReasonString: "x"}},
		wire: []byte{0x20, 0x02, 0x00, 0x03},
		back: &Connack{ReasonCode: ServerUnavailable},
	},
	{
		name: "PUBLISH 3.1.1 drops properties",
		v:    V311,
		pkt:  &Publish{Topic: "t", Props: &Properties{ContentType: "c"}},
		wire: []byte{0x30, 0x03, 0x00, 0x01, 't'},
		back: &Publish{Topic: "t"},
	},
	{
		name: "PUBACK 3.1.1 drops reason code and properties",
		v:    V311,
		pkt:  &Puback{ID: 1, ReasonCode: NoMatchingSubscribers, Props: &Properties{ReasonString: "r"}},
		wire: []byte{0x40, 0x02, 0x00, 0x01},
		back: &Puback{ID: 1},
	},
	{
		name: "SUBSCRIBE 3.1.1 drops MQTT 5 options",
		v:    V311,
		pkt: &Subscribe{ID: 1, Subscriptions: []Subscription{{Filter: "t", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2}},
			Props: &Properties{SubscriptionIDs: []int{3}}},
		wire: []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 't', 0x01},
		back: &Subscribe{ID: 1, Subscriptions: []Subscription{{Filter: "t", QoS: 1}}},
	},
	{
		name: "SUBACK 3.1.1 sends every failure as 0x80",
		v:    V311,
		pkt:  &Suback{ID: 1, Reasons: []ReasonCode{NotAuthorized, GrantedQoS1, QuotaExceeded, WildcardSubscriptionsNotSupported}},
		wire: []byte{0x90, 0x06, 0x00, 0x01, 0x80, 0x01, 0x80, 0x80},
		back: &Suback{ID: 1, Reasons: []ReasonCode{UnspecifiedError, GrantedQoS1, UnspecifiedError, UnspecifiedError}},
	},
	{
		name: "UNSUBACK 3.1.1 drops reason codes",
		v:    V311,
		pkt:  &Unsuback{ID: 1, Reasons: []ReasonCode{NoSubscriptionExisted}},
		wire: []byte{0xB0, 0x02, 0x00, 0x01},
		back: &Unsuback{ID: 1},
	},
	{
		name: "DISCONNECT 3.1.1 drops reason code and properties",
		v:    V311,
		pkt:  &Disconnect{ReasonCode: ServerShuttingDown, Props: &Properties{ReasonString: "r"}},
		wire: []byte{0xE0, 0x00},
		back: &Disconnect{},
	},
	{
		name: "PUBLISH 5 empty property struct",
		v:    V5,
		pkt:  &Publish{Topic: "t", Props: &Properties{}},
		wire: []byte{0x30, 0x04, 0x00, 0x01, 't', 0x00},
		back: &Publish{Topic: "t"},
	},
}

func TestAppendOlderVersion(t *testing.T) {
	for _, f := range encodeOnly {
		t.Run(f.name, func(t *testing.T) {
			got, err := f.pkt.Append(nil, f.v)
			if err != nil || !bytes.Equal(got, f.wire) {
				t.Fatalf("Append\n got % X, %v\nwant % X", got, err, f.wire)
			}
			back, _, err := Decode(got, f.v, 0)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !samePacket(back, f.back) {
				t.Fatalf("Decode\n got %s\nwant %s", dump(back), dump(f.back))
			}
		})
	}
}

// TestVarint checks the variable byte integer against the table of MQTT 5.0
// section 1.5.5.
func TestVarint(t *testing.T) {
	tests := []struct {
		n    int
		wire []byte
	}{
		{0, []byte{0x00}},
		{127, []byte{0x7F}},
		{128, []byte{0x80, 0x01}},
		{16383, []byte{0xFF, 0x7F}},
		{16384, []byte{0x80, 0x80, 0x01}},
		{2097151, []byte{0xFF, 0xFF, 0x7F}},
		{2097152, []byte{0x80, 0x80, 0x80, 0x01}},
		{MaxRemainingLength, []byte{0xFF, 0xFF, 0xFF, 0x7F}},
	}
	for _, tt := range tests {
		got := appendVarint(nil, tt.n)
		if !bytes.Equal(got, tt.wire) {
			t.Errorf("appendVarint(%d) = % X, want % X", tt.n, got, tt.wire)
		}
		if l := varintLen(tt.n); l != len(tt.wire) {
			t.Errorf("varintLen(%d) = %d, want %d", tt.n, l, len(tt.wire))
		}
		v, n, err := readVarint(tt.wire)
		if v != tt.n || n != len(tt.wire) || err != nil {
			t.Errorf("readVarint(% X) = %d, %d, %v; want %d, %d, nil", tt.wire, v, n, err, tt.n, len(tt.wire))
		}
		if _, n, err := readVarint(tt.wire[:len(tt.wire)-1]); n != 0 || err != nil {
			t.Errorf("readVarint(% X) = _, %d, %v; want need more", tt.wire[:len(tt.wire)-1], n, err)
		}
	}
}

// TestPropertyMatrix runs every property through every packet type: where
// the table of MQTT 5.0 section 2.2.2.2 allows it, it must encode, decode
// back to itself and re-encode to the same bytes; where it does not, both
// the encoder and the decoder must refuse it as a malformed packet.
func TestPropertyMatrix(t *testing.T) {
	samples := map[PropID]*Properties{
		PropPayloadFormat:           {PayloadFormat: 1},
		PropMessageExpiry:           {MessageExpiry: 1},
		PropContentType:             {ContentType: "text/plain"},
		PropResponseTopic:           {ResponseTopic: "reply/to"},
		PropCorrelationData:         {CorrelationData: []byte{1, 2, 3}},
		PropSubscriptionID:          {SubscriptionIDs: []int{7}},
		PropSessionExpiry:           {SessionExpiry: 30},
		PropAssignedClientID:        {AssignedClientID: "auto-1"},
		PropServerKeepAlive:         {ServerKeepAlive: 20},
		PropAuthMethod:              {AuthMethod: "SCRAM-SHA-1"},
		PropAuthData:                {AuthData: []byte{0}, AuthMethod: "m"}, // data needs a method in CONNECT
		PropRequestProblemInfo:      {RequestProblemInfo: 1},
		PropWillDelay:               {WillDelay: 9},
		PropRequestResponseInfo:     {RequestResponseInfo: 1},
		PropResponseInfo:            {ResponseInfo: "resp"},
		PropServerReference:         {ServerReference: "other:1883"},
		PropReasonString:            {ReasonString: "because"},
		PropReceiveMaximum:          {ReceiveMaximum: 10},
		PropTopicAliasMaximum:       {TopicAliasMaximum: 10},
		PropTopicAlias:              {TopicAlias: 10},
		PropMaximumQoS:              {MaximumQoS: 1},
		PropRetainAvailable:         {RetainAvailable: 1},
		PropUser:                    {User: []UserProperty{{"k", "v"}}},
		PropMaximumPacketSize:       {MaximumPacketSize: 100},
		PropWildcardSubAvailable:    {WildcardSubAvailable: 1},
		PropSubscriptionIDAvailable: {SubscriptionIDAvailable: 1},
		PropSharedSubAvailable:      {SharedSubAvailable: 1},
	}
	// The table of MQTT 5.0 section 2.2.2.2, written out again.
	allowed := map[PropID][]Type{
		PropPayloadFormat:           {TypePublish, typeWill},
		PropMessageExpiry:           {TypePublish, typeWill},
		PropContentType:             {TypePublish, typeWill},
		PropResponseTopic:           {TypePublish, typeWill},
		PropCorrelationData:         {TypePublish, typeWill},
		PropSubscriptionID:          {TypePublish, TypeSubscribe},
		PropSessionExpiry:           {TypeConnect, TypeConnack, TypeDisconnect},
		PropAssignedClientID:        {TypeConnack},
		PropServerKeepAlive:         {TypeConnack},
		PropAuthMethod:              {TypeConnect, TypeConnack, TypeAuth},
		PropAuthData:                {TypeConnect, TypeConnack, TypeAuth},
		PropRequestProblemInfo:      {TypeConnect},
		PropWillDelay:               {typeWill},
		PropRequestResponseInfo:     {TypeConnect},
		PropResponseInfo:            {TypeConnack},
		PropServerReference:         {TypeConnack, TypeDisconnect},
		PropReasonString:            {TypeConnack, TypePuback, TypePubrec, TypePubrel, TypePubcomp, TypeSuback, TypeUnsuback, TypeDisconnect, TypeAuth},
		PropReceiveMaximum:          {TypeConnect, TypeConnack},
		PropTopicAliasMaximum:       {TypeConnect, TypeConnack},
		PropTopicAlias:              {TypePublish},
		PropMaximumQoS:              {TypeConnack},
		PropRetainAvailable:         {TypeConnack},
		PropUser:                    {typeWill, TypeConnect, TypeConnack, TypePublish, TypePuback, TypePubrec, TypePubrel, TypePubcomp, TypeSubscribe, TypeSuback, TypeUnsubscribe, TypeUnsuback, TypeDisconnect, TypeAuth},
		PropMaximumPacketSize:       {TypeConnect, TypeConnack},
		PropWildcardSubAvailable:    {TypeConnack},
		PropSubscriptionIDAvailable: {TypeConnack},
		PropSharedSubAvailable:      {TypeConnack},
	}
	for id := PropID(0); id < 0x80; id++ {
		if _, ok := samples[id]; !ok {
			// Not a property: refused everywhere.
			for _, ty := range propTypes {
				if id.AllowedIn(ty) {
					t.Errorf("%v allowed in %v", id, typeLabel(ty))
				}
				wire := withProps(ty, []byte{byte(id), 0, 0, 0, 0})
				_, _, err := Decode(wire, V5, 0)
				if !errors.Is(err, MalformedPacket) {
					t.Errorf("property 0x%02X in %v: %v, want malformed packet", byte(id), typeLabel(ty), err)
				}
			}
			continue
		}
		for _, ty := range propTypes {
			name := id.String() + " in " + typeLabel(ty)
			want := false
			for _, a := range allowed[id] {
				want = want || a == ty
			}
			t.Run(name, func(t *testing.T) {
				if got := id.AllowedIn(ty); got != want {
					t.Fatalf("AllowedIn = %v, want %v", got, want)
				}
				sample := *samples[id]
				props := propBytes(t, &sample)
				wire := withProps(ty, props)
				pkt := packetWithProps(ty, &sample)
				got, err := pkt.Append(nil, V5)
				if !want {
					wantCode(t, err, MalformedPacket)
					_, _, err = Decode(wire, V5, 0)
					wantCode(t, err, MalformedPacket)
					return
				}
				if err != nil {
					t.Fatalf("Append: %v", err)
				}
				if !bytes.Equal(got, wire) {
					t.Fatalf("Append\n got % X\nwant % X", got, wire)
				}
				back, _, err := Decode(wire, V5, 0)
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if !samePacket(back, pkt) {
					t.Fatalf("Decode\n got %s\nwant %s", dump(back), dump(pkt))
				}
				if pp := propsOf(back)[len(propsOf(back))-1]; !pp.Has(id) {
					t.Fatalf("decoded properties lack %v", id)
				}
			})
		}
	}
}

// propBytes encodes a property section without its length, bypassing the
// per-packet check.
func propBytes(t *testing.T, p *Properties) []byte {
	t.Helper()
	w := propWriter{count: true}
	p.walk(&w)
	if w.err != nil {
		t.Fatal(w.err)
	}
	b := appendProps(nil, p, w.n)
	return b[varintLen(w.n):]
}

// TestHas checks property presence: non-zero fields, Include for zeros, and
// exactly the properties read after a decode.
func TestHas(t *testing.T) {
	var nilProps *Properties
	if nilProps.Has(PropUser) {
		t.Error("nil properties have a user property")
	}
	p := &Properties{MessageExpiry: 5}
	p.Include(PropMaximumQoS)
	for id := PropID(0); id < 0x30; id++ {
		want := id == PropMessageExpiry || id == PropMaximumQoS
		if p.Has(id) != want {
			t.Errorf("Has(%v) = %v, want %v", id, !want, want)
		}
	}
	// A zero field that is not included is absent, and is not sent.
	wire, err := (&Connack{Props: &Properties{MaximumQoS: 0}}).Append(nil, V5)
	if err != nil || !bytes.Equal(wire, []byte{0x20, 0x03, 0x00, 0x00, 0x00}) {
		t.Errorf("CONNACK with a zero maximum QoS: % X, %v", wire, err)
	}
	c := &Connack{Props: &Properties{}}
	c.Props.Include(PropMaximumQoS)
	wire, err = c.Append(nil, V5)
	if err != nil || !bytes.Equal(wire, []byte{0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x00}) {
		t.Fatalf("CONNACK with an included maximum QoS 0: % X, %v", wire, err)
	}
	back, _, err := Decode(wire, V5, 0)
	if err != nil {
		t.Fatal(err)
	}
	bp := back.(*Connack).Props
	if !bp.Has(PropMaximumQoS) || bp.Has(PropRetainAvailable) {
		t.Errorf("decoded CONNACK: Has(maximum QoS) = %v, Has(retain available) = %v", bp.Has(PropMaximumQoS), bp.Has(PropRetainAvailable))
	}
}

// TestNames checks the String methods against the spec's names.
func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{V31.String(), "3.1"},
		{V311.String(), "3.1.1"},
		{V5.String(), "5.0"},
		{Version(6).String(), "Version(6)"},
		{V31.ProtocolName(), "MQIsdp"},
		{V311.ProtocolName(), "MQTT"},
		{V5.ProtocolName(), "MQTT"},
		{TypePubrel.String(), "PUBREL"},
		{TypeAuth.String(), "AUTH"},
		{Type(0).String(), "RESERVED"},
		{Type(16).String(), "Type(16)"},
		{PropTopicAlias.String(), "topic alias"},
		{PropID(0x04).String(), "property 0x04"},
		{NotAuthorized.Error(), "not authorized"},
		{ReasonCode(0x03).Error(), "reason code 0x03"},
		{(&Error{Code: ProtocolError, Msg: "x"}).Error(), "packet: x"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	for ty := Type(1); ty <= TypeAuth; ty++ {
		if p := New(ty); p == nil || p.Type() != ty || !strings.EqualFold(fmt.Sprintf("%T", p), "*packet."+ty.String()) {
			t.Errorf("New(%v) = %T", ty, p)
		}
	}
	if New(0) != nil {
		t.Error("New(0) is not nil")
	}
	if CodeOf(nil) != Success || CodeOf(io.EOF) != UnspecifiedError || CodeOf(NotAuthorized) != NotAuthorized {
		t.Error("CodeOf")
	}
}
