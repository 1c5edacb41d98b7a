package listener

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// ErrProxyHeader is the error, wrapped with detail, for a connection whose
// PROXY protocol header is missing, malformed or not whole before the
// header timeout.
var ErrProxyHeader = errors.New("listener: bad PROXY protocol header")

// DefaultProxyHeaderTimeout is how long ProxyProtocol waits for a
// connection's header when ProxyOptions.HeaderTimeout is zero.
const DefaultProxyHeaderTimeout = 5 * time.Second

// ProxyOptions configures ProxyProtocol. A nil *ProxyOptions, and every
// zero field, means the default.
type ProxyOptions struct {
	// HeaderTimeout bounds the wait for a connection's whole header, from
	// its accept; DefaultProxyHeaderTimeout when zero. A proxy sends the
	// header at once, so a short timeout costs nothing.
	HeaderTimeout time.Duration

	// Rejected, when set, is called for each connection closed for a bad,
	// missing or late header, with the connection's own (proxy's) address
	// and an error wrapping ErrProxyHeader or the read error. It runs on
	// the goroutine that read the header and must not block; it is the
	// place to log or count.
	Rejected func(remote net.Addr, err error)
}

// ProxyProtocol wraps l so that each accepted connection must start with a
// PROXY protocol header, version 1 (text) or 2 (binary), as HAProxy, nginx
// (proxy_protocol on), AWS and GCP network load balancers, Traefik and
// Envoy send it. The header is read and removed before Accept returns the
// connection, whose RemoteAddr then reports the original client and whose
// LocalAddr the address the client connected to. A header that carries no
// addresses (v1 UNKNOWN, v2 LOCAL such as a proxy's health check, v2
// UNSPEC) leaves the connection's own addresses in place.
//
// A connection whose header is missing, malformed or not whole within
// ProxyOptions.HeaderTimeout is closed, never returned by Accept, and
// reported to ProxyOptions.Rejected; other connections are not affected.
// Headers are read on a goroutine per pending connection, so a slow or
// silent client never holds up Accept.
//
// Security: enable ProxyProtocol only on a listener that nothing but the
// trusted proxy can reach (firewall it, or bind it to a private address).
// Anyone who can connect directly can claim any client address, which
// defeats address-based limits, bans and logs.
//
// Layering: the header comes before anything else on the stream, so wrap
// the raw TCP (or Unix) listener and put TLS or WebSocket on top:
// tls.NewListener(ProxyProtocol(tcp, nil), config), or
// ServeWebSocket(ProxyProtocol(tcp, nil), opts).
//
// The returned listener owns l: Close closes l, closes every connection
// whose header is still awaited or that Accept has not yet taken, and
// returns once the listener's goroutines are gone. Connections already
// returned by Accept are the caller's. Accept is safe for concurrent use.
func ProxyProtocol(l net.Listener, opts *ProxyOptions) net.Listener {
	p := &proxyListener{
		inner:    l,
		timeout:  DefaultProxyHeaderTimeout,
		conns:    make(chan net.Conn),
		errs:     make(chan error),
		done:     make(chan struct{}),
		loopDone: make(chan struct{}),
		pending:  make(map[net.Conn]struct{}),
	}
	if opts != nil {
		if opts.HeaderTimeout > 0 {
			p.timeout = opts.HeaderTimeout
		}
		p.rejected = opts.Rejected
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p
}

// proxyListener is the listener ProxyProtocol returns. One goroutine
// accepts from inner and starts a goroutine per connection to read its
// header; good connections are handed to Accept through conns.
type proxyListener struct {
	inner    net.Listener
	timeout  time.Duration
	rejected func(net.Addr, error)

	conns chan net.Conn // connections with their header read
	errs  chan error    // inner's Accept errors, for Accept to return
	done  chan struct{} // closed by Close

	// loopDone is closed when acceptLoop stops on its own, because inner
	// was closed under it; loopErr is the error it stopped on.
	loopDone chan struct{}
	loopErr  error

	closeOnce sync.Once
	wg        sync.WaitGroup // acceptLoop and the header readers

	mu sync.Mutex // guards the fields below
	// pending holds the connections whose header is being read, so that
	// Close can close them.
	pending map[net.Conn]struct{}
	closed  bool
}

func (p *proxyListener) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.inner.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				p.loopErr = err
				close(p.loopDone)
				return
			}
			// Hand the error to Accept's caller, which decides whether
			// to back off and retry (a temporary error such as EMFILE)
			// or to stop; this loop is paced by it.
			select {
			case p.errs <- err:
			case <-p.done:
				return
			}
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.pending[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.handshake(c)
	}
}

