package packet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/iotest"
)

// hugeHeader is the fixed header of a PUBLISH announcing the largest
// remaining length, 268,435,455 bytes: 256 MiB that never follow.
var hugeHeader = []byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// headerOnly is a reader that delivers a fixed header and then notes that
// it was asked for the body.
type headerOnly struct {
	hdr   []byte
	asked bool
}

func (r *headerOnly) Read(p []byte) (int, error) {
	if len(r.hdr) == 0 {
		r.asked = true
		return copy(p, make([]byte, len(p))), nil
	}
	n := copy(p, r.hdr)
	r.hdr = r.hdr[n:]
	return n, nil
}

// TestSizeLimit checks that a packet larger than the limit fails with
// PacketTooLarge as soon as its fixed header is in, from every decoder,
// without reading or allocating its body.
func TestSizeLimit(t *testing.T) {
	const max = 1024
	decoders := []struct {
		name string
		run  func(t *testing.T, stream []byte, oneByte bool) error
	}{
		{"Decode", func(t *testing.T, stream []byte, oneByte bool) error {
			if oneByte { // every prefix of the header asks for more
				for i := range stream {
					if _, _, err := Decode(stream[:i], V311, max); err != io.ErrUnexpectedEOF {
						t.Errorf("Decode of %d bytes: %v, want io.ErrUnexpectedEOF", i, err)
					}
				}
			}
			_, _, err := Decode(stream, V311, max)
			return err
		}},
		{"DecodeInto", func(t *testing.T, stream []byte, oneByte bool) error {
			if oneByte {
				for i := range stream {
					if _, err := DecodeInto(new(Publish), stream[:i], V311, max); err != io.ErrUnexpectedEOF {
						t.Errorf("DecodeInto of %d bytes: %v, want io.ErrUnexpectedEOF", i, err)
					}
				}
			}
			_, err := DecodeInto(new(Publish), stream, V311, max)
			return err
		}},
		{"Parser", func(t *testing.T, stream []byte, oneByte bool) error {
			p := &Parser{Version: V311, MaxSize: max}
			for _, c := range chunks(stream, oneByte) {
				p.Write(c)
				if pk, err := p.Next(); pk != nil || err != nil {
					return err
				}
			}
			return nil
		}},
		{"Reader", func(t *testing.T, stream []byte, oneByte bool) error {
			src := &headerOnly{hdr: stream}
			var rd io.Reader = src
			if oneByte {
				rd = iotest.OneByteReader(src)
			}
			r := NewReader(rd, 16)
			r.MaxSize = max
			_, err := r.ReadPacket()
			if src.asked {
				t.Error("the Reader read past the fixed header")
			}
			return err
		}},
	}
	for _, d := range decoders {
		for _, oneByte := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/oneByte=%v", d.name, oneByte), func(t *testing.T) {
				var err error
				n := allocated(func() {
					for range 10 {
						err = d.run(t, hugeHeader, oneByte)
					}
				})
				wantCode(t, err, PacketTooLarge)
				if n > 64<<10 {
					t.Errorf("10 refusals allocated %d bytes", n)
				}
			})
		}
	}

	// At the limit a packet passes; one byte over, it fails.
	pkt := &Publish{Topic: "t", Payload: bytes.Repeat([]byte{'x'}, 100)}
	wire, _ := pkt.Append(nil, V311)
	for _, d := range decoders {
		t.Run(d.name+"/at the limit", func(t *testing.T) {
			if d.name == "Reader" {
				r := NewReader(bytes.NewReader(wire), 0)
				r.MaxSize = len(wire)
				if _, err := r.ReadPacket(); err != nil {
					t.Fatalf("packet at the limit: %v", err)
				}
				r = NewReader(bytes.NewReader(wire), 0)
				r.MaxSize = len(wire) - 1
				_, err := r.ReadPacket()
				wantCode(t, err, PacketTooLarge)
				return
			}
			if _, _, err := Decode(wire, V311, len(wire)); err != nil {
				t.Fatalf("packet at the limit: %v", err)
			}
			_, _, err := Decode(wire, V311, len(wire)-1)
			wantCode(t, err, PacketTooLarge)
			p := &Parser{Version: V311, MaxSize: len(wire) - 1}
			p.Write(wire[:2]) // the header alone decides
			_, err = p.Next()
			wantCode(t, err, PacketTooLarge)
		})
	}

	// Without a limit, the protocol's applies: the largest remaining
	// length is only a partial packet.
	if _, _, err := Decode(hugeHeader, V311, 0); err != io.ErrUnexpectedEOF {
		t.Errorf("Decode of a 256 MiB header without a limit: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, _, err := Decode(hugeHeader, V311, MaxPacketSize+1); err != io.ErrUnexpectedEOF {
		t.Errorf("Decode with a limit above the protocol's: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, _, err := Decode(hugeHeader, V311, -1); err != io.ErrUnexpectedEOF {
		t.Errorf("Decode with a negative limit: %v, want io.ErrUnexpectedEOF", err)
	}
}

// chunks splits b into one chunk, or into chunks of one byte.
func chunks(b []byte, oneByte bool) [][]byte {
	if !oneByte {
		return [][]byte{b}
	}
	var cs [][]byte
	for i := range b {
		cs = append(cs, b[i:i+1])
	}
	return cs
}

// stream returns the fixtures of version v that are at most max bytes long,
// and their encodings one after the other.
func stream(v Version, max int) ([]Packet, []byte) {
	var pkts []Packet
	var buf []byte
	for _, f := range fixtures {
		if f.v == v && len(f.wire) <= max {
			pkts = append(pkts, f.pkt)
			buf = append(buf, f.wire...)
		}
	}
	return pkts, buf
}

// readAll reads packets until an error, and returns them with the error.
func readAll(r *Reader) ([]Packet, error) {
	var got []Packet
	for {
		p, err := r.ReadPacket()
		if err != nil {
			return got, err
		}
		got = append(got, p)
	}
}

func samePackets(t *testing.T, got, want []Packet) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i := range got {
		if !samePacket(got[i], want[i]) {
			t.Fatalf("packet %d\n got %s\nwant %s", i, dump(got[i]), dump(want[i]))
		}
	}
}

