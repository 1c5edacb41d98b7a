package listener

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// rejections records ProxyOptions.Rejected calls.
type rejections struct {
	mu   sync.Mutex
	errs []error
	ch   chan error
}

func newRejections() *rejections { return &rejections{ch: make(chan error, 10)} }

func (r *rejections) record(_ net.Addr, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	r.ch <- err
}

func (r *rejections) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("no rejection reported")
		return nil
	}
}

func listenProxy(t *testing.T, opts *ProxyOptions) net.Listener {
	t.Helper()
	l, err := TCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return mustListen(t, ProxyProtocol(l, opts), nil)
}

// TestProxyAddresses sends each kind of header, with the first MQTT bytes
// in the same write, and checks the addresses the connection reports and
// that the bytes after the header arrive.
func TestProxyAddresses(t *testing.T) {
	tests := []struct {
		name          string
		header        []byte
		remote, local string // "" for the connection's own
	}{
		{"v1 tcp4", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 1883\r\n"), "192.0.2.1:56324", "198.51.100.2:1883"},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 56324 8883\r\n"), "[2001:db8::1]:56324", "[2001:db8::2]:8883"},
		{"v1 unknown", []byte("PROXY UNKNOWN\r\n"), "", ""},
		{"v2 tcp4", v2(1, 0x11, ip4, tlv(0x05, "unique-id")), "192.0.2.1:56324", "198.51.100.2:1883"},
		{"v2 tcp6", v2(1, 0x21, ip6), "[2001:db8::1]:56324", "[2001:db8::2]:8883"},
		{"v2 unix", v2(1, 0x31, unixBlock("/run/c.sock", "/run/s.sock")), "/run/c.sock", "/run/s.sock"},
		{"v2 local", v2(0, 0x00), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLeaks(t)
			l := listenProxy(t, nil)
			ch := acceptOne(l)
			c, own := tcpDial(t, l.Addr().String())
			if _, err := c.Write(append(append([]byte{}, tt.header...), 0x10, 0x00)); err != nil {
				t.Fatal(err)
			}
			s := accepted(t, ch)
			remote, local := tt.remote, tt.local
			if remote == "" {
				remote, local = own, c.RemoteAddr().String()
			}
			if s.RemoteAddr().String() != remote || s.LocalAddr().String() != local {
				t.Errorf("addresses %v → %v, want %s → %s", s.RemoteAddr(), s.LocalAddr(), remote, local)
			}
			if tt.name == "v2 unix" && s.RemoteAddr().Network() != "unix" {
				t.Errorf("network %q, want unix", s.RemoteAddr().Network())
			}
			buf := make([]byte, 2)
			if _, err := s.Read(buf); err != nil || buf[0] != 0x10 {
				t.Fatalf("read %x, %v; want the bytes after the header", buf, err)
			}
			done := echo(s)
			roundTrip(t, c, pattern(70000))
			c.Close()
			<-done
			if nc := s.(interface{ NetConn() net.Conn }).NetConn(); nc.RemoteAddr().String() != own {
				t.Errorf("NetConn().RemoteAddr() = %v, want %s", nc.RemoteAddr(), own)
			}
			l.Close()
		})
	}
}

