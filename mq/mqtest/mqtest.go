// Package mqtest is the conformance suite every mq.Bus passes.
package mqtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/mq"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// Run runs the suite. newBuses returns two handles on one new bus, as two
// broker instances would hold (for an in-process bus, the same value
// twice); Run closes them.
func Run(t *testing.T, newBuses func(t *testing.T) (a, b mq.Bus)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b mq.Bus)
	}{
		{"EveryHandlerGetsEveryMessage", testFanOut},
		{"OrderPerPublisher", testOrder},
		{"MessageIntact", testIntact},
		{"Unsubscribe", testUnsubscribe},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newBuses(t)
			t.Cleanup(func() { a.Close(); b.Close() })
			tt.fn(t, a, b)
		})
	}
}

// collector gathers what a handler receives.
type collector struct {
	mu   sync.Mutex
	got  []*store.Message
	more chan struct{}
}

func newCollector() *collector { return &collector{more: make(chan struct{}, 1)} }

func (c *collector) handle(_ context.Context, m *store.Message) {
	c.mu.Lock()
	c.got = append(c.got, m)
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
}

// wait returns once n messages arrived, or fails after a generous deadline
// (a remote bus delivers asynchronously).
func (c *collector) wait(t *testing.T, n int) []*store.Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		if len(c.got) >= n {
			got := append([]*store.Message(nil), c.got...)
			c.mu.Unlock()
			return got
		}
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("received %d messages, want %d", len(c.got), n)
		}
	}
}

func subscribe(t *testing.T, b mq.Bus, c *collector) func() {
	t.Helper()
	unsub, err := b.Subscribe(c.handle)
	if err != nil {
		t.Fatal(err)
	}
	return unsub
}

func message(topic string, i int) *store.Message {
	return &store.Message{Topic: topic, Payload: []byte(fmt.Sprint(i)), QoS: 1, From: "p", Created: time.Unix(1700000000, 0)}
}

func testFanOut(t *testing.T, a, b mq.Bus) {
	ca, cb, cb2 := newCollector(), newCollector(), newCollector()
	subscribe(t, a, ca)
	subscribe(t, b, cb)
	subscribe(t, b, cb2)
	ctx := context.Background()
	if err := a.Publish(ctx, message("x", 1)); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, message("y", 2)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*collector{"a": ca, "b": cb, "b2": cb2} {
		got := c.wait(t, 2)
		topics := map[string]bool{}
		for _, m := range got {
			topics[m.Topic] = true
		}
		if !topics["x"] || !topics["y"] {
			t.Errorf("handler %s got topics %v, want x and y", name, topics)
		}
	}
}

func testOrder(t *testing.T, a, b mq.Bus) {
	c := newCollector()
	subscribe(t, b, c)
	const pubs, per = 4, 300
	var wg sync.WaitGroup
	for p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := a.Publish(context.Background(), message(fmt.Sprint(p), i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := c.wait(t, pubs*per)
	next := map[string]int{}
	for _, m := range got {
		if want := fmt.Sprint(next[m.Topic]); string(m.Payload) != want {
			t.Fatalf("publisher %s: got message %s, want %s", m.Topic, m.Payload, want)
		}
		next[m.Topic]++
	}
}

func testIntact(t *testing.T, a, b mq.Bus) {
	c := newCollector()
	subscribe(t, b, c)
	m := &store.Message{Topic: "a/b", Payload: []byte{0, 1, 2, 255}, QoS: 2, Retain: true, From: "client-1",
		Created: time.Unix(1700000000, 123000000),
		Props: &packet.Properties{ContentType: "bin", ResponseTopic: "r/t", CorrelationData: []byte{9},
			MessageExpiry: 30, User: []packet.UserProperty{{Key: "k", Value: "1"}, {Key: "k", Value: "2"}}}}
	if err := a.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := c.wait(t, 1)[0]
	if got.Topic != m.Topic || string(got.Payload) != string(m.Payload) || got.QoS != 2 || !got.Retain ||
		got.From != m.From || !got.Created.Equal(m.Created) || got.Props == nil ||
		got.Props.ContentType != "bin" || got.Props.ResponseTopic != "r/t" || string(got.Props.CorrelationData) != "\x09" ||
		got.Props.MessageExpiry != 30 || len(got.Props.User) != 2 || got.Props.User[1].Value != "2" {
		t.Fatalf("message changed on the bus: %+v props %+v", got, got.Props)
	}
}

func testUnsubscribe(t *testing.T, a, b mq.Bus) {
	gone, stay := newCollector(), newCollector()
	unsub := subscribe(t, b, gone)
	subscribe(t, b, stay)
	unsub()
	unsub() // twice is harmless
	if err := a.Publish(context.Background(), message("x", 1)); err != nil {
		t.Fatal(err)
	}
	stay.wait(t, 1)
	// stay has it; had gone still been subscribed, an in-order bus would
	// have delivered to it by now too.
	if err := a.Publish(context.Background(), message("x", 2)); err != nil {
		t.Fatal(err)
	}
	stay.wait(t, 2)
	gone.mu.Lock()
	defer gone.mu.Unlock()
	if len(gone.got) != 0 {
		t.Fatalf("unsubscribed handler got %d messages", len(gone.got))
	}
}

func testClosed(t *testing.T, a, _ mq.Bus) {
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(context.Background(), message("x", 1)); !errors.Is(err, mq.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
	if _, err := a.Subscribe(func(context.Context, *store.Message) {}); !errors.Is(err, mq.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v, want ErrClosed", err)
	}
}
