package mqtt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
)

// streamPair returns the two ends of a connected stream of one kind.
type streamPair struct {
	name string
	make func(t *testing.T) (a, b net.Conn)
}

var streamPairs = []streamPair{
	{"pipe", func(t *testing.T) (net.Conn, net.Conn) { return net.Pipe() }},
	{"tcp", tcpPair},
}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, _ := l.Accept()
		accepted <- nc
	}()
	a, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := recv(t, accepted, "accept")
	if b == nil {
		t.Fatal("accept failed")
	}
	return a, b
}

// TestConcurrentSenders publishes from many goroutines at once: every
// packet arrives intact, and each goroutine's packets arrive in its order.
func TestConcurrentSenders(t *testing.T) {
	checkLeaks(t)
	const senders, each = 8, 500
	for _, sp := range streamPairs {
		t.Run(sp.name, func(t *testing.T) {
			a, b := sp.make(t)
			client, server := mqtt.NewConn(a, nil), mqtt.NewConn(b, nil)
			defer client.Close()
			defer server.Close()

			var wg sync.WaitGroup
			for g := range senders {
				wg.Go(func() {
					for i := range each {
						if err := client.Publish(numbered(g, i)); err != nil {
							t.Errorf("sender %d, publish %d: %v", g, i, err)
							return
						}
					}
				})
			}
			next := make([]int, senders)
			for n := range senders * each {
				p, err := server.ReadPacket()
				if err != nil {
					t.Fatalf("packet %d: %v", n, err)
				}
				pub := p.(*packet.Publish)
				g, i := int(binary.BigEndian.Uint32(pub.Payload)), int(binary.BigEndian.Uint32(pub.Payload[4:]))
				if !reflect.DeepEqual(pub, numbered(g, i)) {
					t.Fatalf("packet %d damaged: %+v", n, pub)
				}
				if i != next[g] {
					t.Fatalf("sender %d: got publish %d, want %d", g, i, next[g])
				}
				next[g]++
			}
			wg.Wait()
		})
	}
}

// numbered is the i-th publish of sender g, of a length that varies with i
// so that framing errors show.
func numbered(g, i int) *packet.Publish {
	payload := make([]byte, 8+i%300)
	binary.BigEndian.PutUint32(payload, uint32(g))
	binary.BigEndian.PutUint32(payload[4:], uint32(i))
	for j := 8; j < len(payload); j++ {
		payload[j] = byte(g + i + j)
	}
	return &packet.Publish{Topic: fmt.Sprintf("s/%d", g), Payload: payload}
}

