package broker

import (
	"errors"
	"net"
	"testing"
	"time"
)

// startBroker serves a new broker on a loopback port and closes it when the
// test ends.
func startBroker(t *testing.T, o *Options) (*Broker, string) {
	t.Helper()
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve(l) }()
	t.Cleanup(func() {
		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Logf("SLOWCLOSE %v", d)
			}
		}()
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrClosed) {
			t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	})
	return b, l.Addr().String()
}
