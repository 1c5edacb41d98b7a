package mqtt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// ErrServerClosed is returned by Serve and ServeConn once Shutdown or Close
// has been called, and is the cause of the connections they close.
var ErrServerClosed = errors.New("mqtt: server closed")

// errNoHandler is returned by Serve and ServeConn on a Server without a
// Handler.
var errNoHandler = errors.New("mqtt: Server.Handler is nil")

// PropertiesError is an error that carries, besides its reason code, the
// properties of the CONNACK or DISCONNECT that tells the peer why its
// connection ends: a Server Reference with 0x9C use another server or 0x9D
// server moved (MQTT 5.0 section 4.11), a Reason String, User Properties.
// Server finds it in an error's chain with errors.As. Properties the packet
// may not carry make the Server send it without any.
type PropertiesError interface {
	error
	Properties() *packet.Properties
}

// Server serves MQTT connections, one reader goroutine per connection that
// calls Handler for each packet in order. The zero value is not usable: set
// Handler. Its fields must not change once it serves; its methods are safe
// for concurrent use.
//
// On the server side, the Server enforces what every MQTT server must: the
// first packet is a CONNECT [MQTT-3.1.0-1], and a second CONNECT is a
// protocol error [MQTT-3.1.0-2]. When reading fails with a *packet.Error, or
// the Handler returns an error carrying a packet.ReasonCode of 0x80 or more,
// the Server tells the peer before it closes the connection:
//   - before any CONNACK, when a CONNECT was read, or could not be because
//     its protocol version is unsupported: a CONNACK with the code (the
//     codec maps it to a 3.1/3.1.1 return code) [MQTT-3.2.2-6] [MQTT-3.1.2-2];
//   - after a successful CONNACK on an MQTT 5 connection: a DISCONNECT with
//     the code [MQTT-3.14.0-1];
//   - otherwise nothing: MQTT 3 has no way to say why.
//
// A code the packet cannot carry is sent as packet.UnspecifiedError. Any
// other error just closes the connection. An error that is also a
// PropertiesError adds its properties to that CONNACK or DISCONNECT (MQTT 5
// only; the 3.x CONNACK has none).
type Server struct {
	// Handler serves the packets of every connection. Required.
	Handler Handler
	// Options configure each connection; nil means the defaults.
	Options *Options
	// Logger receives connection failures (at debug level: peers control
	// them), handler panics and accept errors. nil means slog.Default().
	Logger *slog.Logger
	// BaseContext, if set, returns the context the connections accepted
	// from l inherit values from. The default is context.Background().
	BaseContext func(l net.Listener) context.Context
	// ConnContext, if set, derives the context of a new connection over rwc
	// from ctx, before the connection exists: a place to attach
	// per-connection values. Only values are inherited: a connection's
	// context is cancelled when it ends, not before.
	ConnContext func(ctx context.Context, rwc io.ReadWriteCloser) context.Context

	// mu guards the fields below. Lock order: Server.mu before Conn.mu.
	mu        sync.Mutex
	closing   bool // Shutdown or Close was called: accept nothing new
	forced    bool // connections are being closed, not waited for
	quit      chan struct{}
	listeners map[*net.Listener]struct{}
	conns     map[*Conn]struct{}
	active    int           // serving goroutines, counted from before their Conn exists
	idle      chan struct{} // closed when closing and active drops to 0
	wg        sync.WaitGroup
}

// Serve accepts connections on l and serves each on its own goroutine until
// Shutdown or Close. It always closes l and returns a non-nil error:
// ErrServerClosed after Shutdown or Close, else the accept error.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		l.Close()
		return errNoHandler
	}
	if !s.trackListener(&l, true) {
		l.Close()
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)
	ctx := context.Background()
	if s.BaseContext != nil {
		ctx = s.BaseContext(l)
	}
	var delay time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed
			}
			if !temporary(err) {
				return err
			}
			// Out of file descriptors and the like: back off, as
			// net/http does, rather than spin.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.logger().Error("mqtt: accept", "err", err, "retry", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.quitting():
				t.Stop()
			}
			continue
		}
		delay = 0
		if !s.start() {
			rwc.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.end()
			s.serve(ctx, rwc)
		}()
	}
}

func temporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// ServeConn serves one connection over rwc, any byte stream (a WebSocket
// through websocket.NetConn, a Unix socket, one end of net.Pipe), on the
// calling goroutine, and returns when it has ended and is closed: nil after
// an orderly end (the peer closed the stream, the handler closed the
// connection), ErrServerClosed after Shutdown or Close, else the cause.
func (s *Server) ServeConn(rwc io.ReadWriteCloser) error {
	if s.Handler == nil {
		rwc.Close()
		return errNoHandler
	}
	if !s.start() {
		rwc.Close()
		return ErrServerClosed
	}
	defer s.end()
	err := s.serve(context.Background(), rwc)
	if errors.Is(err, ErrServerClosed) || !clean(err) {
		return err
	}
	return nil
}

// serve runs one connection to its end and returns its cause.
func (s *Server) serve(ctx context.Context, rwc io.ReadWriteCloser) (cause error) {
	if s.ConnContext != nil {
		ctx = s.ConnContext(ctx, rwc)
	}
	c := newConn(ctx, rwc, s.Options, true)
	if !s.trackConn(c, true) {
		c.CloseWithCause(ErrServerClosed)
		return ErrServerClosed
	}
	defer s.trackConn(c, false)
	defer func() {
		if r := recover(); r != nil {
			// A handler's bug ends its connection, not the process.
			err := fmt.Errorf("mqtt: panic serving %v: %v", c.RemoteAddr(), r)
			s.logger().Error(err.Error(), "stack", string(debug.Stack()))
			cause = err
			c.CloseWithCause(err)
		}
	}()
	err := s.loop(c)
	s.answer(c, err)
	c.CloseWithCause(err)
	cause = context.Cause(c.Context())
	if !clean(cause) {
		s.logger().Debug("mqtt: connection failed", "remote", c.RemoteAddr(), "err", cause)
	}
	return cause
}

// loop reads packets and hands them to the Handler until either fails.
func (s *Server) loop(c *Conn) error {
	ctx := c.Context()
	for first := true; ; first = false {
		p, err := c.ReadPacket()
		if err != nil {
			return err
		}
		_, isConnect := p.(*packet.Connect)
		switch {
		case first && !isConnect:
			return fmt.Errorf("mqtt: first packet is %v, not CONNECT [MQTT-3.1.0-1]: %w", p.Type(), packet.ProtocolError)
		case !first && isConnect:
			return fmt.Errorf("mqtt: second CONNECT [MQTT-3.1.0-2]: %w", packet.ProtocolError)
		}
		if err := s.Handler.ServeMQTT(ctx, c, p); err != nil {
			return err
		}
	}
}

// answer tells the peer why the connection ends with err, when err carries
// a failure reason code, or is a read timeout (a keep alive that ran out),
// and the protocol has a way to say it (see Server). An MQTT 5 peer that
// did not refuse problem information gets err's text as reason string.
func (s *Server) answer(c *Conn, err error) {
	if err == nil || c.Context().Err() != nil {
		return
	}
	var rc packet.ReasonCode
	timeout := errors.Is(err, os.ErrDeadlineExceeded)
	switch {
	case timeout:
		rc = packet.KeepAliveTimeout
	case !errors.As(err, &rc) || !rc.IsError():
		return
	}
	var props *packet.Properties
	if c.Version() == packet.V5 {
		if pe := PropertiesError(nil); errors.As(err, &pe) {
			if p := pe.Properties(); p != nil {
				cp := *p
				props = &cp
			}
		}
		if c.ProblemInfo() {
			if props == nil {
				props = &packet.Properties{}
			}
			if props.ReasonString == "" {
				props.ReasonString = err.Error()
			}
		}
	}
	code, acked := c.ConnackCode()
	switch {
	case timeout && !acked:
		// No CONNECT in time, or no end to its enhanced authentication:
		// nothing to answer.
	case !acked && (c.connect.Load() || rc == packet.UnsupportedProtocolVersion):
		// The only packet a refused client may get [MQTT-3.2.2-6]; for an
		// unknown protocol level the codec encodes it as 3.1.1 with return
		// code 0x01 [MQTT-3.1.2-2].
		if c.Version() == packet.V5 && !packet.ReasonAllowed(packet.TypeConnack, rc) {
			rc = packet.UnspecifiedError
		}
		sendLess(props, func(props *packet.Properties) error {
			return c.Connack(&packet.Connack{ReasonCode: rc, Props: props})
		})
	case acked && !code.IsError() && c.Version() == packet.V5:
		if !packet.ReasonAllowed(packet.TypeDisconnect, rc) {
			rc = packet.UnspecifiedError
		}
		sendLess(props, func(props *packet.Properties) error {
			return c.Disconnect(&packet.Disconnect{ReasonCode: rc, Props: props})
		})
	}
}

