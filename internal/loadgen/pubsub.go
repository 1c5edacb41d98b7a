package loadgen

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// subscriber reads the messages of one subscription.
type subscriber struct {
	*conn
	clk         clock
	windowStart *atomic.Int64 // clock time the measured window opens

	recv  atomic.Int64 // messages stamped in the window
	last  atomic.Int64 // clock time the last of them arrived
	early int64        // messages stamped before the window (reader only)
	hist  Histogram    // latencies of the window's messages (reader only)

	backlog *backlog
	arrived int64 // deliveries not yet reported to backlog

	out     []byte // acks owed, written before the reader would block
	puback  packet.Puback
	pubrec  packet.Pubrec
	pubcomp packet.Pubcomp
}

// read is the subscriber's reader goroutine.
func (s *subscriber) read() { s.stopped(s.loop()) }

func (s *subscriber) loop() error {
	v5 := s.v == packet.V5
	for {
		// Before blocking for the next packet, write the acks owed in one
		// go and report the arrivals: once per read, not once per message.
		if !s.fr.ready() {
			if s.arrived > 0 {
				s.backlog.arrived(s.arrived)
				s.arrived = 0
			}
			if len(s.out) > 0 {
				if err := s.write(s.out); err != nil {
					return err
				}
				s.out = s.out[:0]
			}
		}
		frame, hl, err := s.fr.next()
		if err != nil {
			return err
		}
		body := frame[hl:]
		switch t := packet.Type(frame[0] >> 4); t {
		case packet.TypePublish:
			qos, id, payload, err := parsePublish(frame[0], body, v5)
			if err != nil {
				return err
			}
			s.arrived++
			if ns, ok := readStamp(payload); ok && ns >= s.windowStart.Load() {
				now := s.clk.now()
				s.hist.Record(time.Duration(now - ns))
				s.recv.Add(1)
				s.last.Store(now)
			} else {
				s.early++
			}
			switch qos {
			case packet.AtLeastOnce:
				s.puback.ID = id
				s.out, _ = s.puback.Append(s.out, s.v)
			case packet.ExactlyOnce:
				s.pubrec.ID = id
				s.out, _ = s.pubrec.Append(s.out, s.v)
			}
		case packet.TypePubrel:
			id, _, err := parseAck(body)
			if err != nil {
				return err
			}
			s.pubcomp.ID = id
			s.out, _ = s.pubcomp.Append(s.out, s.v)
		case packet.TypePingresp:
			s.pongs.Add(1)
		case packet.TypeDisconnect:
			return s.readDisconnect(frame)
		default:
			return fmt.Errorf("unexpected %v from the broker", t)
		}
	}
}

// The states of a publisher's packet identifier.
const (
	idFree     = iota // in the pool
	idSent            // PUBLISH written, PUBACK or PUBREC awaited
	idReleased        // QoS 2: PUBREL written, PUBCOMP awaited
)

// publisher sends messages on one topic: a writer goroutine encodes and
// writes batches, and the reader goroutine completes the QoS 1 and 2 flows.
type publisher struct {
	*conn
	clk         clock
	windowStart *atomic.Int64
	rate        float64
	backlog     *backlog

	pub packet.Publish // reused for every message

	// pool holds the free packet identifiers of the in-flight window (nil
	// at QoS 0). state[id] is the identifier's state, set by the writer
	// before the PUBLISH goes out and by the reader as the acks come back.
	pool       *idPool
	state      []atomic.Uint32
	readerDone chan struct{}

	sent    atomic.Int64 // messages stamped in the window
	early   int64        // messages stamped before it (writer only)
	acked   atomic.Int64 // QoS 1 and 2 flows completed
	refused atomic.Int64 // of which an MQTT 5 reason code said failure
	werr    error        // why the writer stopped

	out    []byte // PUBRELs owed by the reader
	pubrel packet.Pubrel
}

func newPublisher(c *conn, cfg *Config, topic string, clk clock, windowStart *atomic.Int64, bl *backlog) *publisher {
	p := &publisher{
		conn:        c,
		clk:         clk,
		windowStart: windowStart,
		rate:        cfg.Rate,
		backlog:     bl,
		pub:         packet.Publish{Topic: topic, Payload: make([]byte, cfg.Size), QoS: cfg.QoS},
		readerDone:  make(chan struct{}),
	}
	if cfg.QoS > 0 {
		window := min(cfg.Inflight, c.receiveMax)
		p.pool = newIDPool(window)
		p.state = make([]atomic.Uint32, window+1)
	}
	return p
}

// read is the publisher's reader goroutine.
func (p *publisher) read() {
	err := p.loop()
	close(p.readerDone)
	p.stopped(err)
}

func (p *publisher) loop() error {
	for {
		if len(p.out) > 0 && !p.fr.ready() {
			if err := p.write(p.out); err != nil {
				return err
			}
			p.out = p.out[:0]
		}
		frame, hl, err := p.fr.next()
		if err != nil {
			return err
		}
		body := frame[hl:]
		switch t := packet.Type(frame[0] >> 4); t {
		case packet.TypePuback:
			id, rc, err := parseAck(body)
			if err != nil {
				return err
			}
			if !p.release(id, idSent) {
				return fmt.Errorf("PUBACK for packet identifier %d, which is not in flight", id)
			}
			if rc.IsError() {
				p.refused.Add(1)
			}
		case packet.TypePubrec:
			id, rc, err := parseAck(body)
			if err != nil {
				return err
			}
			if rc.IsError() { // a refused QoS 2 flow ends at the PUBREC
				if !p.release(id, idSent) {
					return fmt.Errorf("PUBREC for packet identifier %d, which is not in flight", id)
				}
				p.refused.Add(1)
				continue
			}
			if int(id) >= len(p.state) || (!p.state[id].CompareAndSwap(idSent, idReleased) && p.state[id].Load() != idReleased) {
				return fmt.Errorf("PUBREC for packet identifier %d, which is not in flight", id)
			}
			p.pubrel.ID = id
			p.out, _ = p.pubrel.Append(p.out, p.v)
		case packet.TypePubcomp:
			id, _, err := parseAck(body)
			if err != nil {
				return err
			}
			if !p.release(id, idReleased) {
				return fmt.Errorf("PUBCOMP for packet identifier %d, which was not released", id)
			}
		case packet.TypePingresp:
			p.pongs.Add(1)
		case packet.TypeDisconnect:
			return p.readDisconnect(frame)
		default:
			return fmt.Errorf("unexpected %v from the broker", t)
		}
	}
}

