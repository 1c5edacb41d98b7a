package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

// pending returns what the broker holds for a session: in flight, queued.
func pending(t *testing.T, b *Broker, id string) (inflight, queued int) {
	t.Helper()
	s := b.sessions.Session(id)
	if s == nil {
		t.Fatalf("no session %q", id)
	}
	return s.Pending()
}

// TestVanishMidQoS2Inbound: a publisher gone between PUBREC and PUBREL
// leaves its packet identifier held in its persistent session: when it
// comes back, its PUBLISH sent again is not delivered again, its PUBREL
// completes the flow, and the identifier is free afterwards.
func TestVanishMidQoS2Inbound(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			b, addr := startBroker(t, nil)
			ev := record(b)
			sub := connect(t, addr, "sub", v, true)
			sub.MustSubscribe(1, packet.Subscription{Filter: "in", QoS: 2})
			pub := connect(t, addr, "pub", v, false)
			pub.Publish(&packet.Publish{Topic: "in", Payload: []byte("once"), QoS: 2, ID: 7})
			brokertest.Expect[*packet.Pubrec](pub)
			pub.Close()
			ev.wait(t, "ClientDisconnect", of("pub"))

			pub = connect(t, addr, "pub", v, false)
			pub.Publish(&packet.Publish{Topic: "in", Payload: []byte("once"), QoS: 2, ID: 7, Dup: true})
			if r := brokertest.Expect[*packet.Pubrec](pub); r.ID != 7 {
				t.Fatalf("PUBREC %d", r.ID)
			}
			pub.Pubrel(&packet.Pubrel{ID: 7})
			brokertest.Expect[*packet.Pubcomp](pub)
			got := sub.NextPublish()
			if string(got.Payload) != "once" {
				t.Fatalf("got %+v", got)
			}
			sub.Ack(got)
			sub.ExpectNothing(quiet)

			// Gone after PUBREL, before PUBCOMP: the PUBREL again is
			// answered, and nothing is delivered.
			pub.Publish(&packet.Publish{Topic: "in", Payload: []byte("twice"), QoS: 2, ID: 7})
			brokertest.Expect[*packet.Pubrec](pub)
			pub.Pubrel(&packet.Pubrel{ID: 7})
			pub.Close()
			pub = connect(t, addr, "pub", v, false)
			pub.Pubrel(&packet.Pubrel{ID: 7})
			brokertest.Expect[*packet.Pubcomp](pub)
			if got := sub.NextPublish(); string(got.Payload) != "twice" {
				t.Fatalf("got %+v", got)
			} else {
				sub.Ack(got)
			}
			sub.ExpectNothing(quiet)
		})
	}
}

