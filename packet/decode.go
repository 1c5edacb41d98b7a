package packet

import (
	"errors"
	"fmt"
	"io"
)

// header is a parsed fixed header.
type header struct {
	t      Type
	flags  byte
	remLen int // remaining length: the body's size
	hdrLen int // bytes of the fixed header itself
}

// size is the whole packet's size in bytes.
func (h header) size() int { return h.hdrLen + h.remLen }

// parseHeader reads a fixed header from b. ok is false when b ends before
// the header does.
func parseHeader(b []byte, v Version) (h header, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	h.t, h.flags = Type(b[0]>>4), b[0]&0x0F
	rl, n, err := readVarint(b[1:])
	if err != nil || n == 0 {
		return h, false, err
	}
	h.remLen, h.hdrLen = rl, 1+n
	return h, true, h.check(v)
}

// check validates the type and the fixed flags [MQTT-2.2.2-1] [MQTT-2.2.2-2].
func (h header) check(v Version) error {
	switch {
	case h.t == 0:
		return malformed("packet type 0 is reserved")
	case h.t == TypeAuth && v != V5 && v != 0:
		return malformed(fmt.Sprintf("packet type 15 is reserved in MQTT %v", v))
	case h.t == TypePublish || h.flags == fixedFlags(h.t):
	case v == V31 && h.flags == 0x0A && fixedFlags(h.t) == 0x02:
		// MQTT 3.1 sets DUP on a retried PUBREL, SUBSCRIBE or
		// UNSUBSCRIBE (3.1 section 2.1, "DUP"); 3.1.1 made it reserved.
	default:
		return malformed(fmt.Sprintf("%v with fixed header flags %04b [MQTT-2.2.2-2]", h.t, h.flags))
	}
	return nil
}

// tooLarge is the error for a packet over a limit of max bytes.
func tooLarge(h header, max int) error {
	return &Error{Code: PacketTooLarge, Msg: fmt.Sprintf("%v of %d bytes exceeds the limit of %d", h.t, h.size(), max)}
}

// limit returns the effective maximum packet size for a configured max.
func limit(max int) int {
	if max <= 0 || max > MaxPacketSize {
		return MaxPacketSize
	}
	return max
}

// decodeBody decodes a body already in its own allocation into p.
func decodeBody(p Packet, h header, body []byte, v Version) error {
	if v == 0 {
		v = V311
	}
	return p.decode(body, h.flags, v)
}

// Decode decodes the first packet in buf for protocol version v (zero means
// 3.1.1; a CONNECT carries its own version). It returns the packet and the
// number of bytes it took. When buf holds only part of a packet it returns
// io.ErrUnexpectedEOF, so a caller can read more and try again, except that a
// packet whose fixed header already shows it larger than max bytes (0: no limit
// but the protocol's) fails at once with PacketTooLarge, before anything is
// allocated for it.
//
// The packet does not alias buf: its body is copied once, and its strings and
// byte slices point into that copy.
func Decode(buf []byte, v Version, max int) (Packet, int, error) {
	h, ok, err := parseHeader(buf, v)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, io.ErrUnexpectedEOF
	}
	if h.size() > limit(max) {
		return nil, 0, tooLarge(h, limit(max))
	}
	if len(buf) < h.size() {
		return nil, 0, io.ErrUnexpectedEOF
	}
	p := New(h.t)
	body := clone(buf[h.hdrLen:h.size()])
	if err := decodeBody(p, h, body, v); err != nil {
		return nil, 0, err
	}
	return p, h.size(), nil
}

// DecodeInto decodes the first packet in buf into p, which must be of the
// packet's type, reusing p's property struct and slices where it can: a
// PUBLISH decoded into a reused *Publish costs one allocation, the copy of its
// body. It returns the bytes taken, and errors as Decode does.
func DecodeInto(p Packet, buf []byte, v Version, max int) (int, error) {
	h, ok, err := parseHeader(buf, v)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, io.ErrUnexpectedEOF
	}
	if h.size() > limit(max) {
		return 0, tooLarge(h, limit(max))
	}
	if len(buf) < h.size() {
		return 0, io.ErrUnexpectedEOF
	}
	if p.Type() != h.t {
		return 0, fmt.Errorf("packet: DecodeInto a %v, but the packet is a %v", p.Type(), h.t)
	}
	if err := decodeBody(p, h, clone(buf[h.hdrLen:h.size()]), v); err != nil {
		return 0, err
	}
	return h.size(), nil
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

