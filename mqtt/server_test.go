package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
)

// ended is what the server's Events saw of a connection's end.
type ended struct {
	version packet.Version
	errored error // passed to Error; nil if not called
	cause   error // passed to Close
}

// ackServer is the server of mqtt-connection's README: it acknowledges
// CONNECT, PUBLISH (QoS 1 with PUBACK, QoS 2 with PUBREC, PUBREL with
// PUBCOMP), SUBSCRIBE, UNSUBSCRIBE and PINGREQ, and closes on DISCONNECT.
// Each connection's end is sent on the returned channel.
func ackServer() (*mqtt.Server, <-chan ended) {
	ends := make(chan ended, 16)
	var mu sync.Mutex
	errs := make(map[*mqtt.Conn]error) // Error's argument, until Close
	ev := &mqtt.Events{
		Connect: func(ctx context.Context, c *mqtt.Conn, p *packet.Connect) error {
			return c.Connack(&packet.Connack{})
		},
		Publish: func(ctx context.Context, c *mqtt.Conn, p *packet.Publish) error {
			switch p.QoS {
			case packet.AtLeastOnce:
				return c.Puback(&packet.Puback{ID: p.ID})
			case packet.ExactlyOnce:
				return c.Pubrec(&packet.Pubrec{ID: p.ID})
			}
			return nil
		},
		Pubrel: func(ctx context.Context, c *mqtt.Conn, p *packet.Pubrel) error {
			return c.Pubcomp(&packet.Pubcomp{ID: p.ID})
		},
		Subscribe: func(ctx context.Context, c *mqtt.Conn, p *packet.Subscribe) error {
			granted := make([]packet.ReasonCode, len(p.Subscriptions))
			for i, s := range p.Subscriptions {
				granted[i] = packet.ReasonCode(s.QoS)
			}
			return c.Suback(&packet.Suback{ID: p.ID, Reasons: granted})
		},
		Unsubscribe: func(ctx context.Context, c *mqtt.Conn, p *packet.Unsubscribe) error {
			return c.Unsuback(&packet.Unsuback{ID: p.ID, Reasons: make([]packet.ReasonCode, len(p.Filters))})
		},
		Pingreq: func(ctx context.Context, c *mqtt.Conn, p *packet.Pingreq) error {
			return c.Pingresp()
		},
		Disconnect: func(ctx context.Context, c *mqtt.Conn, p *packet.Disconnect) error {
			return c.Close()
		},
		Error: func(c *mqtt.Conn, err error) {
			mu.Lock()
			defer mu.Unlock()
			errs[c] = err
		},
		Close: func(c *mqtt.Conn, cause error) {
			mu.Lock()
			err := errs[c]
			delete(errs, c)
			mu.Unlock()
			ends <- ended{c.Version(), err, cause}
		},
	}
	return &mqtt.Server{Handler: ev}, ends
}

