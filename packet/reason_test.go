package packet

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestReasonAllowed checks ReasonAllowed against the reason code tables of
// MQTT 5.0, written out again here from sections 3.2.2.2 (CONNACK), 3.4.2.1
// (PUBACK), 3.5.2.1 (PUBREC), 3.6.2.1 (PUBREL), 3.7.2.1 (PUBCOMP), 3.9.3
// (SUBACK), 3.11.3 (UNSUBACK), 3.14.2.1 (DISCONNECT) and 3.15.2.1 (AUTH),
// for all 256 byte values.
func TestReasonAllowed(t *testing.T) {
	pubacks := []byte{0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}
	pubrels := []byte{0x00, 0x92}
	spec := map[Type][]byte{
		TypeConnack: {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A,
			0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F},
		TypePuback:   pubacks,
		TypePubrec:   pubacks,
		TypePubrel:   pubrels,
		TypePubcomp:  pubrels,
		TypeSuback:   {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2},
		TypeUnsuback: {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91},
		TypeDisconnect: {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F,
			0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F,
			0xA0, 0xA1, 0xA2},
		TypeAuth: {0x00, 0x18, 0x19},
	}
	for ty := Type(0); ty < 16; ty++ {
		for c := 0; c < 256; c++ {
			want := bytes.IndexByte(spec[ty], byte(c)) >= 0
			if got := ReasonAllowed(ty, ReasonCode(c)); got != want {
				t.Errorf("ReasonAllowed(%v, 0x%02X) = %v, want %v", ty, c, got, want)
			}
		}
	}
	// Every code the tables use is named and known, and is an error
	// from 0x80 on.
	for _, codes := range spec {
		for _, c := range codes {
			rc := ReasonCode(c)
			if !rc.Known() || rc.Error() == fmt.Sprintf("reason code 0x%02X", c) {
				t.Errorf("0x%02X is not a known, named reason code", c)
			}
			if rc.IsError() != (c >= 0x80) {
				t.Errorf("0x%02X: IsError() = %v", c, rc.IsError())
			}
		}
	}
	if ReasonCode(0x03).Known() || ReasonCode(0xA3).Known() {
		t.Error("unassigned codes are known")
	}
}

// TestReasonOnTheWire sends every reason code through every MQTT 5 packet
// that carries one: the allowed ones go through, the others are refused by
// the encoder and, sent by hand, by the decoder.
func TestReasonOnTheWire(t *testing.T) {
	build := map[Type]func(rc ReasonCode) (Packet, []byte){
		TypeConnack: func(rc ReasonCode) (Packet, []byte) {
			return &Connack{ReasonCode: rc}, []byte{0x20, 0x03, 0x00, byte(rc), 0x00}
		},
		TypePuback: func(rc ReasonCode) (Packet, []byte) {
			return &Puback{ID: 1, ReasonCode: rc}, []byte{0x40, 0x03, 0x00, 0x01, byte(rc)}
		},
		TypePubrec: func(rc ReasonCode) (Packet, []byte) {
			return &Pubrec{ID: 1, ReasonCode: rc}, []byte{0x50, 0x03, 0x00, 0x01, byte(rc)}
		},
		TypePubrel: func(rc ReasonCode) (Packet, []byte) {
			return &Pubrel{ID: 1, ReasonCode: rc}, []byte{0x62, 0x03, 0x00, 0x01, byte(rc)}
		},
		TypePubcomp: func(rc ReasonCode) (Packet, []byte) {
			return &Pubcomp{ID: 1, ReasonCode: rc}, []byte{0x70, 0x03, 0x00, 0x01, byte(rc)}
		},
		TypeSuback: func(rc ReasonCode) (Packet, []byte) {
			return &Suback{ID: 1, Reasons: []ReasonCode{rc}}, []byte{0x90, 0x04, 0x00, 0x01, 0x00, byte(rc)}
		},
		TypeUnsuback: func(rc ReasonCode) (Packet, []byte) {
			return &Unsuback{ID: 1, Reasons: []ReasonCode{rc}}, []byte{0xB0, 0x04, 0x00, 0x01, 0x00, byte(rc)}
		},
		TypeDisconnect: func(rc ReasonCode) (Packet, []byte) {
			return &Disconnect{ReasonCode: rc}, []byte{0xE0, 0x02, byte(rc), 0x00}
		},
		TypeAuth: func(rc ReasonCode) (Packet, []byte) {
			return &Auth{ReasonCode: rc}, []byte{0xF0, 0x02, byte(rc), 0x00}
		},
	}
	for ty, f := range build {
		for c := 0; c < 256; c++ {
			rc := ReasonCode(c)
			pkt, wire := f(rc)
			allowed := ReasonAllowed(ty, rc)
			enc, encErr := pkt.Append(nil, V5)
			dec, _, decErr := Decode(wire, V5, 0)
			if !allowed {
				if !errors.Is(encErr, ProtocolError) || !errors.Is(decErr, ProtocolError) {
					t.Errorf("%v 0x%02X: encode %v, decode %v; want protocol errors", ty, c, encErr, decErr)
				}
				continue
			}
			if encErr != nil || decErr != nil {
				t.Errorf("%v 0x%02X: encode %v, decode %v", ty, c, encErr, decErr)
				continue
			}
			if !samePacket(dec, pkt) {
				t.Errorf("%v 0x%02X: decoded %s", ty, c, dump(dec))
			}
			back, _, err := Decode(enc, V5, 0)
			if err != nil || !samePacket(back, pkt) {
				t.Errorf("%v 0x%02X: round trip %s, %v", ty, c, dump(back), err)
			}
		}
	}
}

