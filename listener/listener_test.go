package listener

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A transport under test: a listener and a way to dial it. clientAddr is
// the client's own address as the server should report it, or "" when
// unknown.
type transport struct {
	name   string
	listen func(t *testing.T) (l net.Listener, dial func(t *testing.T) (c net.Conn, clientAddr string))
}

func tcpDial(t *testing.T, addr string) (net.Conn, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, c.LocalAddr().String()
}

func tlsDial(t *testing.T, addr string, pool *x509.CertPool) (net.Conn, string) {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// The handshake runs on the first Write, as the server's does on its
	// first Read.
	c := tls.Client(raw, tlsClient(pool))
	t.Cleanup(func() { c.Close() })
	return c, c.LocalAddr().String()
}

func mustListen(t *testing.T, l net.Listener, err error) net.Listener {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// transports is every transport, each listening on loopback.
var transports = []transport{
	{"tcp", func(t *testing.T) (net.Listener, func(*testing.T) (net.Conn, string)) {
		l, err := TCP("127.0.0.1:0")
		l = mustListen(t, l, err)
		return l, func(t *testing.T) (net.Conn, string) { return tcpDial(t, l.Addr().String()) }
	}},
	{"tls", func(t *testing.T) (net.Listener, func(*testing.T) (net.Conn, string)) {
		cert, key, pool := writeCert(t)
		l, err := TLS("127.0.0.1:0", cert, key)
		l = mustListen(t, l, err)
		return l, func(t *testing.T) (net.Conn, string) { return tlsDial(t, l.Addr().String(), pool) }
	}},
	{"ws", func(t *testing.T) (net.Listener, func(*testing.T) (net.Conn, string)) {
		l, err := WebSocket("127.0.0.1:0", nil)
		l = mustListen(t, l, err)
		return l, func(t *testing.T) (net.Conn, string) {
			c := mustDialWS(t, "ws://"+l.Addr().String()+"/mqtt", nil, "mqtt")
			return c.nc, c.local
		}
	}},
	{"wss", func(t *testing.T) (net.Listener, func(*testing.T) (net.Conn, string)) {
		cert, key, pool := writeCert(t)
		config, err := LoadTLSConfig(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		l, err := WebSocketTLS("127.0.0.1:0", config, nil)
		l = mustListen(t, l, err)
		return l, func(t *testing.T) (net.Conn, string) {
			c := mustDialWS(t, "wss://"+l.Addr().String()+"/mqtt", pool, "mqttv3.1")
			return c.nc, c.local
		}
	}},
	{"unix", func(t *testing.T) (net.Listener, func(*testing.T) (net.Conn, string)) {
		l, err := Unix(filepath.Join(t.TempDir(), "mqtt.sock"))
		l = mustListen(t, l, err)
		return l, func(t *testing.T) (net.Conn, string) {
			c, err := net.Dial("unix", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c, ""
		}
	}},
	{"proxy", func(t *testing.T) (net.Listener, func(*testing.T) (net.Conn, string)) {
		l, err := TCP("127.0.0.1:0")
		l = mustListen(t, ProxyProtocol(mustListen(t, l, err), nil), nil)
		return l, func(t *testing.T) (net.Conn, string) {
			c, _ := tcpDial(t, l.Addr().String())
			if _, err := c.Write([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 1883\r\n")); err != nil {
				t.Fatal(err)
			}
			return c, "192.0.2.1:56324"
		}
	}},
}

// TestEcho checks that bytes pass intact both ways through every
// transport, in small writes and in one of 1 MiB, and that the accepted
// connection reports the client's address.
func TestEcho(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			checkLeaks(t)
			l, dial := tr.listen(t)
			ch := acceptOne(l)
			c, clientAddr := dial(t)
			s := accepted(t, ch)
			if clientAddr != "" && s.RemoteAddr().String() != clientAddr {
				t.Errorf("RemoteAddr = %v, want %s", s.RemoteAddr(), clientAddr)
			}
			done := echo(s)
			roundTrip(t, c, []byte{0x10}) // one byte: the start of a CONNECT
			roundTrip(t, c, pattern(100))
			roundTrip(t, c, pattern(1<<20))
			c.Close()
			<-done
			l.Close()
		})
	}
}

// TestClose checks that Close unblocks a waiting Accept, that Accept then
// reports net.ErrClosed, and that no goroutine is left.
func TestClose(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			checkLeaks(t)
			l, _ := tr.listen(t)
			ch := acceptOne(l)
			time.Sleep(10 * time.Millisecond) // let Accept block
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			select {
			case r := <-ch:
				if !errors.Is(r.err, net.ErrClosed) {
					t.Errorf("Accept after Close: %v, want net.ErrClosed", r.err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not unblock Accept")
			}
			if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("second Accept after Close: %v, want net.ErrClosed", err)
			}
		})
	}
}

