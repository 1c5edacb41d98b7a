package packet_test

import (
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// TestDecodeAllocations bounds the allocations of a fresh Decode: the
// packet, its body, and for SUBSCRIBE one slice, sized once.
func TestDecodeAllocations(t *testing.T) {
	subs := make([]packet.Subscription, 5)
	for i := range subs {
		subs[i] = packet.Subscription{Filter: "sensors/+/temperature", QoS: 1}
	}
	wire, err := (&packet.Subscribe{ID: 1, Subscriptions: subs}).Append(nil, packet.V311)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := packet.Decode(wire, packet.V311, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Errorf("Decode of a SUBSCRIBE with 5 filters: %.0f allocations, want at most 3", allocs)
	}
}

// TestDecodeIntoReusesWill decodes CONNECTs into one struct: its Will is
// reused when the next CONNECT has one, and cleared, properties and all,
// when it has none or its version has no properties.
func TestDecodeIntoReusesWill(t *testing.T) {
	enc := func(p *packet.Connect) []byte {
		b, err := p.Append(nil, p.Version)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	withWill := enc(&packet.Connect{Version: packet.V5, ClientID: "a", Will: &packet.Will{Topic: "w", Payload: []byte("x"),
		QoS: 1, Props: &packet.Properties{ContentType: "text/plain"}}})
	will311 := enc(&packet.Connect{Version: packet.V311, ClientID: "b", Will: &packet.Will{Topic: "w3", Payload: []byte("y")}})
	noWill := enc(&packet.Connect{Version: packet.V5, ClientID: "c"})

	var p packet.Connect
	if _, err := packet.DecodeInto(&p, withWill, 0, 0); err != nil {
		t.Fatal(err)
	}
	first := p.Will
	if first == nil || first.Topic != "w" || first.Props == nil || first.Props.ContentType != "text/plain" {
		t.Fatalf("will %+v", first)
	}
	if _, err := packet.DecodeInto(&p, will311, 0, 0); err != nil {
		t.Fatal(err)
	}
	if p.Will != first || p.Will.Topic != "w3" || p.Will.Props != nil || p.Will.QoS != 0 {
		t.Fatalf("3.1.1 will decoded into the same struct: %+v (same: %v)", p.Will, p.Will == first)
	}
	if _, err := packet.DecodeInto(&p, noWill, 0, 0); err != nil {
		t.Fatal(err)
	}
	if p.Will != nil {
		t.Fatalf("CONNECT without a will left %+v", p.Will)
	}
}

// TestIncluded: Included reports the properties marked present (by
// decoding, or by Include), whatever their value, and not those merely
// set; Has reports both.
func TestIncluded(t *testing.T) {
	sent := &packet.Properties{ContentType: "text/plain"}
	sent.Include(packet.PropMessageExpiry) // 0, present
	wire, err := (&packet.Publish{Topic: "t", Props: sent}).Append(nil, packet.V5)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := packet.Decode(wire, packet.V5, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := p.(*packet.Publish).Props
	for _, id := range []packet.PropID{packet.PropMessageExpiry, packet.PropContentType} {
		if !got.Included(id) || !got.Has(id) {
			t.Errorf("decoded %v: Included %v, Has %v; want both", id, got.Included(id), got.Has(id))
		}
	}
	if got.Included(packet.PropPayloadFormat) {
		t.Error("decoded payload format, never sent, is included")
	}
	set := &packet.Properties{MessageExpiry: 5}
	if set.Included(packet.PropMessageExpiry) || !set.Has(packet.PropMessageExpiry) {
		t.Error("a set, not included, message expiry: want Has only")
	}
	if (*packet.Properties)(nil).Included(packet.PropMessageExpiry) {
		t.Error("nil properties include something")
	}
}
