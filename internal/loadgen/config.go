package loadgen

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// Scenario names a load pattern.
type Scenario string

// The scenarios.
const (
	// FanIn is P publishers, each on its own topic, to S subscribers on a
	// wildcard filter (default 8 → 1).
	FanIn Scenario = "fanin"
	// FanOut is P publishers on one topic to S subscribers of that topic
	// (default 1 → 100).
	FanOut Scenario = "fanout"
	// Idle is N connections that only keep alive (default 1000).
	Idle Scenario = "idle"
)

// Config describes one run. The zero value of a field means its default,
// given in the field's comment. Run takes a copy: one Config may start any
// number of runs, one after another or at once.
type Config struct {
	Addr     string         // broker host:port; "127.0.0.1:1883"
	Scenario Scenario       // FanIn
	QoS      packet.QoS     // of the publishes and of the subscriptions; 0
	Version  packet.Version // packet.V311

	Pubs  int // publishers; 8 for FanIn, 1 for FanOut
	Subs  int // subscribers; 1 for FanIn, 100 for FanOut
	Conns int // connections of the Idle scenario; 1000

	// Shared makes the FanIn subscribers one shared subscription
	// ($share/midge-bench/…), so each message goes to one of them.
	Shared bool

	Size     int           // payload bytes, at least 8 (the timestamp); 64
	Duration time.Duration // the measured window, or the Idle hold; 10s
	Warmup   time.Duration // publishing before the window, not counted; none

	// Rate is the messages per second each publisher sends; 0 sends as
	// fast as the in-flight window and TCP allow.
	Rate float64
	// Inflight is the most QoS 1 and 2 publishes a publisher leaves
	// unacknowledged; 64. A smaller Receive Maximum in an MQTT 5 CONNACK
	// wins.
	Inflight int
	// Backlog is the most messages per publisher written but not yet
	// delivered to every subscriber, at any QoS: the generator's own
	// end-to-end flow control, without which socket buffers and broker
	// queues fill up and the run measures them. A full backlog in which
	// nothing arrives for 200ms is written off. 0 means 1000; negative
	// means no bound but the protocol's.
	Backlog int

	Topic     string        // topic prefix; "midge-bench"
	KeepAlive time.Duration // keepalive sent in CONNECT, and the PINGREQ period; 10s

	// DialTimeout bounds each TCP connect and CONNACK or SUBACK wait; 10s.
	DialTimeout time.Duration
	// Dialers is how many connections are set up at once; 64.
	Dialers int
	// Drain is the longest wait for in-flight messages after publishing
	// stops; the wait ends sooner when every message has arrived or none
	// has for a second. 30s.
	Drain time.Duration

	// BrokerPID, when not zero, is the broker's process, sampled from /proc
	// for its CPU time and RSS.
	BrokerPID int

	// Progress receives a line as each phase starts; nil is silent.
	Progress io.Writer
}

// defaults returns c with every zero field set to its default.
func (c Config) defaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:1883"
	}
	if c.Scenario == "" {
		c.Scenario = FanIn
	}
	if c.Version == 0 {
		c.Version = packet.V311
	}
	switch c.Scenario {
	case FanIn:
		c.Pubs, c.Subs = orDefault(c.Pubs, 8), orDefault(c.Subs, 1)
	case FanOut:
		c.Pubs, c.Subs = orDefault(c.Pubs, 1), orDefault(c.Subs, 100)
	case Idle:
		c.Conns = orDefault(c.Conns, 1000)
	}
	c.Size = orDefault(c.Size, 64)
	c.Duration = orDefault(c.Duration, 10*time.Second)
	c.Inflight = orDefault(c.Inflight, 64)
	c.Backlog = orDefault(c.Backlog, 1000)
	if c.Backlog < 0 {
		c.Backlog = 0 // the backlog type's "no bound"
	}
	if c.Topic == "" {
		c.Topic = "midge-bench"
	}
	c.KeepAlive = orDefault(c.KeepAlive, 10*time.Second)
	c.DialTimeout = orDefault(c.DialTimeout, 10*time.Second)
	c.Dialers = orDefault(c.Dialers, 64)
	c.Drain = orDefault(c.Drain, 30*time.Second)
	return c
}

// orDefault returns v, or def when v is zero.
func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// validate reports the first thing wrong with a defaulted config.
func (c Config) validate() error {
	switch {
	case c.Scenario != FanIn && c.Scenario != FanOut && c.Scenario != Idle:
		return fmt.Errorf("loadgen: unknown scenario %q (want fanin, fanout or idle)", c.Scenario)
	case c.QoS > packet.ExactlyOnce:
		return fmt.Errorf("loadgen: QoS %d (want 0, 1 or 2)", c.QoS)
	case !c.Version.Valid():
		return fmt.Errorf("loadgen: protocol version %d (want 3.1, 3.1.1 or 5)", byte(c.Version))
	case c.Pubs < 0 || c.Subs < 0 || c.Conns < 0:
		return errors.New("loadgen: negative number of clients")
	case c.Size < stampLen:
		return fmt.Errorf("loadgen: payload size %d is below %d, the size of the timestamp it carries", c.Size, stampLen)
	case c.Size > 1<<20:
		return fmt.Errorf("loadgen: payload size %d is above 1 MiB", c.Size)
	case c.Duration < 0 || c.Warmup < 0 || c.Rate < 0:
		return errors.New("loadgen: negative duration, warm-up or rate")
	case c.Inflight < 1 || c.Inflight > 65535:
		return fmt.Errorf("loadgen: in-flight window %d (want 1 to 65535)", c.Inflight)
	case c.KeepAlive < time.Second || c.KeepAlive > 65535*time.Second:
		return fmt.Errorf("loadgen: keepalive %v (want 1s to 65535s)", c.KeepAlive)
	case c.Shared && c.Scenario != FanIn:
		return errors.New("loadgen: shared subscriptions are for the fanin scenario")
	}
	return nil
}

// progress writes one line to c.Progress, if set.
func (c Config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "midge bench: "+format+"\n", args...)
	}
}
