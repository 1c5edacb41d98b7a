package loadgen

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

func TestParsePublish(t *testing.T) {
	tests := []struct {
		name    string
		v5      bool
		wire    []byte
		qos     packet.QoS
		id      uint16
		payload string
	}{
		{
			name: "QoS 0, 3.1.1",
			wire: []byte{
				0x30, 7, // PUBLISH QoS 0, remaining length 7
				0, 3, 'a', '/', 'b', // topic "a/b"
				'h', 'i', // payload
			},
			payload: "hi",
		},
		{
			name: "QoS 1, 3.1.1",
			wire: []byte{
				0x32, 6, // PUBLISH QoS 1
				0, 1, 't', // topic "t"
				0x01, 0x02, // packet identifier 258
				'x',
			},
			qos: 1, id: 258, payload: "x",
		},
		{
			name: "QoS 2 with DUP and retain, 5.0 with properties",
			v5:   true,
			wire: []byte{
				0x3D, 11, // PUBLISH DUP, QoS 2, retain
				0, 1, 't', // topic
				0, 9, // packet identifier 9
				3, 0x23, 0, 1, // properties: topic alias 1
				'o', 'k',
			},
			qos: 2, id: 9, payload: "ok",
		},
		{
			name: "QoS 0, 5.0, no properties, empty payload",
			v5:   true,
			wire: []byte{0x30, 4, 0, 1, 't', 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			qos, id, payload, err := parsePublish(tt.wire[0], tt.wire[2:], tt.v5)
			if err != nil {
				t.Fatal(err)
			}
			if qos != tt.qos || id != tt.id || string(payload) != tt.payload {
				t.Errorf("got QoS %d id %d payload %q, want %d %d %q", qos, id, payload, tt.qos, tt.id, tt.payload)
			}
		})
	}
}

func TestParsePublishMalformed(t *testing.T) {
	tests := []struct {
		name  string
		first byte
		body  []byte
		v5    bool
	}{
		{"empty", 0x30, nil, false},
		{"topic past the end", 0x30, []byte{0, 5, 'a'}, false},
		{"no packet identifier", 0x32, []byte{0, 1, 't', 0}, false},
		{"packet identifier 0", 0x32, []byte{0, 1, 't', 0, 0}, false},
		{"QoS 3", 0x36, []byte{0, 1, 't', 0, 1}, false},
		{"properties past the end", 0x30, []byte{0, 1, 't', 5, 1}, true},
		{"no property length", 0x30, []byte{0, 1, 't'}, true},
		{"endless property length", 0x30, []byte{0, 1, 't', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, _, err := parsePublish(tt.first, tt.body, tt.v5); err == nil {
				t.Error("parsed")
			}
		})
	}
}

func TestParseAck(t *testing.T) {
	id, rc, err := parseAck([]byte{0x12, 0x34})
	if err != nil || id != 0x1234 || rc != packet.Success {
		t.Errorf("3.1.1 PUBACK: id %#x rc %v err %v", id, rc, err)
	}
	id, rc, err = parseAck([]byte{0, 7, 0x10, 0}) // 5.0: no matching subscribers, no properties
	if err != nil || id != 7 || rc != packet.NoMatchingSubscribers {
		t.Errorf("5.0 PUBACK: id %d rc %v err %v", id, rc, err)
	}
	for _, bad := range [][]byte{nil, {0}, {0, 0}} {
		if _, _, err := parseAck(bad); err == nil {
			t.Errorf("parseAck(% x) succeeded", bad)
		}
	}
}

