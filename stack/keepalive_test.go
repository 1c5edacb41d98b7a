package stack_test

import (
	"net"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

// TestKeepAliveNeverEarly: the read deadline moves at most once per slack,
// yet a client is never closed before one and a half times its keep alive
// after its last packet [MQTT-3.1.2-24], and not much after: here its
// packets come every 20 ms for 400 ms (most inside the slack of the move
// before them, 1.5 s / 8), then it goes silent.
func TestKeepAliveNeverEarly(t *testing.T) {
	backend := stack.NewMemoryBackend()
	addr := mustServe(t)(start(newBroker(backend.Store, backend)))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := mqtt.NewConn(nc, nil)
	defer c.Close()
	c.Connect(&packet.Connect{Version: packet.V311, ClientID: "ka", CleanStart: true, KeepAlive: 1})
	if _, ok := read(c).(*packet.Connack); !ok {
		t.Fatal("no CONNACK")
	}
	var last time.Time
	for range 20 { // 20 × 20 ms: the deadline moves about twice
		time.Sleep(20 * time.Millisecond)
		last = time.Now()
		if err := c.Pingreq(); err != nil {
			t.Fatal(err)
		}
		if _, ok := read(c).(*packet.Pingresp); !ok {
			t.Fatal("no PINGRESP")
		}
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.ReadPacket()
	closed := time.Since(last)
	if err == nil {
		t.Fatal("read a packet from a silent connection")
	}
	const interval = 1500 * time.Millisecond
	if closed < interval {
		t.Errorf("closed %v after the last packet: before 1.5 × keep alive", closed)
	}
	if closed > interval+interval/8+500*time.Millisecond {
		t.Errorf("closed %v after the last packet: later than 1.5 × keep alive plus the slack", closed)
	}
}
