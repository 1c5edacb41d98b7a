package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// DefaultWebSocketPath is the URL path WebSocket, WebSocketTLS and
// ServeWebSocket serve when WebSocketOptions.Path is empty: the path
// Mosquitto, EMQX and MQTT.js use by convention.
const DefaultWebSocketPath = "/mqtt"

// DefaultHandshakeTimeout bounds the HTTP request that opens a WebSocket
// (and the TLS handshake before it) when WebSocketOptions.HandshakeTimeout
// is zero.
const DefaultHandshakeTimeout = 10 * time.Second

// DefaultSubprotocols are the WebSocket subprotocols accepted when
// WebSocketOptions.Subprotocols is nil: "mqtt", which MQTT 3.1.1 and 5.0
// name [MQTT-6.0.0-3] [MQTT-6.0.0-4], and "mqttv3.1", which MQTT.js and
// Paho JavaScript offer for MQTT 3.1.
var DefaultSubprotocols = []string{"mqtt", "mqttv3.1"}

// WebSocketOptions configures MQTT over WebSocket. A nil *WebSocketOptions,
// and every zero field, means the default.
type WebSocketOptions struct {
	// Path is the URL path served by WebSocket, WebSocketTLS and
	// ServeWebSocket; DefaultWebSocketPath when empty. Other paths get
	// 404. A WebSocketHandler ignores it: it serves wherever it is
	// mounted.
	Path string

	// Subprotocols are the WebSocket subprotocols accepted, compared
	// case-insensitively; DefaultSubprotocols when nil. Of those the client
	// offers, the first in the client's order is selected. An empty,
	// non-nil list accepts only clients that offer none.
	Subprotocols []string

	// RequireSubprotocol refuses (400 Bad Request) a client that offers no
	// subprotocol at all, as Mosquitto does and EMQX does by default. By
	// default such a client is accepted, as Aedes accepts it: the header
	// is a label, refusing its absence protects nothing, and some embedded
	// and WeChat mini-program clients send none. A client that offers
	// subprotocols, none of them accepted, is always refused: it does not
	// mean to speak MQTT.
	RequireSubprotocol bool

	// OriginPatterns, when not empty, restricts the browser origins
	// allowed to connect: requests whose Origin header matches none of
	// the host patterns (path.Match syntax, such as "*.example.com"; a
	// pattern with "://" matches "scheme://host") and is not the request's
	// own host are refused with 403. When empty, every origin is allowed.
	// Set it when the broker trusts something a browser adds on its own,
	// such as cookies or the client's network location (an intranet
	// broker that does not authenticate); otherwise any web page a user
	// visits could connect in that user's name.
	OriginPatterns []string

	// ReadLimit caps the size of one WebSocket message, in bytes; a
	// larger message closes the connection with status 1009 (message too
	// big). Zero or less means no limit, the default: a message is read
	// as a stream, never held whole in memory, and MQTT packets may span
	// messages [MQTT-6.0.0-2], so the MQTT layer's maximum packet size is
	// the limit that matters.
	ReadLimit int64

	// HandshakeTimeout bounds the HTTP upgrade request (and the TLS
	// handshake before it) of WebSocket, WebSocketTLS and ServeWebSocket;
	// DefaultHandshakeTimeout when zero. Once upgraded, a connection has
	// no deadline.
	HandshakeTimeout time.Duration

	// ErrorLog receives the HTTP server's errors (such as failed TLS
	// handshakes) of WebSocket, WebSocketTLS and ServeWebSocket, as
	// http.Server.ErrorLog does; nil means the log package's standard
	// logger.
	ErrorLog *log.Logger
}

// WebSocketHandler is an http.Handler that upgrades each request to a
// WebSocket carrying MQTT and delivers it, as a net.Conn, through its
// Accept method: it is a net.Listener fed by HTTP. Mount it on any mux to
// serve MQTT over WebSocket next to other HTTP handlers, and hand it to
// the MQTT server as a listener:
//
//	h := listener.NewWebSocketHandler(nil)
//	mux.Handle("/mqtt", h)
//	go srv.Serve(h) // srv is an mqtt.Server
//
// Each accepted connection reads and writes binary messages: a Write sends
// one message, Read returns the bytes of successive messages as one
// stream. A text message closes the connection with status 1003
// (unsupported data) [MQTT-6.0.0-1]. Its RemoteAddr is the HTTP request's
// RemoteAddr, so a middleware that rewrites r.RemoteAddr (from
// X-Forwarded-For, behind a trusted reverse proxy) decides the address the
// MQTT layer sees. Over HTTPS the connection also has a method
// ConnectionState() tls.ConnectionState with the TLS state of the request,
// as *tls.Conn has, for authentication by client certificate.
//
// The upgrade needs HTTP/1.1 (it hijacks the connection): over HTTP/2 the
// request is answered 501. Browsers open WebSockets over HTTP/1.1 unless
// the server offers RFC 8441, which net/http does not by default.
//
// ServeHTTP blocks until Accept takes the connection or the handler is
// closed. All methods are safe for concurrent use.
type WebSocketHandler struct {
	subprotocols   []string
	requireSub     bool
	originPatterns []string
	readLimit      int64
	addr           net.Addr

	conns chan net.Conn
	done  chan struct{} // closed by Close or fail

	mu sync.Mutex // guards the fields below
	// closed is set by Close or fail; err is the error Accept then
	// returns.
	closed bool
	err    error
	wg     sync.WaitGroup // ServeHTTP calls in progress
}

