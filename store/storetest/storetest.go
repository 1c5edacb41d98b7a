// Package storetest is the conformance suite every store.Store passes: a
// backend is correct when Run passes against it.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/store"
)

// Run runs the suite. newStore returns a new, empty store for each subtest;
// Run closes it.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"RetainedStoreReplaceDelete", testRetained},
		{"RetainedMatch", testRetainedMatch},
		{"SessionSaveLoadDelete", testSessions},
		{"Subscriptions", testSubscriptions},
		{"OutgoingOrderAndFanOut", testOutgoing},
		{"OutgoingUpdateRemove", testOutgoingUpdate},
		{"DeleteSessionDropsEverything", testDeleteSession},
		{"Incoming", testIncoming},
		{"Concurrent", testConcurrent},
		{"Closed", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

var ctx = context.Background()

func msg(topic, payload string) *store.Message {
	return &store.Message{Topic: topic, Payload: []byte(payload), QoS: 1, Retain: true,
		Created: time.Unix(1700000000, 0), From: "pub"}
}

func retained(t *testing.T, s store.Store, filter string) map[string]string {
	t.Helper()
	got := map[string]string{}
	if err := s.MatchRetained(ctx, filter, func(m *store.Message) bool {
		got[m.Topic] = string(m.Payload)
		return true
	}); err != nil {
		t.Fatalf("MatchRetained(%q): %v", filter, err)
	}
	return got
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testRetained(t *testing.T, s store.Store) {
	must(t, s.StoreRetained(ctx, msg("a/b", "1")))
	must(t, s.StoreRetained(ctx, msg("a/b", "2")))
	m := msg("a/c", "3")
	m.Props = &packet.Properties{ContentType: "text/plain", User: []packet.UserProperty{{Key: "k", Value: "v"}}}
	must(t, s.StoreRetained(ctx, m))
	if got := retained(t, s, "a/b"); got["a/b"] != "2" || len(got) != 1 {
		t.Fatalf("after replace: %v", got)
	}
	var back *store.Message
	must(t, s.MatchRetained(ctx, "a/c", func(m *store.Message) bool { back = m; return true }))
	if back == nil || back.QoS != 1 || !back.Retain || back.From != "pub" || !back.Created.Equal(m.Created) ||
		back.Props == nil || back.Props.ContentType != "text/plain" || len(back.Props.User) != 1 {
		t.Fatalf("retained message not kept whole: %+v", back)
	}
	must(t, s.StoreRetained(ctx, &store.Message{Topic: "a/b"})) // empty payload deletes [MQTT-3.3.1-10]
	if got := retained(t, s, "#"); len(got) != 1 || got["a/c"] != "3" {
		t.Fatalf("after delete: %v", got)
	}
	must(t, s.StoreRetained(ctx, &store.Message{Topic: "never/stored"})) // deleting nothing is fine
}

func testRetainedMatch(t *testing.T, s store.Store) {
	for _, topic := range []string{"a", "a/b", "a/b/c", "a/x", "b", "/lead", "$SYS/up"} {
		must(t, s.StoreRetained(ctx, msg(topic, topic)))
	}
	tests := []struct {
		filter string
		want   []string
	}{
		{"#", []string{"a", "a/b", "a/b/c", "a/x", "b", "/lead"}},
		{"a/#", []string{"a", "a/b", "a/b/c", "a/x"}},
		{"a/+", []string{"a/b", "a/x"}},
		{"+", []string{"a", "b"}},
		{"+/+", []string{"a/b", "a/x", "/lead"}},
		{"$SYS/#", []string{"$SYS/up"}},
		{"a/b/c", []string{"a/b/c"}},
		{"c", nil},
	}
	for _, tt := range tests {
		got := retained(t, s, tt.filter)
		var names []string
		for k := range got {
			names = append(names, k)
		}
		slices.Sort(names)
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("MatchRetained(%q) = %v, want %v", tt.filter, names, want)
		}
	}
	n := 0
	must(t, s.MatchRetained(ctx, "#", func(*store.Message) bool { n++; return false }))
	if n != 1 {
		t.Errorf("MatchRetained went on after fn returned false: %d calls", n)
	}
}

func testSessions(t *testing.T, s store.Store) {
	if _, err := s.LoadSession(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadSession of a missing session: %v, want ErrNotFound", err)
	}
	sess := &store.Session{ClientID: "c1", Expiry: 0xFFFFFFFF,
		Subscriptions: []store.Subscription{{Filter: "a/+", QoS: 2, NoLocal: true, ID: 7}},
		Will:          msg("will/c1", "gone"), WillDelay: 5}
	must(t, s.SaveSession(ctx, sess))
	sess.Subscriptions[0].QoS = 0 // the store must have kept its own copy
	got, err := s.LoadSession(ctx, "c1")
	must(t, err)
	if got.Expiry != 0xFFFFFFFF || len(got.Subscriptions) != 1 || got.Subscriptions[0].QoS != 2 ||
		!got.Subscriptions[0].NoLocal || got.Subscriptions[0].ID != 7 || got.Will == nil ||
		string(got.Will.Payload) != "gone" || got.WillDelay != 5 {
		t.Fatalf("LoadSession = %+v", got)
	}
	must(t, s.SaveSession(ctx, &store.Session{ClientID: "c2"}))
	var ids []string
	must(t, s.RangeSessions(ctx, func(x *store.Session) bool { ids = append(ids, x.ClientID); return true }))
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"c1", "c2"}) {
		t.Fatalf("RangeSessions = %v", ids)
	}
	must(t, s.DeleteSession(ctx, "c1"))
	if _, err := s.LoadSession(ctx, "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadSession after delete: %v", err)
	}
}

