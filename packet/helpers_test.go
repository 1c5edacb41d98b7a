package packet

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// versions is every protocol version midge speaks.
var versions = []Version{V31, V311, V5}

// props returns the property structs a packet carries, will properties too.
func propsOf(p Packet) []*Properties {
	switch p := p.(type) {
	case *Connect:
		if p.Will != nil {
			return []*Properties{p.Props, p.Will.Props}
		}
		return []*Properties{p.Props}
	case *Connack:
		return []*Properties{p.Props}
	case *Publish:
		return []*Properties{p.Props}
	case *Puback:
		return []*Properties{p.Props}
	case *Pubrec:
		return []*Properties{p.Props}
	case *Pubrel:
		return []*Properties{p.Props}
	case *Pubcomp:
		return []*Properties{p.Props}
	case *Subscribe:
		return []*Properties{p.Props}
	case *Suback:
		return []*Properties{p.Props}
	case *Unsubscribe:
		return []*Properties{p.Props}
	case *Unsuback:
		return []*Properties{p.Props}
	case *Disconnect:
		return []*Properties{p.Props}
	case *Auth:
		return []*Properties{p.Props}
	}
	return nil
}

// present returns the set of properties p holds: the included ones and the
// non-zero ones.
func present(p *Properties) uint64 {
	if p == nil {
		return 0
	}
	w := propWriter{count: true}
	p.walk(&w)
	return p.included | w.used
}

// normalize marks every non-zero property of p as included, as a decode
// does, so that a fixture written with plain field values compares equal to
// a decoded packet exactly when both hold the same properties.
func normalize(p Packet) Packet {
	for _, pp := range propsOf(p) {
		if pp != nil {
			pp.included = present(pp)
		}
	}
	return p
}

// samePacket reports whether got and want are the same packet, property
// presence included.
func samePacket(got, want Packet) bool {
	return reflect.DeepEqual(normalize(got), normalize(want))
}

// dump prints a packet with its properties for failure messages.
func dump(p Packet) string {
	if p == nil {
		return "<nil>"
	}
	s := fmt.Sprintf("%T%+v", p, p)
	for i, pp := range propsOf(p) {
		if pp != nil {
			s += fmt.Sprintf("\n\tprops[%d] = %+v", i, *pp)
		}
	}
	return s
}

// wantCode fails t unless err carries reason code want.
func wantCode(t *testing.T, err error, want ReasonCode) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v (0x%02X)", want, byte(want))
	}
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *packet.Error", err)
	}
	if !errors.Is(err, want) || CodeOf(err) != want {
		t.Fatalf("error %q has code 0x%02X (%v), want 0x%02X (%v)", err, byte(CodeOf(err)), CodeOf(err), byte(want), want)
	}
}

// cat joins byte slices, for fixtures built from parts.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// str is a two-byte-length-prefixed string, for fixtures whose strings are
// too long to spell out byte by byte.
func str(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

// withProps builds an MQTT 5 packet of type t whose property section (t ==
// typeWill: the will properties of a CONNECT) is exactly the bytes props,
// length prefix excluded, around the smallest valid rest of a packet.
func withProps(t Type, props []byte) []byte {
	section := appendVarint(nil, len(props))
	section = append(section, props...)
	var body []byte
	first := byte(t)<<4 | fixedFlags(t)
	switch t {
	case typeWill:
		first = byte(TypeConnect) << 4
		body = cat([]byte{0, 4, 'M', 'Q', 'T', 'T', 5, flagWill | flagCleanStart, 0, 0, 0}, str("c"), section, str("w"), str(""))
	case TypeConnect:
		body = cat([]byte{0, 4, 'M', 'Q', 'T', 'T', 5, flagCleanStart, 0, 0}, section, str("c"))
	case TypeConnack:
		body = cat([]byte{0, 0}, section)
	case TypePublish:
		body = cat(str("t"), section, []byte("x"))
	case TypePuback, TypePubrec, TypePubrel, TypePubcomp:
		body = cat([]byte{0, 1, 0}, section)
	case TypeSubscribe:
		body = cat([]byte{0, 1}, section, str("t"), []byte{0})
	case TypeSuback, TypeUnsuback:
		body = cat([]byte{0, 1}, section, []byte{0})
	case TypeUnsubscribe:
		body = cat([]byte{0, 1}, section, str("t"))
	case TypeDisconnect, TypeAuth:
		body = cat([]byte{0}, section)
	default:
		panic("withProps: no properties in " + t.String())
	}
	return cat([]byte{first}, appendVarint(nil, len(body)), body)
}

// packetWithProps is the packet withProps(t, …) decodes to, carrying pp.
func packetWithProps(t Type, pp *Properties) Packet {
	switch t {
	case typeWill:
		return &Connect{Version: V5, CleanStart: true, ClientID: "c", Will: &Will{Topic: "w", Props: pp}}
	case TypeConnect:
		return &Connect{Version: V5, CleanStart: true, ClientID: "c", Props: pp}
	case TypeConnack:
		return &Connack{Props: pp}
	case TypePublish:
		return &Publish{Topic: "t", Payload: []byte("x"), Props: pp}
	case TypePuback:
		return &Puback{ID: 1, Props: pp}
	case TypePubrec:
		return &Pubrec{ID: 1, Props: pp}
	case TypePubrel:
		return &Pubrel{ID: 1, Props: pp}
	case TypePubcomp:
		return &Pubcomp{ID: 1, Props: pp}
	case TypeSubscribe:
		return &Subscribe{ID: 1, Subscriptions: []Subscription{{Filter: "t"}}, Props: pp}
	case TypeSuback:
		return &Suback{ID: 1, Reasons: []ReasonCode{GrantedQoS0}, Props: pp}
	case TypeUnsubscribe:
		return &Unsubscribe{ID: 1, Filters: []string{"t"}, Props: pp}
	case TypeUnsuback:
		return &Unsuback{ID: 1, Reasons: []ReasonCode{Success}, Props: pp}
	case TypeDisconnect:
		return &Disconnect{Props: pp}
	case TypeAuth:
		return &Auth{Props: pp}
	}
	panic("packetWithProps: no properties in " + t.String())
}

// propTypes are the packet types with a property section, typeWill first.
var propTypes = []Type{typeWill, TypeConnect, TypeConnack, TypePublish, TypePuback, TypePubrec,
	TypePubrel, TypePubcomp, TypeSubscribe, TypeSuback, TypeUnsubscribe, TypeUnsuback,
	TypeDisconnect, TypeAuth}