// TestConnackReturnCodes checks the mapping of CONNACK codes to and from
// the return codes of 3.1 and 3.1.1 (MQTT 3.1.1 section 3.2.2.3): every
// code CONNACK allows maps to the return code documented on Connack, and
// the return codes map back to the MQTT 5 code of the same meaning.
func TestConnackReturnCodes(t *testing.T) {
	for c := 0; c < 256; c++ {
		rc := ReasonCode(c)
		if !ReasonAllowed(TypeConnack, rc) {
			continue
		}
		want := byte(3) // server unavailable: any other refusal
		switch rc {
		case Success:
			want = 0
		case UnsupportedProtocolVersion:
			want = 1
		case ClientIdentifierNotValid:
			want = 2
		case BadUserNameOrPassword, BadAuthenticationMethod:
			want = 4
		case NotAuthorized, Banned:
			want = 5
		}
		for _, v := range []Version{V31, V311} {
			wire, err := (&Connack{ReasonCode: rc}).Append(nil, v)
			if err != nil || !bytes.Equal(wire, []byte{0x20, 0x02, 0x00, want}) {
				t.Errorf("%v CONNACK 0x%02X: % X, %v; want return code %d", v, c, wire, err, want)
			}
		}
	}
	back := []ReasonCode{Success, UnsupportedProtocolVersion, ClientIdentifierNotValid,
		ServerUnavailable, BadUserNameOrPassword, NotAuthorized}
	for code, want := range back {
		for _, v := range []Version{V31, V311} {
			p, _, err := Decode([]byte{0x20, 0x02, 0x00, byte(code)}, v, 0)
			if err != nil || p.(*Connack).ReasonCode != want {
				t.Errorf("%v return code %d: %s, %v; want %v", v, code, dump(p), err, want)
			}
		}
	}
}

// TestErrorCodes checks that a decode error is found with errors.Is and
// errors.As, and CodeOf.
func TestErrorCodes(t *testing.T) {
	_, _, err := Decode([]byte{0x40, 0x02, 0x00, 0x00}, V311, 0)
	var pe *Error
	var rc ReasonCode
	if !errors.As(err, &pe) || pe.Code != ProtocolError {
		t.Fatalf("errors.As *Error: %v", err)
	}
	if !errors.As(err, &rc) || rc != ProtocolError {
		t.Fatalf("errors.As ReasonCode: %v", err)
	}
	if !errors.Is(err, ProtocolError) || errors.Is(err, MalformedPacket) || CodeOf(err) != ProtocolError {
		t.Fatalf("errors.Is / CodeOf: %v", err)
	}
	wrapped := fmt.Errorf("conn 7: %w", err)
	if CodeOf(wrapped) != ProtocolError {
		t.Fatalf("CodeOf a wrapped error: %v", CodeOf(wrapped))
	}
}
