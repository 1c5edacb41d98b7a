package brokertest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
)

// Wait is how long a Client waits for a packet, or for its connection to
// close, before it fails the test: long, so that a loaded machine running
// the race detector does not fail a correct broker.
const Wait = 10 * time.Second

// Client is a raw MQTT client over a real socket, for exact protocol tests.
// It sends what it is told and nothing more: no acknowledgement, no
// keep alive, no packet identifier of its own. A goroutine reads what the
// broker sends into a queue, so a test can wait for a packet with a timeout,
// or pick one out of several, without disturbing the stream.
//
// The embedded *mqtt.Conn sends packets (c.Puback(…), c.Pingreq(), …);
// the methods of Client read them and fail the test when the broker does not
// answer as it must. A Client is closed when its test ends.
type Client struct {
	*mqtt.Conn
	t   testing.TB
	rwc io.ReadWriteCloser

	mu     sync.Mutex
	in     []packet.Packet // received and not yet taken
	ended  bool            // the reader has returned
	endAt  time.Time       // when
	err    error           // why it returned
	notify chan struct{}   // capacity 1: the queue changed
	done   chan struct{}   // closed when the reader has returned
}

// Dial connects a Client that speaks version v to addr, over TCP. It sends
// nothing: send the CONNECT (or anything else) yourself.
func Dial(t testing.TB, addr string, v packet.Version) *Client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, Wait)
	if err != nil {
		t.Fatal(err)
	}
	return NewClient(t, nc, v)
}

// NewClient makes a Client over any stream, one end of net.Pipe for
// instance. It sends nothing.
func NewClient(t testing.TB, rwc io.ReadWriteCloser, v packet.Version) *Client {
	// The version is given up front: the reader starts before any CONNECT
	// is sent, and must decode what comes back at the right version.
	c := &Client{t: t, rwc: rwc, Conn: mqtt.NewConn(rwc, &mqtt.Options{Version: v}),
		notify: make(chan struct{}, 1), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() {
		c.Close()
		<-c.done
	})
	return c
}

func (c *Client) read() {
	defer close(c.done)
	for {
		p, err := c.ReadPacket()
		c.mu.Lock()
		if err != nil {
			c.ended, c.err, c.endAt = true, err, time.Now()
		} else {
			c.in = append(c.in, p)
		}
		c.mu.Unlock()
		select {
		case c.notify <- struct{}{}:
		default:
		}
		if err != nil {
			if c.Context().Err() == nil {
				c.Close() // a malformed packet or a timeout leaves it open
			}
			return
		}
	}
}

// Connect dials addr, sends p (at p.Version, 3.1.1 when zero) and returns
// the client with the broker's CONNACK, whatever its code. It fails the
// test if the broker answers anything else.
func Connect(t testing.TB, addr string, p *packet.Connect) (*Client, *packet.Connack) {
	t.Helper()
	if p.Version == 0 {
		p.Version = packet.V311
	}
	c := Dial(t, addr, p.Version)
	if err := c.Connect(p); err != nil {
		t.Fatal(err)
	}
	return c, Expect[*packet.Connack](c)
}

// MustConnect is Connect for a CONNECT the broker must accept.
func MustConnect(t testing.TB, addr string, p *packet.Connect) *Client {
	t.Helper()
	c, ack := Connect(t, addr, p)
	if ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK for %q: %v, want success", p.ClientID, ack.ReasonCode)
	}
	return c
}

// take waits for the first packet that match accepts (any packet when match
// is nil), removes it from the queue and returns it. It returns nil with the
// read error when the connection ends first, or nil, nil after d.
func (c *Client) take(match func(packet.Packet) bool, d time.Duration) (packet.Packet, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		c.mu.Lock()
		for i, p := range c.in {
			if match == nil || match(p) {
				c.in = append(c.in[:i], c.in[i+1:]...)
				c.mu.Unlock()
				return p, nil
			}
		}
		ended, err := c.ended, c.err
		c.mu.Unlock()
		if ended {
			return nil, err
		}
		select {
		case <-c.notify:
		case <-timer.C:
			return nil, nil
		}
	}
}