// countingConn counts the Write calls made on a net.Conn.
type countingConn struct {
	net.Conn
	writes atomic.Int32
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// TestBatching queues many packets while the peer does not read: they reach
// it in at most two writes (the one under way when they were queued, and one
// for all the rest), not one write each.
func TestBatching(t *testing.T) {
	checkLeaks(t)
	const n = 1000
	a, b := net.Pipe()
	cc := &countingConn{Conn: a}
	c := mqtt.NewConn(cc, nil)
	defer c.Close()
	defer b.Close()
	for i := range n {
		if err := c.Publish(numbered(0, i)); err != nil {
			t.Fatal(err)
		}
	}
	r := packet.NewReader(b, 0)
	for i := range n {
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !reflect.DeepEqual(p, numbered(0, i)) {
			t.Fatalf("packet %d: %+v", i, p)
		}
	}
	if w := cc.writes.Load(); w > 2 {
		t.Errorf("%d packets took %d writes, want at most 2", n, w)
	}
}

// TestQueueFull fills the output queue of a connection whose peer does not
// read: sends fail with ErrQueueFull past MaxPending and work again once the
// peer has read.
func TestQueueFull(t *testing.T) {
	checkLeaks(t)
	// A 3.1.1 PUBLISH of exactly 100 bytes: 2 of fixed header, 3 of topic.
	pub := &packet.Publish{Topic: "t", Payload: bytes.Repeat([]byte{'x'}, 95)}
	big := &packet.Publish{Topic: "t", Payload: make([]byte, 995)} // 1000 bytes
	tests := []struct {
		name       string
		maxPending int
		sends      []*packet.Publish
		accepted   int // sends accepted before the first ErrQueueFull
	}{
		{"ten fit in 1000 bytes", 1000, []*packet.Publish{pub, pub, pub, pub, pub, pub, pub, pub, pub, pub, pub}, 10},
		{"a packet over the limit when nothing is pending", 100, []*packet.Publish{big, pub}, 1},
		{"nothing more while it is unwritten", 100, []*packet.Publish{big, big}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			c := mqtt.NewConn(a, &mqtt.Options{MaxPending: tt.maxPending})
			defer c.Close()
			defer b.Close() // first: the last send is never read
			var sent int
			for i, p := range tt.sends {
				err := c.Publish(p)
				if i < tt.accepted {
					if err != nil {
						t.Fatalf("send %d: %v", i, err)
					}
					sent += len(mustEncode(t, p, packet.V311))
					continue
				}
				if !errors.Is(err, mqtt.ErrQueueFull) {
					t.Fatalf("send %d: %v, want ErrQueueFull", i, err)
				}
			}
			if c.Context().Err() != nil {
				t.Fatal("a full queue closed the connection")
			}
			// The peer reads what was accepted; then sends work again.
			if _, err := io.ReadFull(b, make([]byte, sent)); err != nil {
				t.Fatal(err)
			}
			if err := c.Flush(deadline(t)); err != nil {
				t.Fatal(err)
			}
			if err := c.Publish(pub); err != nil {
				t.Fatalf("send after the peer read: %v", err)
			}
		})
	}
}

// TestClose closes a connection whose ReadPacket is blocked, twice and from
// two goroutines: ReadPacket wakes with ErrClosed, every Close returns nil,
// and the peer sees the end of the stream.
func TestClose(t *testing.T) {
	checkLeaks(t)
	for _, sp := range streamPairs {
		t.Run(sp.name, func(t *testing.T) {
			a, b := sp.make(t)
			defer b.Close()
			c := mqtt.NewConn(a, nil)
			read := make(chan error, 1)
			go func() {
				_, err := c.ReadPacket()
				read <- err
			}()
			closed := make(chan error, 2)
			for range 2 {
				go func() { closed <- c.Close() }()
			}
			for range 2 {
				if err := recv(t, closed, "Close"); err != nil {
					t.Errorf("Close = %v", err)
				}
			}
			if err := c.Close(); err != nil {
				t.Errorf("third Close = %v", err)
			}
			if err := recv(t, read, "ReadPacket to wake"); !errors.Is(err, mqtt.ErrClosed) {
				t.Errorf("ReadPacket = %v, want ErrClosed", err)
			}
			if cause := context.Cause(c.Context()); cause != mqtt.ErrClosed {
				t.Errorf("cause %v, want ErrClosed", cause)
			}
			if err := c.Pingreq(); !errors.Is(err, mqtt.ErrClosed) {
				t.Errorf("send after Close = %v, want ErrClosed", err)
			}
			if got := readAll(t, b); len(got) != 0 {
				t.Errorf("peer got % x", got)
			}
		})
	}
}

