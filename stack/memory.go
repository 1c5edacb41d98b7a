package stack

import (
	mqmemory "github.com/midge-mqtt/midge/mq/memory"
	storememory "github.com/midge-mqtt/midge/store/memory"
)

// NewMemoryBackend returns the MemoryBackend: a Router that keeps
// subscriptions and retained messages in memory, over a new
// store/memory.Store and a new in-process mq/memory.Bus. It is the routing
// backend of a broker with nothing to install, and the one the broker
// package builds when its Options give no Store and no Bus.
//
// Its Store keeps nothing across a restart; give it to the SessionManager
// too, so that sessions and retained messages live in one place:
//
//	backend := stack.NewMemoryBackend()
//	sessions := &stack.SessionManager{Store: backend.Store}
//
// Call Stop once its server has stopped. Neither the store nor the bus
// runs a goroutine, so nothing else needs closing.
func NewMemoryBackend() *Router {
	return &Router{Store: storememory.New(), Bus: mqmemory.New()}
}
