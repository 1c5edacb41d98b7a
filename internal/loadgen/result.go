package loadgen

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Result is what a run measured. Its JSON form is the machine-readable
// output of `midge bench -json`; times are in seconds, latencies in
// microseconds. Run returns it complete: nothing touches it afterwards.
type Result struct {
	Scenario  Scenario `json:"scenario"`
	Addr      string   `json:"addr"`
	Version   string   `json:"version"`
	QoS       int      `json:"qos"`
	Pubs      int      `json:"pubs,omitempty"`
	Subs      int      `json:"subs,omitempty"`
	Conns     int      `json:"conns,omitempty"`
	Shared    bool     `json:"shared,omitempty"`
	Size      int      `json:"size"`
	Rate      float64  `json:"rate"` // per publisher; 0 is unlimited
	Inflight  int      `json:"inflight"`
	Backlog   int      `json:"backlog"` // per publisher; 0 is unbounded
	KeepAlive float64  `json:"keepalive_s"`
	Warmup    float64  `json:"warmup_s"`
	// Seconds is the measured window: from the end of the warm-up to the
	// end of publishing, or the Idle scenario's hold.
	Seconds float64 `json:"seconds"`

	Messages  *Messages    `json:"messages,omitempty"`   // FanIn and FanOut
	Latency   *Latency     `json:"latency_us,omitempty"` // FanIn and FanOut
	Idle      *IdleStats   `json:"idle,omitempty"`       // Idle
	Generator CPUUsage     `json:"generator"`
	Broker    *BrokerUsage `json:"broker,omitempty"` // with Config.BrokerPID
	// Machine is the whole machine's CPU over the same time (Linux only):
	// what else was busy tells whether the figures can be trusted.
	Machine *MachineUsage `json:"machine,omitempty"`

	// Errors lists connections lost and other failures during the run.
	Errors []string `json:"errors,omitempty"`
	nerr   int
}

// Messages counts the messages of the measured window.
type Messages struct {
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	// Expected is Sent times the deliveries each message is owed: the
	// number of subscribers, or 1 for a shared subscription.
	Expected int64   `json:"expected"`
	Lost     int64   `json:"lost"`     // Expected − Received, when positive
	LossPct  float64 `json:"loss_pct"` // Lost as a percentage of Expected
	Extra    int64   `json:"extra"`    // Received − Expected, when positive: duplicates
	// SentRate is Sent over the window; RecvRate is Received over the time
	// from the window's start to the last message's arrival.
	SentRate float64 `json:"sent_per_s"`
	RecvRate float64 `json:"received_per_s"`
	// Acked counts completed QoS 1 and 2 flows; Refused those an MQTT 5
	// PUBACK or PUBREC refused with its reason code.
	Acked   int64 `json:"acked"`
	Refused int64 `json:"refused"`
	// Warmup counts messages sent and received that were stamped before the
	// window, and so are not counted above.
	WarmupSent     int64 `json:"warmup_sent"`
	WarmupReceived int64 `json:"warmup_received"`
}

// Latency is the distribution of publish-to-delivery times, in
// microseconds.
type Latency struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

// IdleStats is what the Idle scenario saw.
type IdleStats struct {
	Connected      int     `json:"connected"`
	Alive          int     `json:"alive"` // answered the final PINGREQ
	ConnectSeconds float64 `json:"connect_s"`
	ConnectRate    float64 `json:"connect_per_s"`
	Pings          int64   `json:"pings"`
	Pongs          int64   `json:"pongs"`
}

// CPUUsage is a process's CPU time over the measured window and a drain or
// final check after it.
type CPUUsage struct {
	CPUSeconds  float64 `json:"cpu_s"`
	WallSeconds float64 `json:"wall_s"`
	// Cores is CPU time over wall time: 1 is one core busy all along.
	Cores float64 `json:"cores"`
	// PerMsgMicros is CPU time per delivered message (FanIn and FanOut).
	PerMsgMicros float64 `json:"cpu_us_per_msg,omitempty"`
	NumCPU       int     `json:"num_cpu,omitempty"` // the generator's machine
}

// BrokerUsage is the broker's CPU and memory, sampled from /proc.
type BrokerUsage struct {
	PID int `json:"pid"`
	CPUUsage
	// RSSBefore and RSSAfter are the broker's resident set size in bytes at
	// the start and end of the window; for the Idle scenario, before the
	// first connection and after the hold.
	RSSBefore int64 `json:"rss_before"`
	RSSAfter  int64 `json:"rss_after"`
	// RSSPerConn is the RSS growth per connection (Idle).
	RSSPerConn float64 `json:"rss_per_conn,omitempty"`
}