// NewWebSocketHandler returns a WebSocketHandler configured by opts (nil
// for the defaults; Path, HandshakeTimeout and ErrorLog do not apply).
func NewWebSocketHandler(opts *WebSocketOptions) *WebSocketHandler {
	var o WebSocketOptions
	if opts != nil {
		o = *opts
	}
	h := &WebSocketHandler{
		subprotocols:   slices.Clone(o.Subprotocols),
		requireSub:     o.RequireSubprotocol,
		originPatterns: slices.Clone(o.OriginPatterns),
		readLimit:      o.ReadLimit,
		addr:           handlerAddr{},
		conns:          make(chan net.Conn),
		done:           make(chan struct{}),
	}
	if o.Subprotocols == nil {
		h.subprotocols = slices.Clone(DefaultSubprotocols)
	}
	return h
}

// ServeHTTP upgrades the request to a WebSocket and waits for Accept to
// take it. It answers 400 to a client whose subprotocols are refused, 403
// to a refused origin, 426 to a request that is not a WebSocket upgrade,
// and 503 once the handler is closed.
func (h *WebSocketHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		http.Error(w, "listener closed", http.StatusServiceUnavailable)
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()

	proto, ok := h.subprotocol(r)
	if !ok {
		http.Error(w, "WebSocket subprotocol must be one of: "+strings.Join(h.subprotocols, ", "), http.StatusBadRequest)
		return
	}
	ao := &websocket.AcceptOptions{
		InsecureSkipVerify: len(h.originPatterns) == 0,
		OriginPatterns:     h.originPatterns,
	}
	if proto != "" {
		ao.Subprotocols = []string{proto}
	}
	ws, err := websocket.Accept(w, r, ao)
	if err != nil {
		return // Accept has answered.
	}
	// The WebSocket outlives the request: its context must not be the
	// request's, which ends when ServeHTTP returns.
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	if h.readLimit > 0 {
		ws.SetReadLimit(h.readLimit) // after NetConn, which lifts the limit
	}
	wc := &wsConn{Conn: nc, remote: requestAddr(r, nc)}
	var c net.Conn = wc
	if r.TLS != nil {
		c = &wsTLSConn{wsConn: wc, state: *r.TLS}
	}
	select {
	case h.conns <- c:
	case <-h.done:
		ws.CloseNow()
	}
}

// subprotocol selects the subprotocol for r: the first the client offers
// that is accepted, in the client's order of preference. It returns "" and
// true for a client that offers none and may connect without, and false
// for a client to refuse.
func (h *WebSocketHandler) subprotocol(r *http.Request) (string, bool) {
	offered := false
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" {
				continue
			}
			offered = true
			for _, sp := range h.subprotocols {
				if strings.EqualFold(tok, sp) {
					return tok, true
				}
			}
		}
	}
	return "", !offered && !h.requireSub
}

// Accept waits for and returns the next upgraded connection. After Close
// it returns an error that wraps net.ErrClosed.
func (h *WebSocketHandler) Accept() (net.Conn, error) {
	select {
	case <-h.done:
		return nil, h.closedErr()
	default:
	}
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, h.closedErr()
	}
}

func (h *WebSocketHandler) closedErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return h.err
	}
	return &net.OpError{Op: "accept", Net: h.addr.Network(), Addr: h.addr, Err: net.ErrClosed}
}

// Close stops the handler: Accept returns an error wrapping net.ErrClosed,
// later requests get 503, and connections upgraded but not yet accepted
// are closed. It returns once no ServeHTTP call is in progress.
// Connections already accepted are the caller's. Closing twice returns
// nil.
func (h *WebSocketHandler) Close() error {
	h.fail(nil)
	h.wg.Wait()
	return nil
}

// fail closes the handler with err as the error for Accept (nil for the
// plain closed error).
func (h *WebSocketHandler) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed, h.err = true, err
	close(h.done)
}

// Addr returns the address the handler serves on: that of the listener
// for ServeWebSocket, WebSocket and WebSocketTLS, otherwise a placeholder
// with network "websocket".
func (h *WebSocketHandler) Addr() net.Addr { return h.addr }

// handlerAddr is the Addr of a WebSocketHandler mounted by the user, who
// alone knows where.
type handlerAddr struct{}

func (handlerAddr) Network() string { return "websocket" }
func (handlerAddr) String() string  { return "websocket" }

// requestAddr returns the client address of r: r.RemoteAddr when it is an
// IP address and port, otherwise the connection's.
func requestAddr(r *http.Request, nc net.Conn) net.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return nc.RemoteAddr()
}

