package broker

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/packet"
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
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrClosed) {
			t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	})
	return b, l.Addr().String()
}

// connect connects a client with id at version v, clean or not, and fails
// the test unless the broker accepts it.
func connect(t *testing.T, addr, id string, v packet.Version, clean bool) *brokertest.Client {
	t.Helper()
	return brokertest.MustConnect(t, addr, &packet.Connect{Version: v, ClientID: id, CleanStart: clean})
}

var versions = []packet.Version{packet.V31, packet.V311}

// event is one event a broker emitted, as a recorder keeps it.
type event struct {
	kind    string
	client  *Client
	msg     *Message
	err     error
	grants  []Grant
	filters []string
	connack *packet.Connack
	id      string // Dropped's client identifier
}

// recorder keeps every event of a broker, in order, for a test to wait for
// and count.
type recorder struct {
	mu     sync.Mutex
	list   []event
	notify chan struct{}
}

// record listens to every event of b.
func record(b *Broker) *recorder {
	r := &recorder{notify: make(chan struct{}, 1)}
	b.On(Events{
		Client:           func(c *Client) { r.add(event{kind: "Client", client: c}) },
		ClientReady:      func(c *Client) { r.add(event{kind: "ClientReady", client: c}) },
		ClientDisconnect: func(c *Client) { r.add(event{kind: "ClientDisconnect", client: c}) },
		ClientError:      func(c *Client, err error) { r.add(event{kind: "ClientError", client: c, err: err}) },
		ConnectionError:  func(c *Client, err error) { r.add(event{kind: "ConnectionError", client: c, err: err}) },
		KeepaliveTimeout: func(c *Client) { r.add(event{kind: "KeepaliveTimeout", client: c}) },
		Publish:          func(m *Message, c *Client) { r.add(event{kind: "Publish", client: c, msg: m}) },
		Ack:              func(m *Message, c *Client) { r.add(event{kind: "Ack", client: c, msg: m}) },
		Ping:             func(c *Client) { r.add(event{kind: "Ping", client: c}) },
		Subscribe:        func(g []Grant, c *Client) { r.add(event{kind: "Subscribe", client: c, grants: g}) },
		Unsubscribe:      func(f []string, c *Client) { r.add(event{kind: "Unsubscribe", client: c, filters: f}) },
		ConnackSent:      func(p *packet.Connack, c *Client) { r.add(event{kind: "ConnackSent", client: c, connack: p}) },
		Dropped:          func(m *Message, id string, err error) { r.add(event{kind: "Dropped", msg: m, id: id, err: err}) },
		Closed:           func() { r.add(event{kind: "Closed"}) },
	})
	return r
}

func (r *recorder) add(e event) {
	r.mu.Lock()
	r.list = append(r.list, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// all returns the events of kind recorded so far that match accepts (nil:
// all of that kind).
func (r *recorder) all(kind string, match func(event) bool) []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event
	for _, e := range r.list {
		if e.kind == kind && (match == nil || match(e)) {
			out = append(out, e)
		}
	}
	return out
}

// kinds returns the kinds of the events recorded so far, in order.
func (r *recorder) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.list {
		out = append(out, e.kind)
	}
	return out
}

// waitN waits until n events of kind that match accepts were recorded, and
// returns them.
func (r *recorder) waitN(t *testing.T, n int, kind string, match func(event) bool) []event {
	t.Helper()
	timeout := time.After(brokertest.Wait)
	for {
		if got := r.all(kind, match); len(got) >= n {
			return got
		}
		select {
		case <-r.notify:
		case <-timeout:
			t.Fatalf("%d %s events, want %d", len(r.all(kind, match)), kind, n)
		}
	}
}

// wait waits for the first event of kind that match accepts.
func (r *recorder) wait(t *testing.T, kind string, match func(event) bool) event {
	t.Helper()
	return r.waitN(t, 1, kind, match)[0]
}

// of matches the events of the client with identifier id.
func of(id string) func(event) bool {
	return func(e event) bool { return e.client != nil && e.client.ID == id }
}
