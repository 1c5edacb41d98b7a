package packet

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The fuzz targets. Their seed corpora, under testdata/fuzz/, are the
// fixtures and invalid inputs of the other tests (regenerate them with
// go test -run TestWriteFuzzCorpus -write-fuzz-corpus) plus every crasher
// fuzzing found.

// fuzzMax is the size limit the stream targets use: above the size up to
// which a Reader allocates a body at once, below what would make a header
// announcing 256 MiB costly.
const fuzzMax = 1 << 20

// fuzzVersion maps a fuzzed byte to a version: 3, 4 and 5 as themselves,
// anything else to one of them or to 0 (3.1.1 by default).
func fuzzVersion(b byte) Version {
	if v := Version(b); v.Valid() {
		return v
	}
	return [...]Version{0, V31, V311, V5}[b%4]
}

// checkErr fails unless err is one a decoder may return: need more, or an
// *Error with one of the codes the spec gives a decoder.
func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == io.ErrUnexpectedEOF {
		return
	}
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *packet.Error", err, err)
	}
	switch pe.Code {
	case MalformedPacket, ProtocolError, TopicNameInvalid, TopicAliasInvalid,
		UnsupportedProtocolVersion, PacketTooLarge:
	default:
		t.Fatalf("error %v has code %v", err, pe.Code)
	}
}

// sameErr reports whether two decoders failed the same way.
func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	if errors.Is(a, io.ErrUnexpectedEOF) || errors.Is(b, io.ErrUnexpectedEOF) {
		return errors.Is(a, io.ErrUnexpectedEOF) && errors.Is(b, io.ErrUnexpectedEOF)
	}
	return CodeOf(a) == CodeOf(b)
}

// FuzzDecode decodes one packet. Whatever the input, Decode does not panic
// and fails only with a known error; when a packet decodes, it encodes, the
// encoding decodes to the same packet, and that one encodes to the same
// bytes. DecodeInto agrees with Decode, and the packet does not alias the
// input.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, vb byte, data []byte) {
		v := fuzzVersion(vb)
		in := bytes.Clone(data)
		p, n, err := Decode(in, v, 0)
		if err != nil {
			checkErr(t, err)
			if p != nil || n != 0 {
				t.Fatalf("Decode returned %T and %d with error %v", p, n, err)
			}
			if len(data) > 0 && New(Type(data[0]>>4)) != nil {
				_, err2 := DecodeInto(New(Type(data[0]>>4)), data, v, 0)
				if !sameErr(err, err2) {
					t.Fatalf("Decode: %v; DecodeInto: %v", err, err2)
				}
			}
			return
		}
		if n < 2 || n > len(data) {
			t.Fatalf("Decode took %d of %d bytes", n, len(data))
		}
		for i := range in {
			in[i] ^= 0xFF // the packet must not alias its input
		}
		ver := v
		if ver == 0 {
			ver = V311 // what Decode reads version 0 as
		}
		if c, ok := p.(*Connect); ok {
			ver = c.Version
		}
		b1, err := p.Append(nil, ver)
		if err != nil {
			t.Fatalf("Append of %s: %v", dump(p), err)
		}
		p2, n2, err := Decode(b1, v, 0)
		if err != nil || n2 != len(b1) {
			t.Fatalf("Decode of the re-encoding % X: %d bytes, %v\n(from %s)", b1, n2, err, dump(p))
		}
		if !samePacket(p2, p) {
			t.Fatalf("re-decode differs\n got %s\nwant %s", dump(p2), dump(p))
		}
		b2, err := p2.Append(nil, ver)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("re-encode differs\n got % X, %v\nwant % X", b2, err, b1)
		}
		// The first decode, again from the original bytes, is unchanged
		// by all this and agrees with DecodeInto.
		p3, _, _ := Decode(data, v, 0)
		if !samePacket(p, p3) {
			t.Fatalf("decoded packet aliases its input\n got %s\nwant %s", dump(p), dump(p3))
		}
		q := New(p.Type())
		if _, err := DecodeInto(q, data, v, 0); err != nil || !samePacket(q, p) {
			t.Fatalf("DecodeInto: %s, %v; want %s", dump(q), err, dump(p))
		}
		// One byte short of the limit, the packet is too large.
		if _, _, err := Decode(data, v, n-1); !errors.Is(err, PacketTooLarge) {
			t.Fatalf("Decode with limit %d: %v, want packet too large", n-1, err)
		}
	})
}

// decodeAll decodes packets from b one after the other as a server would:
// starting at version v, switching to a CONNECT's version. It stops at the
// first error, io.EOF at the end of b.
func decodeAll(b []byte, v Version, max int) ([]Packet, error) {
	var pkts []Packet
	for len(b) > 0 {
		p, n, err := Decode(b, v, max)
		if err != nil {
			return pkts, err
		}
		if c, ok := p.(*Connect); ok {
			v = c.Version
		}
		pkts = append(pkts, p)
		b = b[n:]
	}
	return pkts, io.EOF
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}

