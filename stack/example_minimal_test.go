package stack_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

// newMinimalBroker builds a QoS 0 broker from the stack alone: sessions,
// subscriptions, publishing, keep alive and DISCONNECT; no retained
// messages, no wills, nothing sent at QoS 1 or 2.
func newMinimalBroker() (*mqtt.Server, *stack.Stack, error) {
	backend := stack.NewMemoryBackend()
	keepAlive := &stack.KeepAlive{ConnectTimeout: 10 * time.Second}
	s, err := stack.New(
		stack.Connection{}, // DISCONNECT
		keepAlive,          // keep alive, PINGREQ
		&stack.SessionManager{Store: backend.Store}, // CONNECT → CONNACK
		&stack.Authorize{Subscribe: grantQoS0},      // who may do what
		&stack.SubscriptionManager{},                // SUBSCRIBE, UNSUBSCRIBE
		&stack.InboundManager{},                     // PUBLISH, PUBREL
		backend,                                     // subscriptions, routing
	)
	if err != nil {
		return nil, nil, err
	}
	// The connect timeout starts with the stream, before its first packet.
	return &mqtt.Server{Handler: s, ConnContext: keepAlive.ConnContext}, s, nil
}

// grantQoS0 grants every subscription at QoS 0, as a server may: every
// message then goes out at QoS 0 [MQTT-3.8.4-6], nothing a client
// acknowledges, and the broker needs no OutboundManager.
func grantQoS0(_ context.Context, _ *mqtt.Conn, s *packet.Subscription) (bool, error) {
	s.QoS = packet.AtMostOnce
	return true, nil
}

// A QoS 0 broker built from the stack's middlewares, served over TCP, and
// two clients. A QoS 1 subscription is granted QoS 0; a QoS 1 PUBLISH is
// acknowledged and delivered at QoS 0.
func Example_minimal() {
	addr, stop, err := start(newMinimalBroker())
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	sub := dial(addr, packet.V311, "sub")
	defer sub.Close()
	sub.Subscribe(&packet.Subscribe{ID: 1, Subscriptions: []packet.Subscription{{Filter: "greetings/#", QoS: 1}}})
	fmt.Println("SUBACK grants QoS", byte(read(sub).(*packet.Suback).Reasons[0]))

	pub := dial(addr, packet.V311, "pub")
	defer pub.Close()
	pub.Publish(&packet.Publish{Topic: "greetings/world", Payload: []byte("hello"), QoS: 1, ID: 7})
	fmt.Println("publisher got", read(pub).Type())

	m := read(sub).(*packet.Publish)
	fmt.Printf("subscriber got %s %q at QoS %d\n", m.Topic, m.Payload, m.QoS)
	// Output:
	// SUBACK grants QoS 0
	// publisher got PUBACK
	// subscriber got greetings/world "hello" at QoS 0
}

// start serves a broker on a loopback port, and returns its address and
// the function that stops it.
func start(srv *mqtt.Server, s *stack.Stack, err error) (addr string, stop func(), _ error) {
	if err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go srv.Serve(l)
	return l.Addr().String(), func() {
		srv.Close()
		s.Wait() // what runs at the connections' ends is over
	}, nil
}

// dial connects an MQTT client to addr: mqtt.Conn is the client side too.
func dial(addr string, v packet.Version, id string) *mqtt.Conn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	c := mqtt.NewConn(nc, nil)
	c.Connect(&packet.Connect{Version: v, ClientID: id, CleanStart: true})
	if ack, ok := read(c).(*packet.Connack); !ok || ack.ReasonCode != packet.Success {
		log.Fatalf("%s: not accepted: %+v", id, ack)
	}
	return c
}

// read reads c's next packet, failing after a few seconds.
func read(c *mqtt.Conn) packet.Packet {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := c.ReadPacket()
	if err != nil {
		log.Fatal(err)
	}
	return p
}