// release ends the flow of id if it is in state from, and returns the
// identifier to the pool.
func (p *publisher) release(id uint16, from uint32) bool {
	if int(id) >= len(p.state) || !p.state[id].CompareAndSwap(from, idFree) {
		return false
	}
	p.acked.Add(1)
	p.pool.put(id)
	return true
}

// idPool is a publisher's free packet identifiers. The writer takes them in
// batches and, when too few are free, sleeps until the reader has returned
// enough: waking it for every single ack would cost a write per message.
type idPool struct {
	mu     sync.Mutex
	free   []uint16
	window int
	want   int // the writer sleeps until this many are free; 0: it does not sleep
	// wake has room for one signal, so that put never blocks.
	wake chan struct{}
}

func newIDPool(window int) *idPool {
	q := &idPool{free: make([]uint16, 0, window), window: window, wake: make(chan struct{}, 1)}
	for id := window; id >= 1; id-- {
		q.free = append(q.free, uint16(id))
	}
	return q
}

// put returns id to the pool, waking the writer if it now has enough.
func (q *idPool) put(id uint16) {
	q.mu.Lock()
	q.free = append(q.free, id)
	wake := q.want > 0 && len(q.free) >= q.want
	if wake {
		q.want = 0
	}
	q.mu.Unlock()
	if wake {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// inflight returns how many identifiers are taken.
func (q *idPool) inflight() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.window - len(q.free)
}

// take moves up to len(dst) identifiers into dst when at least atLeast are
// free, and returns how many. Otherwise it returns 0 and arms q.wake for
// when atLeast are.
func (q *idPool) take(dst []uint16, atLeast int) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.free) < atLeast {
		q.want = atLeast
		return 0
	}
	k := min(len(dst), len(q.free))
	copy(dst, q.free[len(q.free)-k:])
	q.free = q.free[:len(q.free)-k]
	return k
}

// batchBytes is about how much a publisher writes at once.
const batchBytes = 64 << 10

// writeLoop is the publisher's writer goroutine: it sends until stop is
// closed, as many messages at a time as the rate, the in-flight window and
// batchBytes allow, each batch encoded into one buffer and written at once.
// The rate counts from start, the clock time publishing began, so that a
// writer that starts late or falls behind catches up.
func (p *publisher) writeLoop(start int64, stop <-chan struct{}) {
	p.werr = p.writeBatches(start, stop)
}

func (p *publisher) writeBatches(start int64, stop <-chan struct{}) error {
	p.pub.ID = 1 // any identifier, for the size of one packet
	one, err := p.pub.Append(nil, p.v)
	if err != nil {
		return fmt.Errorf("encode PUBLISH: %w", err)
	}
	p.pub.ID = 0
	maxBatch := max(1, batchBytes/len(one))
	if p.pool != nil {
		maxBatch = min(maxBatch, p.pool.window)
	}
	buf := make([]byte, 0, maxBatch*len(one))
	ids := make([]uint16, maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	want := max(1, p.backlog.limit/p.backlog.factor/4)
	var issued int64 // messages written, for the rate
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		n := maxBatch
		if p.rate > 0 {
			now := p.clk.now()
			due := int64(float64(now-start)*p.rate/1e9) + 1 - issued
			if due <= 0 {
				next := start + int64(float64(issued)*1e9/p.rate)
				timer.Reset(time.Duration(next - now))
				select {
				case <-timer.C:
				case <-stop:
					return nil
				}
				continue
			}
			n = int(min(int64(n), due))
		}
		// The same hysteresis for the end-to-end backlog.
		if !p.backlog.wait(min(int64(n), want), timer, stop, p.readerDone) {
			return nil
		}
		if room := p.backlog.room(); p.backlog.limit > 0 && room < int64(n) {
			n = int(max(room, 1))
		}
		if p.pool != nil {
			// Send when a quarter of the window is free (or all that is
			// due, if less): a batch per write, not a write per ack.
			k := p.pool.take(ids[:n], min(n, max(1, p.pool.window/4)))
			if k == 0 {
				select {
				case <-p.pool.wake:
				case <-stop:
					return nil
				case <-p.readerDone:
					return nil
				}
				continue
			}
			n = k
		}
		// One timestamp per batch: the batch leaves in one write.
		now := p.clk.now()
		putStamp(p.pub.Payload, now)
		buf = buf[:0]
		for i := range n {
			if p.pool != nil {
				p.pub.ID = ids[i]
				p.state[ids[i]].Store(idSent)
			}
			if buf, err = p.pub.Append(buf, p.v); err != nil {
				return fmt.Errorf("encode PUBLISH: %w", err)
			}
		}
		if err := p.write(buf); err != nil {
			if p.closing.Load() {
				return nil
			}
			return err
		}
		issued += int64(n)
		p.backlog.wrote(n)
		if now >= p.windowStart.Load() {
			p.sent.Add(int64(n))
		} else {
			p.early += int64(n)
		}
	}
}