// MachineUsage is the CPU time of the whole machine, from /proc/stat.
type MachineUsage struct {
	// Cores is the busy CPU time of every CPU over wall time.
	Cores float64 `json:"cores"`
	// Others is Cores less the generator's and, when sampled, the broker's:
	// other processes and kernel threads (loopback TCP work deferred to
	// ksoftirqd among them). Much above zero, another load shared the
	// machine, and throughput and latency figures are not the broker's own.
	Others float64 `json:"others"`
}

func newResult(cfg *Config) *Result {
	r := &Result{
		Scenario:  cfg.Scenario,
		Addr:      cfg.Addr,
		Version:   cfg.Version.String(),
		QoS:       int(cfg.QoS),
		Size:      cfg.Size,
		Rate:      cfg.Rate,
		Inflight:  cfg.Inflight,
		Backlog:   cfg.Backlog,
		KeepAlive: cfg.KeepAlive.Seconds(),
		Warmup:    cfg.Warmup.Seconds(),
	}
	if cfg.Scenario == Idle {
		r.Conns, r.Seconds = cfg.Conns, cfg.Duration.Seconds()
	} else {
		r.Pubs, r.Subs, r.Shared = cfg.Pubs, cfg.Subs, cfg.Shared
	}
	return r
}

// maxErrors is how many errors a Result lists; the rest are counted.
const maxErrors = 10

func (r *Result) addError(err error) {
	if err == nil {
		return
	}
	r.nerr++
	if len(r.Errors) < maxErrors {
		r.Errors = append(r.Errors, err.Error())
	} else if r.nerr > maxErrors {
		r.Errors[maxErrors-1] = fmt.Sprintf("… and %d more errors", r.nerr-maxErrors+1)
	}
}

// fillMessages totals the counters and histograms once the readers and
// writers have stopped.
func (r *Result) fillMessages(cfg *Config, pubs []*publisher, subs []*subscriber, start, end, expected int64) {
	m := &Messages{Expected: expected}
	var hist Histogram
	var last int64
	for _, p := range pubs {
		m.Sent += p.sent.Load()
		m.WarmupSent += p.early
		m.Acked += p.acked.Load()
		m.Refused += p.refused.Load()
	}
	for _, s := range subs {
		m.Received += s.recv.Load()
		m.WarmupReceived += s.early
		last = max(last, s.last.Load())
		hist.Merge(&s.hist)
	}
	m.Lost = max(0, m.Expected-m.Received)
	m.Extra = max(0, m.Received-m.Expected)
	if m.Expected > 0 {
		m.LossPct = 100 * float64(m.Lost) / float64(m.Expected)
	}
	window := time.Duration(end - start)
	r.Seconds = window.Seconds()
	if window > 0 {
		m.SentRate = float64(m.Sent) / window.Seconds()
	}
	if d := time.Duration(last - start); d > 0 {
		m.RecvRate = float64(m.Received) / d.Seconds()
	}
	r.Messages = m
	if hist.Count() > 0 {
		us := func(d time.Duration) float64 { return float64(d) / 1e3 }
		r.Latency = &Latency{
			Count: hist.Count(),
			Min:   us(hist.Min()),
			Mean:  us(hist.Mean()),
			P50:   us(hist.Quantile(0.50)),
			P90:   us(hist.Quantile(0.90)),
			P99:   us(hist.Quantile(0.99)),
			P999:  us(hist.Quantile(0.999)),
			Max:   us(hist.Max()),
		}
	}
}

// fillUsage computes the CPU figures between two samples; msgs is the
// number of delivered messages to divide by (0: none).
func (r *Result) fillUsage(cfg *Config, u0, u1 usage, msgs int64) {
	wall := u1.at.Sub(u0.at)
	cpu := func(d time.Duration) CPUUsage {
		c := CPUUsage{CPUSeconds: d.Seconds(), WallSeconds: wall.Seconds()}
		if wall > 0 {
			c.Cores = d.Seconds() / wall.Seconds()
		}
		if msgs > 0 {
			c.PerMsgMicros = float64(d) / 1e3 / float64(msgs)
		}
		return c
	}
	r.Generator = cpu(u1.self - u0.self)
	r.Generator.NumCPU = runtime.NumCPU()
	if u0.machineOK && u1.machineOK && wall > 0 {
		m := &MachineUsage{Cores: (u1.machine - u0.machine).Seconds() / wall.Seconds()}
		m.Others = m.Cores - r.Generator.Cores
		if u0.ok && u1.ok {
			m.Others -= (u1.broker.CPU - u0.broker.CPU).Seconds() / wall.Seconds()
		}
		m.Others = max(m.Others, 0) // the samples tick at different times
		r.Machine = m
	}
	if u0.ok && u1.ok {
		r.Broker = &BrokerUsage{
			PID:       cfg.BrokerPID,
			CPUUsage:  cpu(u1.broker.CPU - u0.broker.CPU),
			RSSBefore: u0.broker.RSS,
			RSSAfter:  u1.broker.RSS,
		}
	}
}

