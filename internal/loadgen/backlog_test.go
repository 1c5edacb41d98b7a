package loadgen

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestBacklogRoom(t *testing.T) {
	b := newBacklog(2, 2, 5) // 4 messages, 5 deliveries each
	if got := b.room(); got != 4 {
		t.Fatalf("room = %d, want 4 messages", got)
	}
	b.wrote(3)
	if got := b.room(); got != 1 {
		t.Fatalf("after 3 messages, room = %d, want 1", got)
	}
	b.arrived(9) // 1 delivery short of 2 messages
	if got := b.room(); got != 2 {
		t.Fatalf("after 9 deliveries, room = %d, want 2", got)
	}
	b.arrived(1)
	if got := b.room(); got != 3 {
		t.Fatalf("after 10 deliveries, room = %d, want 3", got)
	}
}

func TestBacklogWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBacklog(4, 1, 1)
		timer := time.NewTimer(time.Hour)
		stop, done := make(chan struct{}), make(chan struct{})
		b.wrote(4)

		ok := make(chan bool)
		go func() { ok <- b.wait(2, timer, stop, done) }()
		synctest.Wait()
		b.arrived(1)
		synctest.Wait()
		select {
		case <-ok:
			t.Fatal("wait returned with room for 1 of the 2 wanted")
		default:
		}
		b.arrived(1)
		if !<-ok {
			t.Fatal("wait failed with room for 2")
		}

		// Nothing arrives: after stallTimeout the backlog is written off.
		b.wrote(2)
		start := time.Now()
		if !b.wait(4, timer, stop, done) {
			t.Fatal("wait failed instead of writing the backlog off")
		}
		if d := time.Since(start); d != stallTimeout {
			t.Errorf("written off after %v, want %v", d, stallTimeout)
		}
		if b.sent.Load() != b.seen.Load() {
			t.Errorf("after the write-off %d sent, %d seen", b.sent.Load(), b.seen.Load())
		}

		b.wrote(4)
		go func() { ok <- b.wait(1, timer, stop, done) }()
		synctest.Wait()
		close(stop)
		if <-ok {
			t.Error("wait succeeded after stop")
		}
	})
}

func TestBacklogUnbounded(t *testing.T) {
	b := newBacklog(0, 3, 10)
	b.wrote(1 << 20)
	if !b.wait(1000, time.NewTimer(time.Hour), nil, nil) {
		t.Error("an unbounded backlog waited")
	}
}