// FuzzReader reads a stream with a Reader, in reads of a fuzzed size: it
// must give the packets and the error that Decode gives packet by packet.
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, vb byte, chunk byte, data []byte) {
		v := fuzzVersion(vb)
		want, wantErr := decodeAll(data, v, fuzzMax)
		r := NewReader(chunkReader{bytes.NewReader(data), int(chunk) + 1}, 16+int(chunk))
		r.Version, r.MaxSize = v, fuzzMax
		got, err := readAll(r)
		if err != io.EOF {
			checkErr(t, err)
		}
		if !sameErr(err, wantErr) {
			t.Fatalf("Reader: %v; Decode: %v", err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("Reader: %d packets; Decode: %d", len(got), len(want))
		}
		for i := range got {
			if !samePacket(got[i], want[i]) {
				t.Fatalf("packet %d\nReader %s\nDecode %s", i, dump(got[i]), dump(want[i]))
			}
		}
	})
}

// FuzzParser feeds a stream to a Parser in chunks of random sizes drawn
// from seed, taking none, one or all of the packets after each: it must give the
// packets and the error that Decode gives packet by packet, and need-more
// (no error) where Decode needs more.
func FuzzParser(f *testing.F) {
	f.Fuzz(func(t *testing.T, vb byte, seed uint64, data []byte) {
		v := fuzzVersion(vb)
		want, wantErr := decodeAll(data, v, fuzzMax)
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		p := &Parser{Version: v, MaxSize: fuzzMax}
		var got []Packet
		var err error
	feed:
		for b := data; len(b) > 0; {
			n := min(1+rng.IntN(64), len(b))
			if seed&1 == 0 {
				n = min(1+rng.IntN(4), len(b))
			}
			p.Write(b[:n])
			b = b[n:]
			// Take no packet, one, or all there are; all after the last
			// chunk.
			take := 1 << 30
			if len(b) > 0 {
				take = []int{0, 1, 1 << 30}[rng.IntN(3)]
			}
			for range take {
				var pk Packet
				pk, err = p.Next()
				if err != nil {
					break feed
				}
				if pk == nil {
					break
				}
				got = append(got, pk)
			}
		}
		if err == nil {
			err = io.EOF // all fed: a clean end, or need more
			if pk, err2 := p.Next(); pk != nil || err2 != nil {
				t.Fatalf("Parser gave %v, %v after the last chunk", pk, err2)
			}
			if wantErr == io.ErrUnexpectedEOF {
				err = io.ErrUnexpectedEOF
			}
		} else {
			checkErr(t, err)
		}
		if !sameErr(err, wantErr) {
			t.Fatalf("Parser: %v; Decode: %v", err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("Parser: %d packets; Decode: %d", len(got), len(want))
		}
		for i := range got {
			if !samePacket(got[i], want[i]) {
				t.Fatalf("packet %d\nParser %s\nDecode %s", i, dump(got[i]), dump(want[i]))
			}
		}
	})
}

var writeFuzzCorpus = flag.Bool("write-fuzz-corpus", false, "write the fuzz seed corpora under testdata/fuzz")

// TestWriteFuzzCorpus writes the seed corpora of the fuzz targets from the
// fixtures and the invalid inputs of the other tests. It runs only with
// -write-fuzz-corpus; the files it writes are committed. Crashers that
// fuzzing found live next to them under other names and are kept.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*writeFuzzCorpus {
		t.Skip("run with -write-fuzz-corpus to rewrite testdata/fuzz")
	}
	type seed struct {
		name string
		v    Version
		wire []byte
	}
	var seeds []seed
	for _, f := range fixtures {
		if len(f.wire) <= 4096 {
			seeds = append(seeds, seed{f.name, f.v, f.wire})
		}
	}
	for _, f := range decodeOnly {
		seeds = append(seeds, seed{f.name, f.v, f.wire})
	}
	for _, f := range invalid {
		for _, v := range f.vs {
			w := f.wire
			if f.build != nil {
				w = f.build(v)
			}
			seeds = append(seeds, seed{f.name + " " + v.String(), v, w})
		}
	}
	// Streams: every version's fixtures back to back, and a CONNECT
	// followed by packets of its version.
	for _, v := range versions {
		_, buf := stream(v, 256)
		seeds = append(seeds, seed{"stream " + v.String(), v, buf})
	}
	seeds = append(seeds, seed{"stream CONNECT 5 then v5 packets", 0,
		cat(connectWire(V5, 0, str("c")), []byte{0x40, 0x03, 0x00, 0x01, 0x10, 0xF0, 0x00})})

	clean := regexp.MustCompile(`[^a-zA-Z0-9.]+`)
	fileName := func(s string) string { return strings.Trim(clean.ReplaceAllString(s, "-"), "-") }
	write := func(target, name string, vals ...any) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, v := range vals {
			switch v := v.(type) {
			case byte:
				fmt.Fprintf(&b, "byte(%q)\n", v)
			case uint64:
				fmt.Fprintf(&b, "uint64(%d)\n", v)
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", v)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "seed-"+fileName(name)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	names := map[string]bool{}
	for i, s := range seeds {
		name := fileName(s.name)
		if names[name] {
			t.Fatalf("two seeds named %q", name)
		}
		names[name] = true
		write("FuzzDecode", s.name, byte(s.v), s.wire)
		if strings.HasPrefix(s.name, "stream") || i%4 == 0 {
			write("FuzzReader", s.name, byte(s.v), byte(i%7), s.wire)
			write("FuzzParser", s.name, byte(s.v), uint64(i), s.wire)
		}
	}
}
