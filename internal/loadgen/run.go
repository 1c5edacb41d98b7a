package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// Read buffer sizes: large for the connections that carry messages, small
// for the idle ones, of which there are thousands.
const (
	busyReadBuf = 128 << 10
	idleReadBuf = 512
)

// Run runs one scenario against the broker at cfg.Addr and returns what it
// measured. Failing to set up a connection or a subscription (a refused
// CONNACK or SUBACK, a dial error) aborts the run with an error naming the
// client and the reason; connections lost during the run are reported in
// Result.Errors. Cancelling ctx ends the measured window early and still
// returns a result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := newResult(&cfg)
	var err error
	if cfg.Scenario == Idle {
		err = runIdle(ctx, &cfg, r)
	} else {
		err = runPubSub(ctx, &cfg, r)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// runID returns a random tag that keeps a run's topics and client
// identifiers apart from any other run's.
func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// setup calls f(ctx, i) for i in [0, n) on up to workers goroutines and
// returns the first error, after which it starts no more calls.
func setup(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// pingList is the connections the pinger keeps alive. It only grows, so a
// snapshot of the slice stays valid.
type pingList struct {
	mu    sync.Mutex
	conns []*conn
}

func (l *pingList) add(c *conn) {
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
}

func (l *pingList) snapshot() []*conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns
}

// pinger sends every connection of l a PINGREQ once per period until stop
// is closed: one goroutine for all of them, each tick serving the slice of
// connections in that tick's slot, so that pings are spread evenly. Slots
// follow the clock, not the count of ticks, because a late ticker drops
// ticks: a slot whose tick was dropped is served at the next one.
func pinger(l *pingList, period time.Duration, stop <-chan struct{}) {
	const tick = 100 * time.Millisecond
	slots := max(1, int(period/tick))
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	served := 0 // slots served so far, counting from the start
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		due := int(time.Since(start) / tick)
		served = max(served, due-slots) // more than a period behind: one round
		conns := l.snapshot()
		for ; served < due; served++ {
			for i := served % slots; i < len(conns); i += slots {
				conns[i].ping(false)
			}
		}
	}
}

// sleep waits for d or for ctx, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// usage is a snapshot of the generator's and the broker's CPU and memory.
type usage struct {
	at        time.Time
	self      time.Duration
	machine   time.Duration // busy time of every CPU
	machineOK bool
	broker    ProcSample
	ok        bool // the broker sample is valid
}

func sampleUsage(cfg *Config, r *Result) usage {
	u := usage{at: time.Now()}
	u.self, _ = selfCPU()
	u.machine, u.machineOK = sampleMachine()
	if cfg.BrokerPID != 0 {
		s, err := SampleProc(cfg.BrokerPID)
		if err != nil {
			r.addError(err)
		} else {
			u.broker, u.ok = s, true
		}
	}
	return u
}