// stream encodes packets back to back.
func stream(t testing.TB, v packet.Version, pks ...packet.Packet) []byte {
	var b []byte
	for _, p := range pks {
		var err error
		if b, err = p.Append(b, v); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func TestFrameReader(t *testing.T) {
	big := bytes.Repeat([]byte{'z'}, 300) // larger than the reader's buffer below
	pks := []packet.Packet{
		&packet.Connack{},
		&packet.Publish{Topic: "a/b", Payload: []byte("hello"), QoS: 1, ID: 1},
		&packet.Pingresp{},
		&packet.Publish{Topic: "big", Payload: big},
		&packet.Puback{ID: 65535},
	}
	wire := stream(t, packet.V311, pks...)
	readers := map[string]io.Reader{
		"whole":       bytes.NewReader(wire),
		"byte a time": iotest.OneByteReader(bytes.NewReader(wire)),
		"half":        iotest.HalfReader(bytes.NewReader(wire)),
	}
	for name, r := range readers {
		t.Run(name, func(t *testing.T) {
			fr := newFrameReader(r, 64)
			for i, want := range pks {
				if name == "whole" && i > 0 && i < 3 && !fr.ready() {
					t.Errorf("packet %d: not ready, though the whole stream is buffered", i)
				}
				frame, hl, err := fr.next()
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				got, n, err := packet.Decode(frame, packet.V311, 0)
				if err != nil || n != len(frame) {
					t.Fatalf("packet %d: decode: %v (%d of %d bytes)", i, err, n, len(frame))
				}
				if got.Type() != want.Type() {
					t.Fatalf("packet %d is a %v, want %v", i, got.Type(), want.Type())
				}
				if p, ok := got.(*packet.Publish); ok {
					_, _, payload, err := parsePublish(frame[0], frame[hl:], false)
					if err != nil || !bytes.Equal(payload, p.Payload) {
						t.Fatalf("packet %d: parsePublish payload %q, %v; want %q", i, payload, err, p.Payload)
					}
				}
			}
			if _, _, err := fr.next(); err != io.EOF {
				t.Errorf("at the end: %v, want io.EOF", err)
			}
		})
	}
}

func TestFrameReaderTruncated(t *testing.T) {
	wire := stream(t, packet.V311, &packet.Publish{Topic: "t", Payload: []byte("payload")})
	for n := 1; n < len(wire); n++ {
		fr := newFrameReader(bytes.NewReader(wire[:n]), 64)
		if fr.br.Peek(n); fr.ready() {
			t.Errorf("%d of %d bytes buffered: ready", n, len(wire))
		}
		if _, _, err := fr.next(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d of %d bytes: %v, want io.ErrUnexpectedEOF", n, len(wire), err)
		}
	}
	fr := newFrameReader(bytes.NewReader([]byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}), 64)
	if _, _, err := fr.next(); err == nil {
		t.Error("a five-byte remaining length was accepted")
	}
}

// TestHotPathAllocs checks the claim of the package doc: encoding a batch of
// PUBLISH packets and taking them apart again allocates nothing.
func TestHotPathAllocs(t *testing.T) {
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		t.Run(v.String(), func(t *testing.T) {
			pub := packet.Publish{Topic: "midge-bench/0123abcd/7", Payload: make([]byte, 64), QoS: 1}
			buf := make([]byte, 0, 64<<10)
			src := bytes.NewReader(nil)
			fr := newFrameReader(src, 64<<10)
			var ack packet.Puback
			acks := make([]byte, 0, 1024)
			var h Histogram
			clk := newClock()
			allocs := testing.AllocsPerRun(100, func() {
				buf = buf[:0]
				putStamp(pub.Payload, clk.now())
				for i := range 100 {
					pub.ID = uint16(i + 1)
					buf, _ = pub.Append(buf, v)
				}
				src.Reset(buf)
				acks = acks[:0]
				for range 100 {
					frame, hl, err := fr.next()
					if err != nil {
						t.Fatal(err)
					}
					_, id, payload, err := parsePublish(frame[0], frame[hl:], v == packet.V5)
					if err != nil {
						t.Fatal(err)
					}
					ns, _ := readStamp(payload)
					h.Record(time.Duration(clk.now() - ns))
					ack.ID = id
					acks, _ = ack.Append(acks, v)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per batch of 100 messages", allocs)
			}
		})
	}
}

func FuzzParsePublish(f *testing.F) {
	f.Add(byte(0x30), []byte{0, 3, 'a', '/', 'b', 'h', 'i'}, false)
	f.Add(byte(0x32), []byte{0, 1, 't', 0, 1, 'x'}, false)
	f.Add(byte(0x34), []byte{0, 1, 't', 0, 9, 3, 0x23, 0, 1, 'o', 'k'}, true)
	f.Fuzz(func(t *testing.T, first byte, body []byte, v5 bool) {
		qos, id, payload, err := parsePublish(first, body, v5)
		if err != nil {
			return
		}
		if qos > 2 || (qos > 0) != (id != 0) || len(payload) > len(body) {
			t.Errorf("parsePublish(%#x, % x, %v) = QoS %d id %d payload of %d bytes", first, body, v5, qos, id, len(payload))
		}
	})
}

func FuzzFrameReader(f *testing.F) {
	f.Add([]byte{0x30, 7, 0, 3, 'a', '/', 'b', 'h', 'i', 0xD0, 0})
	f.Add([]byte{0x30, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, wire []byte) {
		fr := newFrameReader(bytes.NewReader(wire), 16)
		total := 0
		for {
			frame, hl, err := fr.next()
			if err != nil {
				break
			}
			if hl < 2 || hl > 5 || len(frame) < hl {
				t.Fatalf("frame of %d bytes with a header of %d", len(frame), hl)
			}
			total += len(frame)
		}
		if total > len(wire) {
			t.Fatalf("returned %d bytes from %d", total, len(wire))
		}
	})
}
