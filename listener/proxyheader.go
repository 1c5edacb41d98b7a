package listener

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
)

// The PROXY protocol, versions 1 and 2, as HAProxy specifies it in
// doc/proxy-protocol.txt. The parser is a pure function over a byte slice,
// like packet.Decode: it reports io.ErrUnexpectedEOF while the slice holds
// only part of a header, and never reads past the header's end.

// v2Signature opens every version 2 header.
var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// v1Prefix opens every version 1 header.
var v1Prefix = []byte("PROXY ")

const (
	// v1MaxLen is the longest version 1 line, CRLF included.
	v1MaxLen = 107
	// v2HeaderLen is the fixed part of a version 2 header.
	v2HeaderLen = 16
	// v2MaxLen is the longest version 2 header: a 16-bit length after the
	// fixed part.
	v2MaxLen = v2HeaderLen + 0xFFFF

	// Version 2 address lengths, by family.
	v2LenInet  = 12  // 2 × 4 bytes of address, 2 × 2 of port
	v2LenInet6 = 36  // 2 × 16 bytes of address, 2 × 2 of port
	v2LenUnix  = 216 // 2 × 108 bytes of path
)

// proxyHeader is a parsed PROXY protocol header.
type proxyHeader struct {
	version int
	// local is set when the header carries no usable addresses (v1
	// UNKNOWN, v2 LOCAL or family UNSPEC): the connection's own endpoints
	// stand.
	local bool
	// src is the original client; dst is the address it connected to.
	src, dst net.Addr
}

// errProxyDetail builds the error for a malformed header; it unwraps to
// ErrProxyHeader.
func errProxyDetail(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProxyHeader, fmt.Sprintf(format, args...))
}

// parseProxyHeader parses the header at the start of b. It returns the
// header and its length in bytes, io.ErrUnexpectedEOF when b is a proper
// prefix of a header that may still be valid, or an error that wraps
// ErrProxyHeader.
func parseProxyHeader(b []byte) (proxyHeader, int, error) {
	if len(b) == 0 {
		return proxyHeader{}, 0, io.ErrUnexpectedEOF
	}
	switch b[0] {
	case v2Signature[0]:
		n := min(len(b), len(v2Signature))
		if !bytes.Equal(b[:n], v2Signature[:n]) {
			return proxyHeader{}, 0, errProxyDetail("no PROXY header")
		}
		return parseV2(b)
	case v1Prefix[0]:
		n := min(len(b), len(v1Prefix))
		if !bytes.Equal(b[:n], v1Prefix[:n]) {
			return proxyHeader{}, 0, errProxyDetail("no PROXY header")
		}
		return parseV1(b)
	}
	return proxyHeader{}, 0, errProxyDetail("no PROXY header")
}

// parseV1 parses a version 1 (text) header:
//
//	PROXY TCP4 192.0.2.1 198.51.100.2 56324 1883\r\n
//	PROXY TCP6 2001:db8::1 2001:db8::2 56324 1883\r\n
//	PROXY UNKNOWN[ anything]\r\n
func parseV1(b []byte) (proxyHeader, int, error) {
	window := b[:min(len(b), v1MaxLen)]
	end := bytes.IndexByte(window, '\n')
	if end < 0 {
		if bytes.IndexByte(window, '\r') >= 0 && window[len(window)-1] != '\r' {
			return proxyHeader{}, 0, errProxyDetail("v1: CR without LF")
		}
		if len(b) >= v1MaxLen {
			return proxyHeader{}, 0, errProxyDetail("v1: longer than %d bytes", v1MaxLen)
		}
		return proxyHeader{}, 0, io.ErrUnexpectedEOF
	}
	if end == 0 || window[end-1] != '\r' {
		return proxyHeader{}, 0, errProxyDetail("v1: line not ended by CRLF")
	}
	line := window[:end-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return proxyHeader{}, 0, errProxyDetail("v1: CR inside the line")
	}
	n := end + 1
	h := proxyHeader{version: 1}
	fields := bytes.Split(line, []byte(" "))
	// fields[0] is "PROXY", checked by the caller.
	if len(fields) < 2 {
		return proxyHeader{}, 0, errProxyDetail("v1: no protocol")
	}
	var want4 bool
	switch string(fields[1]) {
	case "UNKNOWN":
		// The receiver must ignore everything up to the CRLF.
		h.local = true
		return h, n, nil
	case "TCP4":
		want4 = true
	case "TCP6":
	default:
		return proxyHeader{}, 0, errProxyDetail("v1: unknown protocol %q", fields[1])
	}
	if len(fields) != 6 {
		return proxyHeader{}, 0, errProxyDetail("v1: %d fields, want 6", len(fields))
	}
	src, err := v1Addr(fields[2], fields[4], want4)
	if err != nil {
		return proxyHeader{}, 0, err
	}
	dst, err := v1Addr(fields[3], fields[5], want4)
	if err != nil {
		return proxyHeader{}, 0, err
	}
	h.src, h.dst = src, dst
	return h, n, nil
}

