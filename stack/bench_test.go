package stack_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
	"github.com/midge-mqtt/midge/store"
)

// BenchmarkChainPublish times one client's QoS 0 PUBLISH on its way to
// one subscriber's session, three ways:
//   - relay: the Relayer called directly with the message InboundManager
//     would make of the packet: routing and delivery alone, no middleware;
//   - stack: the packet handed to a stack built from every built-in
//     middleware (newBroker, the broker's chain without its hooks);
//   - stack-no-keepalive: the same, from a client with keep alive 0, so
//     that the keep alive's deadline reset is left out;
//   - broker: the packet handed to the stack broker.New builds, its hooks
//     and events wired in (no listener registered).
//
// The difference between relay and the others is what the middlewares
// cost. The publisher's connection is a real TCP socket, so that the
// keep alive's deadline reset on every packet costs what it does in
// production; the subscriber's output goes to a stream that discards it,
// so that the figures do not depend on the loopback device.
func BenchmarkChainPublish(b *testing.B) {
	b.Run("relay", func(b *testing.B) {
		backend := stack.NewMemoryBackend()
		_, s, _ := newBroker(backend.Store, backend)
		relay, _ := stack.Need[stack.Relayer](s)
		pc := benchConns(b, s, 60)
		ctx := pc.Context()
		p := benchPublish()
		b.ReportAllocs()
		for b.Loop() {
			m := &store.Message{Topic: p.Topic, Payload: p.Payload, QoS: p.QoS, From: "pub", Created: time.Now()}
			if err := relay.Relay(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
		reportDrops(b, s)
	})
	b.Run("stack", func(b *testing.B) {
		backend := stack.NewMemoryBackend()
		_, s, _ := newBroker(backend.Store, backend)
		benchChain(b, s, 60)
	})
	b.Run("stack-no-keepalive", func(b *testing.B) {
		backend := stack.NewMemoryBackend()
		_, s, _ := newBroker(backend.Store, backend)
		benchChain(b, s, 0)
	})
	b.Run("broker", func(b *testing.B) {
		br, err := broker.New(nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { br.Close() }) // after the connections close: it waits for their ends
		benchChain(b, br.Stack(), 60)
	})
}

// benchChain times s handling a PUBLISH from a client with the given keep
// alive.
func benchChain(b *testing.B, s *stack.Stack, keepAlive uint16) {
	pc := benchConns(b, s, keepAlive)
	ctx := pc.Context()
	p := benchPublish()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.ServeMQTT(ctx, pc, p); err != nil {
			b.Fatal(err)
		}
	}
	reportDrops(b, s)
}

func benchPublish() *packet.Publish {
	return &packet.Publish{Topic: "bench/room1/temperature", Payload: make([]byte, 64)}
}

// benchConns connects a subscriber to bench/# and a publisher with the
// given keep alive through s, and returns the publisher's connection.
func benchConns(b *testing.B, s *stack.Stack, keepAlive uint16) *mqtt.Conn {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	peer, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	nc, err := l.Accept()
	if err != nil {
		b.Fatal(err)
	}
	go io.Copy(io.Discard, peer) // the publisher's own acknowledgements
	pc := mqtt.NewConn(nc, &mqtt.Options{Version: packet.V311})
	// Room for the output of a burst, so that deliveries are not dropped
	// (a dropped one costs less).
	sc := mqtt.NewConn(discard{}, &mqtt.Options{Version: packet.V311, MaxPending: 64 << 20})
	b.Cleanup(func() {
		pc.Close()
		sc.Close()
		peer.Close()
	})
	ctx := context.Background()
	for _, step := range []struct {
		c *mqtt.Conn
		p packet.Packet
	}{
		{sc, &packet.Connect{Version: packet.V311, ClientID: "sub", CleanStart: true, KeepAlive: 60}},
		{sc, &packet.Subscribe{ID: 1, Subscriptions: []packet.Subscription{{Filter: "bench/#"}}}},
		{pc, &packet.Connect{Version: packet.V311, ClientID: "pub", CleanStart: true, KeepAlive: keepAlive}},
	} {
		if err := s.ServeMQTT(ctx, step.c, step.p); err != nil {
			b.Fatal(err)
		}
	}
	return pc
}

// reportDrops reports the deliveries the subscriber's full output buffer
// dropped: they cost less than the others, and should be none.
func reportDrops(b *testing.B, s *stack.Stack) {
	sm, err := stack.Need[*stack.SessionManager](s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(sm.Session("sub").Dropped())/float64(b.N), "drops/op")
}

// discard is a stream that discards what is written and never reads.
type discard struct{}

func (discard) Read([]byte) (int, error)    { select {} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Close() error                { return nil }