func TestTLSMinVersion(t *testing.T) {
	checkLeaks(t)
	cert, key, pool := writeCert(t)
	l, err := TLS("127.0.0.1:0", cert, key)
	l = mustListen(t, l, err)
	ch := acceptOne(l)
	cfg := tlsClient(pool)
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	clientErr := make(chan error, 1)
	go func() {
		c, err := tls.Dial("tcp", l.Addr().String(), cfg)
		if err == nil {
			c.Close()
		}
		clientErr <- err
	}()
	s := accepted(t, ch)
	if err := s.(*tls.Conn).Handshake(); err == nil {
		t.Error("the server completed a TLS 1.1 handshake")
	}
	s.Close()
	if err := <-clientErr; err == nil {
		t.Error("a TLS 1.1 client connected")
	}
	l.Close()
}

func TestTLSConfigErrors(t *testing.T) {
	if _, err := TLSWithConfig("127.0.0.1:0", nil); err == nil {
		t.Error("nil config accepted")
	}
	if _, err := TLSWithConfig("127.0.0.1:0", &tls.Config{}); err == nil {
		t.Error("config without certificate accepted")
	}
	if _, err := TLS("127.0.0.1:0", "/nonexistent/cert.pem", "/nonexistent/key.pem"); err == nil {
		t.Error("missing files accepted")
	}
	// A config with TLS 1.0 allowed is raised to 1.2, and not changed.
	cert, key, _ := writeCert(t)
	config, err := LoadTLSConfig(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	config.MinVersion = tls.VersionTLS10
	cfg, err := serverTLSConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || config.MinVersion != tls.VersionTLS10 {
		t.Errorf("MinVersion = %#x (caller's %#x), want %#x (caller's unchanged)", cfg.MinVersion, config.MinVersion, tls.VersionTLS12)
	}
}

func TestUnixStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mqtt.sock")
	// A listener that leaves its file behind, as a killed process does.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale socket is not there: %v", err)
	}
	l, err := Unix(path)
	if err != nil {
		t.Fatalf("Unix over a stale socket: %v", err)
	}
	l.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left the socket file: %v", err)
	}
}

func TestUnixInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mqtt.sock")
	l, err := Unix(path)
	l = mustListen(t, l, err)
	if l2, err := Unix(path); err == nil {
		l2.Close()
		t.Fatal("a second listener took a socket in use")
	}
	// The first listener still works.
	ch := acceptOne(l)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("the socket in use was removed: %v", err)
	}
	c.Close()
	accepted(t, ch)
}

func TestUnixNotASocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mqtt.sock")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if l, err := Unix(path); err == nil {
		l.Close()
		t.Fatal("Unix replaced a regular file")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "data" {
		t.Errorf("the regular file was changed: %q, %v", b, err)
	}
}