func testSubscriptions(t *testing.T, s store.Store) {
	if err := s.AddSubscriptions(ctx, "nobody", []store.Subscription{{Filter: "x"}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AddSubscriptions to a missing session: %v", err)
	}
	must(t, s.SaveSession(ctx, &store.Session{ClientID: "c"}))
	must(t, s.AddSubscriptions(ctx, "c", []store.Subscription{{Filter: "a", QoS: 0}, {Filter: "b", QoS: 1}}))
	must(t, s.AddSubscriptions(ctx, "c", []store.Subscription{{Filter: "a", QoS: 2}, {Filter: "c", QoS: 1}}))
	must(t, s.RemoveSubscriptions(ctx, "c", []string{"b", "nothing"}))
	got, err := s.LoadSession(ctx, "c")
	must(t, err)
	subs := map[string]packet.QoS{}
	for _, sub := range got.Subscriptions {
		subs[sub.Filter] = sub.QoS
	}
	if len(subs) != 2 || subs["a"] != 2 || subs["c"] != 1 {
		t.Fatalf("subscriptions = %v, want a:2 c:1", subs)
	}
}

func outgoing(t *testing.T, s store.Store, id string) []store.Outgoing {
	t.Helper()
	var out []store.Outgoing
	must(t, s.Outgoing(ctx, id, func(o *store.Outgoing) bool { out = append(out, *o); return true }))
	return out
}

func testOutgoing(t *testing.T, s store.Store) {
	must(t, s.SaveSession(ctx, &store.Session{ClientID: "a"}))
	must(t, s.SaveSession(ctx, &store.Session{ClientID: "b"}))
	for i := range 5 {
		m := msg("t", fmt.Sprint(i))
		seq := uint64(10 + i)
		must(t, s.Enqueue(ctx, m, []store.Delivery{{ClientID: "a", QoS: 1, Seq: seq}, {ClientID: "ghost", QoS: 1, Seq: seq}, {ClientID: "b", QoS: 2, Seq: seq}}))
	}
	// A message numbered before the others is kept in Seq order.
	must(t, s.Enqueue(ctx, msg("t", "early"), []store.Delivery{{ClientID: "a", QoS: 1, Seq: 3}}))
	if out := outgoing(t, s, "a"); len(out) != 6 || string(out[0].Message.Payload) != "early" {
		t.Fatalf("a message with a lower Seq is not first: %+v", out)
	}
	must(t, s.RemoveOutgoing(ctx, "a", 3))
	for _, id := range []string{"a", "b"} {
		out := outgoing(t, s, id)
		if len(out) != 5 {
			t.Fatalf("%s: %d outgoing, want 5", id, len(out))
		}
		for i, o := range out {
			if string(o.Message.Payload) != fmt.Sprint(i) || o.State != store.Queued || o.PacketID != 0 {
				t.Fatalf("%s: outgoing %d = %+v (payload %q)", id, i, o, o.Message.Payload)
			}
			if i > 0 && o.Seq <= out[i-1].Seq {
				t.Fatalf("%s: Seq not increasing: %d after %d", id, o.Seq, out[i-1].Seq)
			}
		}
		if want := packet.QoS(map[string]int{"a": 1, "b": 2}[id]); out[0].QoS != want {
			t.Fatalf("%s: QoS %d, want %d", id, out[0].QoS, want)
		}
	}
	if err := s.Outgoing(ctx, "ghost", func(*store.Outgoing) bool { return true }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Outgoing of a missing session: %v", err)
	}
	// Saving the session again keeps what it is owed.
	must(t, s.SaveSession(ctx, &store.Session{ClientID: "a", Expiry: 60}))
	if n := len(outgoing(t, s, "a")); n != 5 {
		t.Fatalf("SaveSession dropped outgoing messages: %d left", n)
	}
}

func testOutgoingUpdate(t *testing.T, s store.Store) {
	must(t, s.SaveSession(ctx, &store.Session{ClientID: "a"}))
	for i := range 4 {
		must(t, s.Enqueue(ctx, msg("t", fmt.Sprint(i)), []store.Delivery{{ClientID: "a", QoS: 2, Seq: uint64(i + 1)}}))
	}
	out := outgoing(t, s, "a")
	must(t, s.UpdateOutgoing(ctx, "a", &store.Outgoing{Seq: out[0].Seq, State: store.Sent, PacketID: 10}))
	must(t, s.UpdateOutgoing(ctx, "a", &store.Outgoing{Seq: out[1].Seq, State: store.Released, PacketID: 11}))
	must(t, s.RemoveOutgoing(ctx, "a", out[2].Seq)) // out of order
	must(t, s.RemoveOutgoing(ctx, "a", out[0].Seq)) // the head
	if err := s.RemoveOutgoing(ctx, "a", out[0].Seq); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second RemoveOutgoing: %v, want ErrNotFound", err)
	}
	if err := s.UpdateOutgoing(ctx, "a", &store.Outgoing{Seq: 1 << 60, State: store.Sent, PacketID: 1}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateOutgoing of a missing seq: %v, want ErrNotFound", err)
	}
	got := outgoing(t, s, "a")
	if len(got) != 2 || got[0].Seq != out[1].Seq || got[0].State != store.Released || got[0].PacketID != 11 ||
		string(got[0].Message.Payload) != "1" || got[1].Seq != out[3].Seq || got[1].State != store.Queued {
		t.Fatalf("after updates: %+v", got)
	}
	// New messages go after the old, even after removals.
	must(t, s.Enqueue(ctx, msg("t", "new"), []store.Delivery{{ClientID: "a", QoS: 1, Seq: 5}}))
	got = outgoing(t, s, "a")
	if last := got[len(got)-1]; string(last.Message.Payload) != "new" || last.Seq <= out[3].Seq {
		t.Fatalf("new message not last: %+v", got)
	}
}

