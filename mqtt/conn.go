package mqtt

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// Errors a Conn returns. Compare with errors.Is: a send on an ended
// connection returns an error that is ErrClosed and wraps the cause.
var (
	// ErrClosed is the cause of a connection closed by Close, and what every
	// send returns once the connection has ended, whatever the cause.
	ErrClosed = errors.New("mqtt: connection closed")
	// ErrQueueFull is returned by a send that would take the output not yet
	// written past Options.MaxPending. Nothing was queued; the connection
	// stays open.
	ErrQueueFull = errors.New("mqtt: output queue full")
	// ErrPacketTooLarge is returned by a send whose packet is larger than
	// the Maximum Packet Size the peer announced in its CONNECT or
	// CONNACK (MQTT 5). Nothing was queued; the connection stays open:
	// MQTT 5 has the sender discard such a packet [MQTT-3.1.2-25].
	ErrPacketTooLarge = errors.New("mqtt: packet larger than the peer's maximum packet size")
)

// Defaults for the zero fields of Options.
const (
	DefaultMaxPacketSize   = 1 << 20 // 1 MiB
	DefaultMaxPending      = 1 << 20 // 1 MiB
	DefaultReadBufferSize  = 4096
	DefaultWriteBufferSize = 4096
	DefaultCloseTimeout    = 5 * time.Second
)

// Options configure a Conn. A nil *Options, like every zero field, means the
// default.
type Options struct {
	// MaxPacketSize is the largest packet ReadPacket accepts, fixed header
	// included; a larger one fails with packet.PacketTooLarge before its body
	// is read or allocated. 0 means DefaultMaxPacketSize; use
	// packet.MaxPacketSize for the protocol's own limit.
	MaxPacketSize int
	// Version is the protocol version when it is known before any CONNECT
	// is read or sent: a client that starts reading before it sends CONNECT,
	// or a peer whose version is known another way. 0: learned from the
	// CONNECT.
	Version packet.Version
	// MaxPending bounds, in bytes, the output queued but not yet written to
	// the stream. A send that would exceed it fails with ErrQueueFull; a
	// packet larger than MaxPending is still accepted when nothing is
	// pending. 0 means DefaultMaxPending.
	MaxPending int
	// ReadBufferSize is the size of the read buffer. 0 means
	// DefaultReadBufferSize.
	ReadBufferSize int
	// WriteBufferSize is the initial capacity of each of the two output
	// buffers; they grow with bursts and shrink back once idle. 0 means
	// DefaultWriteBufferSize.
	WriteBufferSize int
	// CloseTimeout bounds how long Close spends writing the output still
	// queued. 0 means DefaultCloseTimeout; a negative value drops the queued
	// output and closes at once.
	CloseTimeout time.Duration
}