// TestSendDuringClose sends from many goroutines while the connection is
// closed: each send either succeeds or fails with ErrClosed, and the peer
// gets every succeeded send, in each sender's order, and nothing else.
func TestSendDuringClose(t *testing.T) {
	checkLeaks(t)
	const senders = 4
	a, b := tcpPair(t)
	c := mqtt.NewConn(a, nil)
	var wg sync.WaitGroup
	sent := make([]int, senders)
	start := make(chan struct{})
	for g := range senders {
		wg.Go(func() {
			<-start
			for i := 0; ; i++ {
				err := c.Publish(numbered(g, i))
				if errors.Is(err, mqtt.ErrClosed) {
					return
				}
				if err != nil && !errors.Is(err, mqtt.ErrQueueFull) {
					t.Errorf("sender %d: %v", g, err)
					return
				}
				if err == nil {
					sent[g] = i + 1
				} else {
					i-- // full: try the same one again
				}
			}
		})
	}
	received := make(chan []int, 1)
	first := make(chan struct{})
	go func() {
		next := make([]int, senders)
		r := packet.NewReader(b, 0)
		for n := 0; ; n++ {
			p, err := r.ReadPacket()
			if err != nil {
				received <- next
				return
			}
			if n == 0 {
				close(first)
			}
			pub := p.(*packet.Publish)
			g, i := int(binary.BigEndian.Uint32(pub.Payload)), int(binary.BigEndian.Uint32(pub.Payload[4:]))
			if i != next[g] || !reflect.DeepEqual(pub, numbered(g, i)) {
				t.Errorf("sender %d: got publish %d, want %d", g, i, next[g])
			}
			next[g]++
		}
	}()
	close(start)
	recv(t, first, "the first publish") // close while the senders run
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	got := recv(t, received, "the peer to read to the end")
	b.Close()
	if !reflect.DeepEqual(got, sent) {
		t.Errorf("peer got %v publishes per sender, %v were accepted", got, sent)
	}
}

// TestCloseFlushes closes with output queued: the peer gets all of it, then
// the end of the stream.
func TestCloseFlushes(t *testing.T) {
	checkLeaks(t)
	a, b := net.Pipe()
	defer b.Close()
	c := mqtt.NewConn(a, nil)
	for i := range 100 {
		if err := c.Publish(numbered(1, i)); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }() // blocks until the peer reads
	got := decodeAll(t, readAll(t, b), packet.V311)
	if len(got) != 100 {
		t.Fatalf("peer got %d packets, want 100", len(got))
	}
	for i, p := range got {
		if !reflect.DeepEqual(p, numbered(1, i)) {
			t.Fatalf("packet %d: %+v", i, p)
		}
	}
	if err := recv(t, closed, "Close"); err != nil {
		t.Errorf("Close = %v", err)
	}
}

// opaque hides every method of a stream but Read, Write and Close: no
// deadlines, no addresses.
type opaque struct{ io.ReadWriteCloser }

