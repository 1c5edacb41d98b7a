package interop

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/listener"
)

// timeout bounds every wait for the broker or a client.
const timeout = 5 * time.Second

// quiet is how long a test waits to see that something does not happen,
// where nothing else tells.
const quiet = 200 * time.Millisecond

// server is a broker served in-process on a TCP and a WebSocket listener on
// loopback, as paho URLs.
type server struct {
	b       *broker.Broker
	tcp, ws string

	mu   sync.Mutex
	gone map[string]chan struct{} // closed when a client id's connection ends
}

// startServer serves a new broker and closes it when the test ends.
func startServer(t *testing.T) *server {
	t.Helper()
	b, err := broker.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{b: b, gone: map[string]chan struct{}{}}
	b.On(broker.Events{ClientDisconnect: func(c *broker.Client) {
		s.mu.Lock()
		defer s.mu.Unlock()
		close(s.goneLocked(c.ID))
	}})
	tcp, err := listener.TCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := listener.WebSocket("127.0.0.1:0", nil)
	if err != nil {
		tcp.Close()
		t.Fatal(err)
	}
	s.tcp = "tcp://" + tcp.Addr().String()
	s.ws = "ws://" + ws.Addr().String() + listener.DefaultWebSocketPath
	served := make(chan error, 2)
	for _, l := range []net.Listener{tcp, ws} {
		go func() { served <- b.Serve(l) }()
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for range 2 {
			if err := <-served; !errors.Is(err, broker.ErrClosed) {
				t.Errorf("Serve returned %v, want ErrClosed", err)
			}
		}
	})
	return s
}

func (s *server) goneLocked(id string) chan struct{} {
	ch, ok := s.gone[id]
	if !ok {
		ch = make(chan struct{})
		s.gone[id] = ch
	}
	return ch
}

// waitGone waits until the broker has seen the connection of client id end,
// and forgets it, so that the id's next connection can be waited for too.
func (s *server) waitGone(t *testing.T, id string) {
	t.Helper()
	s.mu.Lock()
	ch := s.goneLocked(id)
	s.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(timeout):
		t.Fatalf("the broker did not see client %q go", id)
	}
	s.mu.Lock()
	delete(s.gone, id)
	s.mu.Unlock()
}

// transports runs f over TCP and over WebSocket.
func transports(t *testing.T, f func(t *testing.T, s *server, addr string)) {
	for _, tr := range []string{"tcp", "ws"} {
		t.Run(tr, func(t *testing.T) {
			s := startServer(t)
			addr := s.tcp
			if tr == "ws" {
				addr = s.ws
			}
			f(t, s, addr)
		})
	}
}

var ids atomic.Int64

// newID returns a client id short enough for MQTT 3.1 (23 characters).
func newID(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, ids.Add(1))
}

// client is a paho client whose messages without a subscription handler of
// their own (all of them, in these tests) arrive on msgs.
type client struct {
	paho.Client
	id        string
	msgs      chan paho.Message
	connected *paho.ConnectToken
}