// TestProxyBadHeader checks that a bad header closes that connection
// alone: one opened before it and one after still work.
func TestProxyBadHeader(t *testing.T) {
	checkLeaks(t)
	rej := newRejections()
	l := listenProxy(t, &ProxyOptions{Rejected: rej.record})
	good := func() (net.Conn, net.Conn) {
		ch := acceptOne(l)
		c, _ := tcpDial(t, l.Addr().String())
		if _, err := c.Write([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 1883\r\n")); err != nil {
			t.Fatal(err)
		}
		return c, accepted(t, ch)
	}
	c1, s1 := good()
	done1 := echo(s1)

	bad, _ := tcpDial(t, l.Addr().String())
	bad.Write([]byte{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c}) // a CONNECT, no header
	waitClosed(t, bad)
	if err := rej.wait(t); !errors.Is(err, ErrProxyHeader) {
		t.Errorf("rejected with %v, want ErrProxyHeader", err)
	}

	c2, s2 := good()
	done2 := echo(s2)
	roundTrip(t, c1, pattern(100))
	roundTrip(t, c2, pattern(100))
	c1.Close()
	c2.Close()
	<-done1
	<-done2
	l.Close()
}

// TestProxyHeaderTimeout checks that a connection that sends nothing is
// closed after the header timeout, without holding up the connections
// behind it.
func TestProxyHeaderTimeout(t *testing.T) {
	checkLeaks(t)
	rej := newRejections()
	const timeout = 100 * time.Millisecond
	l := listenProxy(t, &ProxyOptions{HeaderTimeout: timeout, Rejected: rej.record})

	silent, _ := tcpDial(t, l.Addr().String())
	partial, _ := tcpDial(t, l.Addr().String())
	partial.Write([]byte("PROXY TCP4 192.0.2.1"))

	// A good connection behind them is accepted at once.
	ch := acceptOne(l)
	c, _ := tcpDial(t, l.Addr().String())
	c.Write([]byte("PROXY UNKNOWN\r\n"))
	accepted(t, ch)

	start := time.Now()
	waitClosed(t, silent)
	waitClosed(t, partial)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v, want about %v", d, timeout)
	}
	for range 2 {
		err := rej.wait(t)
		if !errors.Is(err, ErrProxyHeader) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("rejected with %v, want ErrProxyHeader and a timeout", err)
		}
	}
	l.Close()
}

// TestProxyClosePending checks that Close closes connections whose header
// is awaited, and connections read but not accepted, at once.
func TestProxyClosePending(t *testing.T) {
	checkLeaks(t)
	l := listenProxy(t, &ProxyOptions{HeaderTimeout: time.Minute})
	silent, _ := tcpDial(t, l.Addr().String())
	ready, _ := tcpDial(t, l.Addr().String())
	ready.Write([]byte("PROXY UNKNOWN\r\n"))
	time.Sleep(50 * time.Millisecond) // let the listener read the header
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, silent)
	waitClosed(t, ready)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close and the closing of pending connections took %v", d)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestProxyInnerClosed checks that Accept reports the inner listener's
// end when it is closed underneath.
func TestProxyInnerClosed(t *testing.T) {
	checkLeaks(t)
	inner, err := TCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := ProxyProtocol(inner, nil)
	inner.Close()
	for range 2 {
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept: %v, want net.ErrClosed", err)
		}
	}
	l.Close()
}

// flakyListener fails its first Accept with a temporary error.
type flakyListener struct {
	net.Listener
	once sync.Once
}

var errFlaky = errors.New("flaky: too many open files")

func (l *flakyListener) Accept() (net.Conn, error) {
	var failed bool
	l.once.Do(func() { failed = true })
	if failed {
		return nil, errFlaky
	}
	return l.Listener.Accept()
}

// TestProxyAcceptError checks that an Accept error of the inner listener
// reaches the caller, and that accepting goes on after it.
func TestProxyAcceptError(t *testing.T) {
	checkLeaks(t)
	inner, err := TCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := mustListen(t, ProxyProtocol(&flakyListener{Listener: inner}, nil), nil)
	if _, err := l.Accept(); !errors.Is(err, errFlaky) {
		t.Fatalf("Accept: %v, want %v", err, errFlaky)
	}
	ch := acceptOne(l)
	c, _ := tcpDial(t, l.Addr().String())
	c.Write([]byte("PROXY UNKNOWN\r\n"))
	accepted(t, ch)
	l.Close()
}

// TestProxyUnix runs the PROXY protocol over a Unix socket, as HAProxy
// sends it to a local backend.
func TestProxyUnix(t *testing.T) {
	checkLeaks(t)
	inner, err := Unix(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	l := mustListen(t, ProxyProtocol(inner, nil), nil)
	ch := acceptOne(l)
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 1883\r\n"))
	s := accepted(t, ch)
	if s.RemoteAddr().String() != "192.0.2.1:56324" {
		t.Errorf("RemoteAddr = %v", s.RemoteAddr())
	}
	l.Close()
}