// TestVanishMidQoS2Outbound: a subscriber gone in the middle of a QoS 2
// delivery, before its PUBREC or after it, gets the flow completed when it
// comes back, once, and the broker holds nothing for it afterwards.
func TestVanishMidQoS2Outbound(t *testing.T) {
	for _, v := range versions {
		for _, tc := range []struct {
			name string
			gone func(c *brokertest.Client, p *packet.Publish) // before it vanishes
			back func(c *brokertest.Client, id uint16)         // when it is back
		}{
			{"before PUBREC", func(*brokertest.Client, *packet.Publish) {}, func(c *brokertest.Client, id uint16) {
				p := c.NextPublish()
				if !p.Dup || p.ID != id || string(p.Payload) != "m" {
					t.Fatalf("redelivery %+v, want DUP with id %d", p, id)
				}
				c.Ack(p)
			}},
			{"after PUBREC", func(c *brokertest.Client, p *packet.Publish) {
				c.Pubrec(&packet.Pubrec{ID: p.ID})
				c.FindAck(packet.TypePubrel, p.ID)
			}, func(c *brokertest.Client, id uint16) {
				if r := brokertest.Expect[*packet.Pubrel](c); r.ID != id {
					t.Fatalf("PUBREL %d, want %d", r.ID, id)
				}
				c.Pubcomp(&packet.Pubcomp{ID: id})
			}},
			{"PUBREC lost", func(c *brokertest.Client, p *packet.Publish) {
				c.Pubrec(&packet.Pubrec{ID: p.ID})
				// gone before the PUBREL is read: the broker sent it
			}, func(c *brokertest.Client, id uint16) {
				if r := brokertest.Expect[*packet.Pubrel](c); r.ID != id {
					t.Fatalf("PUBREL %d, want %d", r.ID, id)
				}
				c.Pubcomp(&packet.Pubcomp{ID: id})
			}},
		} {
			t.Run(v.String()+"/"+tc.name, func(t *testing.T) {
				b, addr := startBroker(t, nil)
				ev := record(b)
				sub := connect(t, addr, "sub", v, false)
				sub.MustSubscribe(1, packet.Subscription{Filter: "out", QoS: 2})
				pub := connect(t, addr, "pub", v, true)
				pub.MustPublish(&packet.Publish{Topic: "out", Payload: []byte("m"), QoS: 2, ID: 1})
				p := sub.NextPublish()
				tc.gone(sub, p)
				sub.Pingreq() // what it sent has been handled
				sub.Find("PINGRESP", func(p packet.Packet) bool { return p.Type() == packet.TypePingresp })
				sub.Close()
				ev.wait(t, "ClientDisconnect", of("sub"))

				sub = connect(t, addr, "sub", v, false)
				tc.back(sub, p.ID)
				sub.ExpectNothing(quiet)
				if in, q := pending(t, b, "sub"); in != 0 || q != 0 {
					t.Fatalf("broker holds %d in flight, %d queued after the flow completed", in, q)
				}
				if n := len(ev.all("Ack", of("sub"))); n != 1 {
					t.Fatalf("%d Ack events, want 1", n)
				}
			})
		}
	}
}

// TestSlowSubscriber: a subscriber that never reads its socket does not
// slow the publisher or the other subscribers down; the broker holds at
// most MaxPending bytes for it and drops the rest, telling each drop.
func TestSlowSubscriber(t *testing.T) {
	const (
		n          = 20000
		size       = 1024
		maxPending = 256 << 10
		window     = 64 // the publisher runs at most this far ahead of the fast subscriber
	)
	b, addr := startBroker(t, &Options{MaxPending: maxPending})
	ev := record(b)
	var dropped, droppedOthers atomic.Int64
	b.On(Events{Dropped: func(m *Message, id string, err error) {
		if id == "frozen" && errors.Is(err, mqtt.ErrQueueFull) {
			dropped.Add(1)
		} else {
			droppedOthers.Add(1)
		}
	}})

	// The frozen subscriber: a socket that is never read, with a small
	// receive buffer so that the kernel holds little for it.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	frozen, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer frozen.Close()
	var raw []byte
	raw, _ = (&packet.Connect{ClientID: "frozen", CleanStart: true}).Append(raw, packet.V311)
	raw, _ = (&packet.Subscribe{ID: 1, Subscriptions: []packet.Subscription{{Filter: "load/#"}}}).Append(raw, packet.V311)
	if _, err := frozen.Write(raw); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, "Subscribe", of("frozen"))

	fast := connect(t, addr, "fast", packet.V311, true)
	fast.MustSubscribe(1, packet.Subscription{Filter: "load/#"})
	pub := connect(t, addr, "pub", packet.V311, true)

	var received atomic.Int64
	progress := make(chan struct{}, 1)
	published := make(chan error, 1)
	var slowest atomic.Int64 // the longest a Publish call took, in ns
	go func() {
		payload := make([]byte, size)
		for i := range n {
			for int64(i)-received.Load() >= window {
				select {
				case <-progress:
				case <-time.After(brokertest.Wait):
					published <- fmt.Errorf("no progress at message %d", i)
					return
				}
			}
			copy(payload, strconv.Itoa(i)+" ")
			start := time.Now()
			if err := pub.Publish(&packet.Publish{Topic: "load/x", Payload: payload}); err != nil {
				published <- err
				return
			}
			slowest.Store(max(slowest.Load(), int64(time.Since(start))))
		}
		published <- nil
	}()
	start := time.Now()
	for i := range n {
		p := fast.NextPublish()
		if want := strconv.Itoa(i) + " "; string(p.Payload[:len(want)]) != want {
			t.Fatalf("message %d: got %q…", i, p.Payload[:10])
		}
		received.Store(int64(i + 1))
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("%d messages of %d bytes in %v; %d dropped for the frozen subscriber; slowest Publish %v",
		n, size, elapsed, dropped.Load(), time.Duration(slowest.Load()))
	if elapsed > 45*time.Second {
		t.Errorf("the fast subscriber took %v", elapsed)
	}
	if s := time.Duration(slowest.Load()); s > time.Second {
		t.Errorf("a Publish call took %v", s)
	}
	if n := droppedOthers.Load(); n != 0 {
		t.Errorf("%d messages dropped for other subscribers", n)
	}
	// What the frozen one did not drop sits in its MaxPending bytes and in
	// the kernel's buffers, its send buffer growing to tcp_wmem's 4 MiB at
	// most: no more than that reached it.
	if kept := n - int(dropped.Load()); kept*size > maxPending+(4<<20)+(64<<10) {
		t.Errorf("%d messages kept for the frozen subscriber: more than MaxPending and the socket buffers hold", kept)
	}
	if s := b.sessions.Session("frozen"); s == nil || s.Dropped() != uint64(dropped.Load()) {
		t.Errorf("session's Dropped count does not match the events (%d)", dropped.Load())
	}
}

