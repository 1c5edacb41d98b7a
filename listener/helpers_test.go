package listener

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testcert"
)

// checkLeaks fails t if goroutines started during the test are still
// running shortly after it ends. Call it first in a test that does not run
// in parallel with others.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := goroutineIDs()
	t.Cleanup(func() {
		var left []string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			left = left[:0]
			for id, stack := range goroutines() {
				if _, ok := before[id]; !ok {
					left = append(left, stack)
				}
			}
			if len(left) == 0 {
				return
			}
		}
		t.Errorf("%d goroutines leaked:\n%s", len(left), strings.Join(left, "\n\n"))
	})
}

// goroutines returns the stacks of all goroutines but the caller's, by id.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	m := make(map[string]string)
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // the caller
		}
		// "goroutine 12 [running]:"
		f := strings.Fields(g)
		if len(f) < 2 {
			continue
		}
		m[f[1]] = g
	}
	return m
}

func goroutineIDs() map[string]struct{} {
	ids := make(map[string]struct{})
	for id := range goroutines() {
		ids[id] = struct{}{}
	}
	// The caller's goroutine is the test's own; it is not a leak.
	return ids
}

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost
// and its key to PEM files in a temporary directory, and returns their
// paths and a pool that trusts the certificate.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	c := testcert.New(t)
	certFile, keyFile = c.WriteFiles(t, t.TempDir())
	return certFile, keyFile, c.Pool
}

// acceptOne accepts one connection from l in the background.
func acceptOne(l net.Listener) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := l.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

type acceptResult struct {
	c   net.Conn
	err error
}

// accepted waits for the result of acceptOne.
func accepted(t *testing.T, ch <-chan acceptResult) net.Conn {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Accept: %v", r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(10 * time.Second):
		t.Fatal("Accept did not return")
		return nil
	}
}

// echo copies what c reads back to it until the peer closes, then closes
// c. It returns a channel closed when done.
func echo(c net.Conn) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(c, c)
		c.Close()
	}()
	return done
}

// roundTrip writes data to c and checks that it is echoed intact.
func roundTrip(t *testing.T, c io.ReadWriter, data []byte) {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		werr <- err
	}()
	got := make([]byte, len(data))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the echo differs from what was sent")
	}
}

// pattern returns n bytes that are not all alike.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// waitClosed checks that the peer closes c: a read returns an error other
// than a timeout, within a few seconds.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the connection was not closed")
	}
}

// tlsClient returns a client configuration trusting pool.
func tlsClient(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}