func TestReader(t *testing.T) {
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
		size int
	}{
		{"whole", func(r io.Reader) io.Reader { return r }, 0},
		{"one byte at a time", iotest.OneByteReader, 0},
		{"half reads", iotest.HalfReader, 0},
		{"data with EOF", iotest.DataErrReader, 0},
		{"smallest buffer", func(r io.Reader) io.Reader { return r }, 16},
		{"smallest buffer, one byte at a time", iotest.OneByteReader, 16},
	}
	for _, v := range versions {
		want, buf := stream(v, 1<<20)
		for _, rd := range readers {
			t.Run(v.String()+"/"+rd.name, func(t *testing.T) {
				r := NewReader(rd.wrap(bytes.NewReader(buf)), rd.size)
				r.Version = v
				got, err := readAll(r)
				if err != io.EOF {
					t.Fatalf("after %d packets: %v, want io.EOF", len(got), err)
				}
				samePackets(t, got, want)
				if _, err := r.ReadPacket(); err != io.EOF {
					t.Errorf("ReadPacket after the end: %v, want io.EOF", err)
				}
				if r.Buffered() != 0 {
					t.Errorf("Buffered() = %d at the end", r.Buffered())
				}
			})
		}
	}
}

// TestReaderLargePackets reads packets larger than any buffer, whole and in
// small reads, and cut short.
func TestReaderLargePackets(t *testing.T) {
	var want []Packet
	var buf []byte
	for i, size := range []int{65536, 200_000, 1 << 20} {
		pkt := &Publish{Topic: "big", QoS: 1, ID: uint16(i + 1), Payload: bytes.Repeat([]byte{byte(i), 0xA5}, size/2)}
		want = append(want, pkt)
		buf, _ = pkt.Append(buf, V311)
	}
	for _, chunk := range []int{1 << 30, 1000, 7} {
		r := NewReader(chunkReader{bytes.NewReader(buf), chunk}, 0)
		got, err := readAll(r)
		if err != io.EOF {
			t.Fatalf("reads of %d: after %d packets: %v", chunk, len(got), err)
		}
		samePackets(t, got, want)
	}
	// Cut anywhere in the last body: the first two come, then
	// io.ErrUnexpectedEOF.
	for _, cut := range []int{1, 65535, 65536, 65537, 1 << 19} {
		r := NewReader(bytes.NewReader(buf[:len(buf)-cut]), 0)
		got, err := readAll(r)
		if err != io.ErrUnexpectedEOF || len(got) != 2 {
			t.Fatalf("cut %d bytes short: %d packets, %v", cut, len(got), err)
		}
	}
}

