//go:build unix

package mqtt

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// rawWriter writes to a socket without waiting for it: what the socket's
// send buffer does not take at once is left for the writer goroutine, so
// the reader goroutine that writes its own answers never blocks on a peer
// that does not read. It holds only the socket: the state of a write is a
// rawWrite from a pool, so that an idle connection keeps no more.
type rawWriter struct{ rc syscall.RawConn }

// rawWrite is one write in progress: b from n on is left to write.
type rawWrite struct {
	b   []byte
	n   int
	err error
	try func(fd uintptr) bool // w.write, bound once: a write allocates nothing
}

var rawWrites = sync.Pool{New: func() any {
	w := new(rawWrite)
	w.try = w.write
	return w
}}

// newDirectWriter returns a rawWriter for rwc, or nil when rwc is not a
// socket of package net (whose descriptors are always non-blocking).
func newDirectWriter(rwc io.ReadWriteCloser) directWriter {
	var sc syscall.Conn
	switch rwc := rwc.(type) {
	case *net.TCPConn:
		sc = rwc
	case *net.UnixConn:
		sc = rwc
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &rawWriter{rc}
}

// writeNow implements directWriter.
func (r *rawWriter) writeNow(b []byte) (int, error) {
	w := rawWrites.Get().(*rawWrite)
	w.b, w.n, w.err = b, 0, nil
	err := r.rc.Write(w.try) // the descriptor's write lock, as net.Conn.Write takes it
	n := w.n
	if err == nil {
		err = w.err
	}
	w.b, w.err = nil, nil
	rawWrites.Put(w)
	return n, err
}

// write is the RawConn.Write callback: it returns true at once, full
// socket or not, so that RawConn.Write never waits.
func (w *rawWrite) write(fd uintptr) bool {
	for w.n < len(w.b) {
		n, err := syscall.Write(int(fd), w.b[w.n:])
		if n > 0 {
			w.n += n
		}
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
			return true
		case err != nil:
			w.err = os.NewSyscallError("write", err)
			return true
		case n <= 0:
			return true // took nothing without saying why: the writer retries
		}
	}
	return true
}
