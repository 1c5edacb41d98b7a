package broker

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/midge-mqtt/midge/auth/scram"
	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

// scramBroker starts a broker that authenticates alice (password "secret")
// with SCRAM-SHA-256; o may carry other options.
func scramBroker(t *testing.T, o *Options) (*Broker, string) {
	t.Helper()
	cred, err := scram.NewCredentials("secret", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &scram.Server{Lookup: func(_ context.Context, user string) (scram.Credentials, error) {
		if user != "alice" {
			return scram.Credentials{}, scram.ErrUnknownUser
		}
		return cred, nil
	}}
	if o == nil {
		o = &Options{}
	}
	o.Hooks.StartAuth = func(_ context.Context, c *Client, method string) (stack.AuthExchange, error) {
		if method != scram.Method {
			return nil, nil
		}
		return s.Start(), nil
	}
	return startBroker(t, o)
}

// scramAuther is paho's side of SCRAM: it answers the broker's AUTH
// packets with the current scram.Client.
type scramAuther struct {
	mu  sync.Mutex
	c   *scram.Client
	err error
}

func (a *scramAuther) Authenticate(in *paho.Auth) *paho.Auth {
	a.mu.Lock()
	defer a.mu.Unlock()
	var data []byte
	if in.Properties != nil {
		data = in.Properties.AuthData
	}
	out, err := a.c.Next(data)
	if err != nil && a.err == nil {
		a.err = err
	}
	return &paho.Auth{ReasonCode: byte(packet.ContinueAuthentication),
		Properties: &paho.AuthProperties{AuthMethod: scram.Method, AuthData: out}}
}

func (a *scramAuther) Authenticated() {}

// start begins a new conversation and returns its first message.
func (a *scramAuther) start(user, password string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.c = scram.NewClient(user, password)
	return a.c.First()
}

// verify checks the server's final message.
func (a *scramAuther) verify(data []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	_, err := a.c.Next(data)
	return err
}

// authPaho is a paho.golang MQTT 5 client over TCP, disconnected when
// the test ends.
type authPaho struct {
	*paho.Client
	auther *scramAuther
	disc   chan *paho.Disconnect // the broker's DISCONNECT
}

func dialAuthPaho(t *testing.T, addr string, received chan<- paho.PublishReceived) *authPaho {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pc := &authPaho{auther: &scramAuther{}, disc: make(chan *paho.Disconnect, 1)}
	cfg := paho.ClientConfig{Conn: nc, AuthHandler: pc.auther,
		OnServerDisconnect: func(d *paho.Disconnect) { pc.disc <- d },
		OnClientError:      func(error) {}}
	if received != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){
			func(r paho.PublishReceived) (bool, error) { received <- r; return true, nil }}
	}
	pc.Client = paho.NewClient(cfg)
	t.Cleanup(func() {
		pc.Disconnect(&paho.Disconnect{})
		nc.Close()
	})
	return pc
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.Wait)
	t.Cleanup(cancel)
	return ctx
}

// connectSCRAM connects pc as user with password over SCRAM-SHA-256 and
// returns the CONNACK and paho's error.
func (pc *authPaho) connectSCRAM(t *testing.T, id, user, password string) (*paho.Connack, error) {
	return pc.Connect(ctxFor(t), &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30,
		Properties: &paho.ConnectProperties{AuthMethod: scram.Method, AuthData: pc.auther.start(user, password)}})
}