// Conn is one MQTT connection over a byte stream: a net.Conn, a *tls.Conn, a
// WebSocket wrapped by websocket.NetConn, one end of net.Pipe, or any other
// io.ReadWriteCloser. It is symmetric: the same type serves the client and
// the server side.
//
// Sends (Connect, Publish, …, WritePacket, WriteEncoded) encode the packet on
// the caller's goroutine into a pending buffer; one writer goroutine per
// Conn writes that buffer in a single Write when the stream is free, so
// packets queued meanwhile share one system call. On a TCP or Unix socket
// served by a Server, the connection's reader goroutine writes what its
// handlers sent itself, without waiting, before it reads again, and leaves
// to the writer only what the socket does not take at once. A send returns the
// packet's encoding error (nothing is queued then), ErrQueueFull, or, once
// the connection has ended, an error that is ErrClosed and wraps the cause;
// Flush waits until what was queued is written. ReadPacket reads one packet
// at a time, only when called.
//
// All methods are safe for concurrent use, except ReadPacket, which one
// goroutine at a time may call.
type Conn struct {
	rwc          io.ReadWriteCloser
	maxPending   uint64
	wbufSize     int
	closeTimeout time.Duration

	ctx    context.Context
	cancel context.CancelCauseFunc

	version atomic.Uint32 // a packet.Version; 0 while unknown
	connect atomic.Bool   // a CONNECT was read or sent
	connack atomic.Int32  // the reason code of the CONNACK sent or received, plus 1; 0: none yet
	// noProblemInfo: the client's CONNECT asked for no reason strings
	// (Request Problem Information 0).
	noProblemInfo atomic.Bool
	watcher       atomic.Pointer[Events]
	values        values // per-connection values of the layers above (values.go)

	// Used only by the goroutine in ReadPacket.
	rd   *packet.Reader
	rerr error // sticky: the stream is out of step after any read error

	// direct writes without waiting, for the reader goroutine of a Server
	// that writes its connection's answers itself (inline.go); nil when the
	// stream cannot, or the connection is not served by a Server.
	direct directWriter

	// kick, of capacity 1, tells the writer there is output or an end. It is
	// made, under mu, when the first writer starts, and never changes then.
	kick chan struct{}

	// mu guards the fields below. It is a leaf lock: no other lock of this
	// package is taken, no user code runs and nothing blocks while it is
	// held.
	mu       sync.Mutex
	out      []byte        // encoded packets the writer has not taken yet
	queued   uint64        // bytes ever queued
	written  uint64        // bytes ever written to the stream
	maxSend  uint64        // the peer's maximum packet size; 0: none
	cause    error         // why the connection ends; nil while it is open
	sendErr  error         // what sends return once cause is set
	werr     error         // the write error that stopped the writer, if any
	idle     bool          // the writer waits for a kick
	running  bool          // a writer goroutine runs; it exits after lingering idle
	hold     bool          // the reader writes the output before its next read: start no writer
	inline   bool          // the reader is writing a batch: start no writer until it is done
	inlined  time.Duration // when the reader last wrote inline, since epoch (inline.go)
	linger   *time.Timer   // how long an idle writer waits before it exits
	stopped  bool          // the writer has returned and closed the stream
	flushed  chan struct{} // closed on the writer's next progress and when it stops; nil when nobody waits
	timer    *time.Timer   // closes the stream when a close flush overruns, if the stream has no deadlines
	hooks    []hook        // run once the connection is closed
	hooksRan bool
}

// hook is a function run with the cause once the connection is closed;
// key deduplicates registrations.
type hook struct {
	key any
	f   func(cause error)
}

// NewConn returns a Conn over rwc. o may be nil for the defaults. Its writer
// goroutine starts with the first send and exits once idle. Call Close (or
// CloseWithCause) once done with the connection, whoever ended it: that
// stops the writer goroutine and runs the close events.
func NewConn(rwc io.ReadWriteCloser, o *Options) *Conn {
	return newConn(context.Background(), rwc, o, false)
}

// newConn is NewConn with a parent context whose values, not its
// cancellation, the connection's context carries. A served connection is
// read by a Server's loop, which writes the connection's answers itself
// when it can (inline.go).
func newConn(parent context.Context, rwc io.ReadWriteCloser, o *Options, served bool) *Conn {
	if o == nil {
		o = &Options{}
	}
	c := &Conn{
		rwc:          rwc,
		maxPending:   uint64(or(o.MaxPending, DefaultMaxPending)),
		wbufSize:     or(o.WriteBufferSize, DefaultWriteBufferSize),
		closeTimeout: o.CloseTimeout,
	}
	var stream io.Reader = rwc
	if served {
		if c.direct = newDirectWriter(rwc); c.direct != nil {
			stream = (*inlineStream)(c)
		}
	}
	c.rd = packet.NewReader(stream, or(o.ReadBufferSize, DefaultReadBufferSize))
	switch {
	case c.closeTimeout == 0:
		c.closeTimeout = DefaultCloseTimeout
	case c.closeTimeout < 0:
		c.closeTimeout = 0
	}
	c.rd.MaxSize = or(o.MaxPacketSize, DefaultMaxPacketSize)
	c.version.Store(uint32(o.Version))
	// The connection's life is its own: a parent's values are inherited, its
	// cancellation is not.
	c.ctx, c.cancel = context.WithCancelCause(context.WithoutCancel(parent))
	// No writer goroutine yet: the first send (or the end) starts one, so a
	// connection that is idle costs no writer stack.
	return c
}

