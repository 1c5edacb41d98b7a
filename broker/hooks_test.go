package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/packet"
)

const quiet = 200 * time.Millisecond

func TestPreConnect(t *testing.T) {
	errBusy := errors.New("busy")
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			b, addr := startBroker(t, &Options{Hooks: Hooks{
				PreConnect: func(_ context.Context, c *Client, p *packet.Connect) error {
					switch p.ClientID {
					case "banned":
						return errBusy // default code: not authorized
					case "later":
						return fmt.Errorf("overloaded: %w", packet.ServerUnavailable)
					case "renamed":
						p.ClientID = "new-name" // the packet may be changed
					}
					if c == nil || c.Conn == nil || c.RemoteAddr() == nil {
						return errors.New("no client")
					}
					return nil
				},
			}})
			ev := record(b)
			cases := []struct {
				id   string
				want packet.ReasonCode
			}{
				{"banned", packet.NotAuthorized}, // 3.x return code 5
				{"later", packet.ServerUnavailable},
				{"renamed", packet.Success},
				{"fine", packet.Success},
			}
			for _, tc := range cases {
				c, ack := brokertest.Connect(t, addr, &packet.Connect{Version: v, ClientID: tc.id, CleanStart: true})
				if ack.ReasonCode != tc.want {
					t.Fatalf("%s: CONNACK %v, want %v", tc.id, ack.ReasonCode, tc.want)
				}
				if tc.want != packet.Success {
					c.ExpectClosed()
					e := ev.wait(t, "ConnectionError", of(tc.id))
					if tc.id == "banned" && !errors.Is(e.err, errBusy) {
						t.Errorf("ConnectionError %v, want the hook's error", e.err)
					}
				}
			}
			ev.wait(t, "Client", of("new-name"))
			ev.wait(t, "Client", of("fine"))
			if got := ev.all("Client", func(e event) bool { return e.client.ID == "banned" || e.client.ID == "later" }); len(got) != 0 {
				t.Fatalf("refused clients got Client events: %v", got)
			}
			time.Sleep(quiet)
			// One ConnectionError per refusal, not one more when the
			// connection then ends.
			if n := len(ev.all("ConnectionError", nil)); n != 2 {
				t.Fatalf("%d ConnectionError events, want 2", n)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	errNo := errors.New("no")
	cases := []struct {
		user string
		err  error
		want packet.ReasonCode // and the 3.x return code the codec maps it to
	}{
		{"alice", nil, packet.Success},
		{"plain", errNo, packet.NotAuthorized},                                      // 5
		{"badpass", packet.BadUserNameOrPassword, packet.BadUserNameOrPassword},     // 4
		{"badid", packet.ClientIdentifierNotValid, packet.ClientIdentifierNotValid}, // 2
		{"down", packet.ServerUnavailable, packet.ServerUnavailable},                // 3
		{"wrapped", fmt.Errorf("ldap: %w", packet.BadUserNameOrPassword), packet.BadUserNameOrPassword},
		{"banned", packet.Banned, packet.NotAuthorized}, // 5
	}
	wantCode := map[packet.ReasonCode]byte{packet.Success: 0, packet.ClientIdentifierNotValid: 2,
		packet.ServerUnavailable: 3, packet.BadUserNameOrPassword: 4, packet.NotAuthorized: 5}
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			b, addr := startBroker(t, &Options{Hooks: Hooks{
				Authenticate: func(_ context.Context, c *Client, user string, pass []byte) error {
					if c.Username != user || string(pass) != "secret-"+user {
						return fmt.Errorf("hook got %q/%q", user, pass)
					}
					for _, tc := range cases {
						if tc.user == user {
							return tc.err
						}
					}
					return errors.New("unknown user")
				},
			}})
			ev := record(b)
			for _, tc := range cases {
				c, ack := brokertest.Connect(t, addr, &packet.Connect{Version: v, ClientID: "c-" + tc.user,
					CleanStart: true, Username: tc.user, Password: []byte("secret-" + tc.user)})
				if ack.ReasonCode != tc.want {
					t.Errorf("%s: CONNACK %v, want %v (return code %d)", tc.user, ack.ReasonCode, tc.want, wantCode[tc.want])
					continue
				}
				if tc.err == nil {
					continue
				}
				c.ExpectClosed()
				if e := ev.wait(t, "ConnectionError", of("c-"+tc.user)); !errors.Is(e.err, tc.err) {
					t.Errorf("%s: ConnectionError %v, want %v", tc.user, e.err, tc.err)
				}
			}
			time.Sleep(quiet)
			if n := len(ev.all("ConnectionError", nil)); n != len(cases)-1 {
				t.Errorf("%d ConnectionError events, want %d", n, len(cases)-1)
			}
		})
	}
}

