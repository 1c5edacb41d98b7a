package mqtt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// serveTCP serves srv on a loopback port and returns its address; the
// server is closed at the end of the test.
func serveTCP(t *testing.T, srv *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return l.Addr().String()
}

// smallSendBuffer is a ConnContext that shrinks the server side's socket
// send buffer, so that a peer that does not read fills it quickly.
func smallSendBuffer(ctx context.Context, rwc io.ReadWriteCloser) context.Context {
	rwc.(*net.TCPConn).SetWriteBuffer(4096)
	return ctx
}

// dialClient connects a client Conn to addr and reads the CONNACK.
func dialClient(t *testing.T, addr string) *Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := NewConn(nc, &Options{Version: packet.V311})
	t.Cleanup(func() { c.Close() })
	if err := c.Connect(&packet.Connect{ClientID: "c", CleanStart: true}); err != nil {
		t.Fatal(err)
	}
	expect(t, c, packet.TypeConnack)
	return c
}

// expect reads the next packet from c and fails t unless it has type want.
func expect(t *testing.T, c *Conn, want packet.Type) packet.Packet {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := c.ReadPacket()
	if err != nil || p.Type() != want {
		t.Fatalf("want %v, got %v (%v)", want, p, err)
	}
	return p
}

// TestServedConnWritesItsAnswers runs a connection that only has answers to
// send (CONNACK, PINGRESP, PUBACK, UNSUBACK), at the pace of an idle client:
// its reader writes them, and no writer goroutine ever starts. (A SUBACK
// goes out at once, through a writer: see sendNow.)
func TestServedConnWritesItsAnswers(t *testing.T) {
	old := writerLinger
	writerLinger = time.Hour // a writer started at any point would still run at the end
	// Restored last, once the connections and their writers are gone.
	t.Cleanup(func() { writerLinger = old })

	served := make(chan *Conn, 1)
	addr := serveTCP(t, &Server{Handler: &Events{
		Connect: func(_ context.Context, c *Conn, _ *packet.Connect) error {
			served <- c
			return c.Connack(&packet.Connack{})
		},
		Pingreq: func(_ context.Context, c *Conn, _ *packet.Pingreq) error { return c.Pingresp() },
		Publish: func(_ context.Context, c *Conn, p *packet.Publish) error { return c.Puback(&packet.Puback{ID: p.ID}) },
		Unsubscribe: func(_ context.Context, c *Conn, p *packet.Unsubscribe) error {
			return c.Unsuback(&packet.Unsuback{ID: p.ID})
		},
	}})
	c := dialClient(t, addr)
	sc := <-served
	for i := range 5 {
		time.Sleep(busyAnswers + 5*time.Millisecond)
		c.Pingreq()
		expect(t, c, packet.TypePingresp)
		time.Sleep(busyAnswers + 5*time.Millisecond)
		c.Publish(&packet.Publish{Topic: "t", QoS: 1, ID: uint16(i + 1)})
		expect(t, c, packet.TypePuback)
		time.Sleep(busyAnswers + 5*time.Millisecond)
		c.Unsubscribe(&packet.Unsubscribe{ID: uint16(i + 1), Filters: []string{"f"}})
		expect(t, c, packet.TypeUnsuback)
	}
	sc.mu.Lock()
	started, out := sc.running || sc.stopped, len(sc.out)
	sc.mu.Unlock()
	if started {
		t.Error("a writer goroutine was started for a connection with only its own answers to send")
	}
	if out != 0 || sc.hasBuffers() {
		t.Errorf("the idle connection holds output: %d bytes queued", out)
	}
}

// TestBusyConnUsesWriter: a connection whose answers come close together
// (a publisher streaming QoS 1) gets a writer goroutine, which writes while
// the reader reads.
func TestBusyConnUsesWriter(t *testing.T) {
	served := make(chan *Conn, 1)
	addr := serveTCP(t, &Server{Handler: &Events{
		Connect: func(_ context.Context, c *Conn, _ *packet.Connect) error {
			served <- c
			return c.Connack(&packet.Connack{})
		},
		Publish: func(_ context.Context, c *Conn, p *packet.Publish) error { return c.Puback(&packet.Puback{ID: p.ID}) },
	}})
	c := dialClient(t, addr)
	sc := <-served
	const n = 100
	for i := range n {
		c.Publish(&packet.Publish{Topic: "t", QoS: 1, ID: uint16(i + 1)})
	}
	for range n {
		expect(t, c, packet.TypePuback)
	}
	sc.mu.Lock()
	running := sc.running
	sc.mu.Unlock()
	if !running { // it lingers for a second after the last PUBACK
		t.Error("no writer goroutine for a connection streaming QoS 1")
	}
}

// hasBuffers reports whether c holds an output buffer.
func (c *Conn) hasBuffers() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out != nil
}