// Receive returns the next packet from the broker; nil and the read error
// once the connection has ended, or nil, nil after d. Unlike the methods
// that fail the test, it may be called from any goroutine.
func (c *Client) Receive(d time.Duration) (packet.Packet, error) { return c.take(nil, d) }

// Next returns the next packet from the broker, failing the test if none
// comes in time or the connection closes.
func (c *Client) Next() packet.Packet {
	c.t.Helper()
	p, err := c.take(nil, Wait)
	switch {
	case err != nil:
		c.t.Fatalf("connection closed while waiting for a packet: %v", err)
	case p == nil:
		c.t.Fatalf("no packet in %v", Wait)
	}
	return p
}

// Expect returns the next packet from c, failing the test unless it is a P.
func Expect[P packet.Packet](c *Client) P {
	c.t.Helper()
	p := c.Next()
	want, ok := p.(P)
	if !ok {
		c.t.Fatalf("got %v %+v, want %v", p.Type(), p, want.Type())
	}
	return want
}

// Find returns the first packet, received or to come, that match accepts,
// leaving the others queued in order; it fails the test if none comes in
// time. It picks an acknowledgement out of the deliveries around it.
func (c *Client) Find(what string, match func(packet.Packet) bool) packet.Packet {
	c.t.Helper()
	p, err := c.take(match, Wait)
	switch {
	case err != nil:
		c.t.Fatalf("connection closed while waiting for %s: %v", what, err)
	case p == nil:
		c.t.Fatalf("no %s in %v", what, Wait)
	}
	return p
}

// FindAck returns the acknowledgement of type t (PUBACK, PUBREC, PUBREL,
// PUBCOMP, SUBACK or UNSUBACK) for packet identifier id, with Find.
func (c *Client) FindAck(t packet.Type, id uint16) packet.Packet {
	c.t.Helper()
	return c.Find(t.String(), func(p packet.Packet) bool { return p.Type() == t && packetID(p) == id })
}

// packetID returns the packet identifier of an acknowledgement, 0 for other
// packets.
func packetID(p packet.Packet) uint16 {
	switch p := p.(type) {
	case *packet.Publish:
		return p.ID
	case *packet.Puback:
		return p.ID
	case *packet.Pubrec:
		return p.ID
	case *packet.Pubrel:
		return p.ID
	case *packet.Pubcomp:
		return p.ID
	case *packet.Suback:
		return p.ID
	case *packet.Unsuback:
		return p.ID
	}
	return 0
}

// NextPublish returns the next packet, failing the test unless it is a
// PUBLISH.
func (c *Client) NextPublish() *packet.Publish {
	c.t.Helper()
	return Expect[*packet.Publish](c)
}

// FindPublish returns the next PUBLISH, leaving other packets queued.
func (c *Client) FindPublish() *packet.Publish {
	c.t.Helper()
	return c.Find("PUBLISH", func(p packet.Packet) bool { return p.Type() == packet.TypePublish }).(*packet.Publish)
}

// ExpectNothing checks that no packet comes within d and the connection
// stays open. Use it only to prove that something does not happen.
func (c *Client) ExpectNothing(d time.Duration) {
	c.t.Helper()
	p, err := c.take(nil, d)
	switch {
	case err != nil:
		c.t.Fatalf("connection closed while expecting nothing: %v", err)
	case p != nil:
		c.t.Fatalf("unexpected %v: %+v", p.Type(), p)
	}
}

// ExpectClosed checks that the broker closes the connection in time,
// allowing only a DISCONNECT before (MQTT 5 says why) and no other packet.
func (c *Client) ExpectClosed() {
	c.t.Helper()
	c.untilClosed(func(p packet.Packet) bool { return p.Type() == packet.TypeDisconnect })
}

// WaitClosed waits for the connection to end, whatever comes before; it
// fails the test if it is still open after Wait.
func (c *Client) WaitClosed() {
	c.t.Helper()
	c.untilClosed(func(packet.Packet) bool { return true })
}