// handshake reads c's header and hands the connection to Accept.
func (p *proxyListener) handshake(c net.Conn) {
	defer p.wg.Done()
	c.SetReadDeadline(time.Now().Add(p.timeout))
	h, rest, err := readProxyHeader(c)
	if err == nil {
		err = c.SetReadDeadline(time.Time{})
	}
	p.mu.Lock()
	delete(p.pending, c)
	closed := p.closed
	p.mu.Unlock()
	if closed {
		c.Close()
		return
	}
	if err != nil {
		c.Close()
		if p.rejected != nil {
			p.rejected(c.RemoteAddr(), err)
		}
		return
	}
	pc := &proxyConn{Conn: c, rest: rest, remote: c.RemoteAddr(), local: c.LocalAddr()}
	if !h.local {
		pc.remote, pc.local = h.src, h.dst
	}
	select {
	case p.conns <- pc:
	case <-p.done:
		c.Close()
	}
}

// Accept returns the next connection whose header has been read.
func (p *proxyListener) Accept() (net.Conn, error) {
	select {
	case <-p.done:
		return nil, p.closedErr()
	default:
	}
	select {
	case c := <-p.conns:
		return c, nil
	case err := <-p.errs:
		return nil, err
	case <-p.loopDone:
		return nil, p.loopErr
	case <-p.done:
		return nil, p.closedErr()
	}
}

func (p *proxyListener) closedErr() error {
	return &net.OpError{Op: "accept", Net: p.inner.Addr().Network(), Addr: p.inner.Addr(), Err: net.ErrClosed}
}

// Close closes the inner listener and every connection not yet returned by
// Accept, and waits for the listener's goroutines. Closing twice returns
// nil.
func (p *proxyListener) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		for c := range p.pending {
			c.Close()
		}
		p.mu.Unlock()
		close(p.done)
		err = p.inner.Close()
		p.wg.Wait()
	})
	return err
}

// Addr returns the inner listener's address.
func (p *proxyListener) Addr() net.Addr { return p.inner.Addr() }

// proxyConn is a connection whose PROXY header has been read: it replays
// the bytes read past the header, then reads from Conn.
type proxyConn struct {
	net.Conn
	rest          []byte // bytes read after the header, not yet returned
	remote, local net.Addr
}

func (c *proxyConn) Read(b []byte) (int, error) {
	if len(c.rest) > 0 {
		n := copy(b, c.rest)
		c.rest = c.rest[n:]
		if len(c.rest) == 0 {
			c.rest = nil
		}
		return n, nil
	}
	return c.Conn.Read(b)
}

// RemoteAddr returns the original client's address from the header.
func (c *proxyConn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr returns the address the client connected to, from the header.
func (c *proxyConn) LocalAddr() net.Addr { return c.local }

// NetConn returns the underlying connection, from the proxy, as
// tls.Conn.NetConn does. Reading from it directly skips bytes already
// buffered.
func (c *proxyConn) NetConn() net.Conn { return c.Conn }

// readProxyHeader reads a header from c, reading no more than it must
// except within a single Read, and returns the header and the bytes read
// after it.
func readProxyHeader(c net.Conn) (proxyHeader, []byte, error) {
	// 232 bytes hold the largest address block (v2 UNIX) and any v1 line;
	// only a v2 header with large TLVs needs more.
	buf := make([]byte, 0, v2HeaderLen+v2LenUnix)
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), v2MaxLen))
			copy(grown, buf)
			buf = grown
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if n > 0 {
			h, used, perr := parseProxyHeader(buf)
			if perr == nil {
				return h, buf[used:len(buf):len(buf)], nil
			}
			if perr != io.ErrUnexpectedEOF {
				return proxyHeader{}, nil, perr
			}
		}
		if err != nil {
			if err == io.EOF {
				err = errNoHeader
			}
			return proxyHeader{}, nil, errProxyReadDetail(err)
		}
	}
}

// errProxyReadDetail wraps a read error met before the header was whole.
func errProxyReadDetail(err error) error {
	return &proxyReadError{err: err}
}

// proxyReadError is a read error while awaiting the header: it is both
// ErrProxyHeader and the read error (a timeout, typically).
type proxyReadError struct{ err error }

func (e *proxyReadError) Error() string   { return ErrProxyHeader.Error() + ": " + e.err.Error() }
func (e *proxyReadError) Unwrap() []error { return []error{ErrProxyHeader, e.err} }
