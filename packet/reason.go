package packet

import (
	"errors"
	"fmt"
)

// ReasonCode is an MQTT 5 reason code (MQTT 5.0 section 2.4). It implements
// error, so a hook may refuse with `return packet.NotAuthorized` and a caller
// finds the code with errors.As.
//
// midge keeps every reason code in the MQTT 5 space, for every version: a 3.1
// or 3.1.1 CONNACK return code is decoded to its MQTT 5 equivalent and encoded
// back (see [Connack]); a SUBACK failure is 0x80 on every version.
type ReasonCode byte

// The reason codes of MQTT 5.0 section 2.4, with the spec's names. Several
// codes share the value 0x00 and 0x01..0x02 under different names.
const (
	Success                             ReasonCode = 0x00
	NormalDisconnection                 ReasonCode = 0x00
	GrantedQoS0                         ReasonCode = 0x00
	GrantedQoS1                         ReasonCode = 0x01
	GrantedQoS2                         ReasonCode = 0x02
	DisconnectWithWillMessage           ReasonCode = 0x04
	NoMatchingSubscribers               ReasonCode = 0x10
	NoSubscriptionExisted               ReasonCode = 0x11
	ContinueAuthentication              ReasonCode = 0x18
	ReAuthenticate                      ReasonCode = 0x19
	UnspecifiedError                    ReasonCode = 0x80
	MalformedPacket                     ReasonCode = 0x81
	ProtocolError                       ReasonCode = 0x82
	ImplementationSpecificError         ReasonCode = 0x83
	UnsupportedProtocolVersion          ReasonCode = 0x84
	ClientIdentifierNotValid            ReasonCode = 0x85
	BadUserNameOrPassword               ReasonCode = 0x86
	NotAuthorized                       ReasonCode = 0x87
	ServerUnavailable                   ReasonCode = 0x88
	ServerBusy                          ReasonCode = 0x89
	Banned                              ReasonCode = 0x8A
	ServerShuttingDown                  ReasonCode = 0x8B
	BadAuthenticationMethod             ReasonCode = 0x8C
	KeepAliveTimeout                    ReasonCode = 0x8D
	SessionTakenOver                    ReasonCode = 0x8E
	TopicFilterInvalid                  ReasonCode = 0x8F
	TopicNameInvalid                    ReasonCode = 0x90
	PacketIdentifierInUse               ReasonCode = 0x91
	PacketIdentifierNotFound            ReasonCode = 0x92
	ReceiveMaximumExceeded              ReasonCode = 0x93
	TopicAliasInvalid                   ReasonCode = 0x94
	PacketTooLarge                      ReasonCode = 0x95
	MessageRateTooHigh                  ReasonCode = 0x96
	QuotaExceeded                       ReasonCode = 0x97
	AdministrativeAction                ReasonCode = 0x98
	PayloadFormatInvalid                ReasonCode = 0x99
	RetainNotSupported                  ReasonCode = 0x9A
	QoSNotSupported                     ReasonCode = 0x9B
	UseAnotherServer                    ReasonCode = 0x9C
	ServerMoved                         ReasonCode = 0x9D
	SharedSubscriptionsNotSupported     ReasonCode = 0x9E
	ConnectionRateExceeded              ReasonCode = 0x9F
	MaximumConnectTime                  ReasonCode = 0xA0
	SubscriptionIdentifiersNotSupported ReasonCode = 0xA1
	WildcardSubscriptionsNotSupported   ReasonCode = 0xA2
)