// TestReaderEOF cuts a stream of two packets at every byte: the Reader
// returns the whole packets before the cut, then io.EOF at a packet
// boundary and io.ErrUnexpectedEOF anywhere else.
func TestReaderEOF(t *testing.T) {
	a := []byte{0x40, 0x02, 0x00, 0x01}                                    // PUBACK
	b := cat([]byte{0x30, 0x80, 0x01, 0x00, 0x01, 't'}, make([]byte, 125)) // PUBLISH, two-byte remaining length
	all := cat(a, b)
	for cut := 0; cut <= len(all); cut++ {
		for _, oneByte := range []bool{false, true} {
			var src io.Reader = bytes.NewReader(all[:cut])
			if oneByte {
				src = iotest.OneByteReader(src)
			}
			r := NewReader(src, 0)
			got, err := readAll(r)
			wantN, wantErr := 0, io.ErrUnexpectedEOF
			switch {
			case cut == 0:
				wantErr = io.EOF
			case cut == len(a):
				wantN, wantErr = 1, io.EOF
			case cut == len(all):
				wantN, wantErr = 2, io.EOF
			case cut > len(a):
				wantN = 1
			}
			if len(got) != wantN || err != wantErr {
				t.Errorf("cut at %d (one byte %v): %d packets, %v; want %d, %v", cut, oneByte, len(got), err, wantN, wantErr)
			}
		}
	}
}

