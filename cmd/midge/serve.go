package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/listener"
)

// serve runs the broker on the configured listeners until ctx ends, then
// shuts it down: every client is disconnected, every goroutine stopped.
func serve(ctx context.Context, c *Config, log *slog.Logger, ready chan<- []string) error {
	b, err := broker.New(c.brokerOptions(log))
	if err != nil {
		return err
	}
	var ls []net.Listener
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	var addrs []string
	for _, spec := range c.listeners() {
		l, err := listener.Listen(spec)
		if err != nil {
			closeAll()
			b.Close()
			return err
		}
		ls = append(ls, l)
		spec.Addr = l.Addr().String()
		addrs = append(addrs, spec.String())
		log.Info("listening", "on", spec.String())
	}
	log.Info("midge started", "version", version, "id", b.ID())

	var wg sync.WaitGroup
	failed := make(chan error, len(ls))
	for _, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Serve(l); err != nil && !errors.Is(err, broker.ErrClosed) {
				failed <- err
			}
		}()
	}
	if ready != nil {
		ready <- addrs
	}
	var cause error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case cause = <-failed:
		log.Error("listener failed", "err", cause)
	}
	err = b.Close()
	wg.Wait()
	log.Info("midge stopped")
	if cause != nil {
		return cause
	}
	return err
}