// wsConn is an accepted WebSocket: websocket.NetConn with the HTTP
// request's client address.
type wsConn struct {
	net.Conn
	remote net.Addr
}

// RemoteAddr returns the client's address, from the HTTP request.
func (c *wsConn) RemoteAddr() net.Addr { return c.remote }

// wsTLSConn is an accepted WebSocket over HTTPS.
type wsTLSConn struct {
	*wsConn
	state tls.ConnectionState
}

// ConnectionState returns the TLS state of the HTTPS request that opened
// the WebSocket.
func (c *wsTLSConn) ConnectionState() tls.ConnectionState { return c.state }

// WebSocket listens on the TCP address addr and serves MQTT over WebSocket
// (ws://) on opts.Path. See ServeWebSocket.
func WebSocket(addr string, opts *WebSocketOptions) (net.Listener, error) {
	l, err := TCP(addr)
	if err != nil {
		return nil, err
	}
	return ServeWebSocket(l, opts), nil
}

// WebSocketTLS listens on the TCP address addr and serves MQTT over secure
// WebSocket (wss://) on opts.Path, with config as TLSWithConfig takes it
// (TLS 1.2 at least; HTTP/1.1 only, as WebSockets are not carried over
// HTTP/2 here). See ServeWebSocket.
func WebSocketTLS(addr string, config *tls.Config, opts *WebSocketOptions) (net.Listener, error) {
	cfg, err := serverTLSConfig(config)
	if err != nil {
		return nil, err
	}
	l, err := TCP(addr)
	if err != nil {
		return nil, err
	}
	return ServeWebSocket(tls.NewListener(l, httpsConfig(cfg)), opts), nil
}

// httpsConfig sets cfg to offer HTTP/1.1 alone by ALPN, and returns it:
// a WebSocket upgrade needs HTTP/1.1.
func httpsConfig(cfg *tls.Config) *tls.Config {
	cfg.NextProtos = []string{"http/1.1"}
	return cfg
}

// ServeWebSocket serves HTTP on l, upgrading requests for opts.Path to
// WebSockets carrying MQTT, and returns the listener that delivers them
// (see WebSocketHandler for the connections and the choices made).
// Requests for other paths get 404, and HTTP keep-alive is off: the server
// is for WebSocket upgrades only. l may be any listener: TCP, a
// tls.NewListener for wss://, a Unix socket, or ProxyProtocol's.
//
// The returned listener owns l and the HTTP server: Close closes both and
// every connection upgraded but not yet accepted, and returns once the
// server's goroutines are gone. Connections already accepted are the
// caller's, and are not closed. If the HTTP server stops on an error of l,
// Accept returns that error.
//
// For wss://, l is a tls.NewListener whose config offers "http/1.1" alone
// by ALPN, as WebSocketTLS builds it: the server speaks HTTP/1.1 only, and
// a client that negotiated "h2" would fail.
func ServeWebSocket(l net.Listener, opts *WebSocketOptions) net.Listener {
	var o WebSocketOptions
	if opts != nil {
		o = *opts
	}
	if o.Path == "" {
		o.Path = DefaultWebSocketPath
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	h := NewWebSocketHandler(&o)
	h.addr = l.Addr()
	wl := &wsListener{h: h, served: make(chan struct{})}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	wl.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != o.Path {
				http.NotFound(w, r)
				return
			}
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: o.HandshakeTimeout,
		ReadTimeout:       o.HandshakeTimeout,
		WriteTimeout:      o.HandshakeTimeout,
		MaxHeaderBytes:    64 << 10, // a browser sends the site's cookies
		ErrorLog:          o.ErrorLog,
		Protocols:         &protocols,
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				wl.conns.Add(1)
			case http.StateHijacked, http.StateClosed:
				wl.conns.Done()
			}
		},
	}
	wl.srv.SetKeepAlivesEnabled(false)
	go func() {
		defer close(wl.served)
		err := wl.srv.Serve(l)
		if !errors.Is(err, http.ErrServerClosed) {
			h.fail(err)
		}
	}()
	return wl
}

// wsListener is the listener ServeWebSocket returns: a WebSocketHandler
// behind its own http.Server.
type wsListener struct {
	h      *WebSocketHandler
	srv    *http.Server
	served chan struct{}  // closed when srv.Serve has returned
	conns  sync.WaitGroup // the HTTP server's connections until hijacked or closed
}

// Accept returns the next upgraded connection.
func (wl *wsListener) Accept() (net.Conn, error) { return wl.h.Accept() }

// Addr returns the address of the listener the HTTP server serves.
func (wl *wsListener) Addr() net.Addr { return wl.h.Addr() }

// Close stops the HTTP server and the handler, closes the connections not
// yet accepted, and waits for the server's goroutines.
func (wl *wsListener) Close() error {
	wl.h.fail(nil)
	err := wl.srv.Close() // closes l and the connections not hijacked
	<-wl.served
	wl.h.wg.Wait()
	wl.conns.Wait()
	return err
}