func or(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Context returns the connection's context. It is cancelled when the
// connection ends, and context.Cause then tells why: io.EOF when the peer
// closed the stream between packets, ErrClosed after Close, the error given
// to CloseWithCause, or the read or write error that ended it. React to the
// end with context.AfterFunc(c.Context(), …).
func (c *Conn) Context() context.Context { return c.ctx }

// Version returns the protocol version of the connection: the one of the
// first CONNECT read (server side) or sent (client side), else
// Options.Version, else 0.
func (c *Conn) Version() packet.Version { return packet.Version(c.version.Load()) }

// ConnackCode returns the reason code of the CONNACK sent or received on the
// connection, and false while there has been none. A code of 0x80 or more
// means the connection was refused.
func (c *Conn) ConnackCode() (packet.ReasonCode, bool) {
	n := c.connack.Load()
	return packet.ReasonCode(n - 1), n != 0
}

// ProblemInfo reports whether the peer wants reason strings and user
// properties on packets that allow them: false once an MQTT 5 CONNECT read
// on the connection set Request Problem Information to 0. Then only
// PUBLISH, CONNACK and DISCONNECT may carry them [MQTT-3.1.2-29].
func (c *Conn) ProblemInfo() bool { return !c.noProblemInfo.Load() }

// noteConnack records the first CONNACK of the connection.
func (c *Conn) noteConnack(rc packet.ReasonCode) { c.connack.CompareAndSwap(0, int32(rc)+1) }

// RemoteAddr returns the peer's address when the stream is a net.Conn (or
// has a RemoteAddr method), nil otherwise.
func (c *Conn) RemoteAddr() net.Addr {
	if a, ok := c.rwc.(interface{ RemoteAddr() net.Addr }); ok {
		return a.RemoteAddr()
	}
	return nil
}

// LocalAddr returns the local address when the stream is a net.Conn (or has
// a LocalAddr method), nil otherwise.
func (c *Conn) LocalAddr() net.Addr {
	if a, ok := c.rwc.(interface{ LocalAddr() net.Addr }); ok {
		return a.LocalAddr()
	}
	return nil
}

// SetReadDeadline sets the deadline for ReadPacket, as net.Conn does; the
// zero time removes it. It returns os.ErrNoDeadline when the stream has no
// deadlines.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if d, ok := c.rwc.(interface{ SetReadDeadline(time.Time) error }); ok {
		return d.SetReadDeadline(t)
	}
	return os.ErrNoDeadline
}

// ReadPacket reads the next packet from the peer; nothing is read from the
// stream until it is called, so a slow caller slows the peer down through
// the transport's flow control. One goroutine at a time may call it.
//
// The errors:
//   - io.EOF: the peer closed the stream between packets. The connection
//     ends with that cause: pending output is still flushed, then the
//     stream is closed.
//   - a *packet.Error: the peer sent a malformed packet; errors.As finds
//     its packet.ReasonCode. The connection stays open so the caller can
//     answer (a v5 DISCONNECT with that code) before it closes.
//   - a timeout, after SetReadDeadline: the connection stays open so the
//     caller can answer (a v5 DISCONNECT packet.KeepAliveTimeout) before
//     it closes.
//   - an error that is ErrClosed, once the connection was closed locally.
//   - any other read error ends the connection with that cause.
//
// Every error is sticky: the stream may be out of step, and later calls
// return the same error.
func (c *Conn) ReadPacket() (packet.Packet, error) {
	if c.rerr != nil {
		return nil, c.rerr
	}
	c.rd.Version = c.Version()
	p, err := c.rd.ReadPacket()
	if err != nil {
		c.rerr = c.readFailed(err)
		return nil, c.rerr
	}
	switch p := p.(type) {
	case *packet.Connect:
		// The first CONNECT fixes the version; a second one is a protocol
		// violation the server must refuse [MQTT-3.1.0-2], not a switch.
		c.version.CompareAndSwap(0, uint32(p.Version))
		c.connect.Store(true)
		c.limitSends(p.Props)
		if p.Version == packet.V5 && p.Props.Has(packet.PropRequestProblemInfo) && p.Props.RequestProblemInfo == 0 {
			c.noProblemInfo.Store(true)
		}
	case *packet.Connack:
		c.noteConnack(p.ReasonCode)
		c.limitSends(p.Props)
	}
	return p, nil
}

// limitSends applies the Maximum Packet Size the peer announced: no packet
// larger goes out [MQTT-3.1.2-24] [MQTT-3.2.2-15].
func (c *Conn) limitSends(props *packet.Properties) {
	if props == nil || props.MaximumPacketSize == 0 {
		return
	}
	c.mu.Lock()
	c.maxSend = uint64(props.MaximumPacketSize)
	c.mu.Unlock()
}

// readFailed decides what a read error does to the connection and returns
// the error ReadPacket reports.
func (c *Conn) readFailed(err error) error {
	var pe *packet.Error
	if errors.As(err, &pe) || errors.Is(err, os.ErrDeadlineExceeded) {
		return err // the caller answers, then closes
	}
	if !c.shutdown(err, true) {
		// Already ending (Close closed the stream under us): say so.
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sendErr
	}
	return err
}

