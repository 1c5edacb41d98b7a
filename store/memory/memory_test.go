package memory_test

import (
	"testing"

	"github.com/midge-mqtt/midge/store"
	"github.com/midge-mqtt/midge/store/memory"
	"github.com/midge-mqtt/midge/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return memory.New() })
}