func TestEnhancedAuthSCRAM(t *testing.T) {
	b, addr := scramBroker(t, nil)
	ev := record(b)
	received := make(chan paho.PublishReceived, 1)
	pc := dialAuthPaho(t, addr, received)
	ack, err := pc.connectSCRAM(t, "scram-1", "alice", "secret")
	if err != nil {
		t.Fatalf("Connect: %v (%v)", err, ack)
	}
	if ack.ReasonCode != 0 || ack.Properties == nil || ack.Properties.AuthMethod != scram.Method {
		t.Fatalf("CONNACK %v, want success with method %s [MQTT-4.12.0-5]", ack, scram.Method)
	}
	if err := pc.auther.verify(ack.Properties.AuthData); err != nil {
		t.Fatalf("server-final-message in CONNACK: %v", err)
	}
	cl := ev.wait(t, "Client", of("scram-1")).client
	if cl.Props == nil || cl.Props.AuthMethod != scram.Method {
		t.Errorf("Client.Props %+v, want the method", cl.Props)
	}
	sent := ev.wait(t, "ConnackSent", of("scram-1")).connack
	if sent.Props == nil || sent.Props.AuthMethod != scram.Method {
		t.Errorf("ConnackSent told %+v, want the method", sent)
	}
	ev.wait(t, "ClientReady", of("scram-1"))

	// The connection works: a subscription and a message through it.
	if _, err := pc.Subscribe(ctxFor(t), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "t/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Publish(ctxFor(t), &paho.Publish{Topic: "t/1", QoS: 1, Payload: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-received:
		if string(r.Packet.Payload) != "hi" {
			t.Errorf("received %q", r.Packet.Payload)
		}
	case <-time.After(brokertest.Wait):
		t.Fatal("no message")
	}

	// Re-authentication, twice: AUTH 0x19, 0x18 both ways, AUTH 0x00.
	for i := range 2 {
		resp, err := pc.Authenticate(ctxFor(t), &paho.Auth{ReasonCode: byte(packet.ReAuthenticate),
			Properties: &paho.AuthProperties{AuthMethod: scram.Method, AuthData: pc.auther.start("alice", "secret")}})
		if err != nil {
			t.Fatalf("re-authentication %d: %v", i, err)
		}
		// paho's AuthResponse keeps neither the method nor the data of
		// the final AUTH: TestReauthOtherPacketsFlow checks them.
		if !resp.Success || resp.ReasonCode != 0 {
			t.Fatalf("re-authentication %d: %+v, want AUTH success", i, resp)
		}
	}
	if _, err := pc.Publish(ctxFor(t), &paho.Publish{Topic: "t/2", QoS: 1, Payload: []byte("still here")}); err != nil {
		t.Fatalf("after re-authentication: %v", err)
	}

	// A failed re-authentication ends the connection with DISCONNECT 0x87
	// [MQTT-4.12.1-2].
	resp, err := pc.Authenticate(ctxFor(t), &paho.Auth{ReasonCode: byte(packet.ReAuthenticate),
		Properties: &paho.AuthProperties{AuthMethod: scram.Method, AuthData: pc.auther.start("alice", "wrong")}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Success || resp.ReasonCode != byte(packet.NotAuthorized) {
		t.Fatalf("failed re-authentication: %+v, want DISCONNECT not authorized", resp)
	}
	e := ev.wait(t, "ClientError", of("scram-1"))
	if !errors.Is(e.err, scram.ErrAuthFailed) {
		t.Errorf("ClientError %v, want the exchange's error", e.err)
	}
	ev.wait(t, "ClientDisconnect", of("scram-1"))
}

func TestEnhancedAuthRefused(t *testing.T) {
	b, addr := scramBroker(t, nil)
	ev := record(b)
	cases := []struct {
		name, id, method, user, password string
		want                             packet.ReasonCode
	}{
		{"wrong password", "wrong-password", scram.Method, "alice", "guess", packet.NotAuthorized},
		{"unknown user", "unknown-user", scram.Method, "mallory", "secret", packet.NotAuthorized},
		{"unsupported method", "other-method", "SCRAM-SHA-1", "alice", "secret", packet.BadAuthenticationMethod}, // [MQTT-4.12.0-1]
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pc := dialAuthPaho(t, addr, nil)
			ack, err := pc.Connect(ctxFor(t), &paho.Connect{ClientID: tc.id, CleanStart: true,
				Properties: &paho.ConnectProperties{AuthMethod: tc.method, AuthData: pc.auther.start(tc.user, tc.password)}})
			if err == nil || ack == nil || ack.ReasonCode != byte(tc.want) {
				t.Fatalf("Connect: %v, %v; want CONNACK %v", ack, err, tc.want)
			}
			e := ev.wait(t, "ConnectionError", of(tc.id))
			if tc.want == packet.NotAuthorized && !errors.Is(e.err, scram.ErrAuthFailed) {
				t.Errorf("ConnectionError %v, want the exchange's error", e.err)
			}
		})
	}
	if n := len(ev.all("Client", nil)); n != 0 {
		t.Errorf("%d clients accepted", n)
	}
}

