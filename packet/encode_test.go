package packet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// fixture is a packet and its exact encoding for one protocol version.
type fixture struct {
	name string
	v    Version
	pkt  Packet
	wire []byte
}

// fixtures are canonical encodings: Append gives exactly wire, and Decode of
// wire gives exactly pkt. They cover every packet type in every version it
// exists in, and, in MQTT 5, every property in at least one packet.
var fixtures = []fixture{
	// CONNECT

	{
		name: "CONNECT 3.1 MQIsdp",
		v:    V31,
		pkt:  &Connect{Version: V31, CleanStart: true, KeepAlive: 60, ClientID: "midge"},
		wire: []byte{
			0x10,                                     // CONNECT
			0x13,                                     // remaining length 19
			0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', // protocol name "MQIsdp"
			0x03,       // protocol level 3
			0x02,       // flags: clean session
			0x00, 0x3C, // keep alive 60
			0x00, 0x05, 'm', 'i', 'd', 'g', 'e', // client identifier
		},
	},
	{
		name: "CONNECT 3.1 will retain QoS 2 and user name",
		v:    V31,
		pkt: &Connect{Version: V31, KeepAlive: 0xFFFF, ClientID: "c",
			Will:     &Will{Topic: "w/t", Payload: []byte{0x00, 0xFF}, QoS: ExactlyOnce, Retain: true},
			Username: "u", UsernameFlag: true},
		wire: []byte{
			0x10,                                     // CONNECT
			0x1B,                                     // remaining length 27
			0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', // protocol name "MQIsdp"
			0x03,       // protocol level 3
			0xB4,       // flags: user name, will retain, will QoS 2, will
			0xFF, 0xFF, // keep alive 65535
			0x00, 0x01, 'c', // client identifier
			0x00, 0x03, 'w', '/', 't', // will topic
			0x00, 0x02, 0x00, 0xFF, // will message
			0x00, 0x01, 'u', // user name
		},
	},
	{
		// The CONNECT variable header example of MQTT 3.1.1 section
		// 3.1.2.10, with a payload.
		name: "CONNECT 3.1.1 spec example",
		v:    V311,
		pkt: &Connect{Version: V311, CleanStart: true, KeepAlive: 10, ClientID: "c",
			Will:     &Will{Topic: "w", Payload: []byte("x"), QoS: AtLeastOnce},
			Username: "u", UsernameFlag: true, Password: []byte("p"), PasswordFlag: true},
		wire: []byte{
			0x10,                           // CONNECT
			0x19,                           // remaining length 25
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name "MQTT"
			0x04,       // protocol level 4
			0xCE,       // flags: user name, password, will QoS 1, will, clean session
			0x00, 0x0A, // keep alive 10
			0x00, 0x01, 'c', // client identifier
			0x00, 0x01, 'w', // will topic
			0x00, 0x01, 'x', // will message
			0x00, 0x01, 'u', // user name
			0x00, 0x01, 'p', // password
		},
	},
	{
		name: "CONNECT 3.1.1 empty client identifier and empty user name",
		v:    V311,
		pkt:  &Connect{Version: V311, CleanStart: true, UsernameFlag: true},
		wire: []byte{
			0x10,                           // CONNECT
			0x0E,                           // remaining length 14
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name "MQTT"
			0x04,       // protocol level 4
			0x82,       // flags: user name, clean session
			0x00, 0x00, // keep alive 0
			0x00, 0x00, // client identifier ""
			0x00, 0x00, // user name ""
		},
	},
	{
		// The CONNECT variable header example of MQTT 5.0 section
		// 3.1.2.12, with a payload.
		name: "CONNECT 5 spec example",
		v:    V5,
		pkt: &Connect{Version: V5, CleanStart: true, KeepAlive: 10, ClientID: "c",
			Will:     &Will{Topic: "w", Payload: []byte("x"), QoS: AtLeastOnce},
			Username: "u", UsernameFlag: true, Password: []byte("p"), PasswordFlag: true,
			Props: &Properties{SessionExpiry: 10}},
		wire: []byte{
			0x10,                           // CONNECT
			0x20,                           // remaining length 32
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name "MQTT"
			0x05,       // protocol level 5
			0xCE,       // flags: user name, password, will QoS 1, will, clean start
			0x00, 0x0A, // keep alive 10
			0x05,                         // property length 5
			0x11, 0x00, 0x00, 0x00, 0x0A, // session expiry interval 10
			0x00, 0x01, 'c', // client identifier
			0x00,            // will property length 0
			0x00, 0x01, 'w', // will topic
			0x00, 0x01, 'x', // will payload
			0x00, 0x01, 'u', // user name
			0x00, 0x01, 'p', // password
		},
	},
	{
		name: "CONNECT 5 every CONNECT and will property",
		v:    V5,
		pkt: &Connect{Version: V5, CleanStart: true, KeepAlive: 10, ClientID: "c",
			Props: &Properties{
				SessionExpiry: 10, AuthMethod: "m", AuthData: []byte{1},
				RequestProblemInfo: 0, included: 1 << PropRequestProblemInfo,
				RequestResponseInfo: 1, ReceiveMaximum: 20, TopicAliasMaximum: 5,
				User:              []UserProperty{{"k", "v"}, {"a", "b"}, {"k", "v"}},
				MaximumPacketSize: 1024,
			},
			Will: &Will{Topic: "w", Payload: []byte("x"), QoS: AtLeastOnce, Retain: true,
				Props: &Properties{PayloadFormat: 1, MessageExpiry: 60, ContentType: "t",
					ResponseTopic: "r", CorrelationData: []byte{2}, WillDelay: 5,
					User: []UserProperty{{"a", "1"}}}},
			Username: "u", UsernameFlag: true, Password: []byte("p"), PasswordFlag: true},
		wire: []byte{
			0x10,                           // CONNECT
			0x6B,                           // remaining length 107
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name "MQTT"
			0x05,       // protocol level 5
			0xEE,       // flags: user name, password, will retain, will QoS 1, will, clean start
			0x00, 0x0A, // keep alive 10
			0x31,                         // property length 49
			0x11, 0x00, 0x00, 0x00, 0x0A, // session expiry interval 10
			0x15, 0x00, 0x01, 'm', // authentication method "m"
			0x16, 0x00, 0x01, 0x01, // authentication data 01
			0x17, 0x00, // request problem information 0
			0x19, 0x01, // request response information 1
			0x21, 0x00, 0x14, // receive maximum 20
			0x22, 0x00, 0x05, // topic alias maximum 5
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
			0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b', // user property a=b
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v again
			0x27, 0x00, 0x00, 0x04, 0x00, // maximum packet size 1024
			0x00, 0x01, 'c', // client identifier
			0x1F,       // will property length 31
			0x01, 0x01, // payload format indicator 1
			0x02, 0x00, 0x00, 0x00, 0x3C, // message expiry interval 60
			0x03, 0x00, 0x01, 't', // content type "t"
			0x08, 0x00, 0x01, 'r', // response topic "r"
			0x09, 0x00, 0x01, 0x02, // correlation data 02
			0x18, 0x00, 0x00, 0x00, 0x05, // will delay interval 5
			0x26, 0x00, 0x01, 'a', 0x00, 0x01, '1', // user property a=1
			0x00, 0x01, 'w', // will topic
			0x00, 0x01, 'x', // will payload
			0x00, 0x01, 'u', // user name
			0x00, 0x01, 'p', // password
		},
	},
	{
		name: "CONNECT 5 password without user name",
		v:    V5,
		pkt:  &Connect{Version: V5, ClientID: "c", PasswordFlag: true},
		wire: []byte{
			0x10,                           // CONNECT
			0x10,                           // remaining length 16
			0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name "MQTT"
			0x05,       // protocol level 5
			0x40,       // flags: password
			0x00, 0x00, // keep alive 0
			0x00,            // property length 0
			0x00, 0x01, 'c', // client identifier
			0x00, 0x00, // password, empty
		},
	},

	// CONNACK

	{
		name: "CONNACK 3.1 accepted",
		v:    V31,
		pkt:  &Connack{},
		wire: []byte{
			0x20, // CONNACK
			0x02, // remaining length 2
			0x00, // reserved
			0x00, // return code 0: accepted
		},
	},
	{
		name: "CONNACK 3.1 identifier rejected",
		v:    V31,
		pkt:  &Connack{ReasonCode: ClientIdentifierNotValid},
		wire: []byte{
			0x20, // CONNACK
			0x02, // remaining length 2
			0x00, // reserved
			0x02, // return code 2: identifier rejected
		},
	},
	{
		name: "CONNACK 3.1.1 session present",
		v:    V311,
		pkt:  &Connack{SessionPresent: true},
		wire: []byte{
			0x20, // CONNACK
			0x02, // remaining length 2
			0x01, // flags: session present
			0x00, // return code 0: accepted
		},
	},
	{
		name: "CONNACK 3.1.1 unacceptable protocol version",
		v:    V311,
		pkt:  &Connack{ReasonCode: UnsupportedProtocolVersion},
		wire: []byte{0x20, 0x02,
			0x00, // flags
			0x01, // return code 1: unacceptable protocol version
		},
	},
	{
		name: "CONNACK 3.1.1 server unavailable",
		v:    V311,
		pkt:  &Connack{ReasonCode: ServerUnavailable},
		wire: []byte{0x20, 0x02,
			0x00, // flags
			0x03, // return code 3: server unavailable
		},
	},
	{
		name: "CONNACK 3.1.1 bad user name or password",
		v:    V311,
		pkt:  &Connack{ReasonCode: BadUserNameOrPassword},
		wire: []byte{0x20, 0x02,
			0x00, // flags
			0x04, // return code 4: bad user name or password
		},
	},
	{
		name: "CONNACK 3.1.1 not authorized",
		v:    V311,
		pkt:  &Connack{ReasonCode: NotAuthorized},
		wire: []byte{0x20, 0x02,
			0x00, // flags
			0x05, // return code 5: not authorized
		},
	},
	{
		name: "CONNACK 5 short",
		v:    V5,
		pkt:  &Connack{},
		wire: []byte{
			0x20, // CONNACK
			0x03, // remaining length 3
			0x00, // flags
			0x00, // reason code: success
			0x00, // property length 0
		},
	},
	{
		name: "CONNACK 5 refused",
		v:    V5,
		pkt:  &Connack{ReasonCode: Banned, Props: &Properties{ReasonString: "no"}},
		wire: []byte{
			0x20,                       // CONNACK
			0x08,                       // remaining length 8
			0x00,                       // flags
			0x8A,                       // reason code: banned
			0x05,                       // property length 5
			0x1F, 0x00, 0x02, 'n', 'o', // reason string "no"
		},
	},
	{
		name: "CONNACK 5 every CONNACK property",
		v:    V5,
		pkt: &Connack{SessionPresent: true, Props: &Properties{
			SessionExpiry: 0xFFFFFFFF, AssignedClientID: "id", ServerKeepAlive: 0,
			AuthMethod: "m", AuthData: []byte{9}, ResponseInfo: "ri", ServerReference: "s",
			ReasonString: "ok", ReceiveMaximum: 0xFFFF, TopicAliasMaximum: 10,
			MaximumQoS: 1, RetainAvailable: 0, User: []UserProperty{{"x", "y"}},
			MaximumPacketSize: 0x10000, WildcardSubAvailable: 0, SubscriptionIDAvailable: 1,
			SharedSubAvailable: 0,
			included: 1<<PropServerKeepAlive | 1<<PropRetainAvailable | 1<<PropWildcardSubAvailable |
				1<<PropSharedSubAvailable,
		}},
		wire: []byte{
			0x20,                         // CONNACK
			0x42,                         // remaining length 66
			0x01,                         // flags: session present
			0x00,                         // reason code: success
			0x3F,                         // property length 63
			0x11, 0xFF, 0xFF, 0xFF, 0xFF, // session expiry interval 4294967295
			0x12, 0x00, 0x02, 'i', 'd', // assigned client identifier "id"
			0x13, 0x00, 0x00, // server keep alive 0
			0x15, 0x00, 0x01, 'm', // authentication method "m"
			0x16, 0x00, 0x01, 0x09, // authentication data 09
			0x1A, 0x00, 0x02, 'r', 'i', // response information "ri"
			0x1C, 0x00, 0x01, 's', // server reference "s"
			0x1F, 0x00, 0x02, 'o', 'k', // reason string "ok"
			0x21, 0xFF, 0xFF, // receive maximum 65535
			0x22, 0x00, 0x0A, // topic alias maximum 10
			0x24, 0x01, // maximum QoS 1
			0x25, 0x00, // retain available 0
			0x26, 0x00, 0x01, 'x', 0x00, 0x01, 'y', // user property x=y
			0x27, 0x00, 0x01, 0x00, 0x00, // maximum packet size 65536
			0x28, 0x00, // wildcard subscription available 0
			0x29, 0x01, // subscription identifier available 1
			0x2A, 0x00, // shared subscription available 0
		},
	},

	// PUBLISH

	{
		name: "PUBLISH 3.1 QoS 1 retain",
		v:    V31,
		pkt:  &Publish{Topic: "a/b", QoS: AtLeastOnce, Retain: true, ID: 1, Payload: []byte("hello")},
		wire: []byte{
			0x33,                      // PUBLISH QoS 1 retain
			0x0C,                      // remaining length 12
			0x00, 0x03, 'a', '/', 'b', // topic name
			0x00, 0x01, // packet identifier 1
			'h', 'e', 'l', 'l', 'o', // payload
		},
	},
	{
		name: "PUBLISH 3.1.1 QoS 0 empty payload",
		v:    V311,
		pkt:  &Publish{Topic: "a/b"},
		wire: []byte{
			0x30,                      // PUBLISH QoS 0
			0x05,                      // remaining length 5
			0x00, 0x03, 'a', '/', 'b', // topic name
		},
	},
	{
		// The topic name example of MQTT 5.0 section 1.5.4: "A𪛔".
		name: "PUBLISH 3.1.1 QoS 2 dup UTF-8 topic",
		v:    V311,
		pkt:  &Publish{Topic: "A\U0002A6D4", QoS: ExactlyOnce, Dup: true, ID: 0xFFFF, Payload: []byte{0}},
		wire: []byte{
			0x3C,                                    // PUBLISH dup QoS 2
			0x0A,                                    // remaining length 10
			0x00, 0x05, 'A', 0xF0, 0xAA, 0x9B, 0x94, // topic name "A𪛔"
			0xFF, 0xFF, // packet identifier 65535
			0x00, // payload
		},
	},
	{
		// The PUBLISH variable header example of MQTT 5.0 section 3.3.2.3.
		name: "PUBLISH 5 spec example",
		v:    V5,
		pkt:  &Publish{Topic: "a/b", QoS: AtLeastOnce, ID: 10, Payload: []byte("hi")},
		wire: []byte{
			0x32,                      // PUBLISH QoS 1
			0x0A,                      // remaining length 10
			0x00, 0x03, 'a', '/', 'b', // topic name
			0x00, 0x0A, // packet identifier 10
			0x00,     // property length 0
			'h', 'i', // payload
		},
	},
	{
		name: "PUBLISH 5 every PUBLISH property",
		v:    V5,
		pkt: &Publish{Topic: "a/b", QoS: ExactlyOnce, Retain: true, Dup: true, ID: 10, Payload: []byte("hi"),
			Props: &Properties{
				PayloadFormat: 0, MessageExpiry: 0, ContentType: "c", ResponseTopic: "r/t",
				CorrelationData: []byte{0xCA, 0xFE}, SubscriptionIDs: []int{1, MaxRemainingLength},
				TopicAlias: 3, User: []UserProperty{{"k", "v"}},
				included: 1<<PropPayloadFormat | 1<<PropMessageExpiry,
			}},
		wire: []byte{
			0x3D,                      // PUBLISH dup QoS 2 retain
			0x31,                      // remaining length 49
			0x00, 0x03, 'a', '/', 'b', // topic name
			0x00, 0x0A, // packet identifier 10
			0x27,       // property length 39
			0x01, 0x00, // payload format indicator 0
			0x02, 0x00, 0x00, 0x00, 0x00, // message expiry interval 0
			0x03, 0x00, 0x01, 'c', // content type "c"
			0x08, 0x00, 0x03, 'r', '/', 't', // response topic "r/t"
			0x09, 0x00, 0x02, 0xCA, 0xFE, // correlation data CA FE
			0x0B, 0x01, // subscription identifier 1
			0x0B, 0xFF, 0xFF, 0xFF, 0x7F, // subscription identifier 268435455
			0x23, 0x00, 0x03, // topic alias 3
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
			'h', 'i', // payload
		},
	},
	{
		name: "PUBLISH 5 topic alias instead of topic",
		v:    V5,
		pkt:  &Publish{Props: &Properties{TopicAlias: 1}, Payload: []byte("x")},
		wire: []byte{
			0x30,       // PUBLISH QoS 0
			0x07,       // remaining length 7
			0x00, 0x00, // topic name ""
			0x03,             // property length 3
			0x23, 0x00, 0x01, // topic alias 1
			'x', // payload
		},
	},
	{
		name: "PUBLISH 3.1.1 remaining length of two bytes",
		v:    V311,
		pkt:  &Publish{Topic: "t", Payload: bytes.Repeat([]byte{'p'}, 125)},
		wire: cat([]byte{
			0x30,       // PUBLISH QoS 0
			0x80, 0x01, // remaining length 128
			0x00, 0x01, 't', // topic name
		}, bytes.Repeat([]byte{'p'}, 125)), // payload
	},
	{
		name: "PUBLISH 3.1.1 remaining length of three bytes",
		v:    V311,
		pkt:  &Publish{Topic: "t", Payload: bytes.Repeat([]byte{'p'}, 16381)},
		wire: cat([]byte{
			0x30,             // PUBLISH QoS 0
			0x80, 0x80, 0x01, // remaining length 16384
			0x00, 0x01, 't', // topic name
		}, bytes.Repeat([]byte{'p'}, 16381)), // payload
	},

	// PUBACK, PUBREC, PUBREL, PUBCOMP

	{
		name: "PUBACK 3.1",
		v:    V31,
		pkt:  &Puback{ID: 7},
		wire: []byte{0x40, 0x02, // PUBACK, remaining length 2
			0x00, 0x07, // packet identifier 7
		},
	},
	{
		name: "PUBACK 3.1.1",
		v:    V311,
		pkt:  &Puback{ID: 0x1234},
		wire: []byte{0x40, 0x02, // PUBACK, remaining length 2
			0x12, 0x34, // packet identifier 0x1234
		},
	},
	{
		name: "PUBACK 5 short form",
		v:    V5,
		pkt:  &Puback{ID: 7},
		wire: []byte{0x40, 0x02, // PUBACK, remaining length 2
			0x00, 0x07, // packet identifier 7; success, no properties
		},
	},
	{
		name: "PUBACK 5 reason code only",
		v:    V5,
		pkt:  &Puback{ID: 7, ReasonCode: NoMatchingSubscribers},
		wire: []byte{0x40, 0x03, // PUBACK, remaining length 3
			0x00, 0x07, // packet identifier 7
			0x10, // reason code: no matching subscribers
		},
	},
	{
		name: "PUBACK 5 properties",
		v:    V5,
		pkt:  &Puback{ID: 7, ReasonCode: QuotaExceeded, Props: &Properties{ReasonString: "q", User: []UserProperty{{"a", "b"}}}},
		wire: []byte{
			0x40,       // PUBACK
			0x0F,       // remaining length 15
			0x00, 0x07, // packet identifier 7
			0x97,                  // reason code: quota exceeded
			0x0B,                  // property length 11
			0x1F, 0x00, 0x01, 'q', // reason string "q"
			0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b', // user property a=b
		},
	},
	{
		name: "PUBACK 5 success with properties",
		v:    V5,
		pkt:  &Puback{ID: 7, Props: &Properties{ReasonString: "q"}},
		wire: []byte{
			0x40,       // PUBACK
			0x08,       // remaining length 8
			0x00, 0x07, // packet identifier 7
			0x00,                  // reason code: success
			0x04,                  // property length 4
			0x1F, 0x00, 0x01, 'q', // reason string "q"
		},
	},
	{
		name: "PUBREC 3.1",
		v:    V31,
		pkt:  &Pubrec{ID: 7},
		wire: []byte{0x50, 0x02, // PUBREC, remaining length 2
			0x00, 0x07, // packet identifier 7
		},
	},
	{
		name: "PUBREC 3.1.1",
		v:    V311,
		pkt:  &Pubrec{ID: 7},
		wire: []byte{0x50, 0x02, // PUBREC, remaining length 2
			0x00, 0x07, // packet identifier 7
		},
	},
	{
		name: "PUBREC 5 short form",
		v:    V5,
		pkt:  &Pubrec{ID: 7},
		wire: []byte{0x50, 0x02, // PUBREC, remaining length 2
			0x00, 0x07, // packet identifier 7
		},
	},
	{
		name: "PUBREC 5 properties",
		v:    V5,
		pkt:  &Pubrec{ID: 7, ReasonCode: PacketIdentifierInUse, Props: &Properties{User: []UserProperty{{"a", "b"}}}},
		wire: []byte{
			0x50,       // PUBREC
			0x0B,       // remaining length 11
			0x00, 0x07, // packet identifier 7
			0x91,                                   // reason code: packet identifier in use
			0x07,                                   // property length 7
			0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b', // user property a=b
		},
	},
	{
		name: "PUBREL 3.1",
		v:    V31,
		pkt:  &Pubrel{ID: 7},
		wire: []byte{0x62, 0x02, // PUBREL (flags 0010), remaining length 2
			0x00, 0x07, // packet identifier 7
		},
	},
	{
		name: "PUBREL 3.1.1",
		v:    V311,
		pkt:  &Pubrel{ID: 7},
		wire: []byte{0x62, 0x02, // PUBREL (flags 0010), remaining length 2
			0x00, 0x07, // packet identifier 7
		},
	},
	{
		name: "PUBREL 5 short form",
		v:    V5,
		pkt:  &Pubrel{ID: 7},
		wire: []byte{0x62, 0x02, // PUBREL (flags 0010), remaining length 2
			0x00, 0x07, // packet identifier 7
		},
	},
	{
		name: "PUBREL 5 properties",
		v:    V5,
		pkt:  &Pubrel{ID: 7, ReasonCode: PacketIdentifierNotFound, Props: &Properties{ReasonString: "gone"}},
		wire: []byte{
			0x62,       // PUBREL (flags 0010)
			0x0B,       // remaining length 11
			0x00, 0x07, // packet identifier 7
			0x92,                                 // reason code: packet identifier not found
			0x07,                                 // property length 7
			0x1F, 0x00, 0x04, 'g', 'o', 'n', 'e', // reason string "gone"
		},
	},
	{
		name: "PUBCOMP 3.1",
		v:    V31,
		pkt:  &Pubcomp{ID: 7},
		wire: []byte{0x70, 0x02, // PUBCOMP, remaining length 2
			0x00, 0x07, // packet identifier 7
		},
	},
	{
		name: "PUBCOMP 3.1.1",
		v:    V311,
		pkt:  &Pubcomp{ID: 7},
		wire: []byte{0x70, 0x02, // PUBCOMP, remaining length 2
			0x00, 0x07, // packet identifier 7
		},
	},
	{
		name: "PUBCOMP 5 short form",
		v:    V5,
		pkt:  &Pubcomp{ID: 7},
		wire: []byte{0x70, 0x02, // PUBCOMP, remaining length 2
			0x00, 0x07, // packet identifier 7
		},
	},
	{
		name: "PUBCOMP 5 reason code only",
		v:    V5,
		pkt:  &Pubcomp{ID: 7, ReasonCode: PacketIdentifierNotFound},
		wire: []byte{0x70, 0x03, // PUBCOMP, remaining length 3
			0x00, 0x07, // packet identifier 7
			0x92, // reason code: packet identifier not found
		},
	},

	// SUBSCRIBE

	{
		name: "SUBSCRIBE 3.1",
		v:    V31,
		pkt:  &Subscribe{ID: 1, Subscriptions: []Subscription{{Filter: "a/#", QoS: ExactlyOnce}}},
		wire: []byte{
			0x82,       // SUBSCRIBE (flags 0010)
			0x08,       // remaining length 8
			0x00, 0x01, // packet identifier 1
			0x00, 0x03, 'a', '/', '#', // topic filter
			0x02, // requested QoS 2
		},
	},
	{
		// The SUBSCRIBE payload example of MQTT 3.1.1 section 3.8.3.
		name: "SUBSCRIBE 3.1.1 spec example",
		v:    V311,
		pkt:  &Subscribe{ID: 10, Subscriptions: []Subscription{{Filter: "a/b", QoS: AtLeastOnce}, {Filter: "c/d", QoS: ExactlyOnce}}},
		wire: []byte{
			0x82,       // SUBSCRIBE (flags 0010)
			0x0E,       // remaining length 14
			0x00, 0x0A, // packet identifier 10
			0x00, 0x03, 'a', '/', 'b', // topic filter "a/b"
			0x01,                      // requested QoS 1
			0x00, 0x03, 'c', '/', 'd', // topic filter "c/d"
			0x02, // requested QoS 2
		},
	},
	{
		name: "SUBSCRIBE 5 subscription options",
		v:    V5,
		pkt: &Subscribe{ID: 10,
			Subscriptions: []Subscription{
				{Filter: "a/b", QoS: AtLeastOnce, NoLocal: true, RetainAsPublished: true},
				{Filter: "c/d", QoS: ExactlyOnce, RetainHandling: 1},
				{Filter: "e/#", RetainHandling: 2},
				{Filter: "f", QoS: ExactlyOnce, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
			},
			Props: &Properties{SubscriptionIDs: []int{16384}, User: []UserProperty{{"k", "v"}}}},
		wire: []byte{
			0x82,       // SUBSCRIBE (flags 0010)
			0x24,       // remaining length 36
			0x00, 0x0A, // packet identifier 10
			0x0B,                   // property length 11
			0x0B, 0x80, 0x80, 0x01, // subscription identifier 16384
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
			0x00, 0x03, 'a', '/', 'b', // topic filter "a/b"
			0x0D,                      // options: retain as published, no local, QoS 1
			0x00, 0x03, 'c', '/', 'd', // topic filter "c/d"
			0x12,                      // options: retain handling 1, QoS 2
			0x00, 0x03, 'e', '/', '#', // topic filter "e/#"
			0x20,            // options: retain handling 2, QoS 0
			0x00, 0x01, 'f', // topic filter "f"
			0x2E, // options: retain handling 2, retain as published, no local, QoS 2
		},
	},

	// SUBACK

	{
		name: "SUBACK 3.1",
		v:    V31,
		pkt:  &Suback{ID: 1, Reasons: []ReasonCode{GrantedQoS1}},
		wire: []byte{
			0x90,       // SUBACK
			0x03,       // remaining length 3
			0x00, 0x01, // packet identifier 1
			0x01, // granted QoS 1
		},
	},
	{
		// The SUBACK payload example of MQTT 3.1.1 section 3.9.3.
		name: "SUBACK 3.1.1 spec example",
		v:    V311,
		pkt:  &Suback{ID: 10, Reasons: []ReasonCode{GrantedQoS0, GrantedQoS2, UnspecifiedError}},
		wire: []byte{
			0x90,       // SUBACK
			0x05,       // remaining length 5
			0x00, 0x0A, // packet identifier 10
			0x00, // success, maximum QoS 0
			0x02, // success, maximum QoS 2
			0x80, // failure
		},
	},
	{
		name: "SUBACK 5 every SUBACK reason code",
		v:    V5,
		pkt: &Suback{ID: 10,
			Reasons: []ReasonCode{GrantedQoS0, GrantedQoS1, GrantedQoS2, UnspecifiedError,
				ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse,
				QuotaExceeded, SharedSubscriptionsNotSupported, SubscriptionIdentifiersNotSupported,
				WildcardSubscriptionsNotSupported},
			Props: &Properties{ReasonString: "r", User: []UserProperty{{"k", "v"}}}},
		wire: []byte{
			0x90,       // SUBACK
			0x1A,       // remaining length 26
			0x00, 0x0A, // packet identifier 10
			0x0B,                  // property length 11
			0x1F, 0x00, 0x01, 'r', // reason string "r"
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
			0x00, // granted QoS 0
			0x01, // granted QoS 1
			0x02, // granted QoS 2
			0x80, // unspecified error
			0x83, // implementation specific error
			0x87, // not authorized
			0x8F, // topic filter invalid
			0x91, // packet identifier in use
			0x97, // quota exceeded
			0x9E, // shared subscriptions not supported
			0xA1, // subscription identifiers not supported
			0xA2, // wildcard subscriptions not supported
		},
	},

	// UNSUBSCRIBE

	{
		name: "UNSUBSCRIBE 3.1",
		v:    V31,
		pkt:  &Unsubscribe{ID: 2, Filters: []string{"a/#"}},
		wire: []byte{
			0xA2,       // UNSUBSCRIBE (flags 0010)
			0x07,       // remaining length 7
			0x00, 0x02, // packet identifier 2
			0x00, 0x03, 'a', '/', '#', // topic filter
		},
	},
	{
		// The UNSUBSCRIBE payload example of MQTT 3.1.1 section 3.10.3.
		name: "UNSUBSCRIBE 3.1.1 spec example",
		v:    V311,
		pkt:  &Unsubscribe{ID: 10, Filters: []string{"a/b", "c/d"}},
		wire: []byte{
			0xA2,       // UNSUBSCRIBE (flags 0010)
			0x0C,       // remaining length 12
			0x00, 0x0A, // packet identifier 10
			0x00, 0x03, 'a', '/', 'b', // topic filter "a/b"
			0x00, 0x03, 'c', '/', 'd', // topic filter "c/d"
		},
	},
	{
		name: "UNSUBSCRIBE 5 user properties",
		v:    V5,
		pkt:  &Unsubscribe{ID: 10, Filters: []string{"a/b", "a/b"}, Props: &Properties{User: []UserProperty{{"z", "1"}, {"a", "2"}}}},
		wire: []byte{
			0xA2,       // UNSUBSCRIBE (flags 0010)
			0x1B,       // remaining length 27
			0x00, 0x0A, // packet identifier 10
			0x0E,                                   // property length 14
			0x26, 0x00, 0x01, 'z', 0x00, 0x01, '1', // user property z=1
			0x26, 0x00, 0x01, 'a', 0x00, 0x01, '2', // user property a=2
			0x00, 0x03, 'a', '/', 'b', // topic filter "a/b"
			0x00, 0x03, 'a', '/', 'b', // topic filter "a/b" again
		},
	},

	// UNSUBACK

	{
		name: "UNSUBACK 3.1",
		v:    V31,
		pkt:  &Unsuback{ID: 2},
		wire: []byte{0xB0, 0x02, // UNSUBACK, remaining length 2
			0x00, 0x02, // packet identifier 2
		},
	},
	{
		name: "UNSUBACK 3.1.1",
		v:    V311,
		pkt:  &Unsuback{ID: 10},
		wire: []byte{0xB0, 0x02, // UNSUBACK, remaining length 2
			0x00, 0x0A, // packet identifier 10
		},
	},
	{
		name: "UNSUBACK 5 every UNSUBACK reason code",
		v:    V5,
		pkt: &Unsuback{ID: 10,
			Reasons: []ReasonCode{Success, NoSubscriptionExisted, UnspecifiedError,
				ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse},
			Props: &Properties{ReasonString: "r"}},
		wire: []byte{
			0xB0,       // UNSUBACK
			0x0E,       // remaining length 14
			0x00, 0x0A, // packet identifier 10
			0x04,                  // property length 4
			0x1F, 0x00, 0x01, 'r', // reason string "r"
			0x00, // success
			0x11, // no subscription existed
			0x80, // unspecified error
			0x83, // implementation specific error
			0x87, // not authorized
			0x8F, // topic filter invalid
			0x91, // packet identifier in use
		},
	},
	{
		name: "UNSUBACK 5 no properties",
		v:    V5,
		pkt:  &Unsuback{ID: 10, Reasons: []ReasonCode{Success}},
		wire: []byte{
			0xB0,       // UNSUBACK
			0x04,       // remaining length 4
			0x00, 0x0A, // packet identifier 10
			0x00, // property length 0
			0x00, // success
		},
	},

	// PINGREQ, PINGRESP

	{name: "PINGREQ 3.1", v: V31, pkt: &Pingreq{}, wire: []byte{0xC0, 0x00}},    // PINGREQ, remaining length 0
	{name: "PINGREQ 3.1.1", v: V311, pkt: &Pingreq{}, wire: []byte{0xC0, 0x00}}, // PINGREQ, remaining length 0
	{name: "PINGREQ 5", v: V5, pkt: &Pingreq{}, wire: []byte{0xC0, 0x00}},       // PINGREQ, remaining length 0
	{name: "PINGRESP 3.1", v: V31, pkt: &Pingresp{}, wire: []byte{0xD0, 0x00}},  // PINGRESP, remaining length 0
	{name: "PINGRESP 3.1.1", v: V311, pkt: &Pingresp{}, wire: []byte{0xD0, 0x00}},
	{name: "PINGRESP 5", v: V5, pkt: &Pingresp{}, wire: []byte{0xD0, 0x00}},

	// DISCONNECT

	{name: "DISCONNECT 3.1", v: V31, pkt: &Disconnect{}, wire: []byte{0xE0, 0x00}},    // DISCONNECT, remaining length 0
	{name: "DISCONNECT 3.1.1", v: V311, pkt: &Disconnect{}, wire: []byte{0xE0, 0x00}}, // DISCONNECT, remaining length 0
	{name: "DISCONNECT 5 short form", v: V5, pkt: &Disconnect{}, wire: []byte{0xE0, 0x00}},
	{
		name: "DISCONNECT 5 reason code only",
		v:    V5,
		pkt:  &Disconnect{ReasonCode: DisconnectWithWillMessage},
		wire: []byte{0xE0, 0x02, // DISCONNECT, remaining length 2
			0x04, // reason code: disconnect with will message
			0x00, // property length 0
		},
	},
	{
		name: "DISCONNECT 5 every DISCONNECT property",
		v:    V5,
		pkt: &Disconnect{ReasonCode: UseAnotherServer, Props: &Properties{
			SessionExpiry: 0, ServerReference: "s", ReasonString: "r",
			User: []UserProperty{{"k", "v"}}, included: 1 << PropSessionExpiry}},
		wire: []byte{
			0xE0,                         // DISCONNECT
			0x16,                         // remaining length 22
			0x9C,                         // reason code: use another server
			0x14,                         // property length 20
			0x11, 0x00, 0x00, 0x00, 0x00, // session expiry interval 0
			0x1C, 0x00, 0x01, 's', // server reference "s"
			0x1F, 0x00, 0x01, 'r', // reason string "r"
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
		},
	},

	// AUTH

	{name: "AUTH 5 short form", v: V5, pkt: &Auth{}, wire: []byte{0xF0, 0x00}}, // AUTH, remaining length 0
	{
		name: "AUTH 5 every AUTH property",
		v:    V5,
		pkt: &Auth{ReasonCode: ContinueAuthentication, Props: &Properties{
			AuthMethod: "SCRAM", AuthData: []byte{0x01, 0x02}, ReasonString: "r",
			User: []UserProperty{{"k", "v"}}}},
		wire: []byte{
			0xF0,                                      // AUTH
			0x1A,                                      // remaining length 26
			0x18,                                      // reason code: continue authentication
			0x18,                                      // property length 24
			0x15, 0x00, 0x05, 'S', 'C', 'R', 'A', 'M', // authentication method "SCRAM"
			0x16, 0x00, 0x02, 0x01, 0x02, // authentication data 01 02
			0x1F, 0x00, 0x01, 'r', // reason string "r"
			0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
		},
	},
	{
		name: "AUTH 5 re-authenticate",
		v:    V5,
		pkt:  &Auth{ReasonCode: ReAuthenticate, Props: &Properties{AuthMethod: "m"}},
		wire: []byte{
			0xF0,                  // AUTH
			0x06,                  // remaining length 6
			0x19,                  // reason code: re-authenticate
			0x04,                  // property length 4
			0x15, 0x00, 0x01, 'm', // authentication method "m"
		},
	},
}

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