func runPubSub(ctx context.Context, cfg *Config, r *Result) (err error) {
	run := runID()
	base := cfg.Topic + "/" + run
	clk := newClock()
	var windowStart atomic.Int64
	windowStart.Store(math.MaxInt64) // nothing counts until publishing starts

	filter, topic := base+"/all", func(int) string { return base + "/all" }
	factor := int64(cfg.Subs) // deliveries per message sent
	if cfg.Scenario == FanIn {
		filter = base + "/+"
		topic = func(i int) string { return base + "/" + strconv.Itoa(i) }
		if cfg.Shared {
			filter, factor = "$share/midge-bench/"+filter, min(factor, 1)
		}
	}

	bl := newBacklog(cfg.Backlog, cfg.Pubs, factor)

	var pings pingList
	var readers sync.WaitGroup
	stopPing := make(chan struct{})
	shutdown := sync.OnceFunc(func() {
		close(stopPing)
		for _, c := range pings.snapshot() {
			c.close()
		}
		readers.Wait()
	})
	defer shutdown()
	go pinger(&pings, cfg.KeepAlive, stopPing)

	// Client identifiers are "mb-<run>-<role><n>": MQTT 3.1 servers may
	// refuse those longer than 23 bytes.
	subs := make([]*subscriber, cfg.Subs)
	cfg.progress("%s: connecting %d subscriber(s) to %s, filter %q, QoS %d, MQTT %v", cfg.Scenario, cfg.Subs, cfg.Addr, filter, cfg.QoS, cfg.Version)
	err = setup(ctx, cfg.Subs, cfg.Dialers, func(ctx context.Context, i int) error {
		c, err := dial(ctx, cfg, fmt.Sprintf("mb-%s-s%d", run, i), busyReadBuf)
		if err != nil {
			return err
		}
		if err := c.subscribe(cfg, filter, cfg.QoS); err != nil {
			c.close()
			return err
		}
		s := &subscriber{conn: c, clk: clk, windowStart: &windowStart, backlog: bl}
		subs[i] = s
		pings.add(c)
		readers.Go(s.read)
		return nil
	})
	if err != nil {
		return err
	}

	pubs := make([]*publisher, cfg.Pubs)
	cfg.progress("connecting %d publisher(s)", cfg.Pubs)
	err = setup(ctx, cfg.Pubs, cfg.Dialers, func(ctx context.Context, i int) error {
		c, err := dial(ctx, cfg, fmt.Sprintf("mb-%s-p%d", run, i), busyReadBuf)
		if err != nil {
			return err
		}
		p := newPublisher(c, cfg, topic(i), clk, &windowStart, bl)
		pubs[i] = p
		pings.add(c)
		readers.Go(p.read)
		return nil
	})
	if err != nil {
		return err
	}

	stop := make(chan struct{})
	var writers sync.WaitGroup
	start := clk.now()
	windowStart.Store(start + int64(cfg.Warmup))
	for _, p := range pubs {
		writers.Go(func() { p.writeLoop(start, stop) })
	}
	if cfg.Warmup > 0 {
		cfg.progress("warming up for %v", cfg.Warmup)
		sleep(ctx, cfg.Warmup)
	}
	u0 := sampleUsage(cfg, r)
	cfg.progress("measuring for %v", cfg.Duration)
	sleep(ctx, cfg.Duration)
	close(stop)
	end := clk.now()

	// A writer blocked on a broker that no longer reads is freed by the
	// close of its connection, after the drain.
	drainEnd := time.Now().Add(cfg.Drain)
	writersDone := make(chan struct{})
	go func() { writers.Wait(); close(writersDone) }()
	select {
	case <-writersDone:
	case <-time.After(time.Until(drainEnd)):
	case <-ctx.Done():
	}

	var sent int64
	for _, p := range pubs {
		sent += p.sent.Load()
	}
	expected := sent * factor
	received := func() (n int64) {
		for _, s := range subs {
			n += s.recv.Load()
		}
		return n
	}
	cfg.progress("draining")
	done := func() bool {
		if received() < expected {
			return false
		}
		for _, p := range pubs {
			if p.pool != nil && !p.dead.Load() && p.pool.inflight() > 0 {
				return false
			}
		}
		return true
	}
	drain(ctx, drainEnd, done, received, subs)
	u1 := sampleUsage(cfg, r)

	shutdown()
	<-writersDone

	r.fillMessages(cfg, pubs, subs, windowStart.Load(), end, expected)
	r.fillUsage(cfg, u0, u1, r.Messages.Received)
	for _, s := range subs {
		r.addError(s.err)
	}
	for _, p := range pubs {
		r.addError(p.err)
		if p.werr != nil {
			r.addError(fmt.Errorf("%s: %w", p.name, p.werr))
		}
	}
	return nil
}

