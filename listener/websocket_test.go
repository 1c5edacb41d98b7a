package listener

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsClient is the client end of a WebSocket under test.
type wsClient struct {
	ws    *websocket.Conn
	nc    net.Conn // ws as a net.Conn of binary messages
	local string   // the client's TCP address
}

// wsDialer dials the TCP connection under a WebSocket client.
type wsDialer func(network, addr string) (net.Conn, error)

// dialWS opens a WebSocket to url offering protos, trusting pool for
// wss://, over connections from dial (net.Dial when nil). It returns the
// handshake's response when the server refused.
func dialWS(t *testing.T, url string, pool *x509.CertPool, dial wsDialer, protos ...string) (*wsClient, *http.Response, error) {
	return dialWSHeader(t, url, pool, dial, nil, protos...)
}

func dialWSHeader(t *testing.T, url string, pool *x509.CertPool, dial wsDialer, header http.Header, protos ...string) (*wsClient, *http.Response, error) {
	t.Helper()
	if dial == nil {
		dial = net.Dial
	}
	c := &wsClient{}
	tr := &http.Transport{
		DialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(network, addr)
			if err == nil {
				c.local = conn.LocalAddr().String()
			}
			return conn, err
		},
		TLSClientConfig: tlsClient(pool),
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: tr},
		HTTPHeader:   header,
		Subprotocols: protos,
	})
	if err != nil {
		return nil, resp, err
	}
	c.ws = ws
	c.nc = websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	t.Cleanup(func() { ws.CloseNow() })
	return c, resp, nil
}

func mustDialWS(t *testing.T, url string, pool *x509.CertPool, protos ...string) *wsClient {
	t.Helper()
	c, _, err := dialWS(t, url, pool, nil, protos...)
	if err != nil {
		t.Fatalf("dialling %s: %v", url, err)
	}
	return c
}

func listenWS(t *testing.T, opts *WebSocketOptions) net.Listener {
	t.Helper()
	l, err := WebSocket("127.0.0.1:0", opts)
	return mustListen(t, l, err)
}

func TestWebSocketSubprotocols(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name    string
		offered []string
		require bool
		want    string // selected subprotocol; "refused" for a 400
	}{
		{"mqtt", []string{"mqtt"}, false, "mqtt"},
		{"mqttv3.1", []string{"mqttv3.1"}, false, "mqttv3.1"},
		{"client order first", []string{"mqttv3.1", "mqtt"}, false, "mqttv3.1"},
		{"unknown then mqtt", []string{"chat", "mqtt"}, false, "mqtt"},
		{"case kept", []string{"MQTT"}, false, "MQTT"},
		{"none", nil, false, ""},
		{"none required", nil, true, "refused"},
		{"mqtt required", []string{"mqtt"}, true, "mqtt"},
		{"only others", []string{"graphql-ws", "chat"}, false, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listenWS(t, &WebSocketOptions{RequireSubprotocol: tt.require})
			ch := acceptOne(l)
			c, resp, err := dialWS(t, "ws://"+l.Addr().String()+"/mqtt", nil, nil, tt.offered...)
			if tt.want == "refused" {
				if err == nil {
					t.Fatalf("accepted with subprotocol %q", c.ws.Subprotocol())
				}
				if resp == nil || resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("refused with %v, want 400", resp)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ws.Subprotocol(); got != tt.want {
				t.Errorf("subprotocol %q, want %q", got, tt.want)
			}
			done := echo(accepted(t, ch))
			roundTrip(t, c.nc, []byte("x"))
			c.nc.Close()
			<-done
		})
	}
}

// TestWebSocketTextMessage checks that a text message closes the
// connection with 1003: MQTT travels in binary messages only.
func TestWebSocketTextMessage(t *testing.T) {
	checkLeaks(t)
	l := listenWS(t, nil)
	ch := acceptOne(l)
	c := mustDialWS(t, "ws://"+l.Addr().String()+"/mqtt", nil, "mqtt")
	s := accepted(t, ch)
	// The client reads meanwhile, to answer the server's close frame.
	clientErr := make(chan error, 1)
	go func() {
		_, _, err := c.ws.Read(context.Background())
		clientErr <- err
	}()
	if err := c.ws.Write(context.Background(), websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(make([]byte, 10)); err == nil {
		t.Fatal("the server read a text message")
	}
	err := <-clientErr
	if got := websocket.CloseStatus(err); got != websocket.StatusUnsupportedData {
		t.Errorf("close status %v (%v), want %v", got, err, websocket.StatusUnsupportedData)
	}
}

func TestWebSocketReadLimit(t *testing.T) {
	checkLeaks(t)
	l := listenWS(t, &WebSocketOptions{ReadLimit: 1000})
	ch := acceptOne(l)
	c := mustDialWS(t, "ws://"+l.Addr().String()+"/mqtt", nil, "mqtt")
	s := accepted(t, ch)
	done := echo(s)
	roundTrip(t, c.nc, pattern(1000)) // at the limit: passes
	if err := c.ws.Write(context.Background(), websocket.MessageBinary, pattern(1001)); err != nil {
		t.Fatal(err)
	}
	// The echo of what was read before the limit may come first.
	var err error
	for err == nil {
		_, _, err = c.ws.Read(context.Background())
	}
	if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
		t.Errorf("close status %v (%v), want %v", got, err, websocket.StatusMessageTooBig)
	}
	<-done
}

