package mqtt_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testcert"

	"github.com/coder/websocket"
	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitForLeaks(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// checkLeaks fails t if, once t and its cleanups are done, goroutines
// running code of this package are still there after a grace period. Tests
// that use it must not run in parallel.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		if leaked := waitForLeaks(5 * time.Second); leaked != "" {
			t.Errorf("leaked goroutines:\n%s", leaked)
		}
	})
}

// waitForLeaks polls until no goroutine but the test machinery runs code of
// package mqtt, and returns the stacks of those that still do at the end.
func waitForLeaks(grace time.Duration) string {
	deadline := time.Now().Add(grace)
	for {
		leaked := leakedGoroutines()
		if leaked == "" || time.Now().After(deadline) {
			return leaked
		}
		// Polling is the one way to watch the scheduler: goroutines that
		// were told to stop need a moment to return.
		time.Sleep(10 * time.Millisecond)
	}
}

func leakedGoroutines() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var leaked []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		switch {
		case i == 0: // the caller
		case !strings.Contains(g, "midge-mqtt/midge/mqtt"):
		case strings.Contains(g, "testing.tRunner("), strings.Contains(g, "testing.(*M)."):
		default:
			leaked = append(leaked, g)
		}
	}
	return strings.Join(leaked, "\n\n")
}

// versions are the protocol versions every behaviour test runs over.
var versions = []packet.Version{packet.V31, packet.V311, packet.V5}

// transport starts a Server on one kind of stream and dials it.
type transport struct {
	name  string
	start func(t *testing.T, srv *mqtt.Server) (dial func(t *testing.T) io.ReadWriteCloser)
}

var transports = []transport{
	{"tcp", startTCP},
	{"tls", startTLS},
	{"websocket", startWebSocket},
	{"pipe", startPipe},
}

// serveListener runs srv.Serve(l) and, at cleanup, closes srv and checks
// that Serve returned ErrServerClosed.
func serveListener(t *testing.T, srv *mqtt.Server, l net.Listener) {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Server.Close: %v", err)
		}
		if err := <-served; !errors.Is(err, mqtt.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
}

func startTCP(t *testing.T, srv *mqtt.Server) func(*testing.T) io.ReadWriteCloser {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveListener(t, srv, l)
	return func(t *testing.T) io.ReadWriteCloser {
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return nc
	}
}

func startTLS(t *testing.T, srv *mqtt.Server) func(*testing.T) io.ReadWriteCloser {
	cert, pool := selfSigned(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	serveListener(t, srv, l)
	return func(t *testing.T) io.ReadWriteCloser {
		nc, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		return nc
	}
}

// selfSigned makes a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	c := testcert.New(t)
	return c.TLS, c.Pool
}

func startWebSocket(t *testing.T, srv *mqtt.Server) func(*testing.T) io.ReadWriteCloser {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"mqtt"}})
		if err != nil {
			return // Accept has answered the request
		}
		if ws.Subprotocol() != "mqtt" {
			ws.Close(websocket.StatusPolicyViolation, "subprotocol mqtt required")
			return
		}
		srv.ServeConn(websocket.NetConn(r.Context(), ws, websocket.MessageBinary))
	}))
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Server.Close: %v", err)
		}
		ts.Close()
	})
	return func(t *testing.T) io.ReadWriteCloser {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws, resp, err := websocket.Dial(ctx, ts.URL, &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Body != nil {
			resp.Body.Close()
		}
		if ws.Subprotocol() != "mqtt" {
			t.Fatalf("subprotocol %q", ws.Subprotocol())
		}
		return websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	}
}

func startPipe(t *testing.T, srv *mqtt.Server) func(*testing.T) io.ReadWriteCloser {
	served := make(chan error, 16)
	var n int
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Server.Close: %v", err)
		}
		for range n {
			<-served
		}
	})
	return func(t *testing.T) io.ReadWriteCloser {
		client, server := net.Pipe()
		n++
		go func() { served <- srv.ServeConn(server) }()
		return client
	}
}

// readAll reads what the peer sends until it closes the stream, failing t
// after a deadline rather than hanging.
func readAll(t *testing.T, rwc io.ReadWriteCloser) []byte {
	t.Helper()
	if d, ok := rwc.(interface{ SetReadDeadline(time.Time) error }); ok {
		d.SetReadDeadline(time.Now().Add(10 * time.Second))
	}
	b, err := io.ReadAll(rwc)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("reading until the peer closes: %v (after % x)", err, b)
	}
	return b
}

// isReset reports a TCP reset: a server that closes with unread input
// resets the connection, which is as closed as a FIN for these tests.
func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// mustEncode encodes p for v.
func mustEncode(t testing.TB, p packet.Packet, v packet.Version) []byte {
	t.Helper()
	b, err := p.Append(nil, v)
	if err != nil {
		t.Fatalf("encoding %v: %v", p.Type(), err)
	}
	return b
}

// decodeAll decodes every packet of b at version v.
func decodeAll(t *testing.T, b []byte, v packet.Version) []packet.Packet {
	t.Helper()
	var ps []packet.Packet
	for len(b) > 0 {
		p, n, err := packet.Decode(b, v, 0)
		if err != nil {
			t.Fatalf("decoding % x: %v", b, err)
		}
		ps = append(ps, p)
		b = b[n:]
	}
	return ps
}

// deadline bounds a test step that waits on a peer.
func deadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recv waits for a value on ch, failing t after 10 seconds.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// discardLogger keeps expected failures out of the test output.
var discardLogger = slog.New(slog.DiscardHandler)