// Reader decodes packets from a byte stream. While the stream is busy it
// reads through a buffer of the size given to NewReader, taken from a pool
// shared by all Readers; while it is quiet it holds only a 128-byte one, so
// that idle connections cost little memory. Each packet's body gets one allocation
// of exactly its size, made only after the size limit is checked. A body over
// 64 KiB is the exception: its buffer grows as its bytes arrive, so a peer
// that announces a large packet and stalls holds only what it sent.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	// Version is the protocol version of the packets read. Zero decodes as
	// 3.1.1. Reading a CONNECT sets it to the CONNECT's version, as a server
	// learns the version from the first packet.
	Version Version
	// MaxSize is the largest packet accepted, fixed header included; 0
	// means the protocol's limit. A larger packet fails with PacketTooLarge
	// before its body is read.
	MaxSize int

	br streamBuffer
}

// NewReader returns a Reader reading from r through a buffer of size bytes
// (0 means 4096). A quiet stream holds only a 128-byte buffer.
func NewReader(r io.Reader, size int) *Reader {
	if size <= 0 {
		size = 4096
	}
	rd := new(Reader)
	rd.br.init(r, max(size, smallBuffer))
	return rd
}

// ReadPacket reads the next packet. At a clean end of the stream between
// packets it returns io.EOF; a stream that ends inside a packet gives
// io.ErrUnexpectedEOF. A malformed packet gives an *Error whose code the
// server sends back; the stream is then out of step and must be closed.
func (r *Reader) ReadPacket() (Packet, error) {
	h, err := r.readHeader()
	if err != nil {
		return nil, err
	}
	p := New(h.t)
	body, err := r.readBody(h.remLen)
	if err != nil {
		return nil, err
	}
	if err := decodeBody(p, h, body, r.Version); err != nil {
		return nil, err
	}
	if c, ok := p.(*Connect); ok {
		r.Version = c.Version
	}
	return p, nil
}

// eagerBody is the body size up to which ReadPacket allocates the whole
// body at once; a larger body's buffer grows with the bytes that arrive, so
// that a peer announcing a large packet and sending nothing more holds at
// most twice what it sent, not what it announced.
const eagerBody = 64 << 10

// readBody reads a body of n bytes into one buffer of exactly n bytes' length.
func (r *Reader) readBody(n int) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	size := min(n, eagerBody)
	body := make([]byte, size)
	for read := 0; ; {
		m, err := io.ReadFull(&r.br, body[read:])
		read += m
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if read == n {
			return body, nil
		}
		body = append(body, make([]byte, min(n-read, len(body)))...)
	}
}

// readHeader peeks at the fixed header, checks it and the size limit, and
// consumes it.
func (r *Reader) readHeader() (header, error) {
	for n := 2; ; n++ {
		b, err := r.br.peek(n)
		if len(b) < n {
			if err == io.EOF && len(b) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return header{}, err
		}
		h, ok, err := parseHeader(b, r.Version)
		if err != nil {
			return header{}, err
		}
		if !ok {
			continue // the remaining length goes on: peek one more byte
		}
		if max := limit(r.MaxSize); h.size() > max {
			return header{}, tooLarge(h, max)
		}
		r.br.discard(h.hdrLen)
		return h, nil
	}
}

// Buffered returns the number of bytes read from the stream but not yet
// decoded.
func (r *Reader) Buffered() int { return r.br.buffered() }

// Parser decodes packets from chunks of a stream as they arrive: a packet may
// be split across many chunks, and one chunk may hold many packets. Feed it
// with Write, take packets with Next.
//
// A Parser is not safe for concurrent use.
type Parser struct {
	// Version and MaxSize work as in Reader.
	Version Version
	MaxSize int

	buf []byte
	off int
	err error
}

// Write appends a chunk to the parser's buffer. It never fails.
func (p *Parser) Write(b []byte) (int, error) {
	if p.off > 0 && p.off == len(p.buf) {
		p.buf, p.off = p.buf[:0], 0
	}
	p.buf = append(p.buf, b...)
	return len(b), nil
}

// Next returns the next complete packet, or nil and no error when the
// buffered bytes do not yet hold one. After an error the parser stays
// failed: the stream is out of step.
func (p *Parser) Next() (Packet, error) {
	if p.err != nil {
		return nil, p.err
	}
	pk, n, err := Decode(p.buf[p.off:], p.Version, p.MaxSize)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		if p.off > 0 { // move the partial packet to the front
			p.buf = p.buf[:copy(p.buf, p.buf[p.off:])]
			p.off = 0
		}
		return nil, nil
	}
	if err != nil {
		p.err = err
		return nil, err
	}
	p.off += n
	if c, ok := pk.(*Connect); ok {
		p.Version = c.Version
	}
	return pk, nil
}