func TestWebSocketOrigins(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name     string
		patterns []string
		origin   string
		ok       bool
	}{
		{"any by default", nil, "https://elsewhere.example", true},
		{"no origin", []string{"app.example"}, "", true},
		{"allowed", []string{"*.example"}, "https://app.example", true},
		{"refused", []string{"app.example"}, "https://evil.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listenWS(t, &WebSocketOptions{OriginPatterns: tt.patterns})
			ch := acceptOne(l)
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			c, resp, err := dialWSHeader(t, "ws://"+l.Addr().String()+"/mqtt", nil, nil, h, "mqtt")
			if !tt.ok {
				if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("origin %q: got %v, %v; want 403", tt.origin, resp, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			accepted(t, ch)
			c.ws.CloseNow()
		})
	}
}

// TestWebSocketHTTP checks the answers to requests that are not an MQTT
// WebSocket upgrade.
func TestWebSocketHTTP(t *testing.T) {
	checkLeaks(t)
	l := listenWS(t, nil)
	base := "http://" + l.Addr().String()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for path, want := range map[string]int{
		"/":      http.StatusNotFound,
		"/other": http.StatusNotFound,
		"/mqtt":  http.StatusUpgradeRequired, // a GET without Upgrade
	} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// A WebSocket on another path is refused too.
	if _, resp, err := dialWS(t, "ws://"+l.Addr().String()+"/other", nil, nil, "mqtt"); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("WebSocket on /other: %v, %v; want 404", resp, err)
	}
}

// TestWebSocketHandler mounts the handler on the test's own server, with
// a middleware that sets the client address as a reverse proxy's
// X-Forwarded-For would.
func TestWebSocketHandler(t *testing.T) {
	checkLeaks(t)
	h := NewWebSocketHandler(nil)
	mux := http.NewServeMux()
	mux.Handle("/custom/mqtt", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "203.0.113.7:4242"
		h.ServeHTTP(w, r)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	defer func() {
		srv.Close()
		<-served
	}()
	url := "ws://" + ln.Addr().String() + "/custom/mqtt"

	if h.Addr().Network() != "websocket" {
		t.Errorf("Addr().Network() = %q", h.Addr().Network())
	}
	ch := acceptOne(h)
	c := mustDialWS(t, url, nil, "mqtt")
	s := accepted(t, ch)
	if got := s.RemoteAddr().String(); got != "203.0.113.7:4242" {
		t.Errorf("RemoteAddr = %s, want the request's 203.0.113.7:4242", got)
	}
	done := echo(s)
	roundTrip(t, c.nc, pattern(5000))
	c.nc.Close()
	<-done

	// An upgraded connection that nobody accepts is closed by Close.
	pending := mustDialWS(t, url, nil, "mqtt")
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pending.nc.Read(make([]byte, 1)); err == nil {
		t.Error("a pending connection survived Close")
	}
	if _, err := h.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if _, resp, err := dialWS(t, url, nil, nil, "mqtt"); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: %v, %v; want 503", resp, err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestWebSocketClosePending checks that Close of a WebSocket listener
// closes connections upgraded but not accepted, and promptly.
func TestWebSocketClosePending(t *testing.T) {
	checkLeaks(t)
	l := listenWS(t, nil)
	c := mustDialWS(t, "ws://"+l.Addr().String()+"/mqtt", nil, "mqtt")
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.nc.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("pending connection: read %v, want closed", err)
	}
}

// TestWebSocketAcceptedSurviveClose checks that connections Accept has
// returned are not closed with the listener: they are the caller's.
func TestWebSocketAcceptedSurviveClose(t *testing.T) {
	checkLeaks(t)
	l := listenWS(t, nil)
	ch := acceptOne(l)
	c := mustDialWS(t, "ws://"+l.Addr().String()+"/mqtt", nil, "mqtt")
	s := accepted(t, ch)
	done := echo(s)
	l.Close()
	roundTrip(t, c.nc, pattern(100))
	c.nc.Close()
	<-done
}

func TestWSSConnectionState(t *testing.T) {
	checkLeaks(t)
	cert, key, pool := writeCert(t)
	config, err := LoadTLSConfig(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	config.NextProtos = []string{"h2", "http/1.1"} // h2 must not be chosen
	l, err := WebSocketTLS("127.0.0.1:0", config, &WebSocketOptions{Path: "/secure"})
	l = mustListen(t, l, err)
	ch := acceptOne(l)
	c := mustDialWS(t, "wss://"+l.Addr().String()+"/secure", pool, "mqtt")
	s := accepted(t, ch)
	cs, ok := s.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		t.Fatalf("%T has no ConnectionState", s)
	}
	if st := cs.ConnectionState(); !st.HandshakeComplete || st.Version < tls.VersionTLS12 || st.NegotiatedProtocol == "h2" {
		t.Errorf("ConnectionState: complete %v, version %#x, protocol %q", st.HandshakeComplete, st.Version, st.NegotiatedProtocol)
	}
	// A plain ws:// connection has none.
	if _, ok := any(&wsConn{}).(interface{ ConnectionState() tls.ConnectionState }); ok {
		t.Error("a ws:// connection has ConnectionState")
	}
	done := echo(s)
	roundTrip(t, c.nc, pattern(1<<20))
	c.nc.Close()
	<-done
}

// failingListener fails every Accept.
type failingListener struct {
	net.Listener
	err error
}

func (l failingListener) Accept() (net.Conn, error) { return nil, l.err }

// TestServeWebSocketError checks that an error that stops the HTTP server
// reaches Accept.
func TestServeWebSocketError(t *testing.T) {
	checkLeaks(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	l := ServeWebSocket(failingListener{inner, boom}, nil)
	defer l.Close()
	if _, err := l.Accept(); !errors.Is(err, boom) {
		t.Errorf("Accept: %v, want %v", err, boom)
	}
	if !strings.Contains(l.Addr().String(), "127.0.0.1") {
		t.Errorf("Addr = %v", l.Addr())
	}
}
