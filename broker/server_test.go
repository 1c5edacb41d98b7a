package broker

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/packet"
)

func TestServerSubscribe(t *testing.T) {
	b, addr := startBroker(t, &Options{Hooks: Hooks{
		// Server-side subscriptions do not ask it.
		AuthorizeSubscribe: func(context.Context, *Client, *packet.Subscription) (bool, error) { return false, nil },
	}})
	got := make(chan *Message, 10)
	s, err := b.Subscribe("s/+", func(_ context.Context, m *Message) error {
		got <- m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Filter() != "s/+" {
		t.Fatalf("Filter %q", s.Filter())
	}
	pub := connect(t, addr, "pub", packet.V311, true)
	pub.MustPublish(&packet.Publish{Topic: "s/x", Payload: []byte("one"), QoS: 2, ID: 1, Retain: true})
	select {
	case m := <-got:
		if m.Topic != "s/x" || string(m.Payload) != "one" || m.QoS != 2 || m.Retain || m.From != "pub" {
			t.Fatalf("delivered %+v", m)
		}
	case <-time.After(brokertest.Wait):
		t.Fatal("deliver not called")
	}
	pub.MustPublish(&packet.Publish{Topic: "other", Payload: []byte("no")})

	s.Unsubscribe()
	s.Unsubscribe() // again: nothing
	pub.MustPublish(&packet.Publish{Topic: "s/x", Payload: []byte("two"), QoS: 1, ID: 2})
	select {
	case m := <-got:
		t.Fatalf("delivered %+v after Unsubscribe", m)
	case <-time.After(quiet):
	}

	if _, err := b.Subscribe("a/#/b", func(context.Context, *Message) error { return nil }); err == nil {
		t.Fatal("invalid filter accepted")
	}
}

// TestServerSubscribeBackpressure: a slow deliver function slows the
// publisher down, and only it: its acknowledgement waits, others go on.
func TestServerSubscribeBackpressure(t *testing.T) {
	b, addr := startBroker(t, nil)
	entered := make(chan struct{})
	release := make(chan struct{})
	s, err := b.Subscribe("slow", func(context.Context, *Message) error {
		entered <- struct{}{}
		<-release
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unsubscribe()
	pub := connect(t, addr, "pub", packet.V311, true)
	pub.Publish(&packet.Publish{Topic: "slow", Payload: []byte("x"), QoS: 1, ID: 1})
	<-entered
	pub.ExpectNothing(quiet) // no PUBACK while deliver runs
	other := connect(t, addr, "other", packet.V311, true)
	other.MustSubscribe(1, packet.Subscription{Filter: "fast"})
	other.MustPublish(&packet.Publish{Topic: "fast", Payload: []byte("y")})
	other.NextPublish()
	close(release)
	if a := brokertest.Expect[*packet.Puback](pub); a.ID != 1 {
		t.Fatalf("PUBACK %d", a.ID)
	}
}

func TestServerPublish(t *testing.T) {
	b, addr := startBroker(t, &Options{Hooks: Hooks{
		// Broker.Publish does not ask it.
		AuthorizePublish: func(context.Context, *Client, *packet.Publish) error { return errors.New("no") },
	}})
	ev := record(b)
	for _, v := range versions {
		c := connect(t, addr, "c"+v.String(), v, true)
		c.MustSubscribe(1, packet.Subscription{Filter: "srv/" + v.String(), QoS: 2})
		m := &Message{Topic: "srv/" + v.String(), Payload: []byte("from the server"), QoS: 1, Retain: true}
		if err := b.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		got := c.NextPublish()
		if got.Topic != m.Topic || string(got.Payload) != "from the server" || got.QoS != 1 || got.Retain {
			t.Fatalf("%v: got %+v", v, got)
		}
		c.Ack(got)
		if e := ev.wait(t, "Publish", func(e event) bool { return e.msg.Topic == m.Topic }); e.client != nil {
			t.Fatalf("Publish event with client %v", e.client.ID)
		}
	}
	// Retained, as asked.
	late := connect(t, addr, "late", packet.V311, true)
	late.MustSubscribe(1, packet.Subscription{Filter: "srv/3.1", QoS: 2})
	if got := late.NextPublish(); !got.Retain || string(got.Payload) != "from the server" {
		t.Fatalf("retained %+v", got)
	}
	for _, m := range []*Message{{Topic: "a/+"}, {Topic: ""}, {Topic: "a", QoS: 3}} {
		if err := b.Publish(context.Background(), m); err == nil {
			t.Errorf("Publish(%+v) accepted", m)
		}
	}
}

func TestClose(t *testing.T) {
	b, addr := startBroker(t, nil)
	ev := record(b)
	var clients []*brokertest.Client
	for i, v := range versions {
		for _, clean := range []bool{true, false} {
			c := connect(t, addr, v.String()+string(rune('a'+i))+map[bool]string{true: "c", false: "p"}[clean], v, clean)
			c.MustSubscribe(1, packet.Subscription{Filter: "x", QoS: 1})
			clients = append(clients, c)
		}
	}
	if n := b.ConnectedClients(); n != len(clients) {
		t.Fatalf("ConnectedClients %d", n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !b.Closed() {
		t.Fatal("Closed false after Close")
	}
	if n := b.ConnectedClients(); n != 0 {
		t.Fatalf("ConnectedClients %d after Close", n)
	}
	if n := len(ev.all("ClientDisconnect", nil)); n != len(clients) {
		t.Fatalf("%d ClientDisconnect events when Close returned, want %d", n, len(clients))
	}
	for _, c := range clients {
		c.ExpectClosed()
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := len(ev.all("Closed", nil)); n != 1 {
		t.Fatalf("%d Closed events", n)
	}

	// Everything after Close says so.
	if err := b.Publish(context.Background(), &Message{Topic: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if _, err := b.Subscribe("x", func(context.Context, *Message) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Serve(l); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	a, z := net.Pipe()
	b.HandleConn(a)
	z.SetReadDeadline(time.Now().Add(brokertest.Wait))
	if _, err := z.Read(make([]byte, 1)); err == nil {
		t.Error("HandleConn after Close served the connection")
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("listener still open after Close")
	}
}

// TestHandleConn serves a stream that is no TCP connection.
func TestHandleConn(t *testing.T) {
	b, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a, z := net.Pipe()
	b.HandleConn(a)
	c := brokertest.NewClient(t, z, packet.V311)
	c.Connect(&packet.Connect{ClientID: "pipe", CleanStart: true})
	brokertest.Expect[*packet.Connack](c)
	c.MustSubscribe(1, packet.Subscription{Filter: "p"})
	c.MustPublish(&packet.Publish{Topic: "p", Payload: []byte("over a pipe")})
	if got := c.NextPublish(); string(got.Payload) != "over a pipe" {
		t.Fatalf("got %+v", got)
	}
	b.Close()
	c.ExpectClosed()
}