// TestInlinePeerThatDoesNotRead serves a peer that sends but never reads,
// while the server answers every packet with 64 KiB: the reader must go on
// reading and handling (its writes never wait: the socket's surplus goes to
// the writer goroutine), another goroutine sending to the connection must
// get ErrQueueFull rather than block, and Close must end it within
// CloseTimeout.
func TestInlinePeerThatDoesNotRead(t *testing.T) {
	const packets = 50
	var handled atomic.Int32
	served := make(chan *Conn, 1)
	big := &packet.Publish{Topic: "big", Payload: make([]byte, 64<<10)}
	srv := &Server{
		Options:     &Options{CloseTimeout: 200 * time.Millisecond},
		ConnContext: smallSendBuffer,
		Handler: &Events{
			Connect: func(_ context.Context, c *Conn, _ *packet.Connect) error {
				served <- c
				return c.Connack(&packet.Connack{})
			},
			Publish: func(_ context.Context, c *Conn, p *packet.Publish) error {
				handled.Add(1)
				if err := c.Publish(big); err != nil && !errors.Is(err, ErrQueueFull) {
					return err
				}
				return nil
			},
		},
	}
	addr := serveTCP(t, srv)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetReadBuffer(4096)
	var out []byte
	out, _ = (&packet.Connect{ClientID: "c", CleanStart: true}).Append(out, packet.V311)
	for range packets {
		out, _ = (&packet.Publish{Topic: "t", Payload: []byte("x")}).Append(out, packet.V311)
	}
	if _, err := nc.Write(out); err != nil { // small enough for the socket: it does not wait for the server
		t.Fatal(err)
	}
	sc := <-served

	deadline := time.Now().Add(5 * time.Second)
	for handled.Load() < packets && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := handled.Load(); n < packets {
		t.Fatalf("the server handled %d of %d packets from a peer that does not read: its reader is stuck writing", n, packets)
	}

	// Another goroutine sending to the stalled connection fills its queue
	// and is told so; no send waits.
	var full bool
	for i := 0; i < 1000 && !full; i++ {
		start := time.Now()
		err := sc.Publish(&packet.Publish{Topic: "t", Payload: make([]byte, 1024)})
		if d := time.Since(start); d > time.Second {
			t.Fatalf("a send to a stalled connection took %v", d)
		}
		switch {
		case errors.Is(err, ErrQueueFull):
			full = true
		case err != nil:
			t.Fatal(err)
		}
	}
	if !full {
		t.Error("the queue of a peer that does not read never filled")
	}

	start := time.Now()
	sc.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close of a stalled connection took %v, CloseTimeout is 200ms", d)
	}
}