// TestManyClients: clients connecting all at once all get their CONNACK.
func TestManyClients(t *testing.T) {
	n := 1000
	// Both ends of each connection are in this process.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(2*n+200) {
		lim.Cur = min(lim.Max, uint64(2*n+200))
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if lim.Cur < uint64(2*n+200) {
		n = int(lim.Cur-200) / 2
		t.Logf("file limit %d: %d clients", lim.Cur, n)
	}
	b, addr := startBroker(t, nil)
	ev := record(b)
	conns := make([]net.Conn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c, err := net.DialTimeout("tcp", addr, brokertest.Wait)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
			raw, _ := (&packet.Connect{ClientID: "c" + strconv.Itoa(i), CleanStart: i%2 == 0, KeepAlive: 60}).Append(nil, packet.V311)
			c.SetDeadline(time.Now().Add(2 * brokertest.Wait))
			if _, err := c.Write(raw); err != nil {
				errs <- err
				return
			}
			ack := make([]byte, 4)
			if _, err := io.ReadFull(c, ack); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			if ack[0] != 0x20 || ack[1] != 2 || ack[3] != 0 {
				errs <- fmt.Errorf("client %d: CONNACK % x", i, ack)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	ev.waitN(t, n, "ClientReady", nil)
	if got := b.ConnectedClients(); got != n {
		t.Fatalf("ConnectedClients %d, want %d", got, n)
	}
	for _, c := range conns {
		c.Close()
	}
	ev.waitN(t, n, "ClientDisconnect", nil)
	if got := b.ConnectedClients(); got != 0 {
		t.Fatalf("ConnectedClients %d after all left", got)
	}
}

// TestMalformedPacketHarmsNoOneElse: a malformed packet closes its client
// only, with one ClientError; the others keep working.
func TestMalformedPacketHarmsNoOneElse(t *testing.T) {
	b, addr := startBroker(t, nil)
	ev := record(b)
	var others []*brokertest.Client
	for i, v := range []packet.Version{packet.V31, packet.V311, packet.V31, packet.V311} {
		c := connect(t, addr, "ok"+strconv.Itoa(i), v, i%2 == 0)
		c.MustSubscribe(1, packet.Subscription{Filter: "m", QoS: 1})
		others = append(others, c)
	}
	for _, raw := range [][]byte{
		{0x36, 5, 0, 1, 'm', 0, 1}, // PUBLISH QoS 3
		{0x82, 4, 0, 1, 0, 0},      // SUBSCRIBE with an empty filter
		{0xf0, 0},                  // reserved packet type
		{0x62, 3, 0, 1, 0},         // PUBREL too long
	} {
		bad := connect(t, addr, "bad", packet.V311, true)
		bad.WriteEncoded(raw)
		bad.ExpectClosed()
		ev.wait(t, "ClientDisconnect", of("bad"))
	}
	pub := connect(t, addr, "pub", packet.V311, true)
	pub.MustPublish(&packet.Publish{Topic: "m", Payload: []byte("fine"), QoS: 1, ID: 1})
	for _, c := range others {
		got := c.NextPublish()
		if string(got.Payload) != "fine" {
			t.Fatalf("got %+v", got)
		}
		c.Ack(got)
	}
	time.Sleep(quiet)
	for _, e := range ev.all("ClientError", nil) {
		if e.client.ID != "bad" {
			t.Errorf("ClientError for %s: %v", e.client.ID, e.err)
		}
	}
	if n := len(ev.all("ClientError", of("bad"))); n != 4 {
		t.Errorf("%d ClientError events for 4 malformed packets", n)
	}
}

// TestSessionLimits: the in-flight window and the queue of a session are
// bounded by MaxInflight and MaxQueued, online and offline; past them
// messages are dropped for that session, each told.
func TestSessionLimits(t *testing.T) {
	const inflight, queued, n = 2, 3, 10
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			b, addr := startBroker(t, &Options{MaxInflight: inflight, MaxQueued: queued})
			ev := record(b)
			off := connect(t, addr, "off", v, false)
			off.MustSubscribe(1, packet.Subscription{Filter: "lim", QoS: 1})
			off.Leave()
			ev.wait(t, "ClientDisconnect", of("off"))
			on := connect(t, addr, "on", v, false)
			on.MustSubscribe(1, packet.Subscription{Filter: "lim", QoS: 2})

			pub := connect(t, addr, "pub", v, true)
			for i := range n {
				// Every message is acknowledged to the publisher: the limit
				// is the subscriber's, not its.
				pub.MustPublish(&packet.Publish{Topic: "lim", Payload: []byte(strconv.Itoa(i)), QoS: packet.QoS(1 + i%2), ID: uint16(i + 1)})
			}
			if in, q := pending(t, b, "off"); in != 0 || q != queued {
				t.Fatalf("offline session holds %d in flight, %d queued; want 0, %d", in, q, queued)
			}
			if in, q := pending(t, b, "on"); in != inflight || q != queued {
				t.Fatalf("online session holds %d in flight, %d queued; want %d, %d", in, q, inflight, queued)
			}
			for _, id := range []string{"off", "on"} {
				drops := ev.waitN(t, n-inflight*map[string]int{"off": 0, "on": 1}[id]-queued, "Dropped",
					func(e event) bool { return e.id == id })
				for _, e := range drops {
					if !errors.Is(e.err, stack.ErrQueueLimit) {
						t.Fatalf("Dropped(%s): %v", id, e.err)
					}
				}
			}

			// Each gets what was kept, in order, the window at a time.
			off = connect(t, addr, "off", v, false)
			for name, c := range map[string]*brokertest.Client{"off": off, "on": on} {
				kept := queued
				if name == "on" {
					kept += inflight
				}
				var window []*packet.Publish
				for i := range kept {
					if len(window) == inflight {
						c.ExpectNothing(quiet / 4) // the window is full
						c.Ack(window[0])
						window = window[1:]
					}
					p := c.FindPublish()
					if string(p.Payload) != strconv.Itoa(i) {
						t.Fatalf("%s: message %d is %q", name, i, p.Payload)
					}
					window = append(window, p)
				}
				for _, p := range window {
					c.Ack(p)
				}
				c.ExpectNothing(quiet)
				if in, q := pending(t, b, name); in != 0 || q != 0 {
					t.Fatalf("%s: %d in flight, %d queued after all was acknowledged", name, in, q)
				}
			}
			if got := len(ev.all("Dropped", nil)); got != 2*n-2*queued-inflight {
				t.Fatalf("%d Dropped events", got)
			}
		})
	}
}