// TestServerExchange runs the README's exchange over every transport and
// version, with a mqtt.Conn as the client.
func TestServerExchange(t *testing.T) {
	checkLeaks(t)
	for _, tr := range transports {
		for _, v := range versions {
			t.Run(fmt.Sprintf("%s/%v", tr.name, v), func(t *testing.T) {
				srv, ends := ackServer()
				dial := tr.start(t, srv)
				c := mqtt.NewConn(dial(t), nil)
				defer c.Close()

				if err := c.Connect(&packet.Connect{Version: v, ClientID: "c1", CleanStart: true, KeepAlive: 30}); err != nil {
					t.Fatal(err)
				}
				if c.Version() != v {
					t.Fatalf("client Version() = %v after Connect, want %v", c.Version(), v)
				}
				expect(t, c, &packet.Connack{})
				if rc, ok := c.ConnackCode(); !ok || rc != packet.Success {
					t.Fatalf("ConnackCode() = %v, %v", rc, ok)
				}

				steps := []struct {
					send packet.Packet
					want packet.Packet // nil: no answer
				}{
					{&packet.Publish{Topic: "a/b", Payload: []byte("qos0")}, nil},
					{&packet.Publish{Topic: "a/b", Payload: []byte("qos1"), QoS: 1, ID: 1}, &packet.Puback{ID: 1}},
					{&packet.Publish{Topic: "a/b", Payload: []byte("qos2"), QoS: 2, ID: 2}, &packet.Pubrec{ID: 2}},
					{&packet.Pubrel{ID: 2}, &packet.Pubcomp{ID: 2}},
					{&packet.Subscribe{ID: 3, Subscriptions: []packet.Subscription{{Filter: "a/#", QoS: 1}, {Filter: "b", QoS: 2}}},
						&packet.Suback{ID: 3, Reasons: []packet.ReasonCode{packet.GrantedQoS1, packet.GrantedQoS2}}},
					{&packet.Unsubscribe{ID: 4, Filters: []string{"b"}}, unsuback(4, v)},
					{&packet.Pingreq{}, &packet.Pingresp{}},
				}
				for _, s := range steps {
					if err := c.WritePacket(s.send); err != nil {
						t.Fatalf("sending %v: %v", s.send.Type(), err)
					}
					if s.want != nil {
						expect(t, c, s.want)
					}
				}
				if err := c.Disconnect(nil); err != nil {
					t.Fatal(err)
				}
				if p, err := c.ReadPacket(); !errors.Is(err, io.EOF) {
					t.Fatalf("after DISCONNECT: ReadPacket = %v, %v; want EOF", p, err)
				}
				if cause := context.Cause(c.Context()); !errors.Is(cause, io.EOF) {
					t.Errorf("client cause %v, want EOF", cause)
				}
				e := recv(t, ends, "the server's Close event")
				if e.version != v || e.errored != nil || !errors.Is(e.cause, mqtt.ErrClosed) {
					t.Errorf("server saw the end as %+v; want version %v, no error, cause ErrClosed", e, v)
				}
			})
		}
	}
}

func unsuback(id uint16, v packet.Version) *packet.Unsuback {
	if v == packet.V5 {
		return &packet.Unsuback{ID: id, Reasons: []packet.ReasonCode{packet.Success}}
	}
	return &packet.Unsuback{ID: id}
}

// expect reads one packet and checks it is want.
func expect(t *testing.T, c *mqtt.Conn, want packet.Packet) {
	t.Helper()
	got, err := c.ReadPacket()
	if err != nil {
		t.Fatalf("reading %v: %v", want.Type(), err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

// rawConnect dials and sends a CONNECT at v, and reads the CONNACK.
func rawConnect(t *testing.T, dial func(*testing.T) io.ReadWriteCloser, v packet.Version) (io.ReadWriteCloser, *packet.Reader) {
	t.Helper()
	rwc := dial(t)
	t.Cleanup(func() { rwc.Close() })
	if _, err := rwc.Write(mustEncode(t, &packet.Connect{Version: v, ClientID: "raw"}, v)); err != nil {
		t.Fatal(err)
	}
	r := packet.NewReader(rwc, 0)
	r.Version = v
	p, err := r.ReadPacket()
	if ack, ok := p.(*packet.Connack); err != nil || !ok || ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK: %#v, %v", p, err)
	}
	return rwc, r
}

// TestMalformedClosesOnlyItsConnection sends a malformed packet on one
// connection: a v5 peer gets DISCONNECT 0x81, an earlier one is just
// closed, and a second connection to the same server keeps working.
func TestMalformedClosesOnlyItsConnection(t *testing.T) {
	checkLeaks(t)
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			srv, ends := ackServer()
			dial := startTCP(t, srv)
			bad, _ := rawConnect(t, dial, v)
			good, goodR := rawConnect(t, dial, v)

			// PINGREQ with fixed header flags 0001: reserved bits must be
			// zero [MQTT-2.2.2-2].
			if _, err := bad.Write([]byte{0xC1, 0x00}); err != nil {
				t.Fatal(err)
			}
			got := decodeAll(t, readAll(t, bad), v)
			// MQTT 5: DISCONNECT 0x81, with the reason as a string (the
			// client did not refuse problem information).
			ok := len(got) == 0
			if v == packet.V5 && len(got) == 1 {
				d, isD := got[0].(*packet.Disconnect)
				ok = isD && d.ReasonCode == packet.MalformedPacket && d.Props.ReasonString != ""
			} else if v == packet.V5 {
				ok = false
			}
			if !ok {
				t.Errorf("bad peer got %+v before the close", got)
			}
			e := recv(t, ends, "the bad connection's end")
			if packet.CodeOf(e.errored) != packet.MalformedPacket || packet.CodeOf(e.cause) != packet.MalformedPacket {
				t.Errorf("server saw %+v, want Error and Close with a malformed packet", e)
			}

			if _, err := good.Write(mustEncode(t, &packet.Pingreq{}, v)); err != nil {
				t.Fatal(err)
			}
			if p, err := goodR.ReadPacket(); err != nil || p.Type() != packet.TypePingresp {
				t.Fatalf("good connection after the bad one closed: %v, %v", p, err)
			}
		})
	}
}

// TestRefusals checks what the server sends before it closes, byte for byte
// where the bytes are fixed by the spec.
func TestRefusals(t *testing.T) {
	checkLeaks(t)
	// The MQTT 5 CONNECTs ask for no problem information, so that the
	// answers are the bare codes; "reason string" asks for it.
	connect := func(v packet.Version) []byte {
		p := &packet.Connect{Version: v, ClientID: "x"}
		if v == packet.V5 {
			p.Props = &packet.Properties{}
			p.Props.Include(packet.PropRequestProblemInfo)
		}
		return mustEncode(t, p, v)
	}
	withReason := func(p packet.Packet, reason string) []byte {
		switch p := p.(type) {
		case *packet.Connack:
			p.Props = &packet.Properties{ReasonString: reason}
		case *packet.Disconnect:
			p.Props = &packet.Properties{ReasonString: reason}
		}
		return mustEncode(t, p, packet.V5)
	}
	tests := []struct {
		name    string
		handler mqtt.Handler // nil: accept every CONNECT, ignore the rest
		version packet.Version
		send    [][]byte
		want    []byte // the whole output, up to the close
	}{{
		name: "unsupported protocol level",
		// CONNECT "MQTT" level 6 [MQTT-3.1.2-2]
		send: [][]byte{{0x10, 0x0D, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x06, 0x02, 0x00, 0x3C, 0x00, 0x01, 'x'}},
		want: []byte{0x20, 0x02, 0x00, 0x01}, // CONNACK, return code 1
	}, {
		name: "protocol name MQIsdp at level 4",
		send: [][]byte{{0x10, 0x0F, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, 'x'}},
		want: []byte{0x20, 0x02, 0x00, 0x01},
	}, {
		name: "first packet is not CONNECT",
		send: [][]byte{{0xC0, 0x00}}, // PINGREQ [MQTT-3.1.0-1]
		want: nil,
	}, {
		name:    "second CONNECT 5",
		version: packet.V5,
		send:    [][]byte{connect(packet.V5), connect(packet.V5)},
		want: []byte{0x20, 0x03, 0x00, 0x00, 0x00, // CONNACK accepted, no properties
			0xE0, 0x02, 0x82, 0x00}, // DISCONNECT protocol error [MQTT-3.1.0-2]
	}, {
		name:    "second CONNECT 3.1.1",
		version: packet.V311,
		send:    [][]byte{connect(packet.V311), connect(packet.V311)},
		want:    []byte{0x20, 0x02, 0x00, 0x00},
	}, {
		name:    "handler refuses CONNECT 5",
		handler: refuse(packet.TypeConnect, packet.NotAuthorized),
		version: packet.V5,
		send:    [][]byte{connect(packet.V5)},
		want:    []byte{0x20, 0x03, 0x00, 0x87, 0x00}, // CONNACK not authorized
	}, {
		name:    "handler refuses CONNECT 3.1.1",
		handler: refuse(packet.TypeConnect, packet.NotAuthorized),
		version: packet.V311,
		send:    [][]byte{connect(packet.V311)},
		want:    []byte{0x20, 0x02, 0x00, 0x05}, // return code 5, not authorized
	}, {
		name:    "handler refuses CONNECT 3.1",
		handler: refuse(packet.TypeConnect, packet.BadUserNameOrPassword),
		version: packet.V31,
		send:    [][]byte{connect(packet.V31)},
		want:    []byte{0x20, 0x02, 0x00, 0x04},
	}, {
		name:    "handler refuses PUBLISH 5",
		handler: refuse(packet.TypePublish, packet.QuotaExceeded),
		version: packet.V5,
		send:    [][]byte{connect(packet.V5), {0x30, 0x05, 0x00, 0x01, 't', 0x00, 'x'}},
		want:    []byte{0x20, 0x03, 0x00, 0x00, 0x00, 0xE0, 0x02, 0x97, 0x00},
	}, {
		name:    "handler refuses PUBLISH 3.1.1",
		handler: refuse(packet.TypePublish, packet.QuotaExceeded),
		version: packet.V311,
		send:    [][]byte{connect(packet.V311), {0x30, 0x04, 0x00, 0x01, 't', 'x'}},
		want:    []byte{0x20, 0x02, 0x00, 0x00},
	}, {
		name:    "code not allowed in DISCONNECT",
		handler: refuse(packet.TypePublish, packet.BadUserNameOrPassword),
		version: packet.V5,
		send:    [][]byte{connect(packet.V5), {0x30, 0x05, 0x00, 0x01, 't', 0x00, 'x'}},
		want:    []byte{0x20, 0x03, 0x00, 0x00, 0x00, 0xE0, 0x02, 0x80, 0x00}, // unspecified error
	}, {
		name:    "plain handler error",
		handler: fail(packet.TypePublish, errors.New("no")),
		version: packet.V5,
		send:    [][]byte{connect(packet.V5), {0x30, 0x05, 0x00, 0x01, 't', 0x00, 'x'}},
		want:    []byte{0x20, 0x03, 0x00, 0x00, 0x00},
	}, {
		name:    "properties in CONNACK 5",
		handler: fail(packet.TypeConnect, withProps{packet.UseAnotherServer, &packet.Properties{ServerReference: "b"}}),
		version: packet.V5,
		send:    [][]byte{connect(packet.V5)},
		want:    []byte{0x20, 0x07, 0x00, 0x9C, 0x04, 0x1C, 0x00, 0x01, 'b'}, // server reference "b"
	}, {
		name:    "properties in CONNACK 3.1.1",
		handler: fail(packet.TypeConnect, withProps{packet.UseAnotherServer, &packet.Properties{ServerReference: "b"}}),
		version: packet.V311,
		send:    [][]byte{connect(packet.V311)},
		want:    []byte{0x20, 0x02, 0x00, 0x03}, // return code 3, server unavailable
	}, {
		name:    "properties in DISCONNECT 5",
		handler: fail(packet.TypePublish, withProps{packet.ServerMoved, &packet.Properties{ServerReference: "b"}}),
		version: packet.V5,
		send:    [][]byte{connect(packet.V5), {0x30, 0x05, 0x00, 0x01, 't', 0x00, 'x'}},
		want:    []byte{0x20, 0x03, 0x00, 0x00, 0x00, 0xE0, 0x06, 0x9D, 0x04, 0x1C, 0x00, 0x01, 'b'},
	}, {
		name:    "properties DISCONNECT cannot carry",
		handler: fail(packet.TypePublish, withProps{packet.NotAuthorized, &packet.Properties{AuthMethod: "x"}}),
		version: packet.V5,
		send:    [][]byte{connect(packet.V5), {0x30, 0x05, 0x00, 0x01, 't', 0x00, 'x'}},
		want:    []byte{0x20, 0x03, 0x00, 0x00, 0x00, 0xE0, 0x02, 0x87, 0x00}, // the code alone
	}, {
		name:    "packet too large 5",
		version: packet.V5,
		// PUBLISH claiming 2 MiB: over the default limit of 1 MiB
		send: [][]byte{connect(packet.V5), {0x30, 0x80, 0x80, 0x80, 0x01}},
		want: []byte{0x20, 0x03, 0x00, 0x00, 0x00, 0xE0, 0x02, 0x95, 0x00},
	}, {
		name:    "reason string in DISCONNECT",
		handler: fail(packet.TypePublish, &packet.Error{Code: packet.QuotaExceeded, Msg: "too many"}),
		version: packet.V5,
		send: [][]byte{mustEncode(t, &packet.Connect{Version: packet.V5, ClientID: "x"}, packet.V5),
			{0x30, 0x05, 0x00, 0x01, 't', 0x00, 'x'}},
		want: append([]byte{0x20, 0x03, 0x00, 0x00, 0x00},
			withReason(&packet.Disconnect{ReasonCode: packet.QuotaExceeded}, (&packet.Error{Code: packet.QuotaExceeded, Msg: "too many"}).Error())...),
	}, {
		name:    "reason string in CONNACK",
		handler: fail(packet.TypeConnect, &packet.Error{Code: packet.Banned, Msg: "go away"}),
		version: packet.V5,
		send:    [][]byte{mustEncode(t, &packet.Connect{Version: packet.V5, ClientID: "x"}, packet.V5)},
		want:    withReason(&packet.Connack{ReasonCode: packet.Banned}, (&packet.Error{Code: packet.Banned, Msg: "go away"}).Error()),
	}, {
		name:    "reason string too large for the client",
		handler: fail(packet.TypeConnect, &packet.Error{Code: packet.Banned, Msg: "a reason string far longer than the client takes"}),
		version: packet.V5,
		send: [][]byte{mustEncode(t, &packet.Connect{Version: packet.V5, ClientID: "x",
			Props: &packet.Properties{MaximumPacketSize: 16}}, packet.V5)},
		want: []byte{0x20, 0x03, 0x00, 0x8A, 0x00}, // CONNACK banned, bare
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.handler
			if h == nil {
				h = refuse(0, 0)
			}
			srv := &mqtt.Server{Handler: h}
			rwc := startPipe(t, srv)(t)
			defer rwc.Close()
			go func() { // net.Pipe has no buffer: write while reading
				for _, b := range tt.send {
					if _, err := rwc.Write(b); err != nil {
						return // closed by the server: the test reads why
					}
				}
			}()
			got := readAll(t, rwc)
			// Bytes first; the packets if the bytes differ, so that an
			// equivalent encoding (an omitted property length) passes.
			if string(got) != string(tt.want) && !reflect.DeepEqual(decodeAll(t, got, tt.version), decodeAll(t, tt.want, tt.version)) {
				t.Errorf("server sent\n% x\nwant\n% x", got, tt.want)
			}
		})
	}
}

// withProps is a refusal that carries properties: an mqtt.PropertiesError.
type withProps struct {
	code  packet.ReasonCode
	props *packet.Properties
}

func (e withProps) Error() string                  { return e.code.Error() }
func (e withProps) Unwrap() error                  { return e.code }
func (e withProps) Properties() *packet.Properties { return e.props }

// refuse accepts every CONNECT and returns code for packets of type t.
func refuse(t packet.Type, code packet.ReasonCode) mqtt.Handler {
	return fail(t, code)
}

func fail(t packet.Type, err error) mqtt.Handler {
	return mqtt.HandlerFunc(func(ctx context.Context, c *mqtt.Conn, p packet.Packet) error {
		if p.Type() == t {
			return err
		}
		if p.Type() == packet.TypeConnect {
			return c.Connack(&packet.Connack{})
		}
		return nil
	})
}

// TestShutdown stops a server with live connections: Shutdown waits while
// they are served, and closes them, telling v5 clients why, once its
// context ends.
func TestShutdown(t *testing.T) {
	checkLeaks(t)
	t.Run("waits for connections", func(t *testing.T) {
		srv, _ := ackServer()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		nc, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c := mqtt.NewConn(nc, nil)
		defer c.Close()
		if err := c.Connect(&packet.Connect{Version: packet.V5, ClientID: "a"}); err != nil {
			t.Fatal(err)
		}
		expect(t, c, &packet.Connack{})

		shut := make(chan error, 1)
		go func() { shut <- srv.Shutdown(context.Background()) }()
		if err := recv(t, served, "Serve to return"); !errors.Is(err, mqtt.ErrServerClosed) {
			t.Fatalf("Serve returned %v", err)
		}
		// The live connection is still served meanwhile.
		if err := c.Pingreq(); err != nil {
			t.Fatal(err)
		}
		expect(t, c, &packet.Pingresp{})
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v with a connection still open", err)
		default:
		}
		if err := c.Disconnect(nil); err != nil {
			t.Fatal(err)
		}
		if err := recv(t, shut, "Shutdown to return"); err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
		if err := srv.ServeConn(nopConn{}); !errors.Is(err, mqtt.ErrServerClosed) {
			t.Errorf("ServeConn after Shutdown = %v", err)
		}
	})
	t.Run("closes connections when the context ends", func(t *testing.T) {
		srv, ends := ackServer()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		var clients []io.ReadWriteCloser
		for _, v := range versions {
			rwc, _ := rawConnect(t, func(t *testing.T) io.ReadWriteCloser {
				nc, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				return nc
			}, v)
			clients = append(clients, rwc)
		}

		ctx, cancel := context.WithCancel(context.Background())
		shut := make(chan error, 1)
		go func() { shut <- srv.Shutdown(ctx) }()
		recv(t, served, "Serve to return")
		cancel()
		if err := recv(t, shut, "Shutdown to return"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Shutdown = %v, want context.Canceled", err)
		}
		for i, v := range versions {
			got := decodeAll(t, readAll(t, clients[i]), v)
			switch {
			case v != packet.V5 && len(got) != 0:
				t.Errorf("%v client got %v before the close, want nothing", v, got)
			case v == packet.V5:
				// A DISCONNECT 0x8B, with a reason string.
				if d, ok := last(got).(*packet.Disconnect); !ok || len(got) != 1 || d.ReasonCode != packet.ServerShuttingDown || d.Props.ReasonString == "" {
					t.Errorf("%v client got %+v before the close, want DISCONNECT 0x8B with a reason string", v, got)
				}
			}
		}
		for range versions {
			if e := recv(t, ends, "Close events"); !errors.Is(e.cause, mqtt.ErrServerClosed) || e.errored != nil {
				t.Errorf("server saw %+v, want cause ErrServerClosed and no error", e)
			}
		}
		if err := srv.Close(); err != nil {
			t.Errorf("Close after Shutdown = %v", err)
		}
	})
}