func TestAuthorizePublish(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			errNope := errors.New("nope")
			b, addr := startBroker(t, &Options{Hooks: Hooks{
				AuthorizePublish: func(_ context.Context, c *Client, p *packet.Publish) error {
					switch {
					case strings.HasPrefix(p.Topic, "forbidden/"):
						return errNope
					case p.Topic == "rewrite":
						p.Payload = []byte("rewritten by " + c.ID)
						p.Topic = "rewritten"
					}
					return nil
				},
			}})
			ev := record(b)
			sub := connect(t, addr, "sub", v, true)
			sub.MustSubscribe(1, packet.Subscription{Filter: "#", QoS: 1})
			pub := connect(t, addr, "pub", v, true)
			pub.MustPublish(&packet.Publish{Topic: "rewrite", Payload: []byte("original"), QoS: 1, ID: 1})
			if got := sub.NextPublish(); got.Topic != "rewritten" || string(got.Payload) != "rewritten by pub" {
				t.Fatalf("got %+v", got)
			} else {
				sub.Ack(got)
			}

			// A refusal closes the publisher without a word [MQTT-3.3.5-2].
			pub.Publish(&packet.Publish{Topic: "forbidden/x", Payload: []byte("x"), QoS: 1, ID: 2})
			pub.ExpectClosed()
			sub.ExpectNothing(quiet)
			errs := ev.waitN(t, 1, "ClientError", of("pub"))
			if !errors.Is(errs[0].err, errNope) {
				t.Fatalf("ClientError %v, want the hook's error", errs[0].err)
			}
			ev.wait(t, "ClientDisconnect", of("pub"))
			time.Sleep(quiet)
			if n := len(ev.all("ClientError", of("pub"))); n != 1 {
				t.Fatalf("%d ClientError events for one refusal", n)
			}

			// A will goes through the hook as well.
			dying := brokertest.MustConnect(t, addr, &packet.Connect{Version: v, ClientID: "dying", CleanStart: true,
				Will: &packet.Will{Topic: "forbidden/will", Payload: []byte("x")}})
			dying.Close()
			ev.wait(t, "ClientDisconnect", of("dying"))
			sub.ExpectNothing(quiet)
		})
	}
}

func TestDefaultRefusesSysPublish(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			b, addr := startBroker(t, nil)
			ev := record(b)
			sub := connect(t, addr, "sub", v, true)
			sub.MustSubscribe(1, packet.Subscription{Filter: "$SYS/fake/#"})
			c := connect(t, addr, "c", v, true)
			c.Publish(&packet.Publish{Topic: "$SYS/fake/x", Payload: []byte("spoof")})
			c.ExpectClosed()
			if e := ev.wait(t, "ClientError", of("c")); !errors.Is(e.err, errSysTopic) {
				t.Fatalf("ClientError %v", e.err)
			}
			sub.ExpectNothing(quiet)
			// Other '$' topics are open.
			c = connect(t, addr, "c2", v, true)
			c.MustSubscribe(1, packet.Subscription{Filter: "$other/#"})
			c.MustPublish(&packet.Publish{Topic: "$other/x", Payload: []byte("ok")})
			c.NextPublish()
		})
	}
}

func TestAuthorizeSubscribe(t *testing.T) {
	errNope := errors.New("nope")
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			b, addr := startBroker(t, &Options{Hooks: Hooks{
				AuthorizeSubscribe: func(_ context.Context, c *Client, s *packet.Subscription) (bool, error) {
					switch {
					case s.Filter == "refused":
						return false, errNope
					case s.Filter == "negated":
						return false, nil
					case s.Filter == "mine/#":
						s.Filter = "tenant/" + c.ID + "/#"
						s.QoS = min(s.QoS, 1)
					case s.Filter == "bad-rewrite":
						s.Filter = "a/#/b"
					}
					return true, nil
				},
			}})
			ev := record(b)
			c := connect(t, addr, "c", v, true)
			ack := c.MustSubscribe(1,
				packet.Subscription{Filter: "refused", QoS: 1},
				packet.Subscription{Filter: "negated", QoS: 1},
				packet.Subscription{Filter: "mine/#", QoS: 2},
				packet.Subscription{Filter: "bad-rewrite", QoS: 0},
				packet.Subscription{Filter: "open", QoS: 2})
			want := []packet.ReasonCode{0x80, 0x80, 1, 0x80, 2}
			for i := range want {
				if ack.Reasons[i] != want[i] {
					t.Fatalf("SUBACK %v, want %v", ack.Reasons, want)
				}
			}
			e := ev.wait(t, "Subscribe", of("c"))
			wantGrants := []Grant{{"refused", 0, 0x80}, {"negated", 0, 0x80}, {"tenant/c/#", 1, 1}, {"a/#/b", 0, 0x80}, {"open", 2, 2}}
			for i, g := range e.grants {
				if g != wantGrants[i] {
					t.Errorf("grant %d: %+v, want %+v", i, g, wantGrants[i])
				}
			}
			// The error is told, once; the negation is not an error.
			errs := ev.all("ClientError", of("c"))
			if len(errs) != 1 || !errors.Is(errs[0].err, errNope) {
				t.Fatalf("ClientError events %v, want one with the hook's error", errs)
			}
			pub := connect(t, addr, "pub", v, true)
			for i, topic := range []string{"refused", "negated", "mine/x", "tenant/c/x", "open"} {
				pub.MustPublish(&packet.Publish{Topic: topic, Payload: []byte(topic), QoS: 2, ID: uint16(i + 1)})
			}
			for _, want := range []struct {
				topic string
				qos   packet.QoS
			}{{"tenant/c/x", 1}, {"open", 2}} {
				got := c.NextPublish()
				if got.Topic != want.topic || got.QoS != want.qos {
					t.Fatalf("got %s at QoS %d, want %s at %d", got.Topic, got.QoS, want.topic, want.qos)
				}
				c.Ack(got)
			}
			c.ExpectNothing(quiet)
		})
	}
}