// v1Addr parses one address and port of a version 1 header.
func v1Addr(ip, port []byte, want4 bool) (*net.TCPAddr, error) {
	a, err := netip.ParseAddr(string(ip))
	if err != nil || a.Zone() != "" || a.Is4() != want4 {
		return nil, errProxyDetail("v1: bad address %q", ip)
	}
	p, ok := v1Port(port)
	if !ok {
		return nil, errProxyDetail("v1: bad port %q", port)
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, p)), nil
}

// v1Port parses a decimal port, 0 to 65535, without sign or leading zero.
func v1Port(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	p, err := strconv.ParseUint(string(b), 10, 16)
	return uint16(p), err == nil
}

// parseV2 parses a version 2 (binary) header: the 12-byte signature, a
// version and command byte, a family and transport byte, a 16-bit length,
// then the addresses and TLVs.
func parseV2(b []byte) (proxyHeader, int, error) {
	if len(b) < v2HeaderLen {
		return proxyHeader{}, 0, io.ErrUnexpectedEOF
	}
	verCmd, famProto := b[12], b[13]
	if verCmd>>4 != 2 {
		return proxyHeader{}, 0, errProxyDetail("v2: version %d", verCmd>>4)
	}
	n := v2HeaderLen + int(binary.BigEndian.Uint16(b[14:16]))
	if len(b) < n {
		return proxyHeader{}, 0, io.ErrUnexpectedEOF
	}
	body := b[v2HeaderLen:n]
	h := proxyHeader{version: 2}
	switch verCmd & 0x0F {
	case 0x0: // LOCAL: a health check from the proxy itself.
		// The receiver must use the real endpoints and ignore the family
		// and the block.
		h.local = true
		return h, n, nil
	case 0x1: // PROXY
	default:
		return proxyHeader{}, 0, errProxyDetail("v2: command %#x", verCmd&0x0F)
	}
	var addrLen int
	switch famProto {
	case 0x00: // UNSPEC: the proxy does not know the addresses.
		// The receiver uses the real endpoints and ignores the block.
		h.local = true
		return h, n, nil
	case 0x11: // TCP over IPv4
		addrLen = v2LenInet
		if len(body) >= addrLen {
			h.src = v2TCPAddr(body[0:4], body[8:10])
			h.dst = v2TCPAddr(body[4:8], body[10:12])
		}
	case 0x21: // TCP over IPv6
		addrLen = v2LenInet6
		if len(body) >= addrLen {
			h.src = v2TCPAddr(body[0:16], body[32:34])
			h.dst = v2TCPAddr(body[16:32], body[34:36])
		}
	case 0x31: // UNIX stream
		addrLen = v2LenUnix
		if len(body) >= addrLen {
			h.src = v2UnixAddr(body[0:108])
			h.dst = v2UnixAddr(body[108:216])
		}
	default:
		// Datagram transports and unknown families have no place on a
		// stream listener.
		return proxyHeader{}, 0, errProxyDetail("v2: family and transport %#02x", famProto)
	}
	if len(body) < addrLen {
		return proxyHeader{}, 0, errProxyDetail("v2: %d bytes of addresses, want %d", len(body), addrLen)
	}
	if err := checkTLVs(body[addrLen:]); err != nil {
		return proxyHeader{}, 0, err
	}
	return h, n, nil
}

// checkTLVs checks that b is a sequence of whole type-length-value fields.
// Their contents are not used.
func checkTLVs(b []byte) error {
	for len(b) > 0 {
		if len(b) < 3 {
			return errProxyDetail("v2: truncated TLV")
		}
		l := 3 + int(binary.BigEndian.Uint16(b[1:3]))
		if len(b) < l {
			return errProxyDetail("v2: TLV %#02x longer than the header", b[0])
		}
		b = b[l:]
	}
	return nil
}

func v2TCPAddr(ip, port []byte) *net.TCPAddr {
	a, _ := netip.AddrFromSlice(ip)
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, binary.BigEndian.Uint16(port)))
}

func v2UnixAddr(path []byte) *net.UnixAddr {
	if i := bytes.IndexByte(path, 0); i >= 0 {
		path = path[:i]
	}
	return &net.UnixAddr{Name: string(path), Net: "unix"}
}

// errNoHeader is what readProxyHeader reports when the stream ends before a
// whole header.
var errNoHeader = errors.New("stream ended inside the header")