// TestCloseTimeout closes a connection whose peer never reads: Close gives
// up after CloseTimeout, through a write deadline or, for a stream without
// deadlines, by closing the stream, and reports the lost output.
func TestCloseTimeout(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name string
		wrap func(net.Conn) io.ReadWriteCloser
		want error
	}{
		{"write deadline", func(c net.Conn) io.ReadWriteCloser { return c }, os.ErrDeadlineExceeded},
		{"no deadlines", func(c net.Conn) io.ReadWriteCloser { return opaque{c} }, io.ErrClosedPipe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer b.Close()
			c := mqtt.NewConn(tt.wrap(a), &mqtt.Options{CloseTimeout: 20 * time.Millisecond})
			if err := c.Pingreq(); err != nil {
				t.Fatal(err)
			}
			closed := make(chan error, 1)
			go func() { closed <- c.Close() }()
			if err := recv(t, closed, "Close to give up"); !errors.Is(err, tt.want) {
				t.Errorf("Close = %v, want %v", err, tt.want)
			}
			if err := c.Flush(deadline(t)); !errors.Is(err, tt.want) {
				t.Errorf("Flush of the lost output = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestPeerClose ends the stream from the peer's side: ReadPacket reports it,
// and the context is cancelled with it as the cause.
func TestPeerClose(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name string
		send []byte // before the peer closes
		want error
	}{
		{"between packets", []byte{0xC0, 0x00}, io.EOF},
		{"inside a packet", []byte{0xC0, 0x00, 0x30, 0x10, 0x00}, io.ErrUnexpectedEOF},
	}
	for _, sp := range streamPairs {
		for _, tt := range tests {
			t.Run(sp.name+"/"+tt.name, func(t *testing.T) {
				a, b := sp.make(t)
				c := mqtt.NewConn(a, nil)
				defer c.Close()
				go func() {
					b.Write(tt.send)
					b.Close()
				}()
				if p, err := c.ReadPacket(); err != nil || p.Type() != packet.TypePingreq {
					t.Fatalf("first packet: %v, %v", p, err)
				}
				if _, err := c.ReadPacket(); err != tt.want {
					t.Fatalf("ReadPacket = %v, want %v", err, tt.want)
				}
				recv(t, c.Context().Done(), "the context to end")
				if cause := context.Cause(c.Context()); cause != tt.want {
					t.Errorf("cause %v, want %v", cause, tt.want)
				}
				err := c.Pingreq()
				if !errors.Is(err, mqtt.ErrClosed) || !errors.Is(err, tt.want) {
					t.Errorf("send after the peer closed = %v, want ErrClosed wrapping %v", err, tt.want)
				}
				if err := c.Close(); err != nil {
					t.Errorf("Close = %v", err)
				}
			})
		}
	}
}

// TestWriteError sends to a peer that has gone: the write error ends the
// connection, and Flush and Close report it.
func TestWriteError(t *testing.T) {
	checkLeaks(t)
	a, b := net.Pipe()
	b.Close()
	c := mqtt.NewConn(a, nil)
	if err := c.Pingreq(); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(deadline(t)); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("Flush = %v, want %v", err, io.ErrClosedPipe)
	}
	if cause := context.Cause(c.Context()); cause != io.ErrClosedPipe {
		t.Errorf("cause %v", cause)
	}
	if err := c.Close(); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("Close = %v", err)
	}
}

// TestFlush waits for output a peer reads late, and gives up with its
// context.
func TestFlush(t *testing.T) {
	checkLeaks(t)
	a, b := net.Pipe()
	defer b.Close()
	c := mqtt.NewConn(a, nil)
	defer c.Close()
	if err := c.Flush(deadline(t)); err != nil {
		t.Fatalf("Flush with nothing queued = %v", err)
	}
	if err := c.Publish(numbered(0, 1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stop waiting")
	flushed := make(chan error, 1)
	go func() { flushed <- c.Flush(ctx) }()
	cancel(stop)
	if err := recv(t, flushed, "Flush"); err != stop {
		t.Fatalf("Flush while the peer does not read = %v, want the context's cause", err)
	}
	go func() { flushed <- c.Flush(deadline(t)) }()
	p, err := packet.NewReader(b, 0).ReadPacket()
	if err != nil || !reflect.DeepEqual(p, numbered(0, 1)) {
		t.Fatalf("peer read %v, %v", p, err)
	}
	if err := recv(t, flushed, "Flush"); err != nil {
		t.Errorf("Flush after the peer read = %v", err)
	}
}

// TestVersion checks the version each side takes, and what it encodes.
func TestVersion(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name    string
		opt     packet.Version
		connect packet.Version
		want    packet.Version
	}{
		{"default", 0, 0, packet.V311},
		{"from options", packet.V5, 0, packet.V5},
		{"from the packet", 0, packet.V31, packet.V31},
		{"packet over options", packet.V5, packet.V311, packet.V311},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := net.Pipe()
			client := mqtt.NewConn(a, &mqtt.Options{Version: tt.opt})
			server := mqtt.NewConn(b, nil)
			defer client.Close()
			defer server.Close()
			if client.Version() != tt.opt || server.Version() != 0 {
				t.Fatalf("before CONNECT: client %v, server %v", client.Version(), server.Version())
			}
			if err := client.Connect(&packet.Connect{Version: tt.connect, ClientID: "v"}); err != nil {
				t.Fatal(err)
			}
			if err := client.Disconnect(&packet.Disconnect{ReasonCode: packet.ServerBusy}); err != nil {
				t.Fatal(err)
			}
			if client.Version() != tt.want {
				t.Errorf("client Version() = %v, want %v", client.Version(), tt.want)
			}
			p, err := server.ReadPacket()
			if err != nil {
				t.Fatal(err)
			}
			if got := p.(*packet.Connect).Version; got != tt.want {
				t.Errorf("CONNECT on the wire has version %v, want %v", got, tt.want)
			}
			if server.Version() != tt.want {
				t.Errorf("server Version() = %v, want %v", server.Version(), tt.want)
			}
			// The DISCONNECT after it was encoded at that version: its
			// reason code exists in MQTT 5 only.
			p, err = server.ReadPacket()
			wantCode := packet.NormalDisconnection
			if tt.want == packet.V5 {
				wantCode = packet.ServerBusy
			}
			if err != nil || p.(*packet.Disconnect).ReasonCode != wantCode {
				t.Errorf("DISCONNECT read as %+v, %v; want reason %v", p, err, wantCode)
			}
		})
	}
	t.Run("a second CONNECT does not change it", func(t *testing.T) {
		a, b := net.Pipe()
		server := mqtt.NewConn(b, nil)
		defer server.Close()
		defer a.Close()
		go func() {
			a.Write(mustEncode(t, &packet.Connect{Version: packet.V5, ClientID: "a"}, packet.V5))
			a.Write(mustEncode(t, &packet.Connect{Version: packet.V311, ClientID: "a"}, packet.V311))
		}()
		for range 2 {
			if _, err := server.ReadPacket(); err != nil {
				t.Fatal(err)
			}
		}
		if server.Version() != packet.V5 {
			t.Errorf("Version() = %v, want 5.0", server.Version())
		}
	})
}

