package loadgen

import (
	"sync/atomic"
	"time"
)

// stallTimeout is how long publishers wait on a full backlog in which
// nothing arrives before they take the missing deliveries for lost. Short,
// because writing off deliveries that do arrive later costs nothing but a
// looser bound for a moment: the loss count is kept apart, from the
// timestamps.
const stallTimeout = 200 * time.Millisecond

// backlog is the generator's own end-to-end flow control: it bounds the
// deliveries that publishers have sent and subscribers have not yet seen.
// TCP alone is no bound worth the name on loopback, where socket buffers grow
// to tens of megabytes: a publisher at QoS 0, or at QoS 1 against a broker
// that acknowledges on receipt, would fill them and the broker's queues, and
// the run would measure the queue instead of the broker. The generator owns
// both ends, so it can do what MQTT does not.
//
// It counts deliveries, not messages, so that a message counts as done only
// when every subscriber has it: a message to S subscribers is S
// deliveries. Lost messages would hold the window forever, so when it is
// full and nothing arrives for stallTimeout the publishers write the missing
// deliveries off and go on. A broker that drops some messages all along
// therefore shows a stall of stallTimeout each time the lost ones fill the
// backlog; measure such a broker with no bound as well.
type backlog struct {
	limit  int64 // deliveries; 0 means no bound
	factor int64 // deliveries per message

	sent atomic.Int64 // deliveries owed for the messages written
	seen atomic.Int64 // deliveries arrived or written off

	waiting atomic.Int32
	wake    chan struct{} // one token per waiting publisher, at most
}

// newBacklog bounds a run's outstanding messages at perPub for each of pubs
// publishers, each message owing factor deliveries; perPub 0 is no bound.
func newBacklog(perPub, pubs int, factor int64) *backlog {
	b := &backlog{factor: max(factor, 1), wake: make(chan struct{}, max(pubs, 1))}
	b.limit = int64(perPub) * int64(pubs) * b.factor
	return b
}

// room returns how many messages may be written now. When nothing is
// outstanding it is at least 1, even if one message is more deliveries than
// the limit.
func (b *backlog) room() int64 {
	out := b.sent.Load() - b.seen.Load()
	r := (b.limit - out) / b.factor
	if out <= 0 {
		r = max(r, 1)
	}
	return r
}

// wrote records n messages written.
func (b *backlog) wrote(n int) {
	if b.limit > 0 {
		b.sent.Add(int64(n) * b.factor)
	}
}

// arrived records n deliveries and wakes waiting publishers.
func (b *backlog) arrived(n int64) {
	if b.limit == 0 {
		return
	}
	b.seen.Add(n)
	for w := b.waiting.Load(); w > 0; w-- {
		select {
		case b.wake <- struct{}{}:
		default:
			return
		}
	}
}

// wait blocks until at least want messages may be written, and returns
// false if stop or done closes first. timer is the caller's, reused.
func (b *backlog) wait(want int64, timer *time.Timer, stop, done <-chan struct{}) bool {
	if b.limit == 0 {
		return true
	}
	want = max(min(want, b.limit/b.factor), 1)
	for {
		// Announce the wait before the check, so that an arrival between
		// the two is not missed.
		b.waiting.Add(1)
		if b.room() >= want {
			b.waiting.Add(-1)
			return true
		}
		seen := b.seen.Load()
		timer.Reset(stallTimeout)
		select {
		case <-b.wake:
		case <-timer.C:
			if b.seen.Load() == seen { // nothing arrived: write the backlog off
				b.seen.Store(b.sent.Load())
			}
		case <-stop:
			b.waiting.Add(-1)
			return false
		case <-done:
			b.waiting.Add(-1)
			return false
		}
		timer.Stop()
		b.waiting.Add(-1)
	}
}
