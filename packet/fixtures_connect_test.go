package packet

// connectFixtures are CONNECT and CONNACK: see fixtures.
var connectFixtures = []fixture{
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
}
