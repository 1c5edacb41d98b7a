package packet

import (
	"io"
	"sync"
)

// smallBuffer is the size of the buffer a Reader holds while its stream is
// quiet: enough for a PINGREQ, an acknowledgement or a small PUBLISH.
const smallBuffer = 128

// readBuffers holds the large read buffers of Readers whose streams went
// quiet, for the next Reader with traffic.
var readBuffers sync.Pool // of *[]byte

// streamBuffer buffers a stream as bufio.Reader does, but holds a large
// buffer only while the stream is busy: a quiet stream (say, an idle MQTT
// connection waiting for its next PINGREQ) reads into a small array inside
// the struct, so ten thousand idle connections do not pin ten thousand large
// buffers. A read that fills the small array moves to a large buffer from a
// pool; the large buffer goes back when everything was consumed after a
// read no bigger than the small array.
type streamBuffer struct {
	rd    io.Reader
	size  int    // capacity of the large buffer
	buf   []byte // small[:] or a large pooled buffer
	r, w  int    // buf[r:w] is buffered and unread
	large bool
	last  int // bytes the last read returned
	small [smallBuffer]byte
}

func (b *streamBuffer) init(rd io.Reader, size int) {
	b.rd, b.size = rd, size
	b.buf = b.small[:]
}

// buffered returns the number of unread bytes held.
func (b *streamBuffer) buffered() int { return b.w - b.r }

// fill reads once from the stream into the buffer, first making room.
func (b *streamBuffer) fill() error {
	switch {
	case b.r == b.w:
		b.r, b.w = 0, 0
		if b.large && b.last <= smallBuffer {
			// Drained after a small read: the stream is quiet.
			p := b.buf[:0]
			readBuffers.Put(&p)
			b.buf, b.large = b.small[:], false
		}
	case b.r > 0:
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	if !b.large && (b.w == len(b.buf) || b.last == len(b.small)) {
		// The small buffer is full, or the last read filled it: traffic.
		big := b.size
		var nb []byte
		if p, _ := readBuffers.Get().(*[]byte); p != nil && cap(*p) >= big {
			nb = (*p)[:cap(*p)]
		} else {
			nb = make([]byte, big)
		}
		b.w = copy(nb, b.buf[:b.w])
		b.buf, b.large = nb, true
	}
	if b.w == len(b.buf) {
		return nil // full: the caller consumes before reading more
	}
	n, err := b.rd.Read(b.buf[b.w:])
	if n < 0 {
		n = 0
	}
	b.w += n
	b.last = n
	if n == 0 && err == nil {
		return io.ErrNoProgress
	}
	return err
}

// peek returns the next n bytes without consuming them, reading as needed;
// with fewer available it returns what there is and the read error.
func (b *streamBuffer) peek(n int) ([]byte, error) {
	for b.w-b.r < n {
		if err := b.fill(); err != nil {
			if b.w-b.r >= n {
				break
			}
			return b.buf[b.r:b.w], err
		}
	}
	return b.buf[b.r : b.r+n], nil
}

// discard consumes n buffered bytes.
func (b *streamBuffer) discard(n int) { b.r += n }

// Read implements io.Reader: buffered bytes first; a read of at least the
// buffer's size with nothing buffered goes straight to the stream.
func (b *streamBuffer) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r == b.w {
		if len(p) >= b.size {
			n, err := b.rd.Read(p)
			b.last = n
			return n, err
		}
		if err := b.fill(); err != nil && b.r == b.w {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}