// untilClosed reads until the connection ends, failing the test on a packet
// allowed refuses or when it is still open after Wait.
func (c *Client) untilClosed(allowed func(packet.Packet) bool) {
	c.t.Helper()
	deadline := time.Now().Add(Wait)
	for {
		p, err := c.take(nil, time.Until(deadline))
		switch {
		case err != nil:
			return
		case p == nil:
			c.t.Fatalf("connection still open after %v", Wait)
		case !allowed(p):
			c.t.Fatalf("unexpected %v before close: %+v", p.Type(), p)
		}
	}
}

// Closed reports whether the connection has ended: the broker closed it, or
// it was closed locally.
func (c *Client) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}

// endedAt returns when the connection ended, zero while it is open.
func (c *Client) endedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endAt
}

// MustSubscribe sends a SUBSCRIBE with packet identifier id and returns the
// SUBACK, picked out of any deliveries around it.
func (c *Client) MustSubscribe(id uint16, subs ...packet.Subscription) *packet.Suback {
	c.t.Helper()
	if err := c.Subscribe(&packet.Subscribe{ID: id, Subscriptions: subs}); err != nil {
		c.t.Fatal(err)
	}
	ack := c.FindAck(packet.TypeSuback, id).(*packet.Suback)
	if len(ack.Reasons) != len(subs) {
		c.t.Fatalf("SUBACK %d has %d return codes for %d subscriptions", id, len(ack.Reasons), len(subs))
	}
	return ack
}

// MustUnsubscribe sends an UNSUBSCRIBE with packet identifier id and waits
// for its UNSUBACK.
func (c *Client) MustUnsubscribe(id uint16, filters ...string) {
	c.t.Helper()
	if err := c.Unsubscribe(&packet.Unsubscribe{ID: id, Filters: filters}); err != nil {
		c.t.Fatal(err)
	}
	c.FindAck(packet.TypeUnsuback, id)
}

// MustPublish sends p and completes the publisher's side of its flow: it
// waits for PUBACK (QoS 1), or for PUBREC, sends PUBREL and waits for
// PUBCOMP (QoS 2). Deliveries to c meanwhile stay queued.
func (c *Client) MustPublish(p *packet.Publish) {
	c.t.Helper()
	if err := c.Publish(p); err != nil {
		c.t.Fatal(err)
	}
	switch p.QoS {
	case packet.AtLeastOnce:
		c.FindAck(packet.TypePuback, p.ID)
	case packet.ExactlyOnce:
		c.FindAck(packet.TypePubrec, p.ID)
		c.Pubrel(&packet.Pubrel{ID: p.ID})
		c.FindAck(packet.TypePubcomp, p.ID)
	}
}

// Ack completes the receiver's side of the flow of a PUBLISH the broker
// sent: PUBACK for QoS 1; PUBREC, the broker's PUBREL, then PUBCOMP for
// QoS 2.
func (c *Client) Ack(p *packet.Publish) {
	c.t.Helper()
	switch p.QoS {
	case packet.AtLeastOnce:
		c.Puback(&packet.Puback{ID: p.ID})
	case packet.ExactlyOnce:
		c.Pubrec(&packet.Pubrec{ID: p.ID})
		c.FindAck(packet.TypePubrel, p.ID)
		c.Pubcomp(&packet.Pubcomp{ID: p.ID})
	}
}

// WriteRaw writes b to the stream as it is, past the connection's encoder
// and its checks (WriteEncoded decodes a CONNECT it is given), once what
// was sent before is written: for packets no codec would make.
func (c *Client) WriteRaw(b []byte) {
	c.t.Helper()
	if err := c.Flush(c.Context()); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.rwc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// Leave ends the session's connection properly: DISCONNECT, then close. It
// waits for the broker to close its side.
func (c *Client) Leave() {
	c.t.Helper()
	c.Disconnect(nil)
	c.Flush(c.Context())
	c.ExpectClosed()
}