// busyCores is the generator CPU share above which the text output warns
// that the generator may have been the bottleneck.
const busyCores = 0.9

// busyOthers is the CPU share of other work above which the text output
// warns that the machine was not quiet.
const busyOthers = 0.25

// WriteText writes the result for people to read.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-10s %s\n", label, fmt.Sprintf(format, args...))
	}
	switch r.Scenario {
	case Idle:
		line("scenario", "idle: %s connections, keepalive %gs, MQTT %s, against %s", group(int64(r.Conns)), r.KeepAlive, r.Version, r.Addr)
	default:
		shared, rate := "", "unlimited"
		if r.Shared {
			shared = " (shared)"
		}
		if r.Rate > 0 {
			rate = group(int64(r.Rate)) + " msg/s per publisher"
		}
		backlog := "unbounded"
		if r.Backlog > 0 {
			backlog = strconv.Itoa(r.Backlog)
		}
		line("scenario", "%s: %d publisher(s) → %d subscriber(s)%s, QoS %d, MQTT %s, %d-byte payloads, rate %s, in-flight %d, backlog %s, against %s",
			r.Scenario, r.Pubs, r.Subs, shared, r.QoS, r.Version, r.Size, rate, r.Inflight, backlog, r.Addr)
	}
	if r.Warmup > 0 {
		line("window", "%.2f s after %.2f s of warm-up", r.Seconds, r.Warmup)
	} else {
		line("window", "%.2f s", r.Seconds)
	}
	if m := r.Messages; m != nil {
		line("sent", "%13s  %12s msg/s", group(m.Sent), group(int64(m.SentRate)))
		line("received", "%13s  %12s msg/s", group(m.Received), group(int64(m.RecvRate)))
		line("expected", "%13s", group(m.Expected))
		line("lost", "%13s  (%.3f%%)", group(m.Lost), m.LossPct)
		if m.Extra > 0 {
			line("extra", "%13s  (duplicates)", group(m.Extra))
		}
		if m.Refused > 0 {
			line("refused", "%13s  (by MQTT 5 reason codes)", group(m.Refused))
		}
	}
	if l := r.Latency; l != nil {
		line("latency", "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s", us(l.P50), us(l.P90), us(l.P99), us(l.P999), us(l.Max))
	}
	if i := r.Idle; i != nil {
		line("connected", "%s in %.2f s (%s/s)", group(int64(i.Connected)), i.ConnectSeconds, group(int64(i.ConnectRate)))
		line("alive", "%s of %s answered the final PINGREQ", group(int64(i.Alive)), group(int64(i.Connected)))
		line("pings", "%s sent, %s answered", group(i.Pings), group(i.Pongs))
	}
	g := r.Generator
	line("generator", "%.2f s CPU in %.2f s: %.2f of a core (%d CPUs)%s", g.CPUSeconds, g.WallSeconds, g.Cores, g.NumCPU, perMsg(g))
	if br := r.Broker; br != nil {
		mem := fmt.Sprintf("RSS %s → %s", mib(br.RSSBefore), mib(br.RSSAfter))
		if br.RSSPerConn != 0 {
			mem += fmt.Sprintf(", %s per connection", kib(br.RSSPerConn))
		}
		line("broker", "pid %d: %.2f s CPU: %.2f of a core%s; %s", br.PID, br.CPUSeconds, br.Cores, perMsg(br.CPUUsage), mem)
	}
	if m := r.Machine; m != nil {
		line("machine", "%.2f of %d cores busy, %.2f of them neither the generator nor the broker", m.Cores, g.NumCPU, m.Others)
	}
	if g.Cores >= busyCores {
		line("note", "the generator used %.2f of a core: it may have been the bottleneck", g.Cores)
	}
	if m := r.Machine; m != nil && r.Broker != nil && m.Others >= busyOthers {
		line("note", "other work kept %.2f cores busy: throughput and latency are not the broker's own", m.Others)
	}
	for _, e := range r.Errors {
		line("error", "%s", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func perMsg(c CPUUsage) string {
	if c.PerMsgMicros == 0 {
		return ""
	}
	return fmt.Sprintf(", %.2f µs per delivered message", c.PerMsgMicros)
}

// us formats microseconds with a unit that keeps three or four digits.
func us(v float64) string {
	switch {
	case v < 1000:
		return fmt.Sprintf("%.1fµs", v)
	case v < 1e6:
		return fmt.Sprintf("%.2fms", v/1e3)
	}
	return fmt.Sprintf("%.2fs", v/1e6)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func kib(b float64) string { return fmt.Sprintf("%.2f KiB", b/(1<<10)) }

// group formats n with thousands separators: 1,234,567.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