// TestEnhancedAuthNoHook: a broker without StartAuth supports no method,
// and refuses a CONNECT that names one [MQTT-4.12.0-1].
func TestEnhancedAuthNoHook(t *testing.T) {
	_, addr := startBroker(t, nil)
	c, ack := brokertest.Connect(t, addr, &packet.Connect{Version: packet.V5, ClientID: "x", CleanStart: true,
		Props: &packet.Properties{AuthMethod: scram.Method}})
	if ack.ReasonCode != packet.BadAuthenticationMethod {
		t.Fatalf("CONNACK %v, want bad authentication method", ack.ReasonCode)
	}
	c.ExpectClosed()
}

// rawSCRAM starts a SCRAM exchange on a raw client: CONNECT with the
// client-first-message, and the broker's AUTH 0x18 with its first message.
// It returns the client, the SCRAM client and the client-final-message.
func rawSCRAM(t *testing.T, addr string, p *packet.Connect, password string) (*brokertest.Client, *scram.Client, []byte) {
	t.Helper()
	sc := scram.NewClient("alice", password)
	p.Version = packet.V5
	if p.Props == nil {
		p.Props = &packet.Properties{}
	}
	p.Props.AuthMethod, p.Props.AuthData = scram.Method, sc.First()
	c := brokertest.Dial(t, addr, packet.V5)
	if err := c.Connect(p); err != nil {
		t.Fatal(err)
	}
	a := brokertest.Expect[*packet.Auth](c)
	if a.ReasonCode != packet.ContinueAuthentication || a.Props == nil || a.Props.AuthMethod != scram.Method {
		t.Fatalf("AUTH %+v, want continue authentication with the method [MQTT-4.12.0-2] [MQTT-4.12.0-5]", a)
	}
	final, err := sc.Next(a.Props.AuthData)
	if err != nil {
		t.Fatal(err)
	}
	return c, sc, final
}

// mustSCRAM connects a raw client as alice over SCRAM.
func mustSCRAM(t *testing.T, addr string, p *packet.Connect) (*brokertest.Client, *scram.Client) {
	t.Helper()
	c, sc, final := rawSCRAM(t, addr, p, "secret")
	c.Auth(&packet.Auth{ReasonCode: packet.ContinueAuthentication, Props: &packet.Properties{AuthMethod: scram.Method, AuthData: final}})
	ack := brokertest.Expect[*packet.Connack](c)
	if ack.ReasonCode != packet.Success || ack.Props == nil || ack.Props.AuthMethod != scram.Method {
		t.Fatalf("CONNACK %+v, want success with the method", ack)
	}
	if _, err := sc.Next(ack.Props.AuthData); err != nil {
		t.Fatal(err)
	}
	return c, sc
}

