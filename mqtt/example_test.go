package mqtt_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/coder/websocket"
	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
)

// As a server: accept TCP connections and acknowledge what clients send,
// as in mqtt-connection's README.
func ExampleServer() {
	closed := make(chan error, 1)
	srv := &mqtt.Server{Handler: &mqtt.Events{
		Connect: func(ctx context.Context, c *mqtt.Conn, p *packet.Connect) error {
			// Accept everyone; c.Version() is the version p asked for.
			return c.Connack(&packet.Connack{})
		},
		Publish: func(ctx context.Context, c *mqtt.Conn, p *packet.Publish) error {
			fmt.Printf("server: PUBLISH %s %q\n", p.Topic, p.Payload)
			if p.QoS == packet.AtLeastOnce {
				return c.Puback(&packet.Puback{ID: p.ID})
			}
			return nil
		},
		Subscribe: func(ctx context.Context, c *mqtt.Conn, p *packet.Subscribe) error {
			granted := make([]packet.ReasonCode, len(p.Subscriptions))
			for i, s := range p.Subscriptions {
				granted[i] = packet.ReasonCode(s.QoS)
			}
			return c.Suback(&packet.Suback{ID: p.ID, Reasons: granted})
		},
		Pingreq: func(ctx context.Context, c *mqtt.Conn, p *packet.Pingreq) error {
			return c.Pingresp()
		},
		Disconnect: func(ctx context.Context, c *mqtt.Conn, p *packet.Disconnect) error {
			return c.Close()
		},
		Close: func(c *mqtt.Conn, cause error) {
			closed <- cause
		},
	}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	// A client, to see the answers.
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	c := mqtt.NewConn(nc, nil)
	defer c.Close()
	for _, p := range []packet.Packet{
		&packet.Connect{Version: packet.V5, ClientID: "example", CleanStart: true},
		&packet.Publish{Topic: "hello", Payload: []byte("world"), QoS: 1, ID: 1},
		&packet.Subscribe{ID: 2, Subscriptions: []packet.Subscription{{Filter: "a/#", QoS: 1}}},
		&packet.Pingreq{},
	} {
		c.WritePacket(p)
		answer, err := c.ReadPacket()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("client:", p.Type(), "->", answer.Type())
	}
	c.Disconnect(nil)
	_, err = c.ReadPacket() // the server closes after DISCONNECT
	fmt.Println("client:", err)
	fmt.Println("server: closed:", <-closed)

	srv.Close()
	fmt.Println(<-served)
	// Output:
	// client: CONNECT -> CONNACK
	// server: PUBLISH hello "world"
	// client: PUBLISH -> PUBACK
	// client: SUBSCRIBE -> SUBACK
	// client: PINGREQ -> PINGRESP
	// client: EOF
	// server: closed: mqtt: connection closed
	// mqtt: server closed
}

// As a client: dial, send CONNECT, read the CONNACK, publish and subscribe.
func ExampleConn() {
	addr, stop := startAcknowledger()
	defer stop()

	nc, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	c := mqtt.NewConn(nc, nil)
	defer c.Close()

	// CONNECT fixes the version; the CONNACK is read at that version.
	if err := c.Connect(&packet.Connect{Version: packet.V311, ClientID: "client", CleanStart: true, KeepAlive: 60}); err != nil {
		log.Fatal(err)
	}
	p, err := c.ReadPacket()
	if err != nil {
		log.Fatal(err)
	}
	if ack, ok := p.(*packet.Connack); !ok || ack.ReasonCode != packet.Success {
		log.Fatalf("refused: %v", p)
	}
	fmt.Println("connected with MQTT", c.Version())

	c.Publish(&packet.Publish{Topic: "hello", Payload: []byte("world"), QoS: 1, ID: 1})
	c.Subscribe(&packet.Subscribe{ID: 2, Subscriptions: []packet.Subscription{{Filter: "hello", QoS: 1}}})
	for range 2 {
		switch p, _ := c.ReadPacket(); p := p.(type) {
		case *packet.Puback:
			fmt.Println("PUBACK", p.ID)
		case *packet.Suback:
			fmt.Println("SUBACK", p.ID, p.Reasons)
		}
	}
	// Output:
	// connected with MQTT 3.1.1
	// PUBACK 1
	// SUBACK 2 [granted QoS 1]
}

// Over WebSocket: an HTTP handler upgrades the request with
// github.com/coder/websocket and serves the MQTT connection on it.
func ExampleServer_ServeConn() {
	srv := &mqtt.Server{Handler: mqtt.HandlerFunc(func(ctx context.Context, c *mqtt.Conn, p packet.Packet) error {
		if p.Type() == packet.TypeConnect {
			return c.Connack(&packet.Connack{})
		}
		return nil
	})}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"mqtt"}})
		if err != nil {
			return
		}
		srv.ServeConn(websocket.NetConn(r.Context(), ws, websocket.MessageBinary))
	}))
	defer ts.Close()
	defer srv.Close()

	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, ts.URL, &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
	if err != nil {
		log.Fatal(err)
	}
	c := mqtt.NewConn(websocket.NetConn(ctx, ws, websocket.MessageBinary), nil)
	defer c.Close()
	c.Connect(&packet.Connect{Version: packet.V5, ClientID: "ws"})
	p, err := c.ReadPacket()
	fmt.Println(p.Type(), err)
	// Output:
	// CONNACK <nil>
}

// startAcknowledger runs a server that accepts CONNECT and acknowledges
// PUBLISH and SUBSCRIBE, for the client example.
func startAcknowledger() (addr string, stop func()) {
	srv := &mqtt.Server{Handler: &mqtt.Events{
		Connect: func(ctx context.Context, c *mqtt.Conn, p *packet.Connect) error {
			return c.Connack(&packet.Connack{})
		},
		Publish: func(ctx context.Context, c *mqtt.Conn, p *packet.Publish) error {
			return c.Puback(&packet.Puback{ID: p.ID})
		},
		Subscribe: func(ctx context.Context, c *mqtt.Conn, p *packet.Subscribe) error {
			granted := make([]packet.ReasonCode, len(p.Subscriptions))
			for i, s := range p.Subscriptions {
				granted[i] = packet.ReasonCode(s.QoS)
			}
			return c.Suback(&packet.Suback{ID: p.ID, Reasons: granted})
		},
	}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	return l.Addr().String(), func() {
		srv.Close()
		<-served
	}
}
