package stack

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
)

// deadlines is a stream that records its read deadlines and discards what
// is written to it.
type deadlines struct {
	mu   sync.Mutex
	last time.Time
	sets int
}

func (d *deadlines) Read([]byte) (int, error)    { select {} }
func (d *deadlines) Write(p []byte) (int, error) { return len(p), nil }
func (d *deadlines) Close() error                { return nil }
func (d *deadlines) SetReadDeadline(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.last, d.sets = t, d.sets+1
	return nil
}

// TestKeepAliveDeadlineBound checks the invariant behind KeepAlive.touch:
// after every packet the read deadline is at least one and a half times the
// keep alive away [MQTT-3.1.2-24] and at most that plus the slack, though
// most packets do not move it.
func TestKeepAliveDeadlineBound(t *testing.T) {
	rwc := &deadlines{}
	c := mqtt.NewConn(rwc, &mqtt.Options{Version: packet.V311})
	defer c.Close()
	k := &KeepAlive{}
	accept := mqtt.HandlerFunc(func(_ context.Context, c *mqtt.Conn, p packet.Packet) error {
		if p.Type() == packet.TypeConnect {
			return c.Connack(&packet.Connack{})
		}
		return nil
	})
	ctx := context.Background()
	if err := k.Handle(ctx, c, &packet.Connect{Version: packet.V311, ClientID: "ka", KeepAlive: 1}, accept); err != nil {
		t.Fatal(err)
	}
	const interval = 1500 * time.Millisecond
	slack := interval / 8
	start := time.Now()
	for n := 0; time.Since(start) < 3*slack; n++ {
		before := time.Now()
		if err := k.Handle(ctx, c, &packet.Publish{Topic: "t"}, accept); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		rwc.mu.Lock()
		last := rwc.last
		rwc.mu.Unlock()
		if last.Before(before.Add(interval)) {
			t.Fatalf("packet %d: deadline %v after it, under 1.5 × keep alive", n, last.Sub(before))
		}
		if last.After(after.Add(interval + slack)) {
			t.Fatalf("packet %d: deadline %v after it, past 1.5 × keep alive and the slack", n, last.Sub(after))
		}
		time.Sleep(time.Millisecond)
	}
	if rwc.sets > 10 {
		t.Errorf("the deadline moved %d times in %v: it should move about once per %v", rwc.sets, 3*slack, slack)
	}
}
