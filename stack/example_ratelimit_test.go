package stack_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

// rateLimit is a middleware the broker does not have: it limits how fast
// each client may publish, with a token bucket per connection that holds
// Burst messages and refills at Rate per second. A PUBLISH past the limit
// ends the connection [MQTT-4.13.2-1] with reason code 0x96, "message rate
// too high", which the server sends MQTT 5 clients in a DISCONNECT; MQTT 3
// has no way to say why, so those connections are just closed. Dropping
// the message instead would be the other choice, but a QoS 1 or 2 PUBLISH
// must be acknowledged, and acknowledging a message thrown away would lie
// to its client.
type rateLimit struct {
	Rate  float64 // messages per second, in the long run
	Burst int     // messages at once
}

// bucket is one connection's state. Only that connection's reader
// goroutine calls Handle, in packet order: it needs no lock.
type bucket struct {
	tokens float64
	last   time.Time
}

var bucketKey = stack.NewKey[*bucket]("ratelimit")

// Install implements stack.Installer: each connection starts with a full
// bucket.
func (r *rateLimit) Install(_ context.Context, c *mqtt.Conn) error {
	bucketKey.Set(c, &bucket{tokens: float64(r.Burst), last: time.Now()})
	return nil
}

// Handle implements stack.Middleware.
func (r *rateLimit) Handle(ctx context.Context, c *mqtt.Conn, p packet.Packet, next mqtt.Handler) error {
	if _, ok := p.(*packet.Publish); ok {
		b := bucketKey.Get(c)
		now := time.Now()
		b.tokens = min(float64(r.Burst), b.tokens+now.Sub(b.last).Seconds()*r.Rate)
		b.last = now
		if b.tokens < 1 {
			return &packet.Error{Code: packet.MessageRateTooHigh, Msg: "publishing too fast"}
		}
		b.tokens--
	}
	return next.ServeMQTT(ctx, c, p)
}

// A middleware of the program's own in a broker built from the stack: a
// client that publishes faster than its limit is disconnected.
func ExampleMiddleware_rateLimit() {
	// Three messages at once, then one an hour.
	limit := &rateLimit{Rate: 1.0 / 3600, Burst: 3}
	backend := stack.NewMemoryBackend()
	addr, stop, err := start(newBroker(backend.Store, backend, limit))
	if err != nil {
		log.Fatal(err)
	}
	defer stop()

	c := dial(addr, packet.V5, "chatty")
	defer c.Close()
	for i := 1; i <= 4; i++ {
		c.Publish(&packet.Publish{Topic: "chat", Payload: []byte("hi"), QoS: 1, ID: uint16(i)})
		switch p := read(c).(type) {
		case *packet.Puback:
			fmt.Println("PUBACK", p.ID)
		case *packet.Disconnect:
			fmt.Println("DISCONNECT:", p.ReasonCode)
		}
	}
	// Output:
	// PUBACK 1
	// PUBACK 2
	// PUBACK 3
	// DISCONNECT: message rate too high
}