// TestEnhancedAuthProtocolErrors: what a client may not do during and
// after an exchange ends its connection with 0x82 protocol error.
func TestEnhancedAuthProtocolErrors(t *testing.T) {
	b, addr := scramBroker(t, nil)
	ev := record(b)
	auth := func(rc packet.ReasonCode, method string) *packet.Auth {
		return &packet.Auth{ReasonCode: rc, Props: &packet.Properties{AuthMethod: method}}
	}
	during := []struct {
		name string
		p    packet.Packet
	}{
		{"PINGREQ", &packet.Pingreq{}},                                 // [MQTT-3.1.2-30]
		{"PUBLISH", &packet.Publish{Topic: "t", Payload: []byte("x")}}, // [MQTT-3.1.2-30]
		{"SUBSCRIBE", &packet.Subscribe{ID: 1, Subscriptions: []packet.Subscription{{Filter: "t"}}}},
		{"AUTH of another method", auth(packet.ContinueAuthentication, "SCRAM-SHA-1")}, // [MQTT-4.12.0-5]
		{"AUTH without method", &packet.Auth{ReasonCode: packet.ContinueAuthentication}},
		{"AUTH re-authenticate", auth(packet.ReAuthenticate, scram.Method)}, // [MQTT-4.12.0-3]
	}
	for _, tc := range during {
		t.Run("before CONNACK/"+tc.name, func(t *testing.T) {
			id := "during-" + tc.name
			c, _, _ := rawSCRAM(t, addr, &packet.Connect{ClientID: id, CleanStart: true}, "secret")
			if err := c.WritePacket(tc.p); err != nil {
				t.Fatal(err)
			}
			if ack := brokertest.Expect[*packet.Connack](c); ack.ReasonCode != packet.ProtocolError {
				t.Fatalf("CONNACK %v, want protocol error", ack.ReasonCode)
			}
			c.ExpectClosed()
			ev.wait(t, "ConnectionError", of(id))
		})
	}
	t.Run("before CONNACK/DISCONNECT", func(t *testing.T) {
		// The client gives up: no CONNACK, no error.
		c, _, _ := rawSCRAM(t, addr, &packet.Connect{ClientID: "gives-up", CleanStart: true}, "secret")
		c.Disconnect(nil)
		c.ExpectClosed()
	})

	after := []struct {
		name   string
		method bool // the CONNECT named a method
		p      *packet.Auth
	}{
		{"AUTH without a method in CONNECT", false, auth(packet.ReAuthenticate, scram.Method)}, // [MQTT-4.12.0-7]
		{"AUTH of another method", true, auth(packet.ReAuthenticate, "SCRAM-SHA-1")},           // [MQTT-4.12.1-1]
		{"continue with nothing to continue", true, auth(packet.ContinueAuthentication, scram.Method)},
	}
	for _, tc := range after {
		t.Run("after CONNACK/"+tc.name, func(t *testing.T) {
			p := &packet.Connect{ClientID: "after-" + tc.name, CleanStart: true}
			var c *brokertest.Client
			if tc.method {
				c, _ = mustSCRAM(t, addr, p)
			} else {
				p.Version = packet.V5
				c = brokertest.MustConnect(t, addr, p)
			}
			c.Auth(tc.p)
			if d := brokertest.Expect[*packet.Disconnect](c); d.ReasonCode != packet.ProtocolError {
				t.Fatalf("DISCONNECT %v, want protocol error", d.ReasonCode)
			}
			c.ExpectClosed()
		})
	}
	if n := len(ev.all("ConnectionError", func(e event) bool { return e.client.ID == "gives-up" })); n != 0 {
		t.Errorf("a client that gave up was told as %d errors", n)
	}
}

// TestReauthOtherPacketsFlow: during a re-authentication, the client's
// other packets are answered as usual.
func TestReauthOtherPacketsFlow(t *testing.T) {
	_, addr := scramBroker(t, nil)
	c, _ := mustSCRAM(t, addr, &packet.Connect{ClientID: "flow", CleanStart: true})
	sc := scram.NewClient("alice", "secret")
	c.Auth(&packet.Auth{ReasonCode: packet.ReAuthenticate, Props: &packet.Properties{AuthMethod: scram.Method, AuthData: sc.First()}})
	a := brokertest.Expect[*packet.Auth](c)
	if a.ReasonCode != packet.ContinueAuthentication {
		t.Fatalf("AUTH %v, want continue authentication", a.ReasonCode)
	}
	c.Pingreq()
	brokertest.Expect[*packet.Pingresp](c)
	c.MustPublish(&packet.Publish{Topic: "t", QoS: packet.AtLeastOnce, ID: 7, Payload: []byte("x")})
	final, err := sc.Next(a.Props.AuthData)
	if err != nil {
		t.Fatal(err)
	}
	c.Auth(&packet.Auth{ReasonCode: packet.ContinueAuthentication, Props: &packet.Properties{AuthMethod: scram.Method, AuthData: final}})
	a = brokertest.Expect[*packet.Auth](c)
	if a.ReasonCode != packet.Success || a.Props == nil || a.Props.AuthMethod != scram.Method {
		t.Fatalf("AUTH %+v, want success with the method", a)
	}
	if _, err := sc.Next(a.Props.AuthData); err != nil {
		t.Fatal(err)
	}
	c.Pingreq()
	brokertest.Expect[*packet.Pingresp](c)
}

