package broker

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
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

// client is a raw MQTT client over a real socket, for exact protocol tests.
// A goroutine reads its packets into a channel, so a test can wait for one
// with a timeout without disturbing the stream.
type client struct {
	t *testing.T
	*mqtt.Conn
	in  chan packet.Packet
	err chan error // the read error that ended the reader
}

// dial connects a client that speaks version v; its reader starts at once,
// so the version must be known before CONNECT is sent.
func dial(t *testing.T, addr string, v packet.Version) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, Conn: mqtt.NewConn(nc, &mqtt.Options{Version: v}), in: make(chan packet.Packet, 1024), err: make(chan error, 1)}
	go func() {
		for {
			p, err := c.ReadPacket()
			if err != nil {
				c.err <- err
				close(c.in)
				return
			}
			c.in <- p
		}
	}()
	t.Cleanup(func() { c.Close() })
	return c
}

// connect dials and connects, and checks the CONNACK.
func connect(t *testing.T, addr string, p *packet.Connect) (*client, *packet.Connack) {
	t.Helper()
	if p.Version == 0 {
		p.Version = packet.V311
	}
	c := dial(t, addr, p.Version)
	if err := c.Connect(p); err != nil {
		t.Fatal(err)
	}
	ack, ok := c.next().(*packet.Connack)
	if !ok {
		t.Fatalf("first packet is not CONNACK")
	}
	return c, ack
}

// next returns the next packet, failing the test after a few seconds.
func (c *client) next() packet.Packet {
	c.t.Helper()
	select {
	case p, ok := <-c.in:
		if !ok {
			c.t.Fatalf("connection closed: %v", <-c.err)
		}
		return p
	case <-time.After(5 * time.Second):
		c.t.Fatal("no packet in 5 s")
	}
	return nil
}

// expectNothing checks that no packet arrives within d.
func (c *client) expectNothing(d time.Duration) {
	c.t.Helper()
	select {
	case p, ok := <-c.in:
		if !ok {
			c.t.Fatalf("connection closed while expecting nothing: %v", <-c.err)
		}
		c.t.Fatalf("unexpected %v: %+v", p.Type(), p)
	case <-time.After(d):
	}
}

// expectClosed checks that the broker closes the connection, allowing only
// a DISCONNECT before.
func (c *client) expectClosed() {
	c.t.Helper()
	for {
		select {
		case p, ok := <-c.in:
			if !ok {
				return
			}
			if _, ok := p.(*packet.Disconnect); !ok {
				c.t.Fatalf("unexpected %v before close", p.Type())
			}
		case <-time.After(5 * time.Second):
			c.t.Fatal("connection still open")
		}
	}
}

// collect reads n packets and returns them by type, for flows whose order
// between types is free.
func (c *client) collect(n int) map[packet.Type][]packet.Packet {
	c.t.Helper()
	got := map[packet.Type][]packet.Packet{}
	for range n {
		p := c.next()
		got[p.Type()] = append(got[p.Type()], p)
	}
	return got
}

func (c *client) subscribe(id uint16, subs ...packet.Subscription) *packet.Suback {
	c.t.Helper()
	if err := c.Subscribe(&packet.Subscribe{ID: id, Subscriptions: subs}); err != nil {
		c.t.Fatal(err)
	}
	ack, ok := c.next().(*packet.Suback)
	if !ok || ack.ID != id {
		c.t.Fatalf("no SUBACK %d: %+v", id, ack)
	}
	return ack
}

func (c *client) publish(p *packet.Publish) {
	c.t.Helper()
	if err := c.Publish(p); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) nextPublish() *packet.Publish {
	c.t.Helper()
	p := c.next()
	pub, ok := p.(*packet.Publish)
	if !ok {
		c.t.Fatalf("got %v, want PUBLISH", p.Type())
	}
	return pub
}

var bg = context.Background()