// TestMalformedRead reads a malformed packet: the error carries its reason
// code, and the connection stays open for the answer.
func TestMalformedRead(t *testing.T) {
	checkLeaks(t)
	a, b := net.Pipe()
	defer b.Close()
	c := mqtt.NewConn(a, &mqtt.Options{Version: packet.V5})
	defer c.Close()
	go b.Write([]byte{0xC0, 0x01, 0x00}) // PINGREQ with a body
	_, err := c.ReadPacket()
	var pe *packet.Error
	var rc packet.ReasonCode
	if !errors.As(err, &pe) || !errors.As(err, &rc) || rc != packet.MalformedPacket {
		t.Fatalf("ReadPacket = %v, want a *packet.Error with MalformedPacket", err)
	}
	if _, again := c.ReadPacket(); again != err {
		t.Errorf("second ReadPacket = %v, want the same error", again)
	}
	if c.Context().Err() != nil {
		t.Fatal("the connection ended before the caller could answer")
	}
	if err := c.Disconnect(&packet.Disconnect{ReasonCode: rc}); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- c.CloseWithCause(err) }()
	got := decodeAll(t, readAll(t, b), packet.V5)
	if want := []packet.Packet{&packet.Disconnect{ReasonCode: packet.MalformedPacket}}; !reflect.DeepEqual(got, want) {
		t.Errorf("peer got %v", got)
	}
	recv(t, closed, "Close")
	if cause := context.Cause(c.Context()); cause != err {
		t.Errorf("cause %v, want %v", cause, err)
	}
}

// TestReadDeadline passes read deadlines to the stream; a timeout leaves the
// connection open to answer.
func TestReadDeadline(t *testing.T) {
	checkLeaks(t)
	a, b := tcpPair(t)
	defer b.Close()
	c := mqtt.NewConn(a, nil)
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadPacket(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadPacket = %v, want a timeout", err)
	}
	if c.Context().Err() != nil {
		t.Fatal("a timeout ended the connection")
	}
	if err := c.Pingresp(); err != nil {
		t.Fatal(err)
	}
	if p, err := packet.NewReader(b, 0).ReadPacket(); err != nil || p.Type() != packet.TypePingresp {
		t.Errorf("peer read %v, %v", p, err)
	}

	o := mqtt.NewConn(opaque{b}, nil)
	defer o.Close()
	if err := o.SetReadDeadline(time.Now()); err != os.ErrNoDeadline {
		t.Errorf("SetReadDeadline on a stream without deadlines = %v", err)
	}
	if o.RemoteAddr() != nil || o.LocalAddr() != nil {
		t.Error("addresses of a stream that has none")
	}
	if c.RemoteAddr().String() != b.LocalAddr().String() || c.LocalAddr().String() != b.RemoteAddr().String() {
		t.Errorf("addresses %v %v", c.LocalAddr(), c.RemoteAddr())
	}
}