// TestEnhancedAuthConnectTimeout: the connect timeout covers the whole
// exchange, even for a keep alive of 0 (none); once accepted, a client with
// a keep alive of 0 is not timed out.
func TestEnhancedAuthConnectTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	b, addr := scramBroker(t, &Options{ConnectTimeout: timeout})
	ev := record(b)
	start := time.Now()
	c, _, _ := rawSCRAM(t, addr, &packet.Connect{ClientID: "stalls", CleanStart: true, KeepAlive: 0}, "secret")
	c.ExpectClosed()
	if d := time.Since(start); d < timeout {
		t.Errorf("closed after %v, before the connect timeout", d)
	}
	if e := ev.wait(t, "ConnectionError", of("stalls")); !stack.IsTimeout(e.err) {
		t.Errorf("ConnectionError %v, want a timeout", e.err)
	}
	if n := len(ev.all("KeepaliveTimeout", nil)); n != 0 {
		t.Errorf("%d KeepaliveTimeout events for a client never accepted", n)
	}

	ok, _ := mustSCRAM(t, addr, &packet.Connect{ClientID: "accepted", CleanStart: true, KeepAlive: 0})
	ok.ExpectNothing(2 * timeout)
}

// TestEnhancedAuthWill: the will of a client authenticated by an exchange
// is armed once it is accepted, and never for one refused.
func TestEnhancedAuthWill(t *testing.T) {
	_, addr := scramBroker(t, nil)
	sub := connect(t, addr, "watcher", packet.V311, true)
	sub.MustSubscribe(1, packet.Subscription{Filter: "will/#"})

	refused, _, final := rawSCRAM(t, addr, &packet.Connect{ClientID: "refused", CleanStart: true,
		Will: &packet.Will{Topic: "will/refused", Payload: []byte("no")}}, "wrong")
	refused.Auth(&packet.Auth{ReasonCode: packet.ContinueAuthentication, Props: &packet.Properties{AuthMethod: scram.Method, AuthData: final}})
	if ack := brokertest.Expect[*packet.Connack](refused); ack.ReasonCode != packet.NotAuthorized {
		t.Fatalf("CONNACK %v, want not authorized", ack.ReasonCode)
	}
	refused.ExpectClosed()

	c, _ := mustSCRAM(t, addr, &packet.Connect{ClientID: "dies", CleanStart: true,
		Will: &packet.Will{Topic: "will/dies", Payload: []byte("gone")}})
	c.Close() // no DISCONNECT: the will goes out
	if p := sub.NextPublish(); p.Topic != "will/dies" {
		t.Fatalf("got %q, want the accepted client's will", p.Topic)
	}
	sub.ExpectNothing(quiet)
}

func TestRedirect(t *testing.T) {
	b, addr := startBroker(t, &Options{Hooks: Hooks{
		PreConnect: func(_ context.Context, c *Client, p *packet.Connect) error {
			switch p.ClientID {
			case "busy":
				return &stack.Redirect{Server: "other.example:1883"}
			case "moved":
				return &stack.Redirect{Server: "new.example:1883", Permanent: true}
			}
			return nil
		},
		AuthorizePublish: func(_ context.Context, c *Client, p *packet.Publish) error {
			if p.Topic == "leave" {
				return &stack.Redirect{Server: "other.example:1883"}
			}
			return nil
		},
	}})
	ev := record(b)
	for _, tc := range []struct {
		id, server string
		want       packet.ReasonCode
	}{
		{"busy", "other.example:1883", packet.UseAnotherServer},
		{"moved", "new.example:1883", packet.ServerMoved},
	} {
		t.Run("MQTT 5/"+tc.id, func(t *testing.T) {
			pc := dialAuthPaho(t, addr, nil)
			ack, err := pc.Connect(ctxFor(t), &paho.Connect{ClientID: tc.id, CleanStart: true})
			if err == nil || ack == nil || ack.ReasonCode != byte(tc.want) || ack.Properties == nil || ack.Properties.ServerReference != tc.server {
				t.Fatalf("Connect: %v, %v; want CONNACK %v with server reference %q", ack, err, tc.want, tc.server)
			}
			var rd *stack.Redirect
			if e := ev.wait(t, "ConnectionError", of(tc.id)); !errors.As(e.err, &rd) {
				t.Errorf("ConnectionError %v, want the redirect", e.err)
			}
		})
	}
	t.Run("MQTT 3.1.1", func(t *testing.T) {
		// No way to say where: return code 3, server unavailable.
		c, ack := brokertest.Connect(t, addr, &packet.Connect{Version: packet.V311, ClientID: "moved", CleanStart: true})
		if ack.ReasonCode != packet.ServerUnavailable {
			t.Fatalf("CONNACK %v, want server unavailable (return code 3)", ack.ReasonCode)
		}
		c.ExpectClosed()
	})
	t.Run("after CONNACK", func(t *testing.T) {
		c := brokertest.MustConnect(t, addr, &packet.Connect{Version: packet.V5, ClientID: "publisher", CleanStart: true})
		c.Publish(&packet.Publish{Topic: "leave", Payload: []byte("x")})
		d := brokertest.Expect[*packet.Disconnect](c)
		if d.ReasonCode != packet.UseAnotherServer || d.Props == nil || d.Props.ServerReference != "other.example:1883" {
			t.Fatalf("DISCONNECT %+v, want use another server with its reference", d)
		}
		c.ExpectClosed()
	})
}