// sendLess sends answer's CONNACK or DISCONNECT with props, and when that
// fails with less: without the reason string first, as [MQTT-3.2.2-19] and
// [MQTT-3.14.2-3] ask of a packet too large for the peer, then without any
// property (one the packet may not carry). The code alone still says why.
func sendLess(props *packet.Properties, send func(*packet.Properties) error) {
	if send(props) == nil || props == nil {
		return
	}
	if props.ReasonString != "" {
		cp := *props
		cp.ReasonString = ""
		if send(&cp) == nil {
			return
		}
	}
	_ = send(nil)
}

// Shutdown stops the server gracefully: it closes the listeners, so Serve
// returns ErrServerClosed, refuses new ServeConn calls, and waits for the
// connections to end. If ctx ends first, it closes the remaining ones as
// Close does, waits for their goroutines, and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	lerr := s.stop(false)
	s.mu.Lock()
	idle := s.idleLocked()
	s.mu.Unlock()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = ctx.Err()
		s.stop(true)
	}
	s.wg.Wait()
	if err != nil {
		return err
	}
	return lerr
}

// Close closes the listeners and every connection at once, and returns when
// all the connection goroutines are gone. A connection still flushes its
// queued output, for at most Options.CloseTimeout; an MQTT 5 client gets a
// DISCONNECT packet.ServerShuttingDown first. It returns the error of
// closing the listeners.
func (s *Server) Close() error {
	err := s.stop(true)
	s.wg.Wait()
	return err
}

// stop marks the server closing, closes its listeners and, when force is
// set, starts closing its connections. It returns the listeners' close
// error.
func (s *Server) stop(force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.closing = true
		if s.quit != nil {
			close(s.quit)
		}
	}
	var err error
	for l := range s.listeners {
		if e := (*l).Close(); e != nil && err == nil {
			err = e
		}
		delete(s.listeners, l)
	}
	if force && !s.forced {
		s.forced = true
		for c := range s.conns {
			goAway(c)
		}
	}
	return err
}

// goAway starts closing c for a server that stops, and does not wait.
func goAway(c *Conn) {
	if code, ok := c.ConnackCode(); ok && !code.IsError() && c.Version() == packet.V5 {
		d := &packet.Disconnect{ReasonCode: packet.ServerShuttingDown}
		if c.ProblemInfo() {
			d.Props = &packet.Properties{ReasonString: "server shutting down"}
		}
		_ = c.Disconnect(d)
	}
	c.shutdown(ErrServerClosed, true)
}

func (s *Server) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// quitting returns a channel closed once the server is closing.
func (s *Server) quitting() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quit == nil {
		s.quit = make(chan struct{})
		if s.closing {
			close(s.quit)
		}
	}
	return s.quit
}

// idleLocked returns a channel closed once no connection is served.
func (s *Server) idleLocked() <-chan struct{} {
	if s.idle == nil {
		s.idle = make(chan struct{})
		if s.active == 0 {
			close(s.idle)
		}
	}
	return s.idle
}

// start counts a serving goroutine, unless the server is closing. Counting
// under mu, before Shutdown can look, is what keeps wg.Add from racing
// wg.Wait.
func (s *Server) start() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.active++
	s.wg.Add(1)
	return true
}

// end uncounts a serving goroutine.
func (s *Server) end() {
	s.mu.Lock()
	s.active--
	if s.active == 0 && s.idle != nil && s.closing {
		close(s.idle)
	}
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.closing {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[*net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

// trackConn adds or removes c from the connections Close closes. A
// connection added while the server closes its connections is refused.
func (s *Server) trackConn(c *Conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.forced {
		return false
	}
	if s.conns == nil {
		s.conns = make(map[*Conn]struct{})
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
