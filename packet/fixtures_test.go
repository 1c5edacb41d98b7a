package packet

import "bytes"

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
var fixtures = joinFixtures(connectFixtures, publishFixtures, subscribeFixtures, controlFixtures)

func joinFixtures(lists ...[]fixture) []fixture {
	var all []fixture
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// publishFixtures are PUBLISH and its acknowledgements.
var publishFixtures = []fixture{
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
}

// subscribeFixtures are SUBSCRIBE, UNSUBSCRIBE and their acknowledgements.
var subscribeFixtures = []fixture{
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
}

// controlFixtures are PINGREQ, PINGRESP, DISCONNECT and AUTH.
var controlFixtures = []fixture{
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