// TestReaderRetry checks that an error while the fixed header is read (a
// read deadline, say) loses nothing: the next ReadPacket goes on.
func TestReaderRetry(t *testing.T) {
	a := []byte{0x40, 0x02, 0x00, 0x01} // PUBACK 1
	b := []byte{0x40, 0x02, 0x00, 0x02} // PUBACK 2
	errTimeout := errors.New("timeout")
	src := &scripted{steps: []step{{data: cat(a, b[:1])}, {err: errTimeout}, {data: b[1:]}}}
	r := NewReader(src, 0)
	if p, err := r.ReadPacket(); err != nil || !samePacket(p, &Puback{ID: 1}) {
		t.Fatalf("first packet: %s, %v", dump(p), err)
	}
	if _, err := r.ReadPacket(); err != errTimeout {
		t.Fatalf("second read: %v, want the timeout", err)
	}
	if p, err := r.ReadPacket(); err != nil || !samePacket(p, &Puback{ID: 2}) {
		t.Fatalf("after the timeout: %s, %v", dump(p), err)
	}
	if _, err := r.ReadPacket(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

type step struct {
	data []byte
	err  error
}

// scripted is a reader that plays its steps, one per Read, then io.EOF.
type scripted struct{ steps []step }

func (s *scripted) Read(p []byte) (int, error) {
	if len(s.steps) == 0 {
		return 0, io.EOF
	}
	st := &s.steps[0]
	n := copy(p, st.data)
	st.data = st.data[n:]
	if len(st.data) == 0 {
		s.steps = s.steps[1:]
		return n, st.err
	}
	return n, nil
}

// TestReaderVersion checks that a Reader and a Parser learn the version from
// CONNECT: a PUBACK with a reason code is malformed in 3.1.1 but not in 5.
func TestReaderVersion(t *testing.T) {
	connect := connectWire(V5, 0, str("c"))
	puback := []byte{0x40, 0x03, 0x00, 0x01, 0x10}
	in := cat(connect, puback)

	r := NewReader(bytes.NewReader(in), 0)
	got, err := readAll(r)
	if err != io.EOF || len(got) != 2 || r.Version != V5 {
		t.Fatalf("Reader: %d packets, %v, version %v", len(got), err, r.Version)
	}
	if !samePacket(got[1], &Puback{ID: 1, ReasonCode: NoMatchingSubscribers}) {
		t.Fatalf("Reader: %s", dump(got[1]))
	}

	p := new(Parser)
	p.Write(in)
	for range 2 {
		if pk, err := p.Next(); pk == nil || err != nil {
			t.Fatalf("Parser: %v, %v", pk, err)
		}
	}
	if p.Version != V5 {
		t.Fatalf("Parser version %v", p.Version)
	}

	// Without the CONNECT, the PUBACK is read as 3.1.1.
	_, err = NewReader(bytes.NewReader(puback), 0).ReadPacket()
	wantCode(t, err, MalformedPacket)
}

// parseChunks feeds b to a Parser in chunks of the given size, taking every
// packet after each chunk.
func parseChunks(v Version, b []byte, size int) ([]Packet, error) {
	p := &Parser{Version: v}
	var got []Packet
	for len(b) > 0 {
		n := min(size, len(b))
		p.Write(b[:n])
		b = b[n:]
		for {
			pk, err := p.Next()
			if err != nil {
				return got, err
			}
			if pk == nil {
				break
			}
			got = append(got, pk)
		}
	}
	return got, nil
}

// TestParserEverySplit feeds the stream of every version's fixtures to a
// Parser in chunks of every size from 1 to the whole stream: every split
// decodes the same packets.
func TestParserEverySplit(t *testing.T) {
	for _, v := range versions {
		want, buf := stream(v, 256)
		t.Run(v.String(), func(t *testing.T) {
			for size := 1; size <= len(buf); size++ {
				got, err := parseChunks(v, buf, size)
				if err != nil {
					t.Fatalf("chunks of %d: %v", size, err)
				}
				if len(got) != len(want) {
					t.Fatalf("chunks of %d: %d packets, want %d", size, len(got), len(want))
				}
				for i := range got {
					if !samePacket(got[i], want[i]) {
						t.Fatalf("chunks of %d, packet %d\n got %s\nwant %s", size, i, dump(got[i]), dump(want[i]))
					}
				}
			}
		})
	}
}

// TestParserRandomSplits feeds the whole stream, large packets included, in
// chunks of random sizes, taking none, one or all of the packets after each.
func TestParserRandomSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, v := range versions {
		want, buf := stream(v, 1<<20)
		for range 50 {
			p := &Parser{Version: v}
			var got []Packet
			for b := buf; len(b) > 0; {
				n := min(1+rng.IntN(3000), len(b))
				p.Write(b[:n])
				b = b[n:]
				// Take no packet, one, or all there are; all after
				// the last chunk.
				take := 1 << 30
				if len(b) > 0 {
					take = []int{0, 1, 1 << 30}[rng.IntN(3)]
				}
				for range take {
					pk, err := p.Next()
					if err != nil {
						t.Fatal(err)
					}
					if pk == nil {
						break
					}
					got = append(got, pk)
				}
			}
			samePackets(t, got, want)
		}
	}
}

// TestParserPartial checks that a Parser holding part of a packet returns
// nothing, and that it stays failed after an error.
func TestParserPartial(t *testing.T) {
	p := &Parser{Version: V311}
	if pk, err := p.Next(); pk != nil || err != nil {
		t.Fatalf("empty Parser: %v, %v", pk, err)
	}
	p.Write([]byte{0x40, 0x02, 0x00})
	if pk, err := p.Next(); pk != nil || err != nil {
		t.Fatalf("partial packet: %v, %v", pk, err)
	}
	p.Write([]byte{0x01, 0x40})
	if pk, err := p.Next(); err != nil || !samePacket(pk, &Puback{ID: 1}) {
		t.Fatalf("completed packet: %s, %v", dump(pk), err)
	}
	if pk, err := p.Next(); pk != nil || err != nil {
		t.Fatalf("partial second packet: %v, %v", pk, err)
	}
	p.Write([]byte{0x02, 0x00, 0x00}) // PUBACK with packet identifier 0
	_, err := p.Next()
	wantCode(t, err, ProtocolError)
	p.Write([]byte{0xC0, 0x00})
	if _, err2 := p.Next(); err2 != err {
		t.Fatalf("after an error: %v, want the same error", err2)
	}
}

// TestDecodeStream decodes many packets from one buffer with Decode alone.
func TestDecodeStream(t *testing.T) {
	for _, v := range versions {
		want, buf := stream(v, 1<<20)
		var got []Packet
		for len(buf) > 0 {
			p, n, err := Decode(buf, v, 0)
			if err != nil {
				t.Fatalf("%v: after %d packets: %v", v, len(got), err)
			}
			got = append(got, p)
			buf = buf[n:]
		}
		samePackets(t, got, want)
	}
}

// TestReaderGrowsLargeBodyWithData checks that a large announced body is not
// allocated before its bytes arrive: a peer that announces a packet near the
// limit and stops costs about what it sent.
func TestReaderGrowsLargeBodyWithData(t *testing.T) {
	const announced = 8 << 20
	hdr := appendVarint([]byte{byte(TypePublish) << 4}, announced)
	sent := append(hdr, make([]byte, 100<<10)...) // 100 KiB of the body, then the stream ends
	r := NewReader(bytes.NewReader(sent), 0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := r.ReadPacket()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("ReadPacket = %v, want io.ErrUnexpectedEOF", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes for a body of which 100 KiB arrived", grew)
	}
}

func TestReaderLargeBodyWhole(t *testing.T) {
	payload := make([]byte, 300<<10)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	wire, err := (&Publish{Topic: "big", Payload: payload}).Append(nil, V311)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(iotest.HalfReader(bytes.NewReader(wire)), 0)
	p, err := r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.(*Publish); got.Topic != "big" || !bytes.Equal(got.Payload, payload) {
		t.Fatalf("large body changed: topic %q, %d bytes", got.Topic, len(got.Payload))
	}
}
