package listener

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
)

// v2 builds a version 2 header: signature, version 2 with command cmd,
// family and transport fam, then body.
func v2(cmd, fam byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	h := append([]byte{}, v2Signature...)
	h = append(h, 0x20|cmd, fam)
	h = binary.BigEndian.AppendUint16(h, uint16(len(b)))
	return append(h, b...)
}

// ip4 is 192.0.2.1 → 198.51.100.2, ports 56324 → 1883, as a v2 block.
var ip4 = []byte{
	192, 0, 2, 1, // source address
	198, 51, 100, 2, // destination address
	0xdc, 0x04, // source port 56324
	0x07, 0x5b, // destination port 1883
}

// ip6 is 2001:db8::1 → 2001:db8::2, ports 56324 → 8883, as a v2 block.
var ip6 = []byte{
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // source
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // destination
	0xdc, 0x04, // source port 56324
	0x22, 0xb3, // destination port 8883
}

// unixBlock is two 108-byte NUL-padded paths, as a v2 block.
func unixBlock(src, dst string) []byte {
	b := make([]byte, 216)
	copy(b, src)
	copy(b[108:], dst)
	return b
}

// tlv is one type-length-value field.
func tlv(typ byte, value string) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint16(b, uint16(len(value)))
	return append(b, value...)
}

func TestParseProxyHeader(t *testing.T) {
	tests := []struct {
		name     string
		in       []byte
		n        int    // header length; the rest of in follows it
		src, dst string // "" for a header without addresses
	}{
		{"v1 tcp4", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 1883\r\n\x10"), 46, "192.0.2.1:56324", "198.51.100.2:1883"},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 65535\r\n"), 48, "[2001:db8::1]:1", "10.0.0.1:65535"},
		{"v1 port 0", []byte("PROXY TCP4 0.0.0.0 255.255.255.255 0 0\r\n"), 40, "0.0.0.0:0", "255.255.255.255:0"},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), 15, "", ""},
		{"v1 unknown with addresses", []byte("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\nMQTT"), 59, "", ""},
		{"v1 longest", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), 104, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
		{"v2 tcp4", append(v2(1, 0x11, ip4), 0x10, 0x00), 28, "192.0.2.1:56324", "198.51.100.2:1883"},
		{"v2 tcp6", v2(1, 0x21, ip6), 52, "[2001:db8::1]:56324", "[2001:db8::2]:8883"},
		{"v2 unix", v2(1, 0x31, unixBlock("/run/client.sock", "/run/midge.sock")), 232, "/run/client.sock", "/run/midge.sock"},
		{"v2 tcp4 with TLVs", v2(1, 0x11, ip4, tlv(0x01, "h2"), tlv(0x02, "mqtt.example"), tlv(0x04, "")), 16 + 12 + 5 + 15 + 3, "192.0.2.1:56324", "198.51.100.2:1883"},
		{"v2 local", v2(0, 0x11, ip4), 28, "", ""},
		{"v2 local, anything", v2(0, 0xFF, []byte("ignored")), 23, "", ""},
		{"v2 local, empty", v2(0, 0x00), 16, "", ""},
		{"v2 unspec", v2(1, 0x00, []byte{1, 2, 3}), 19, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n, err := parseProxyHeader(tt.in)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if n != tt.n {
				t.Errorf("length %d, want %d", n, tt.n)
			}
			if tt.src == "" {
				if !h.local {
					t.Errorf("addresses %v → %v, want none", h.src, h.dst)
				}
			} else if h.local || h.src.String() != tt.src || h.dst.String() != tt.dst {
				t.Errorf("addresses %v → %v (local %v), want %s → %s", h.src, h.dst, h.local, tt.src, tt.dst)
			}
			// Every proper prefix asks for more.
			for i := range n {
				if _, _, err := parseProxyHeader(tt.in[:i]); err != io.ErrUnexpectedEOF {
					t.Fatalf("prefix of %d bytes: %v, want io.ErrUnexpectedEOF", i, err)
				}
			}
		})
	}
}

func TestParseProxyHeaderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"mqtt connect", []byte{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T'}},
		{"http", []byte("GET / HTTP/1.1\r\n")},
		{"lowercase", []byte("proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n")},
		{"P not PROXY", []byte("PROXX TCP4")},
		{"v1 no protocol", []byte("PROXY \r\n")},
		{"v1 unknown protocol", []byte("PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n")},
		{"v1 LF alone", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n")},
		{"v1 CR alone", []byte("PROXY TCP4 192.0.2.1\r198.51.100.2 1 2\r\n")},
		{"v1 too long", []byte("PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n")},
		{"v1 no CRLF in 107 bytes", []byte("PROXY TCP6 " + strings.Repeat("f", 96))},
		{"v1 five fields", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n")},
		{"v1 seven fields", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n")},
		{"v1 two spaces", []byte("PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n")},
		{"v1 trailing space", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n")},
		{"v1 tcp4 with ipv6", []byte("PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n")},
		{"v1 tcp6 with ipv4", []byte("PROXY TCP6 2001:db8::1 198.51.100.2 1 2\r\n")},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n")},
		{"v1 leading zero address", []byte("PROXY TCP4 192.0.2.01 198.51.100.2 1 2\r\n")},
		{"v1 port too big", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n")},
		{"v1 port leading zero", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n")},
		{"v1 port sign", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 +1 2\r\n")},
		{"v1 port empty", []byte("PROXY TCP4 192.0.2.1 198.51.100.2  2\r\n")},
		{"v2 bad signature", append([]byte("\r\n\r\n\x00\r\nQUIX\n"), 0x21, 0x11, 0, 12)},
		{"v2 version 1", append(append([]byte{}, v2Signature...), 0x11, 0x11, 0, 0)},
		{"v2 version 3", append(append([]byte{}, v2Signature...), 0x31, 0x11, 0, 0)},
		{"v2 command 2", v2(2, 0x11, ip4)},
		{"v2 udp4", v2(1, 0x12, ip4)},
		{"v2 udp6", v2(1, 0x22, ip6)},
		{"v2 unix dgram", v2(1, 0x32, unixBlock("a", "b"))},
		{"v2 family 4", v2(1, 0x41, ip4)},
		{"v2 transport unspec", v2(1, 0x10, ip4)},
		{"v2 tcp4 short", v2(1, 0x11, ip4[:11])},
		{"v2 tcp6 short", v2(1, 0x21, ip4)},
		{"v2 unix short", v2(1, 0x31, make([]byte, 215))},
		{"v2 truncated TLV", v2(1, 0x11, ip4, []byte{0x01, 0x00})},
		{"v2 TLV too long", v2(1, 0x11, ip4, []byte{0x01, 0x00, 0x05, 'a'})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseProxyHeader(tt.in)
			if !errors.Is(err, ErrProxyHeader) {
				t.Fatalf("error %v, want ErrProxyHeader", err)
			}
			if !strings.HasPrefix(err.Error(), "listener: bad PROXY protocol header") {
				t.Errorf("error %q", err)
			}
		})
	}
}

// TestReadProxyHeaderChunks feeds headers one byte at a time and checks
// that the bytes after the header are kept.
func TestReadProxyHeaderChunks(t *testing.T) {
	for _, in := range [][]byte{
		[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 1883\r\nMQTT"),
		append(v2(1, 0x11, ip4), "MQTT"...),
		append(v2(1, 0x11, ip4, tlv(0x04, strings.Repeat("x", 1000))), "MQTT"...), // grows the buffer
	} {
		a, b := net.Pipe()
		go func() {
			for i := range in {
				if _, err := b.Write(in[i : i+1]); err != nil {
					return
				}
			}
		}()
		h, rest, err := readProxyHeader(a)
		if err != nil {
			t.Fatal(err)
		}
		if h.src.String() != "192.0.2.1:56324" {
			t.Errorf("source %v", h.src)
		}
		// One byte at a time, the header ends exactly; the rest is read
		// next.
		got := append([]byte{}, rest...)
		buf := make([]byte, 4)
		for len(got) < 4 {
			n, err := a.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:n]...)
		}
		if string(got) != "MQTT" {
			t.Errorf("after the header: %q", got)
		}
		a.Close()
		b.Close()
	}
}

// TestReadProxyHeaderEOF checks a stream that ends inside the header.
func TestReadProxyHeaderEOF(t *testing.T) {
	a, b := net.Pipe()
	go func() {
		b.Write([]byte("PROXY TCP4 192"))
		b.Close()
	}()
	_, _, err := readProxyHeader(a)
	if !errors.Is(err, ErrProxyHeader) || !errors.Is(err, errNoHeader) {
		t.Errorf("error %v, want ErrProxyHeader and errNoHeader", err)
	}
}

// FuzzProxyHeader checks that the parser never panics, that a header's
// proper prefixes ask for more, that an error stays an error whatever
// follows, and that what it parses encodes back to the same addresses.
func FuzzProxyHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		h, n, err := parseProxyHeader(in)
		switch {
		case err == io.ErrUnexpectedEOF:
			if len(in) >= v2MaxLen {
				t.Fatalf("asks for more after %d bytes", len(in))
			}
			return
		case err != nil:
			if !errors.Is(err, ErrProxyHeader) {
				t.Fatalf("error %v is not ErrProxyHeader", err)
			}
			more := append(append([]byte{}, in...), "\r\n\x00\x00PROXY TCP4 1.2.3.4 1.2.3.4 1 1\r\n"...)
			if _, _, err := parseProxyHeader(more); err == nil || err == io.ErrUnexpectedEOF {
				t.Fatalf("an error became %v with more input", err)
			}
			return
		}
		if n <= 0 || n > len(in) {
			t.Fatalf("length %d of %d bytes", n, len(in))
		}
		h2, n2, err := parseProxyHeader(in[:n])
		if err != nil || n2 != n || !sameHeader(h, h2) {
			t.Fatalf("the header alone parses differently: %v", err)
		}
		if n < 300 {
			for i := range n {
				if _, _, err := parseProxyHeader(in[:i]); err != io.ErrUnexpectedEOF {
					t.Fatalf("prefix of %d bytes: %v", i, err)
				}
			}
		}
		if h.local {
			return
		}
		if (h.src == nil) || (h.dst == nil) || h.src.Network() != h.dst.Network() {
			t.Fatalf("addresses %v, %v", h.src, h.dst)
		}
		enc := encodeHeader(h)
		h3, n3, err := parseProxyHeader(enc)
		if err != nil || n3 != len(enc) || !sameHeader(h, h3) {
			t.Fatalf("%q re-encoded as %q parses as %+v, %v", in[:n], enc, h3, err)
		}
	})
}

func sameHeader(a, b proxyHeader) bool {
	str := func(a net.Addr) string {
		if a == nil {
			return "<nil>"
		}
		return a.Network() + " " + a.String()
	}
	return a.local == b.local && str(a.src) == str(b.src) && str(a.dst) == str(b.dst)
}

// encodeHeader encodes h back: as v1 when it came from v1, v2 otherwise.
func encodeHeader(h proxyHeader) []byte {
	switch src := h.src.(type) {
	case *net.TCPAddr:
		dst := h.dst.(*net.TCPAddr)
		s, d := src.AddrPort(), dst.AddrPort()
		if h.version == 1 {
			proto := "TCP6"
			if s.Addr().Is4() {
				proto = "TCP4"
			}
			return []byte("PROXY " + proto + " " + s.Addr().String() + " " + d.Addr().String() + " " +
				itoa(s.Port()) + " " + itoa(d.Port()) + "\r\n")
		}
		if s.Addr().Is4() {
			sa, da := s.Addr().As4(), d.Addr().As4()
			return v2(1, 0x11, sa[:], da[:], binary.BigEndian.AppendUint16(nil, s.Port()), binary.BigEndian.AppendUint16(nil, d.Port()))
		}
		sa, da := s.Addr().As16(), d.Addr().As16()
		return v2(1, 0x21, sa[:], da[:], binary.BigEndian.AppendUint16(nil, s.Port()), binary.BigEndian.AppendUint16(nil, d.Port()))
	case *net.UnixAddr:
		return v2(1, 0x31, unixBlock(src.Name, h.dst.(*net.UnixAddr).Name))
	}
	panic("unexpected address type")
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }
