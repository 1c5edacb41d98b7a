package broker

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/midge-mqtt/midge/broker/brokertest"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

// Helpers of the MQTT 5 tests: raw clients (brokertest.Client) where the
// test must see or send exact packets, paho.golang where a real MQTT 5
// client is the point.

// capsWith returns the default capabilities changed by f.
func capsWith(f func(*stack.Capabilities)) *stack.Capabilities {
	c := stack.DefaultCapabilities()
	f(&c)
	return &c
}

// connect5 connects a raw MQTT 5 client with id and CONNECT properties
// props (nil for none), clean start or not, and returns it with its
// CONNACK, which must be a success.
func connect5(t *testing.T, addr, id string, clean bool, props *packet.Properties) (*brokertest.Client, *packet.Connack) {
	t.Helper()
	c, ack := brokertest.Connect(t, addr, &packet.Connect{Version: packet.V5, ClientID: id, CleanStart: clean, Props: props})
	if ack.ReasonCode != packet.Success {
		t.Fatalf("CONNACK for %q: %v, want success", id, ack.ReasonCode)
	}
	return c, ack
}

// expiring returns CONNECT properties asking for a session expiry interval.
func expiring(seconds uint32) *packet.Properties {
	return &packet.Properties{SessionExpiry: seconds}
}

// expectDisconnect waits for a DISCONNECT from the broker with code, then
// for the connection to close, and returns the DISCONNECT. reason says
// whether it must carry a reason string, or must not.
func expectDisconnect(t *testing.T, c *brokertest.Client, code packet.ReasonCode, reason bool) *packet.Disconnect {
	t.Helper()
	d := c.Find("DISCONNECT", func(p packet.Packet) bool { return p.Type() == packet.TypeDisconnect }).(*packet.Disconnect)
	if d.ReasonCode != code {
		t.Fatalf("DISCONNECT %v, want %v", d.ReasonCode, code)
	}
	has := d.Props != nil && d.Props.ReasonString != ""
	switch {
	case reason && !has:
		t.Errorf("DISCONNECT %v without a reason string", code)
	case !reason && has:
		t.Errorf("DISCONNECT %v with reason string %q; the client asked for no problem information", code, d.Props.ReasonString)
	}
	c.WaitClosed()
	return d
}

// recordV5 adds to r the events the recorder of helpers_test.go leaves
// out: SessionExpired (its id in event.id) and Disconnect.
func recordV5(b *Broker, r *recorder) {
	b.On(Events{
		SessionExpired: func(id string) { r.add(event{kind: "SessionExpired", id: id}) },
		Disconnect:     func(_ *packet.Disconnect, c *Client) { r.add(event{kind: "Disconnect", client: c}) },
	})
}

// pahoClient is a paho.golang client over TCP whose received messages go
// to a channel.
type pahoClient struct {
	*paho.Client
	msgs chan *paho.Publish
	// disconnects receives the broker's DISCONNECT, if any.
	disconnects chan *paho.Disconnect
}

// dialPaho makes a paho.golang client connected to addr over TCP, not yet
// MQTT-connected; config, if set, changes its ClientConfig first. Its
// messages go to msgs unless config sets a Router or OnPublishReceived of
// its own. It is closed when the test ends.
func dialPaho(t *testing.T, addr string, config func(*paho.ClientConfig)) *pahoClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, brokertest.Wait)
	if err != nil {
		t.Fatal(err)
	}
	pc := &pahoClient{msgs: make(chan *paho.Publish, 100), disconnects: make(chan *paho.Disconnect, 1)}
	cfg := paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(r paho.PublishReceived) (bool, error) {
			pc.msgs <- r.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case pc.disconnects <- d:
			default:
			}
		},
		PacketTimeout: brokertest.Wait,
	}
	if config != nil {
		config(&cfg)
	}
	pc.Client = paho.NewClient(cfg)
	t.Cleanup(func() {
		nc.Close()
		select {
		case <-pc.Done():
		case <-time.After(brokertest.Wait):
			t.Errorf("paho client still running after %v", brokertest.Wait)
		}
	})
	return pc
}

// connectPaho connects a paho.golang client with cp (MQTT 5 always) and
// fails the test unless the broker accepts it.
func connectPaho(t *testing.T, addr string, cp *paho.Connect, config func(*paho.ClientConfig)) (*pahoClient, *paho.Connack) {
	t.Helper()
	pc := dialPaho(t, addr, config)
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.Wait)
	defer cancel()
	ack, err := pc.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("paho Connect %q: %v (CONNACK %v)", cp.ClientID, err, ack)
	}
	return pc, ack
}

// subscribe subscribes a paho client and fails the test unless every
// subscription is granted.
func (pc *pahoClient) subscribe(t *testing.T, s *paho.Subscribe) *paho.Suback {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.Wait)
	defer cancel()
	ack, err := pc.Subscribe(ctx, s)
	if err != nil {
		t.Fatalf("paho Subscribe: %v", err)
	}
	for i, rc := range ack.Reasons {
		if rc >= 0x80 {
			t.Fatalf("paho Subscribe: %s refused with %#x", s.Subscriptions[i].Topic, rc)
		}
	}
	return ack
}

// publish publishes with a paho client and fails the test on an error.
func (pc *pahoClient) publish(t *testing.T, p *paho.Publish) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.Wait)
	defer cancel()
	if _, err := pc.Publish(ctx, p); err != nil {
		t.Fatalf("paho Publish %s: %v", p.Topic, err)
	}
}

// next returns the next message a paho client received, failing the test
// if none comes in time.
func (pc *pahoClient) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case m := <-pc.msgs:
		return m
	case <-time.After(brokertest.Wait):
		t.Fatalf("paho client %q received nothing in %v", pc.ClientID(), brokertest.Wait)
		return nil
	}
}

// publishRaw publishes p with a raw client and completes its flow.
func publishRaw(t *testing.T, addr string, ps ...*packet.Publish) {
	t.Helper()
	c, _ := connect5(t, addr, "", true, nil)
	for i, p := range ps {
		if p.QoS > 0 && p.ID == 0 {
			p.ID = uint16(i + 1)
		}
		c.MustPublish(p)
	}
	c.Leave()
}