// TestCloseEndsHandlers closes a server while a handler waits on its
// connection's context: the context ends, the handler returns, and Close
// returns once it has.
func TestCloseEndsHandlers(t *testing.T) {
	checkLeaks(t)
	waiting := make(chan struct{})
	srv := &mqtt.Server{Handler: mqtt.HandlerFunc(func(ctx context.Context, c *mqtt.Conn, p packet.Packet) error {
		if p.Type() == packet.TypeConnect {
			return c.Connack(&packet.Connack{})
		}
		close(waiting)
		<-ctx.Done()
		return context.Cause(ctx)
	})}
	dial := startTCP(t, srv)
	rwc, _ := rawConnect(t, dial, packet.V311)
	if _, err := rwc.Write(mustEncode(t, &packet.Pingreq{}, packet.V311)); err != nil {
		t.Fatal(err)
	}
	recv(t, waiting, "the handler")
	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	if err := recv(t, closed, "Server.Close"); err != nil {
		t.Errorf("Close = %v", err)
	}
	if got := readAll(t, rwc); len(got) != 0 {
		t.Errorf("client got % x", got)
	}
}

// nopConn is a stream that is never read.
type nopConn struct{}

func (nopConn) Read([]byte) (int, error)    { return 0, io.EOF }
func (nopConn) Write(b []byte) (int, error) { return len(b), nil }
func (nopConn) Close() error                { return nil }

// TestReadTimeoutDisconnect ends a connection whose read deadline passes
// after CONNACK, as a keep alive does: an MQTT 5 client is told with
// DISCONNECT 0x8D keep alive timeout, a 3.1.1 client just sees the close.
func TestReadTimeoutDisconnect(t *testing.T) {
	checkLeaks(t)
	for _, v := range []packet.Version{packet.V5, packet.V311} {
		t.Run(v.String(), func(t *testing.T) {
			srv := &mqtt.Server{Handler: mqtt.HandlerFunc(func(_ context.Context, c *mqtt.Conn, p packet.Packet) error {
				if p.Type() == packet.TypeConnect {
					c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
					return c.Connack(&packet.Connack{})
				}
				return nil
			})}
			rwc := startTCP(t, srv)(t)
			defer rwc.Close()
			p := &packet.Connect{Version: v, ClientID: "x"}
			if v == packet.V5 {
				p.Props = &packet.Properties{}
				p.Props.Include(packet.PropRequestProblemInfo) // bare codes
			}
			if _, err := rwc.Write(mustEncode(t, p, v)); err != nil {
				t.Fatal(err)
			}
			got := decodeAll(t, readAll(t, rwc), v)
			want := []packet.Packet{&packet.Connack{}}
			if v == packet.V5 {
				want = append(want, &packet.Disconnect{ReasonCode: packet.KeepAliveTimeout})
			}
			if len(got) != len(want) || got[0].Type() != packet.TypeConnack ||
				len(want) == 2 && got[1].(*packet.Disconnect).ReasonCode != packet.KeepAliveTimeout {
				t.Fatalf("server sent %+v, want %+v", got, want)
			}
		})
	}
}

// last returns the last of ps, nil for none.
func last(ps []packet.Packet) packet.Packet {
	if len(ps) == 0 {
		return nil
	}
	return ps[len(ps)-1]
}