func TestAuthorizeForward(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			var serverSide = make(chan *Client, 10)
			b, addr := startBroker(t, &Options{Hooks: Hooks{
				AuthorizeForward: func(c *Client, m *Message) *Message {
					if c == nil {
						serverSide <- c
						return m
					}
					switch c.ID {
					case "deaf":
						return nil
					case "redacted":
						cp := *m
						cp.Payload = []byte("redacted for " + c.ID)
						return &cp
					}
					return m
				},
			}})
			pub := connect(t, addr, "pub", v, true)
			pub.MustPublish(&packet.Publish{Topic: "f/retained", Payload: []byte("kept"), Retain: true, QoS: 1, ID: 1})
			subs := map[string]*brokertest.Client{}
			for _, id := range []string{"deaf", "redacted", "plain"} {
				subs[id] = connect(t, addr, id, v, true)
				subs[id].MustSubscribe(1, packet.Subscription{Filter: "f/#", QoS: 1})
			}
			got := make(chan *Message, 10)
			s, err := b.Subscribe("f/#", func(_ context.Context, m *Message) error { got <- m; return nil })
			if err != nil {
				t.Fatal(err)
			}
			defer s.Unsubscribe()
			pub.MustPublish(&packet.Publish{Topic: "f/live", Payload: []byte("live"), QoS: 1, ID: 2})

			// The retained message and the live one are on two topics:
			// they may come in either order.
			for id, want := range map[string]map[string]string{
				"plain":    {"f/retained": "kept", "f/live": "live"},
				"redacted": {"f/retained": "redacted for redacted", "f/live": "redacted for redacted"},
			} {
				for range want {
					p := subs[id].NextPublish()
					if string(p.Payload) != want[p.Topic] || p.Retain != (p.Topic == "f/retained") {
						t.Fatalf("%s: %+v", id, p)
					}
					subs[id].Ack(p)
				}
			}
			subs["deaf"].ExpectNothing(quiet)
			if m := <-got; string(m.Payload) != "live" {
				t.Fatalf("server side got %+v", m)
			}
			select {
			case c := <-serverSide:
				if c != nil {
					t.Fatalf("AuthorizeForward for a server-side subscription got client %v", c.ID)
				}
			default:
				t.Fatal("AuthorizeForward not asked for the server-side subscription")
			}
		})
	}
}

func TestPublishedBackpressure(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			called := make(chan *Message)
			release := make(chan struct{})
			var who *Client
			_, addr := startBroker(t, &Options{Hooks: Hooks{
				Published: func(_ context.Context, m *Message, c *Client) error {
					who = c
					called <- m
					<-release
					return nil
				},
			}})
			sub := connect(t, addr, "sub", v, true)
			sub.MustSubscribe(1, packet.Subscription{Filter: "bp", QoS: 1})
			pub := connect(t, addr, "pub", v, true)
			pub.Publish(&packet.Publish{Topic: "bp", Payload: []byte("x"), QoS: 1, ID: 1})
			m := <-called
			if m.Topic != "bp" || string(m.Payload) != "x" || who == nil || who.ID != "pub" {
				t.Fatalf("Published(%+v, %v)", m, who)
			}
			// Delivered already, and the publisher waits.
			sub.Ack(sub.NextPublish())
			pub.ExpectNothing(quiet)
			close(release)
			if a := brokertest.Expect[*packet.Puback](pub); a.ID != 1 {
				t.Fatalf("PUBACK %d", a.ID)
			}
		})
	}
}