// TestCloseRacingTakeover: clients with the same identifier connecting
// while the older connection closes, again and again: one live session is
// left, and a message reaches it, and it only.
func TestCloseRacingTakeover(t *testing.T) {
	for i := range 40 {
		clean := i%2 == 0
		v := versions[i/2%2]
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			b, addr := startBroker(t, nil)
			ev := record(b)
			first := connect(t, addr, "same", v, clean)
			first.MustSubscribe(1, packet.Subscription{Filter: "t", QoS: 1})
			var wg sync.WaitGroup
			clients := make([]*brokertest.Client, 3)
			acks := make([]*packet.Connack, 3)
			for j := range clients {
				clients[j] = brokertest.Dial(t, addr, v)
			}
			wg.Add(1 + len(clients))
			go func() {
				defer wg.Done()
				first.Close()
			}()
			for j, c := range clients {
				go func() {
					defer wg.Done()
					c.Connect(&packet.Connect{Version: v, ClientID: "same", CleanStart: clean})
					if p, _ := c.Receive(brokertest.Wait); p != nil {
						acks[j], _ = p.(*packet.Connack)
					}
				}()
			}
			wg.Wait()
			for j, ack := range acks {
				if ack == nil || ack.ReasonCode != packet.Success {
					t.Fatalf("client %d: CONNACK %+v", j, ack)
				}
			}
			// Four accepted, three gone.
			ev.waitN(t, 4, "ClientReady", nil)
			ev.waitN(t, 3, "ClientDisconnect", nil)
			if n := b.ConnectedClients(); n != 1 {
				t.Fatalf("ConnectedClients %d", n)
			}
			s := b.sessions.Session("same")
			if s == nil || s.Conn() == nil {
				t.Fatal("no live session")
			}
			var survivor *brokertest.Client
			for _, c := range clients {
				if c.LocalAddr().String() == s.Conn().RemoteAddr().String() {
					survivor = c
				} else {
					c.ExpectClosed()
				}
			}
			if survivor == nil {
				t.Fatal("the session's connection is none of the clients'")
			}
			if clean {
				survivor.MustSubscribe(1, packet.Subscription{Filter: "t", QoS: 1})
			}
			if err := b.Publish(context.Background(), &Message{Topic: "t", Payload: []byte("hi"), QoS: 1}); err != nil {
				t.Fatal(err)
			}
			got := survivor.FindPublish()
			if string(got.Payload) != "hi" {
				t.Fatalf("got %+v", got)
			}
			survivor.Ack(got)
			survivor.ExpectNothing(quiet / 4)
			if n := b.sessions.Count(); n != 1 {
				t.Fatalf("%d sessions", n)
			}
		})
	}
}