var reasonNames = map[ReasonCode]string{
	0x00: "success",
	0x01: "granted QoS 1",
	0x02: "granted QoS 2",
	0x04: "disconnect with will message",
	0x10: "no matching subscribers",
	0x11: "no subscription existed",
	0x18: "continue authentication",
	0x19: "re-authenticate",
	0x80: "unspecified error",
	0x81: "malformed packet",
	0x82: "protocol error",
	0x83: "implementation specific error",
	0x84: "unsupported protocol version",
	0x85: "client identifier not valid",
	0x86: "bad user name or password",
	0x87: "not authorized",
	0x88: "server unavailable",
	0x89: "server busy",
	0x8A: "banned",
	0x8B: "server shutting down",
	0x8C: "bad authentication method",
	0x8D: "keep alive timeout",
	0x8E: "session taken over",
	0x8F: "topic filter invalid",
	0x90: "topic name invalid",
	0x91: "packet identifier in use",
	0x92: "packet identifier not found",
	0x93: "receive maximum exceeded",
	0x94: "topic alias invalid",
	0x95: "packet too large",
	0x96: "message rate too high",
	0x97: "quota exceeded",
	0x98: "administrative action",
	0x99: "payload format invalid",
	0x9A: "retain not supported",
	0x9B: "QoS not supported",
	0x9C: "use another server",
	0x9D: "server moved",
	0x9E: "shared subscriptions not supported",
	0x9F: "connection rate exceeded",
	0xA0: "maximum connect time",
	0xA1: "subscription identifiers not supported",
	0xA2: "wildcard subscriptions not supported",
}

// Error returns the spec's name of the code, such as "not authorized".
func (r ReasonCode) Error() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("reason code 0x%02X", byte(r))
}

// String is the same as Error.
func (r ReasonCode) String() string { return r.Error() }

// Known reports whether r is one of the reason codes MQTT 5.0 defines.
func (r ReasonCode) Known() bool {
	_, ok := reasonNames[r]
	return ok
}

// IsError reports whether r signals a failure: every code from 0x80 on.
func (r ReasonCode) IsError() bool { return r >= 0x80 }

// Error is a packet that could not be decoded or encoded. Code is the MQTT 5
// reason code the spec names for the violation; a server ends a v5 connection
// with a DISCONNECT (or, before CONNACK, a CONNACK) carrying it.
type Error struct {
	Code ReasonCode
	Msg  string
}

// Error returns "packet: " followed by the message.
func (e *Error) Error() string { return "packet: " + e.Msg }

// Unwrap returns the reason code, so errors.Is(err, packet.MalformedPacket)
// and errors.As(err, &code) work.
func (e *Error) Unwrap() error { return e.Code }

func malformed(msg string) error { return &Error{Code: MalformedPacket, Msg: msg} }
func protocolErr(msg string) error {
	return &Error{Code: ProtocolError, Msg: msg}
}

// CodeOf returns the reason code carried by err: the code of an *Error or a
// ReasonCode in its chain, and UnspecifiedError for any other non-nil error.
// CodeOf(nil) is Success.
func CodeOf(err error) ReasonCode {
	if err == nil {
		return Success
	}
	var rc ReasonCode
	if errors.As(err, &rc) {
		return rc
	}
	return UnspecifiedError
}

// connackV3 maps an MQTT 5 CONNACK reason code to a 3.1/3.1.1 return code
// (MQTT 3.1.1 section 3.2.2.3).
func connackV3(r ReasonCode) byte {
	switch r {
	case Success:
		return 0
	case UnsupportedProtocolVersion:
		return 1
	case ClientIdentifierNotValid:
		return 2
	case BadUserNameOrPassword, BadAuthenticationMethod:
		return 4
	case NotAuthorized, Banned:
		return 5
	}
	// Server unavailable: the nearest 3.1.1 has for every other refusal.
	return 3
}

// connackV5 maps a 3.1/3.1.1 CONNACK return code to MQTT 5.
func connackV5(b byte) (ReasonCode, bool) {
	switch b {
	case 0:
		return Success, true
	case 1:
		return UnsupportedProtocolVersion, true
	case 2:
		return ClientIdentifierNotValid, true
	case 3:
		return ServerUnavailable, true
	case 4:
		return BadUserNameOrPassword, true
	case 5:
		return NotAuthorized, true
	}
	return 0, false
}