// TestListen opens every kind of Spec and passes bytes through it.
func TestListen(t *testing.T) {
	cert, key, pool := writeCert(t)
	dir := t.TempDir()
	tests := []struct {
		spec Spec
		dial func(t *testing.T, addr string) net.Conn
	}{
		{Spec{Kind: "tcp", Addr: "127.0.0.1:0"}, func(t *testing.T, addr string) net.Conn {
			c, _ := tcpDial(t, addr)
			return c
		}},
		{Spec{Kind: "tls", Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key}, func(t *testing.T, addr string) net.Conn {
			c, _ := tlsDial(t, addr, pool)
			return c
		}},
		{Spec{Kind: "ws", Addr: "127.0.0.1:0", Path: "/ws"}, func(t *testing.T, addr string) net.Conn {
			return mustDialWS(t, "ws://"+addr+"/ws", nil, "mqtt").nc
		}},
		{Spec{Kind: "wss", Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key}, func(t *testing.T, addr string) net.Conn {
			return mustDialWS(t, "wss://"+addr+"/mqtt", pool, "mqtt").nc
		}},
		{Spec{Kind: "unix", Addr: filepath.Join(dir, "s")}, func(t *testing.T, addr string) net.Conn {
			c, err := net.Dial("unix", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Kind, func(t *testing.T) {
			checkLeaks(t)
			l, err := Listen(tt.spec)
			l = mustListen(t, l, err)
			ch := acceptOne(l)
			c := tt.dial(t, l.Addr().String())
			done := echo(accepted(t, ch))
			roundTrip(t, c, pattern(1000))
			c.Close()
			<-done
			l.Close()
		})
	}
}

func TestListenErrors(t *testing.T) {
	cert, key, _ := writeCert(t)
	for _, s := range []Spec{
		{Kind: "tcp"},
		{Kind: "udp", Addr: "127.0.0.1:0"},
		{Kind: "", Addr: "127.0.0.1:0"},
		{Kind: "tls", Addr: "127.0.0.1:0"},
		{Kind: "wss", Addr: "127.0.0.1:0", CertFile: cert},
		{Kind: "tcp", Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key},
		{Kind: "tcp", Addr: "127.0.0.1:0", Path: "/mqtt"},
		{Kind: "ws", Addr: "127.0.0.1:0", Path: "mqtt"},
		{Kind: "tls", Addr: "127.0.0.1:0", CertFile: key, KeyFile: cert},
		{Kind: "tcp", Addr: "256.0.0.1:0"},
	} {
		if l, err := Listen(s); err == nil {
			l.Close()
			t.Errorf("Listen(%+v) succeeded", s)
		} else if !strings.HasPrefix(err.Error(), "listener: ") && !strings.Contains(err.Error(), "listen") {
			t.Errorf("Listen(%+v): error %q has no context", s, err)
		}
	}
}

func TestSpecString(t *testing.T) {
	for _, tt := range []struct {
		s    Spec
		want string
	}{
		{Spec{Kind: "tcp", Addr: ":1883"}, "tcp://:1883"},
		{Spec{Kind: "ws", Addr: ":8080"}, "ws://:8080/mqtt"},
		{Spec{Kind: "wss", Addr: ":443", Path: "/m"}, "wss://:443/m"},
		{Spec{Kind: "unix", Addr: "/run/m.sock"}, "unix:///run/m.sock"},
	} {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.s, got, tt.want)
		}
	}
}

// TestListenProxy checks the PROXY header under TLS and WebSocket: it is
// read before the TLS handshake and the HTTP request, and the connection
// reports the address it carries.
func TestListenProxy(t *testing.T) {
	cert, key, pool := writeCert(t)
	const header = "PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\n"
	const want = "[2001:db8::7]:40000"
	for _, kind := range []string{"tcp", "tls", "ws", "wss"} {
		t.Run(kind, func(t *testing.T) {
			checkLeaks(t)
			s := Spec{Kind: kind, Addr: "127.0.0.1:0", ProxyProtocol: true}
			if kind == "tls" || kind == "wss" {
				s.CertFile, s.KeyFile = cert, key
			}
			l, err := Listen(s)
			l = mustListen(t, l, err)
			ch := acceptOne(l)
			// Each client writes the header on a fresh TCP connection,
			// then speaks its protocol over it.
			dialer := func(network, addr string) (net.Conn, error) {
				c, err := net.Dial(network, addr)
				if err != nil {
					return nil, err
				}
				_, err = c.Write([]byte(header))
				return c, err
			}
			var c net.Conn
			switch kind {
			case "tcp":
				c, err = dialer("tcp", l.Addr().String())
			case "tls":
				var raw net.Conn
				if raw, err = dialer("tcp", l.Addr().String()); err == nil {
					c = tls.Client(raw, tlsClient(pool))
				}
			case "ws", "wss":
				var wc *wsClient
				wc, _, err = dialWS(t, kind+"://"+l.Addr().String()+"/mqtt", pool, wsDialer(dialer), "mqtt")
				if err == nil {
					c = wc.nc
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			srv := accepted(t, ch)
			if got := srv.RemoteAddr().String(); got != want {
				t.Errorf("RemoteAddr = %s, want %s", got, want)
			}
			done := echo(srv)
			roundTrip(t, c, pattern(1000))
			c.Close()
			<-done
			l.Close()
		})
	}
}
