package stack

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/mq/memory"
	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	storememory "github.com/midge-mqtt/midge/store/memory"
)

// recorder is a middleware that notes what it sees, for order tests.
type recorder struct {
	name string
	log  *[]string
	stop bool
}

func (r *recorder) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	*r.log = append(*r.log, r.name+":"+p.Type().String())
	if r.stop {
		return nil
	}
	return next.ServeMQTT(ctx, c, p)
}

func (r *recorder) Install(_ context.Context, _ *mqtt.Conn) error {
	*r.log = append(*r.log, r.name+":install")
	return nil
}

func TestChainOrderInstallAndStop(t *testing.T) {
	var log []string
	final := mqtt.HandlerFunc(func(context.Context, *mqtt.Conn, packet.Packet) error {
		log = append(log, "final")
		return nil
	})
	s, err := Build(final, &recorder{name: "a", log: &log}, &recorder{name: "b", log: &log})
	if err != nil {
		t.Fatal(err)
	}
	c := mqtt.NewConn(nopConn{}, nil)
	defer c.Close()
	s.ServeMQTT(context.Background(), c, &packet.Connect{ClientID: "x"})
	s.ServeMQTT(context.Background(), c, &packet.Pingreq{})
	want := "a:install b:install a:CONNECT b:CONNECT final a:PINGREQ b:PINGREQ final"
	if got := strings.Join(log, " "); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	log = nil
	s, _ = Build(final, &recorder{name: "a", log: &log, stop: true}, &recorder{name: "b", log: &log})
	c2 := mqtt.NewConn(nopConn{}, nil)
	defer c2.Close()
	s.ServeMQTT(context.Background(), c2, &packet.Pingreq{})
	if got := strings.Join(log, " "); got != "a:install b:install a:PINGREQ" {
		t.Fatalf("a middleware that stops: %s", got)
	}
}

func TestMissingCallbackFailsBuild(t *testing.T) {
	// InboundManager needs Sessions, Relayer and PublishAuthorizer; none
	// is there.
	_, err := New(&InboundManager{})
	if err == nil || !strings.Contains(err.Error(), "stack.Sessions") {
		t.Fatalf("New without a Sessions provider: %v", err)
	}
	_, err = New(&SessionManager{Store: storememory.New()}, &InboundManager{})
	if err == nil || !strings.Contains(err.Error(), "stack.Subscriptions") {
		t.Fatalf("New without a Subscriptions provider: %v", err)
	}
	if _, err := New(nil); err == nil {
		t.Fatal("New with a nil middleware succeeded")
	}
}

func TestNeedFindsFirstProvider(t *testing.T) {
	r1 := &Router{Store: storememory.New(), Bus: memory.New()}
	r2 := &Router{Store: storememory.New(), Bus: memory.New()}
	s, err := New(r1, r2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Need[Relayer](s)
	if err != nil || got != Relayer(r1) {
		t.Fatalf("Need[Relayer] = %v, %v; want the first router", got, err)
	}
	if _, err := Need[Publisher](s); err == nil {
		t.Fatal("Need of a callback nobody offers succeeded")
	}
}

func TestKeys(t *testing.T) {
	a, b := NewKey[int]("a"), NewKey[string]("b")
	c := mqtt.NewConn(nopConn{}, nil)
	defer c.Close()
	if a.Get(c) != 0 || b.Get(c) != "" {
		t.Fatal("unset keys are not zero")
	}
	a.Set(c, 7)
	b.Set(c, "x")
	a.Set(c, 8)
	if a.Get(c) != 8 || b.Get(c) != "x" {
		t.Fatalf("got %d %q", a.Get(c), b.Get(c))
	}
	other := mqtt.NewConn(nopConn{}, nil)
	defer other.Close()
	if a.Get(other) != 0 {
		t.Fatal("a key's value leaked to another connection")
	}
}

// nopConn is a stream that reads nothing and discards writes.
type nopConn struct{}

func (nopConn) Read([]byte) (int, error)    { select {} }
func (nopConn) Write(b []byte) (int, error) { return len(b), nil }
func (nopConn) Close() error                { return nil }

// TestMinimalStackOverTCP builds a QoS 0 broker from the built-in
// middlewares alone and checks a message goes from one client to another
// over real sockets.
func TestMinimalStackOverTCP(t *testing.T) {
	st := storememory.New()
	s, err := New(
		Connection{},
		&KeepAlive{ConnectTimeout: 5 * time.Second},
		&SessionManager{Store: st},
		&Authorize{},
		&SubscriptionManager{},
		&InboundManager{},
		&OutboundManager{},
		&Router{Store: st, Bus: memory.New()},
	)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTCP(t, s)

	dial := func(id string) *mqtt.Conn {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := mqtt.NewConn(nc, &mqtt.Options{Version: packet.V311})
		c.Connect(&packet.Connect{ClientID: id, CleanStart: true})
		if p, err := c.ReadPacket(); err != nil || p.Type() != packet.TypeConnack {
			t.Fatalf("%s: %v %v", id, p, err)
		}
		return c
	}
	sub := dial("sub")
	defer sub.Close()
	sub.Subscribe(&packet.Subscribe{ID: 1, Subscriptions: []packet.Subscription{{Filter: "x/#"}}})
	if p, err := sub.ReadPacket(); err != nil || p.Type() != packet.TypeSuback {
		t.Fatalf("SUBACK: %v %v", p, err)
	}
	pub := dial("pub")
	defer pub.Close()
	pub.Publish(&packet.Publish{Topic: "x/y", Payload: []byte("hi")})
	sub.SetReadDeadline(time.Now().Add(5 * time.Second))
	p, err := sub.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := p.(*packet.Publish); !ok || got.Topic != "x/y" || string(got.Payload) != "hi" {
		t.Fatalf("got %+v", p)
	}
	// A packet no middleware handles is a protocol error: the connection
	// ends.
	pub.WritePacket(&packet.Connack{})
	pub.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := pub.ReadPacket(); err == nil {
		t.Fatal("connection still open after an unexpected CONNACK")
	}
}