// TestSubscribeRacingTakeover: subscriptions made by a connection while a
// new one takes its session over, clean, die with the session: none is left
// behind in the broker's routing.
func TestSubscribeRacingTakeover(t *testing.T) {
	for i := range 20 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			b, addr := startBroker(t, nil)
			ev := record(b)
			old := connect(t, addr, "same", packet.V311, i%2 == 0)
			for j := range 200 {
				old.Subscribe(&packet.Subscribe{ID: uint16(j + 1), Subscriptions: []packet.Subscription{{Filter: "f/" + strconv.Itoa(j)}}})
			}
			connect(t, addr, "same", packet.V311, true)
			ev.wait(t, "ClientDisconnect", nil)
			old.WaitClosed()
			// The old connection's last SUBSCRIBE may still be in hand:
			// no event says when it is done, so look until a deadline.
			for deadline := time.Now().Add(2 * time.Second); b.router.Count() != 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d subscriptions left in the router, want 0", b.router.Count())
				}
			}
		})
	}
}

// TestPacketTooLarge: a packet past MaxPacketSize closes its client before
// the broker reads it whole; the others are not affected.
func TestPacketTooLarge(t *testing.T) {
	b, addr := startBroker(t, &Options{MaxPacketSize: 1024})
	ev := record(b)
	sub := connect(t, addr, "sub", packet.V311, true)
	sub.MustSubscribe(1, packet.Subscription{Filter: "big/#"})
	big := connect(t, addr, "big", packet.V311, true)
	big.Publish(&packet.Publish{Topic: "big/x", Payload: make([]byte, 2048)})
	big.ExpectClosed()
	if e := ev.wait(t, "ClientError", of("big")); !errors.Is(e.err, packet.PacketTooLarge) {
		t.Fatalf("ClientError %v", e.err)
	}
	pub := connect(t, addr, "pub", packet.V311, true)
	pub.MustPublish(&packet.Publish{Topic: "big/y", Payload: make([]byte, 900)})
	if got := sub.NextPublish(); got.Topic != "big/y" {
		t.Fatalf("got %+v", got)
	}
	sub.ExpectNothing(quiet)
}