// Close closes the connection with the cause ErrClosed; see CloseWithCause.
func (c *Conn) Close() error { return c.CloseWithCause(nil) }

// CloseWithCause ends the connection with cause (nil means ErrClosed), unless
// it has already ended, which keeps the first cause. It cancels Context,
// makes every later send fail, writes what is already queued (for at most
// Options.CloseTimeout, through a write deadline when the stream has one),
// closes the stream, which wakes a blocked ReadPacket, and returns once the
// writer goroutine is gone. It is idempotent and safe to call from many
// goroutines; each call waits for the end.
//
// It returns the write error that lost queued output, if any, else nil.
func (c *Conn) CloseWithCause(cause error) error {
	if cause == nil {
		cause = ErrClosed
	}
	c.shutdown(cause, true)
	c.mu.Lock()
	for !c.stopped {
		c.waitProgressLocked()
	}
	c.mu.Unlock()
	c.runHooks()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.werr
}

// shutdown starts the end of the connection with cause and reports whether
// this call did. With flush set, the writer is given CloseTimeout to write
// what is queued; it then closes the stream and returns.
func (c *Conn) shutdown(cause error, flush bool) bool {
	c.mu.Lock()
	if c.cause != nil {
		c.mu.Unlock()
		return false
	}
	c.cause = cause
	c.sendErr = ErrClosed
	if cause != ErrClosed {
		c.sendErr = &closedError{cause}
	}
	flush = flush && !c.stopped
	c.mu.Unlock()
	if flush {
		c.boundFlush()
	}
	c.cancel(cause)
	c.mu.Lock()
	c.kickLocked() // a writer flushes what is left and closes the stream
	c.mu.Unlock()
	return true
}

// boundFlush bounds the writer's last writes by CloseTimeout: a write
// deadline when the stream has one, else a timer that closes the stream.
func (c *Conn) boundFlush() {
	at := time.Now().Add(c.closeTimeout)
	if d, ok := c.rwc.(interface{ SetWriteDeadline(time.Time) error }); ok && d.SetWriteDeadline(at) == nil {
		return
	}
	t := time.AfterFunc(c.closeTimeout, func() { c.rwc.Close() })
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped { // the writer is already done: nothing to bound
		t.Stop()
		return
	}
	c.timer = t
}

// runHooks runs the close hooks, once, after the writer is gone.
func (c *Conn) runHooks() {
	c.mu.Lock()
	if c.hooksRan {
		c.mu.Unlock()
		return
	}
	c.hooksRan = true
	hooks, cause := c.hooks, c.cause
	c.mu.Unlock()
	for _, h := range hooks {
		h.f(cause)
	}
}

// onClose registers f to run with the cause once the connection is closed:
// in the first Close or CloseWithCause call to return, or at once if that
// has already happened. A second registration with the same key is ignored.
// OnClose registers f to run once the connection has ended and its writer
// has stopped, with the cause; at once, if that has already happened. f runs
// on the goroutine that closes the connection and must not block. It costs
// one slice entry, where context.AfterFunc on Context costs a registration of
// some hundreds of bytes: the layers above use it for what each connection
// does when it ends, so that idle connections stay small.
func (c *Conn) OnClose(f func(cause error)) { c.onClose(nil, f) }

// onClose registers f; a non-nil key registers it only once.
func (c *Conn) onClose(key any, f func(cause error)) {
	c.mu.Lock()
	for _, h := range c.hooks {
		if key != nil && h.key == key {
			c.mu.Unlock()
			return
		}
	}
	c.hooks = append(c.hooks, hook{key, f})
	ran, cause := c.hooksRan, c.cause
	c.mu.Unlock()
	if ran {
		f(cause)
	}
}

// closedError is what sends return after the connection ended for a cause
// other than Close: it is ErrClosed, and unwraps to the cause.
type closedError struct{ cause error }

func (e *closedError) Error() string        { return ErrClosed.Error() + ": " + e.cause.Error() }
func (e *closedError) Unwrap() error        { return e.cause }
func (e *closedError) Is(target error) bool { return target == ErrClosed }

// clean reports whether a connection's cause is an orderly end rather than
// a failure.
func clean(cause error) bool {
	return cause == nil || errors.Is(cause, io.EOF) || errors.Is(cause, ErrClosed) || errors.Is(cause, ErrServerClosed)
}