// tokenExchange is a one-step method: the CONNECT's data is checked at once,
// with no AUTH packet.
type tokenExchange struct{}

func (tokenExchange) Next(_ context.Context, data []byte) ([]byte, bool, error) {
	switch string(data) {
	case "let-me-in":
		return []byte("welcome"), true, nil
	case "go-away":
		return nil, false, &stack.Redirect{Server: "elsewhere.example"}
	}
	return nil, false, packet.BadUserNameOrPassword
}

// TestEnhancedAuthOneStep: a method that decides on the CONNECT's data
// alone answers with CONNACK at once; its refusal codes and redirects
// reach the client, and a refusal code DISCONNECT cannot carry becomes
// not authorized after CONNACK.
func TestEnhancedAuthOneStep(t *testing.T) {
	_, addr := startBroker(t, &Options{Hooks: Hooks{
		StartAuth: func(_ context.Context, c *Client, method string) (stack.AuthExchange, error) {
			if method != "TOKEN" {
				return nil, errors.New("not this one") // default: not authorized
			}
			return tokenExchange{}, nil
		},
	}})
	connect := func(id, method, token string) (*brokertest.Client, *packet.Connack) {
		return brokertest.Connect(t, addr, &packet.Connect{Version: packet.V5, ClientID: id, CleanStart: true,
			Props: &packet.Properties{AuthMethod: method, AuthData: []byte(token)}})
	}
	c, ack := connect("ok", "TOKEN", "let-me-in")
	if ack.ReasonCode != packet.Success || ack.Props == nil || ack.Props.AuthMethod != "TOKEN" || string(ack.Props.AuthData) != "welcome" {
		t.Fatalf("CONNACK %+v, want success with the method and the final data", ack)
	}
	for _, tc := range []struct {
		id, method, token string
		want              packet.ReasonCode
		ref               string
	}{
		{"bad-token", "TOKEN", "nope", packet.BadUserNameOrPassword, ""},
		{"redirected", "TOKEN", "go-away", packet.UseAnotherServer, "elsewhere.example"},
		{"hook-error", "OTHER", "", packet.NotAuthorized, ""},
	} {
		r, ack := connect(tc.id, tc.method, tc.token)
		var ref string
		if ack.Props != nil {
			ref = ack.Props.ServerReference
		}
		if ack.ReasonCode != tc.want || ref != tc.ref {
			t.Errorf("%s: CONNACK %v %q, want %v %q", tc.id, ack.ReasonCode, ref, tc.want, tc.ref)
		}
		r.ExpectClosed()
	}
	// Re-authentication with a bad token: 0x86 is CONNACK's only, so the
	// DISCONNECT says not authorized.
	c.Auth(&packet.Auth{ReasonCode: packet.ReAuthenticate, Props: &packet.Properties{AuthMethod: "TOKEN", AuthData: []byte("nope")}})
	if d := brokertest.Expect[*packet.Disconnect](c); d.ReasonCode != packet.NotAuthorized {
		t.Fatalf("DISCONNECT %v, want not authorized", d.ReasonCode)
	}
	c.ExpectClosed()
}