// TestWriteEncoded sends one encoded PUBLISH to many connections, and checks
// that sends fail at once, queueing nothing, on an encoding error.
func TestWriteEncoded(t *testing.T) {
	checkLeaks(t)
	enc := mustEncode(t, &packet.Publish{Topic: "fan/out", Payload: []byte("once"), QoS: 1, ID: 9}, packet.V311)
	var peers []net.Conn
	for range 3 {
		a, b := net.Pipe()
		defer b.Close()
		c := mqtt.NewConn(a, nil)
		defer c.Close()
		if err := c.Publish(&packet.Publish{Topic: "t", QoS: 1}); err == nil {
			t.Fatal("a QoS 1 PUBLISH without an ID was accepted")
		}
		if err := c.Auth(&packet.Auth{}); err == nil {
			t.Fatal("an AUTH was accepted for 3.1.1")
		}
		if err := c.WriteEncoded(enc); err != nil {
			t.Fatal(err)
		}
		if err := c.WriteEncoded([]byte{0x20}); err == nil {
			t.Fatal("WriteEncoded of one byte was accepted")
		}
		peers = append(peers, b)
	}
	for _, b := range peers {
		got := make([]byte, len(enc))
		if _, err := io.ReadFull(b, got); err != nil || !bytes.Equal(got, enc) {
			t.Errorf("peer got % x, %v; want % x", got, err, enc)
		}
	}

	a, b := net.Pipe()
	c := mqtt.NewConn(a, nil)
	defer c.Close()
	defer b.Close() // first: the CONNACK is never read
	if err := c.WriteEncoded([]byte{0x20, 0x02, 0x00, 0x05}); err != nil {
		t.Fatal(err)
	}
	if rc, ok := c.ConnackCode(); !ok || rc != packet.NotAuthorized {
		t.Errorf("ConnackCode() after an encoded CONNACK = %v, %v", rc, ok)
	}
}

// TestEvents uses Events on the client side of a connection: each packet
// reaches its function, and Error and Close come last, once.
func TestEvents(t *testing.T) {
	checkLeaks(t)
	tests := []struct {
		name  string
		peer  []byte // what the server sends, then it closes
		close bool   // the client closes after reading what it could
		want  []string
	}{
		{"orderly", []byte{0x20, 0x02, 0x00, 0x00, 0xD0, 0x00}, true,
			[]string{"CONNACK", "PINGRESP", "close: mqtt: connection closed"}},
		{"peer closes", []byte{0x20, 0x02, 0x00, 0x00}, false,
			[]string{"CONNACK", "close: EOF"}},
		{"malformed", []byte{0x20, 0x02, 0x00, 0x00, 0xD0, 0x01, 0x00}, false,
			[]string{"CONNACK", "error: packet: PINGRESP with a body", "close: packet: PINGRESP with a body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			note := func(s string) { got = append(got, s) }
			ev := &mqtt.Events{
				Connack: func(ctx context.Context, c *mqtt.Conn, p *packet.Connack) error {
					note("CONNACK")
					return nil
				},
				Pingresp: func(ctx context.Context, c *mqtt.Conn, p *packet.Pingresp) error {
					note("PINGRESP")
					return nil
				},
				Error: func(c *mqtt.Conn, err error) { note("error: " + err.Error()) },
				Close: func(c *mqtt.Conn, cause error) { note("close: " + cause.Error()) },
			}
			a, b := net.Pipe()
			c := mqtt.NewConn(a, nil)
			go func() {
				b.Write(tt.peer)
				if !tt.close {
					b.Close()
				}
			}()
			defer b.Close()
			var err error
			for err == nil {
				var p packet.Packet
				if p, err = c.ReadPacket(); err == nil {
					err = ev.ServeMQTT(c.Context(), c, p)
				}
				if tt.close && len(got) == len(tt.want)-1 {
					break
				}
			}
			c.CloseWithCause(err)
			c.Close() // a second Close calls nothing more
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events %q, want %q", got, tt.want)
			}
		})
	}
}

