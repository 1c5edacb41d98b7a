package packet

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// MaxRemainingLength is the largest remaining length a fixed header can carry
// (MQTT 5.0 section 1.5.5): four bytes of variable byte integer.
const MaxRemainingLength = 268_435_455

// MaxPacketSize is the largest whole packet: the first byte, four bytes of
// remaining length and the largest remaining length.
const MaxPacketSize = 1 + 4 + MaxRemainingLength

// varintLen is the number of bytes the variable byte integer n takes.
func varintLen(n int) int {
	switch {
	case n < 128:
		return 1
	case n < 16384:
		return 2
	case n < 2097152:
		return 3
	}
	return 4
}

func appendVarint(dst []byte, n int) []byte {
	for n >= 0x80 {
		dst = append(dst, byte(n)|0x80)
		n >>= 7
	}
	return append(dst, byte(n))
}

// readVarint decodes a variable byte integer from b. It returns the value and
// the bytes it took; n == 0 means b ends before the integer does. A fifth
// byte or a non-minimal encoding is malformed [MQTT-1.5.5-1].
func readVarint(b []byte) (v, n int, err error) {
	shift := 0
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, nil
		}
		c := b[i]
		v |= int(c&0x7F) << shift
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, 0, malformed("variable byte integer not in its shortest form")
			}
			return v, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, malformed("variable byte integer longer than four bytes")
}

func appendUint16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }
func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendString(dst []byte, s string) []byte {
	dst = appendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

func appendBytes(dst []byte, b []byte) []byte {
	dst = appendUint16(dst, uint16(len(b)))
	return append(dst, b...)
}

// validString reports whether s is a UTF-8 string MQTT allows: well-formed
// UTF-8, no surrogate code points (Go's decoder refuses them) and no U+0000
// [MQTT-1.5.4-1] [MQTT-1.5.4-2].
func validString(s string) bool {
	for i := plainPrefix(s, false); i < len(s); i++ {
		c := s[i]
		if c == 0 {
			return false
		}
		if c >= utf8.RuneSelf {
			rest := s[i:]
			return utf8.ValidString(rest) && strings.IndexByte(rest, 0) < 0
		}
	}
	return true
}

// Most strings on the wire are ASCII: plainPrefix checks them 8 bytes at a
// time, as one word ("SIMD within a register").
const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// plainPrefix returns the length of a prefix of s, a multiple of 8, that is
// ASCII without U+0000 and, when wild is set, without '+' and '#'. The
// rest of s needs a look byte by byte.
func plainPrefix(s string, wild bool) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := load8(s[i:])
		odd := x&msb8 | zeroByte(x)
		if wild {
			odd |= zeroByte(x^'+'*lsb8) | zeroByte(x^'#'*lsb8)
		}
		if odd != 0 {
			break
		}
	}
	return i
}

// load8 returns the first 8 bytes of s as a little-endian word; the
// compiler makes it one load.
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// zeroByte is not zero exactly when one of the 8 bytes of x is zero.
func zeroByte(x uint64) uint64 { return (x - lsb8) &^ x & msb8 }

// decoder reads the fields of one packet body. Its first error is sticky:
// after it every read returns zero values, and err holds the cause.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) short(what string) {
	d.fail(malformed(what + " runs past the end of the packet"))
}

func (d *decoder) byte(what string) byte {
	if len(d.b) < 1 {
		d.short(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uint16(what string) uint16 {
	if len(d.b) < 2 {
		d.short(what)
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *decoder) uint32(what string) uint32 {
	if len(d.b) < 4 {
		d.short(what)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) varint(what string) int {
	if b := d.b; len(b) > 0 && b[0] < 0x80 { // one byte: every property identifier, most lengths
		d.b = b[1:]
		return int(b[0])
	}
	return d.longVarint(what)
}

func (d *decoder) longVarint(what string) int {
	v, n, err := readVarint(d.b)
	if err != nil {
		d.fail(err)
		return 0
	}
	if n == 0 {
		d.short(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// binary reads two-byte-length-prefixed binary data. The result aliases the
// body, with its capacity cut so that an append never writes into the body;
// empty data is nil.
func (d *decoder) binary(what string) []byte {
	n := int(d.uint16(what))
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.short(what)
		return nil
	}
	if n == 0 {
		return nil // empty is nil, as for a payload
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// string reads a UTF-8 string and validates it. It aliases the body without
// copying: the body is never written after decoding.
func (d *decoder) string(what string) string {
	// The same as binary, by hand: this is the hot path of properties.
	if len(d.b) < 2 || len(d.b)-2 < int(d.b[0])<<8|int(d.b[1]) {
		d.short(what) // also after an earlier error, which left d.b nil
		return ""
	}
	n := int(d.b[0])<<8 | int(d.b[1])
	b := d.b[2 : 2+n]
	d.b = d.b[2+n:]
	if n == 0 {
		return ""
	}
	s := unsafe.String(&b[0], n)
	if !validString(s) {
		d.fail(malformed(what + " is not a valid UTF-8 string"))
		return ""
	}
	return s
}

// rest returns what is left of the body.
func (d *decoder) rest() []byte {
	b := d.b
	d.b = nil
	if len(b) == 0 {
		return nil
	}
	return b[:len(b):len(b)]
}

// end fails if bytes are left over in the body.
func (d *decoder) end(what string) {
	if d.err == nil && len(d.b) != 0 {
		d.fail(malformed(what + " has bytes past its end"))
	}
}