// TestInlineOrder checks that the wire order is exactly the order of the
// send calls when the reader's answers and other goroutines' sends mix: the
// answers are large and the server's send buffer small, so inline writes
// are often partial, and writers linger for a moment only, so the reader
// and the writer take turns.
func TestInlineOrder(t *testing.T) {
	const (
		requests = 1000 // PUBLISHes from the client, each answered with 1 KiB
		senders  = 4    // goroutines publishing to the client meanwhile
		each     = 200
	)
	old := writerLinger
	writerLinger = time.Millisecond
	t.Cleanup(func() { writerLinger = old }) // last, once every writer is gone

	var (
		mu   sync.Mutex // held across each send and its log entry: the sends' order
		sent []string
	)
	record := func(send func() error, what string) error {
		mu.Lock()
		defer mu.Unlock()
		err := send()
		if err == nil {
			sent = append(sent, what)
		}
		return err
	}
	// publish sends p until it is queued, and fails t on any other error.
	publish := func(c *Conn, p *packet.Publish, what string) {
		for {
			err := record(func() error { return c.Publish(p) }, what)
			if !errors.Is(err, ErrQueueFull) {
				if err != nil {
					t.Error(err)
				}
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	srv := &Server{
		ConnContext: smallSendBuffer,
		Handler: &Events{
			Connect: func(_ context.Context, c *Conn, _ *packet.Connect) error {
				if err := record(func() error { return c.Connack(&packet.Connack{}) }, "connack"); err != nil {
					return err
				}
				for g := range senders {
					wg.Go(func() {
						for i := range each {
							publish(c, &packet.Publish{Topic: "o", Payload: binary.BigEndian.AppendUint32(make([]byte, 0, 4), uint32(g<<16|i))}, fmt.Sprintf("publish %d/%d", g, i))
							time.Sleep(time.Millisecond) // now and then the writer goes idle and exits
						}
					})
				}
				return nil
			},
			Publish: func(_ context.Context, c *Conn, p *packet.Publish) error {
				reply := &packet.Publish{Topic: "r", Payload: make([]byte, 1024)}
				copy(reply.Payload, p.Payload)
				publish(c, reply, "reply "+string(p.Payload))
				return nil
			},
		},
	}
	addr := serveTCP(t, srv)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.(*net.TCPConn).SetReadBuffer(16 << 10)
	c := NewConn(nc, &Options{Version: packet.V311})
	defer c.Close()
	c.Connect(&packet.Connect{ClientID: "c", CleanStart: true})
	go func() {
		for i := 0; i < requests; {
			switch err := c.Publish(&packet.Publish{Topic: "i", Payload: fmt.Appendf(nil, "%d", i)}); {
			case err == nil:
				i++
				time.Sleep(200 * time.Microsecond)
			case errors.Is(err, ErrQueueFull):
				time.Sleep(time.Millisecond)
			default:
				return
			}
		}
	}()

	var got []string
	for want := 1 + requests + senders*each; len(got) < want; {
		if len(got)%200 == 0 {
			time.Sleep(20 * time.Millisecond) // fill the server's socket now and then
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		p, err := c.ReadPacket()
		if err != nil {
			t.Fatalf("after %d packets: %v", len(got), err)
		}
		switch p := p.(type) {
		case *packet.Connack:
			got = append(got, "connack")
		case *packet.Publish:
			switch p.Topic {
			case "r":
				got = append(got, "reply "+string(bytes.TrimRight(p.Payload, "\x00")))
			case "o":
				n := binary.BigEndian.Uint32(p.Payload)
				got = append(got, fmt.Sprintf("publish %d/%d", n>>16, n&0xffff))
			}
		default:
			t.Fatalf("unexpected %v", p)
		}
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(sent) {
		t.Fatalf("received %d packets, sent %d", len(got), len(sent))
	}
	for i := range got {
		if got[i] != sent[i] {
			t.Fatalf("packet %d on the wire is %q, the send at that place was %q", i, got[i], sent[i])
		}
	}
}

// TestFlushInHandler: a handler that waits for its own answer to be written
// must not wait for its reader, which is busy running it.
func TestFlushInHandler(t *testing.T) {
	flushed := make(chan error, 1)
	addr := serveTCP(t, &Server{Handler: &Events{
		Connect: func(ctx context.Context, c *Conn, _ *packet.Connect) error {
			if err := c.Connack(&packet.Connack{}); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			flushed <- c.Flush(ctx)
			return nil
		},
	}})
	dialClient(t, addr)
	if err := <-flushed; err != nil {
		t.Errorf("Flush in the handler: %v", err)
	}
}

// TestInlineNotForOtherStreams: a stream that is not a socket of package
// net (here a net.Pipe) keeps the writer goroutine for every send.
func TestInlineNotForOtherStreams(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	srv := &Server{Handler: &Events{
		Connect: func(_ context.Context, c *Conn, _ *packet.Connect) error {
			if c.direct != nil {
				t.Error("inline writes on a net.Pipe")
			}
			return c.Connack(&packet.Connack{})
		},
	}}
	go srv.ServeConn(b)
	defer srv.Close()
	c := NewConn(a, &Options{Version: packet.V311})
	defer c.Close()
	c.Connect(&packet.Connect{ClientID: "c", CleanStart: true})
	expect(t, c, packet.TypeConnack)
}

// partialWriter is a directWriter that takes at most max bytes a call and
// runs during in the middle of each write, as a send from another goroutine
// would; fail makes every write fail.
type partialWriter struct {
	w      io.Writer
	max    int
	during func()
	fail   error
	calls  int
	short  int // calls that took less than they were given
}

func (f *partialWriter) writeNow(b []byte) (int, error) {
	f.calls++
	if f.fail != nil {
		return 0, f.fail
	}
	n := min(len(b), f.max)
	if n < len(b) {
		f.short++
	}
	if _, err := f.w.Write(b[:n]); err != nil {
		return 0, err
	}
	f.during()
	return n, nil
}

// newDirectConn returns a served Conn over rwc whose reader writes through
// w, and a goroutine that reads it, answering each packet with handle.
func newDirectConn(t *testing.T, rwc io.ReadWriteCloser, w directWriter, handle func(*Conn, packet.Packet)) *Conn {
	c := newConn(context.Background(), rwc, &Options{Version: packet.V311}, true)
	c.direct = w
	c.rd = packet.NewReader((*inlineStream)(c), 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			p, err := c.ReadPacket()
			if err != nil {
				return
			}
			handle(c, p)
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
	return c
}

// TestInlinePartialWrites makes every inline write take only a few bytes
// while other sends arrive during it: the rest of the batch must reach the
// wire before them, through the writer goroutine.
func TestInlinePartialWrites(t *testing.T) {
	const requests = 200
	oldLinger, oldBusy := writerLinger, busyAnswers
	writerLinger = time.Microsecond // the writer exits between requests: the next answer goes inline
	busyAnswers = 0                 // however close the requests
	t.Cleanup(func() { writerLinger, busyAnswers = oldLinger, oldBusy })

	var (
		mu    sync.Mutex
		sent  []string
		extra int
	)
	srvSide, cliSide := net.Pipe()
	pw := &partialWriter{w: srvSide, max: 7}
	var sc *Conn
	pw.during = func() {
		mu.Lock()
		defer mu.Unlock()
		extra++
		if err := sc.Publish(&packet.Publish{Topic: "x", Payload: fmt.Appendf(nil, "%d", extra)}); err != nil {
			t.Error(err)
		}
		sent = append(sent, fmt.Sprintf("x %d", extra))
	}
	sc = newDirectConn(t, srvSide, pw, func(c *Conn, p packet.Packet) {
		mu.Lock()
		defer mu.Unlock()
		in := p.(*packet.Publish)
		// send, not Publish: an answer the reader holds and writes itself,
		// as it does its acknowledgements (Publish would lift the hold).
		if err := c.send(&packet.Publish{Topic: "r", Payload: bytes.Repeat(in.Payload, 20)}); err != nil {
			t.Error(err)
		}
		sent = append(sent, "r "+string(in.Payload))
	})

	cl := NewConn(cliSide, &Options{Version: packet.V311})
	defer cl.Close()
	var got []string
	read := func() {
		p := expect(t, cl, packet.TypePublish).(*packet.Publish)
		if p.Topic == "r" {
			got = append(got, "r "+string(p.Payload[:3]))
		} else {
			got = append(got, "x "+string(p.Payload))
		}
	}
	for i := range requests {
		if err := cl.Publish(&packet.Publish{Topic: "q", Payload: fmt.Appendf(nil, "%03d", i)}); err != nil {
			t.Fatal(err)
		}
		// The answer's first bytes go inline, the send made meanwhile is
		// queued, the writer writes the answer's rest and then that send.
		read()
		read()
		// Wait for the writer to exit, so the next answer goes inline too.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Microsecond) {
			sc.mu.Lock()
			running := sc.running
			sc.mu.Unlock()
			if !running {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the writer did not exit")
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if pw.short != requests {
		t.Errorf("%d of %d answers were written inline in part, want all", pw.short, requests)
	}
	if !slices.Equal(got, sent) {
		t.Errorf("wire order differs from the send order:\n got %q\nsent %q", got, sent)
	}
}

// TestInlineWriteError: a failed inline write ends the connection with the
// write error as cause, and Close reports the lost output.
func TestInlineWriteError(t *testing.T) {
	boom := errors.New("boom")
	srvSide, cliSide := net.Pipe()
	defer cliSide.Close()
	sc := newDirectConn(t, srvSide, &partialWriter{fail: boom}, func(c *Conn, p packet.Packet) { c.Pingresp() })
	cl := NewConn(cliSide, &Options{Version: packet.V311})
	defer cl.Close()
	cl.Pingreq()
	select {
	case <-sc.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the connection did not end after a failed inline write")
	}
	if cause := context.Cause(sc.Context()); cause != boom {
		t.Errorf("cause %v, want %v", cause, boom)
	}
	if err := sc.Close(); err != boom {
		t.Errorf("Close returned %v, want the write error", err)
	}
	if err := sc.Pingresp(); !errors.Is(err, ErrClosed) || !errors.Is(err, boom) {
		t.Errorf("a send after the failure returned %v", err)
	}
}

// TestSlowHandlerHoldsNoDelivery blocks a connection's handler after it
// sent a SUBACK: the SUBACK, and a PUBLISH another goroutine sends to the
// connection meanwhile, arrive while the handler still waits. Only the
// answers wait for the reader.
func TestSlowHandlerHoldsNoDelivery(t *testing.T) {
	served := make(chan *Conn, 1)
	release := make(chan struct{})
	defer close(release)
	addr := serveTCP(t, &Server{Handler: &Events{
		Connect: func(_ context.Context, c *Conn, _ *packet.Connect) error {
			served <- c
			return c.Connack(&packet.Connack{})
		},
		Subscribe: func(_ context.Context, c *Conn, p *packet.Subscribe) error {
			if err := c.Suback(&packet.Suback{ID: p.ID, Reasons: []packet.ReasonCode{0}}); err != nil {
				return err
			}
			<-release // a slow store, a slow hook
			return nil
		},
	}})
	c := dialClient(t, addr)
	sc := <-served
	c.Subscribe(&packet.Subscribe{ID: 1, Subscriptions: []packet.Subscription{{Filter: "f"}}})
	expect(t, c, packet.TypeSuback)
	go sc.Publish(&packet.Publish{Topic: "f", Payload: []byte("live")})
	if p := expect(t, c, packet.TypePublish).(*packet.Publish); string(p.Payload) != "live" {
		t.Fatalf("got %q", p.Payload)
	}
}