// TestServerContexts checks that a connection's context carries the values
// of BaseContext and ConnContext, but not their cancellation, and that a
// handler's panic ends only its connection.
func TestServerContexts(t *testing.T) {
	checkLeaks(t)
	type key string
	base, cancel := context.WithCancel(context.WithValue(context.Background(), key("base"), "b"))
	cancel()
	seen := make(chan string, 2)
	srv := &mqtt.Server{
		BaseContext: func(net.Listener) context.Context { return base },
		ConnContext: func(ctx context.Context, rwc io.ReadWriteCloser) context.Context {
			return context.WithValue(ctx, key("conn"), rwc.(net.Conn).RemoteAddr().String())
		},
		Logger: discardLogger,
		Handler: mqtt.HandlerFunc(func(ctx context.Context, c *mqtt.Conn, p packet.Packet) error {
			switch p.Type() {
			case packet.TypeConnect:
				seen <- fmt.Sprint(ctx.Value(key("base")), " ", ctx.Value(key("conn")) == c.RemoteAddr().String(), " ", ctx.Err())
				return c.Connack(&packet.Connack{})
			case packet.TypePublish:
				panic("handler bug")
			}
			return nil
		}),
	}
	dial := startTCP(t, srv)
	for range 2 {
		rwc, _ := rawConnect(t, dial, packet.V311)
		if got := recv(t, seen, "CONNECT"); got != "b true <nil>" {
			t.Errorf("handler context: %s", got)
		}
		rwc.Write(mustEncode(t, &packet.Publish{Topic: "boom"}, packet.V311))
		if got := readAll(t, rwc); len(got) != 0 {
			t.Errorf("peer of a panicking handler got % x", got)
		}
	}
}

// TestPeerMaximumPacketSize reads a CONNECT that announces a Maximum Packet
// Size over TCP: a larger packet is refused with ErrPacketTooLarge and not
// sent, the connection stays open, and the packets around it arrive.
func TestPeerMaximumPacketSize(t *testing.T) {
	checkLeaks(t)
	a, b := tcpPair(t)
	client := mqtt.NewConn(a, nil)
	server := mqtt.NewConn(b, nil)
	defer client.Close()
	defer server.Close()
	const limit = 64
	if err := client.Connect(&packet.Connect{Version: packet.V5, ClientID: "m",
		Props: &packet.Properties{MaximumPacketSize: limit}}); err != nil {
		t.Fatal(err)
	}
	if _, err := server.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	small := &packet.Publish{Topic: "t", Payload: make([]byte, 10)}
	large := &packet.Publish{Topic: "t", Payload: make([]byte, limit)}
	if err := server.Publish(small); err != nil {
		t.Fatal(err)
	}
	if err := server.Publish(large); !errors.Is(err, mqtt.ErrPacketTooLarge) {
		t.Fatalf("large PUBLISH: %v, want ErrPacketTooLarge", err)
	}
	// Exactly at the limit is allowed: 2 bytes of fixed header, 3 of topic,
	// 1 of properties length.
	exact := &packet.Publish{Topic: "t", Payload: make([]byte, limit-6)}
	if err := server.Publish(exact); err != nil {
		t.Fatalf("PUBLISH of exactly %d bytes: %v", limit, err)
	}
	for _, want := range []int{10, limit - 6} {
		p, err := client.ReadPacket()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(p.(*packet.Publish).Payload); got != want {
			t.Fatalf("read a PUBLISH of %d payload bytes, want %d", got, want)
		}
	}
}