// drain waits until done (every message arrived, every QoS 1 and 2 flow
// complete), none has arrived for a second, every subscriber is gone, or
// the deadline has passed.
func drain(ctx context.Context, deadline time.Time, done func() bool, received func() int64, subs []*subscriber) {
	last, lastChange := received(), time.Now()
	for !done() && time.Now().Before(deadline) && ctx.Err() == nil {
		alive := false
		for _, s := range subs {
			alive = alive || !s.dead.Load()
		}
		if !alive {
			return
		}
		time.Sleep(10 * time.Millisecond)
		if n := received(); n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > time.Second {
			return
		}
	}
}

func runIdle(ctx context.Context, cfg *Config, r *Result) error {
	run := runID()
	before := sampleUsage(cfg, r)

	var pings pingList
	var readers sync.WaitGroup
	stopPing := make(chan struct{})
	stopPinger := sync.OnceFunc(func() { close(stopPing) })
	shutdown := sync.OnceFunc(func() {
		stopPinger()
		for _, c := range pings.snapshot() {
			c.close()
		}
		readers.Wait()
	})
	defer shutdown()
	conns := make([]*conn, cfg.Conns)
	// The pinger starts first: with thousands of connections the first
	// may be due a ping before the last is up.
	go pinger(&pings, cfg.KeepAlive, stopPing)

	cfg.progress("idle: opening %d connections to %s, keepalive %v, MQTT %v", cfg.Conns, cfg.Addr, cfg.KeepAlive, cfg.Version)
	t0 := time.Now()
	err := setup(ctx, cfg.Conns, cfg.Dialers, func(ctx context.Context, i int) error {
		c, err := dial(ctx, cfg, fmt.Sprintf("mb-%s-i%d", run, i), idleReadBuf)
		if err != nil {
			return err
		}
		conns[i] = c
		pings.add(c)
		readers.Go(func() { c.stopped(c.idleLoop()) })
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w (after %d connections)", err, len(pings.snapshot()))
	}
	connectTime := time.Since(t0)

	u0 := sampleUsage(cfg, r)
	cfg.progress("holding %d connections for %v", cfg.Conns, cfg.Duration)
	sleep(ctx, cfg.Duration)
	stopPinger()

	// The final round: a connection counts as alive if it answers a ping
	// now, not merely if the broker has not closed it.
	cfg.progress("checking that the connections answer a PINGREQ")
	answered := make([]int64, len(conns))
	for i, c := range conns {
		answered[i] = c.pongs.Load()
		c.ping(true)
	}
	alive := func() (n int) {
		for i, c := range conns {
			if !c.dead.Load() && c.pongs.Load() > answered[i] {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(cfg.DialTimeout)
	for alive() < len(conns) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	u1 := sampleUsage(cfg, r)

	r.Idle = &IdleStats{
		Connected:      len(conns),
		Alive:          alive(),
		ConnectSeconds: connectTime.Seconds(),
		ConnectRate:    float64(len(conns)) / connectTime.Seconds(),
	}
	for _, c := range conns {
		r.Idle.Pings += c.pings.Load()
		r.Idle.Pongs += c.pongs.Load()
	}
	r.fillUsage(cfg, u0, u1, 0)
	if r.Broker != nil && before.ok && u1.ok {
		r.Broker.RSSBefore = before.broker.RSS
		r.Broker.RSSPerConn = float64(u1.broker.RSS-before.broker.RSS) / float64(len(conns))
	}

	shutdown()
	for _, c := range conns {
		r.addError(c.err)
	}
	return nil
}

// idleLoop is an idle connection's reader: it expects nothing but
// PINGRESP.
func (c *conn) idleLoop() error {
	for {
		frame, _, err := c.fr.next()
		if err != nil {
			return err
		}
		switch t := packet.Type(frame[0] >> 4); t {
		case packet.TypePingresp:
			c.pongs.Add(1)
		case packet.TypeDisconnect:
			return c.readDisconnect(frame)
		default:
			return fmt.Errorf("unexpected %v from the broker", t)
		}
	}
}
