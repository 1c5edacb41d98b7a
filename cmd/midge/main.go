// Command midge is the midge MQTT broker daemon.
//
//	midge [flags]          run the broker (midge -h lists the flags)
//	midge bench [flags]    a load generator for any MQTT broker
//
// Configuration comes from flags and, with -config, a YAML file whose keys
// are the flags' names; the README has the reference.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is the daemon's version, set at build time with
// -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		os.Exit(benchMain(os.Args[2:]))
	}
	if len(os.Args) > 1 && (os.Args[1] == "version" || os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println("midge", version)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr, nil))
}

// run runs the daemon until ctx ends, and returns the exit code. ready, if
// not nil, receives the addresses listened on once the broker serves.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- []string) int {
	c, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0 // -h: the usage is printed
	}
	if err != nil {
		if !errors.As(err, new(errReported)) {
			fmt.Fprintln(stderr, "midge:", err)
		}
		return 2
	}
	log := c.logger(stderr)
	if err := serve(ctx, c, log, ready); err != nil {
		log.Error("midge stopped", "err", err)
		return 1
	}
	return 0
}