func testDeleteSession(t *testing.T, s store.Store) {
	must(t, s.SaveSession(ctx, &store.Session{ClientID: "a", Subscriptions: []store.Subscription{{Filter: "x"}}}))
	must(t, s.Enqueue(ctx, msg("t", "1"), []store.Delivery{{ClientID: "a", QoS: 1, Seq: 1}}))
	must(t, s.AddIncoming(ctx, "a", 9))
	must(t, s.DeleteSession(ctx, "a"))
	must(t, s.SaveSession(ctx, &store.Session{ClientID: "a"}))
	got, err := s.LoadSession(ctx, "a")
	must(t, err)
	if len(got.Subscriptions) != 0 || len(outgoing(t, s, "a")) != 0 {
		t.Fatalf("a new session under the old id kept old state: %+v", got)
	}
	if has, err := s.HasIncoming(ctx, "a", 9); err != nil || has {
		t.Fatalf("HasIncoming after delete = %v, %v", has, err)
	}
}

func testIncoming(t *testing.T, s store.Store) {
	if err := s.AddIncoming(ctx, "nobody", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AddIncoming to a missing session: %v", err)
	}
	must(t, s.SaveSession(ctx, &store.Session{ClientID: "a"}))
	must(t, s.AddIncoming(ctx, "a", 1))
	must(t, s.AddIncoming(ctx, "a", 65535))
	for id, want := range map[uint16]bool{1: true, 65535: true, 2: false} {
		if has, err := s.HasIncoming(ctx, "a", id); err != nil || has != want {
			t.Fatalf("HasIncoming(%d) = %v, %v; want %v", id, has, err, want)
		}
	}
	must(t, s.RemoveIncoming(ctx, "a", 1))
	if has, _ := s.HasIncoming(ctx, "a", 1); has {
		t.Fatal("HasIncoming after RemoveIncoming")
	}
}

func testConcurrent(t *testing.T, s store.Store) {
	const workers, per = 4, 200
	for w := range workers {
		must(t, s.SaveSession(ctx, &store.Session{ClientID: fmt.Sprint(w)}))
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*3)
	for w := range workers {
		wg.Add(3)
		id := fmt.Sprint(w)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := s.Enqueue(ctx, msg("t", fmt.Sprint(i)), []store.Delivery{{ClientID: id, QoS: 1, Seq: uint64(i + 1)}}); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range per {
				if err := s.StoreRetained(ctx, msg(fmt.Sprintf("r/%s/%d", id, i%10), "x")); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range per {
				if err := s.MatchRetained(ctx, "r/#", func(*store.Message) bool { return true }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range workers {
		out := outgoing(t, s, fmt.Sprint(w))
		if len(out) != per {
			t.Fatalf("session %d: %d outgoing, want %d", w, len(out), per)
		}
		for i, o := range out { // each session's order is its one writer's order
			if string(o.Message.Payload) != fmt.Sprint(i) {
				t.Fatalf("session %d: message %d is %q", w, i, o.Message.Payload)
			}
		}
	}
	if n := len(retained(t, s, "r/#")); n != workers*10 {
		t.Fatalf("%d retained, want %d", n, workers*10)
	}
}

func testClosed(t *testing.T, s store.Store) {
	must(t, s.Close())
	if err := s.StoreRetained(ctx, msg("a", "b")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("StoreRetained after Close: %v, want ErrClosed", err)
	}
	if _, err := s.LoadSession(ctx, "a"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("LoadSession after Close: %v, want ErrClosed", err)
	}
}