// dial connects a paho client to addr (a tcp:// or ws:// URL), MQTT 3.1.1 and a clean session unless
// opt changes them, and disconnects it when the test ends.
func dial(t *testing.T, addr, id string, opt ...func(*paho.ClientOptions)) *client {
	t.Helper()
	c := &client{id: id, msgs: make(chan paho.Message, 100)}
	o := paho.NewClientOptions().AddBroker(addr).SetClientID(id).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectTimeout(timeout).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { c.msgs <- m })
	for _, f := range opt {
		f(o)
	}
	c.Client = paho.NewClient(o)
	c.connected = c.Connect().(*paho.ConnectToken)
	wait(t, c.connected, id+": connect")
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// wait waits for a paho token and fails the test if it fails or takes more
// than a few seconds.
func wait(t *testing.T, tok paho.Token, what string) {
	t.Helper()
	if !tok.WaitTimeout(timeout) {
		t.Fatalf("%s: no answer in %v", what, timeout)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// subscribe subscribes, and returns once the broker has also sent the
// retained messages, which it looks up after the SUBACK: a QoS 1 publish
// acknowledged after the SUBACK is handled after the SUBSCRIBE, so what the
// test does next comes after them.
func (c *client) subscribe(t *testing.T, filter string, qos byte) {
	t.Helper()
	wait(t, c.Subscribe(filter, qos, nil), c.id+": subscribe "+filter)
	c.publish(t, "sync/"+c.id, 1, false, "")
}

// publish publishes and, for QoS 1 and 2, waits for the broker's
// acknowledgement. midge routes a message before it acknowledges it, so a
// message published after another by the same client reaches a subscriber
// after it.
func (c *client) publish(t *testing.T, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	wait(t, c.Publish(topic, qos, retain, payload), fmt.Sprintf("%s: publish %s QoS %d", c.id, topic, qos))
}

// next returns the client's next message.
func (c *client) next(t *testing.T) paho.Message {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(timeout):
		t.Fatalf("%s: no message in %v", c.id, timeout)
	}
	return nil
}

// expect checks the client's next message.
func (c *client) expect(t *testing.T, topic, payload string, qos byte, retained bool) {
	t.Helper()
	m := c.next(t)
	if m.Topic() != topic || string(m.Payload()) != payload || m.Qos() != qos || m.Retained() != retained {
		t.Errorf("%s got %s %q QoS %d retained %v (dup %v, id %d), want %s %q QoS %d retained %v", c.id,
			m.Topic(), m.Payload(), m.Qos(), m.Retained(), m.Duplicate(), m.MessageID(), topic, payload, qos, retained)
	}
}

// expectOnly checks that the client receives nothing before a marker that
// from publishes on topic now: since from published whatever the client
// must not receive before, it would have come first.
func (c *client) expectOnly(t *testing.T, from *client, topic string) {
	t.Helper()
	from.publish(t, topic, 1, false, "marker")
	c.expect(t, topic, "marker", 1, false)
}

func TestPublishSubscribeQoS(t *testing.T) {
	for _, v := range []uint{3, 4} {
		t.Run(fmt.Sprintf("MQTT-%d", v), func(t *testing.T) {
			transports(t, func(t *testing.T, s *server, addr string) {
				version := func(o *paho.ClientOptions) { o.SetProtocolVersion(v) }
				pub := dial(t, addr, newID("pub"), version)
				// One subscriber per subscription QoS; each gets every
				// publish QoS, delivered at the lower of the two.
				for subQoS := range byte(3) {
					sub := dial(t, addr, newID("sub"), version)
					sub.subscribe(t, fmt.Sprintf("q/%d/+", subQoS), subQoS)
					for pubQoS := range byte(3) {
						topic := fmt.Sprintf("q/%d/%d", subQoS, pubQoS)
						payload := fmt.Sprintf("sub %d pub %d", subQoS, pubQoS)
						pub.publish(t, topic, pubQoS, false, payload)
						sub.expect(t, topic, payload, min(subQoS, pubQoS), false)
					}
				}
			})
		})
	}
}

func TestWildcards(t *testing.T) {
	transports(t, func(t *testing.T, s *server, addr string) {
		sub := dial(t, addr, newID("sub"))
		wait(t, sub.SubscribeMultiple(map[string]byte{
			"sensors/+/temp": 1,
			"alarms/#":       1,
			"+/status":       1,
		}, nil), "subscribe")
		pub := dial(t, addr, newID("pub"))
		for _, tc := range []struct {
			topic string
			match bool
		}{
			{"sensors/1/temp", true},
			{"sensors/1/humidity", false},
			{"sensors/1/2/temp", false},
			{"sensors//temp", true}, // + matches an empty level
			{"alarms", true},        // # matches the parent level too
			{"alarms/fire/floor1", true},
			{"alarm", false},
			{"dev/status", true},
			{"dev/x/status", false},
			{"/status", true},
		} {
			pub.publish(t, tc.topic, 1, false, tc.topic)
			if tc.match {
				sub.expect(t, tc.topic, tc.topic, 1, false)
			}
		}
		sub.expectOnly(t, pub, "alarms/end")
	})
}

func TestRetained(t *testing.T) {
	transports(t, func(t *testing.T, s *server, addr string) {
		live := dial(t, addr, newID("live"))
		live.subscribe(t, "r/#", 2)
		pub := dial(t, addr, newID("pub"))
		pub.publish(t, "r/1", 1, true, "kept")
		// A subscriber already there gets it as a live message
		// [MQTT-3.3.1-9].
		live.expect(t, "r/1", "kept", 1, false)

		// A new subscriber gets it retained, at the lower QoS.
		late := dial(t, addr, newID("late"))
		late.subscribe(t, "r/+", 2)
		late.expect(t, "r/1", "kept", 1, true)
		late0 := dial(t, addr, newID("late0"))
		late0.subscribe(t, "r/1", 0)
		late0.expect(t, "r/1", "kept", 0, true)

		// A newer retained message replaces it; an empty one clears it
		// [MQTT-3.3.1-10].
		pub.publish(t, "r/1", 2, true, "newer")
		after := dial(t, addr, newID("after"))
		after.subscribe(t, "r/#", 2)
		after.expect(t, "r/1", "newer", 2, true)
		pub.publish(t, "r/1", 0, true, "")
		// A QoS 0 publish is done when written: a QoS 1 one after it, on
		// the same connection, is acknowledged once the broker has handled
		// both.
		pub.publish(t, "sync", 1, false, "")
		cleared := dial(t, addr, newID("cleared"))
		cleared.subscribe(t, "r/#", 2)
		cleared.expectOnly(t, pub, "r/marker")
	})
}

// TestWill checks that a will is published when the connection drops without
// DISCONNECT (the socket under the client is closed), and not after a
// DISCONNECT.
func TestWill(t *testing.T) {
	for _, retain := range []bool{false, true} {
		t.Run(fmt.Sprintf("retain=%v", retain), func(t *testing.T) {
			transports(t, func(t *testing.T, s *server, addr string) {
				watch := dial(t, addr, newID("watch"))
				watch.subscribe(t, "will/#", 2)

				will := func(id string) func(*paho.ClientOptions) {
					return func(o *paho.ClientOptions) { o.SetWill("will/"+id, "gone "+id, 1, retain) }
				}
				polite := dial(t, addr, newID("polite"), will("polite"))
				polite.Disconnect(100)
				s.waitGone(t, polite.id)

				var conn net.Conn
				id := newID("abrupt")
				dial(t, addr, id, will("abrupt"), func(o *paho.ClientOptions) {
					o.SetCustomOpenConnectionFn(func(u *url.URL, o paho.ClientOptions) (net.Conn, error) {
						var err error
						if u.Scheme == "ws" {
							conn, err = paho.NewWebsocket(u.String(), nil, timeout, nil, nil)
						} else {
							conn, err = net.DialTimeout("tcp", u.Host, timeout)
						}
						return conn, err
					})
				})
				conn.Close()
				watch.expect(t, "will/abrupt", "gone abrupt", 1, false)
				s.waitGone(t, id)
				watch.expectOnly(t, watch, "will/end") // no will from polite

				if retain {
					late := dial(t, addr, newID("late"))
					late.subscribe(t, "will/#", 2)
					late.expect(t, "will/abrupt", "gone abrupt", 1, true)
					late.expectOnly(t, watch, "will/end")
				}
			})
		})
	}
}

// TestPersistentSession checks that a client with CleanSession false keeps
// its subscriptions while away and gets the QoS 1 and 2 messages published
// meanwhile, and that a clean session ends it.
func TestPersistentSession(t *testing.T) {
	transports(t, func(t *testing.T, s *server, addr string) {
		id := newID("persist")
		persistent := func(o *paho.ClientOptions) { o.SetCleanSession(false) }
		pub := dial(t, addr, newID("pub"))

		sub := dial(t, addr, id, persistent)
		if sub.connected.SessionPresent() {
			t.Error("session present on the first connection")
		}
		sub.subscribe(t, "p/#", 2)
		sub.Disconnect(100)
		s.waitGone(t, id)

		pub.publish(t, "p/1", 1, false, "one")
		pub.publish(t, "p/2", 2, false, "two")
		pub.publish(t, "p/3", 1, false, "three")

		sub = dial(t, addr, id, persistent)
		if !sub.connected.SessionPresent() {
			t.Error("session not present on reconnection")
		}
		sub.expect(t, "p/1", "one", 1, false)
		sub.expect(t, "p/2", "two", 2, false)
		sub.expect(t, "p/3", "three", 1, false)
		// The subscription is still there, without subscribing again.
		pub.publish(t, "p/4", 1, false, "four")
		sub.expect(t, "p/4", "four", 1, false)
		sub.Disconnect(100)
		s.waitGone(t, id)

		// A clean session discards the old one, and with it the
		// subscription.
		pub.publish(t, "p/5", 1, false, "five")
		clean := dial(t, addr, id)
		if clean.connected.SessionPresent() {
			t.Error("session present for a clean session")
		}
		clean.subscribe(t, "marker", 1)
		pub.publish(t, "p/6", 1, false, "six")
		clean.expectOnly(t, pub, "marker")
		clean.Disconnect(100)
		s.waitGone(t, id)

		// And the clean session left nothing behind.
		again := dial(t, addr, id, persistent)
		if again.connected.SessionPresent() {
			t.Error("session present after a clean session")
		}
	})
}

// TestDisconnectIsNoError checks that a client ending its connection with
// DISCONNECT is a normal end for the broker: reported as a disconnection,
// not as a client error.
func TestDisconnectIsNoError(t *testing.T) {
	transports(t, func(t *testing.T, s *server, addr string) {
		errs := make(chan error, 10)
		remove := s.b.On(broker.Events{
			ClientError:     func(_ *broker.Client, err error) { errs <- err },
			ConnectionError: func(_ *broker.Client, err error) { errs <- err },
		})
		defer remove()
		c := dial(t, addr, newID("bye"))
		c.Disconnect(100)
		s.waitGone(t, c.id)
		// The error event, if any, may come just after the disconnection.
		select {
		case err := <-errs:
			t.Errorf("DISCONNECT reported as an error: %v", err)
		case <-time.After(quiet):
		}
	})
}

// TestRetainedRacesLive subscribes clients while retained messages are
// published on the topic, and checks that each gets every message once, in
// order: the retained message a subscription starts with must not also come
// live, nor come after live ones. The broker-level tests that force each
// interleaving are in stack (TestRetained*).
func TestRetainedRacesLive(t *testing.T) {
	transports(t, func(t *testing.T, s *server, addr string) {
		pub := dial(t, addr, newID("pub"))
		stop := make(chan struct{})
		published := make(chan int, 1)
		go func() {
			n := 0
			defer func() { published <- n }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n++
				tok := pub.Publish("race/t", 1, true, fmt.Sprint(n))
				if !tok.WaitTimeout(timeout) || tok.Error() != nil {
					return
				}
			}
		}()
		var subs []*client
		for range 20 {
			sub := dial(t, addr, newID("sub"))
			sub.subscribe(t, "race/t", 1)
			subs = append(subs, sub)
		}
		close(stop)
		last := <-published
		for _, sub := range subs {
			prev := 0
			for prev < last {
				m := sub.next(t)
				var n int
				fmt.Sscan(string(m.Payload()), &n)
				if n <= prev {
					t.Fatalf("%s got %d (retained %v) after %d", sub.id, n, m.Retained(), prev)
				}
				prev = n
			}
		}
	})
}
