package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/midge-mqtt/midge/internal/loadgen"
	"github.com/midge-mqtt/midge/packet"
)

// benchMain is `midge bench`: a load generator for any MQTT broker. It
// returns the exit status: 0 after a run, 1 when the run could not be set
// up, 2 for bad flags.
func benchMain(args []string) int {
	return bench(args, os.Stdout, os.Stderr)
}

func bench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("midge bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: midge bench [flags]

Drives an MQTT broker with one scenario and reports messages sent, received
and lost, latency percentiles, and the CPU time of the generator (and of the
broker, with -broker-pid).

  fanin   -pubs publishers (default 8), each on its own topic, to -subs
          subscribers (default 1) on a wildcard filter (-shared: one shared
          subscription)
  fanout  -pubs publishers (default 1) on one topic to -subs subscribers
          (default 100)
  idle    -conns connections (default 1000) kept alive with PINGREQ

Flags:
`)
		fs.PrintDefaults()
	}
	var (
		cfg      loadgen.Config
		scenario = fs.String("scenario", "fanin", "`name` of the scenario: fanin, fanout or idle")
		qos      = fs.Uint("qos", 0, "QoS of the publishes and subscriptions: 0, 1 or 2")
		version  = fs.String("version", "3.1.1", "MQTT protocol `version`: 3.1, 3.1.1 or 5")
		asJSON   = fs.Bool("json", false, "print the result as JSON")
		quiet    = fs.Bool("q", false, "do not report progress on stderr")
	)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:1883", "broker `host:port`")
	fs.IntVar(&cfg.Pubs, "pubs", 0, "publishers (0: the scenario's default)")
	fs.IntVar(&cfg.Subs, "subs", 0, "subscribers (0: the scenario's default)")
	fs.IntVar(&cfg.Conns, "conns", 0, "connections of the idle scenario (0: 1000)")
	fs.BoolVar(&cfg.Shared, "shared", false, "fanin: subscribe through one shared subscription")
	fs.IntVar(&cfg.Size, "size", 64, "payload `bytes`, at least 8")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured window, or the idle hold")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "publishing before the window, not counted")
	fs.Float64Var(&cfg.Rate, "rate", 0, "messages per second per publisher (0: as fast as flow control allows)")
	fs.IntVar(&cfg.Inflight, "inflight", 64, "most unacknowledged QoS 1 and 2 publishes per publisher")
	fs.IntVar(&cfg.Backlog, "backlog", 1000, "most messages per publisher sent but not yet delivered to every subscriber, at any QoS (-1: unbounded)")
	fs.StringVar(&cfg.Topic, "topic", "midge-bench", "topic `prefix`")
	fs.DurationVar(&cfg.KeepAlive, "keepalive", 10*time.Second, "keepalive, and the PINGREQ period")
	fs.DurationVar(&cfg.Drain, "drain", 30*time.Second, "longest wait for in-flight messages after publishing stops")
	fs.IntVar(&cfg.BrokerPID, "broker-pid", 0, "`pid` of the broker, to sample its CPU and RSS from /proc")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "midge bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg.Scenario = loadgen.Scenario(*scenario)
	if *qos > 2 {
		fmt.Fprintf(stderr, "midge bench: -qos %d: want 0, 1 or 2\n", *qos)
		return 2
	}
	cfg.QoS = packet.QoS(*qos)
	switch *version {
	case "3.1":
		cfg.Version = packet.V31
	case "3.1.1", "4":
		cfg.Version = packet.V311
	case "5", "5.0":
		cfg.Version = packet.V5
	default:
		fmt.Fprintf(stderr, "midge bench: -version %q: want 3.1, 3.1.1 or 5\n", *version)
		return 2
	}
	if !*quiet {
		cfg.Progress = stderr
	}

	// Ctrl-C ends the window early; the result is still printed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "midge bench:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		err = res.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "midge bench:", err)
		return 1
	}
	return 0
}
