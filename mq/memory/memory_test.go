package memory_test

import (
	"testing"

	"github.com/midge-mqtt/midge/mq"
	"github.com/midge-mqtt/midge/mq/memory"
	"github.com/midge-mqtt/midge/mq/mqtest"
)

func TestConformance(t *testing.T) {
	mqtest.Run(t, func(*testing.T) (mq.Bus, mq.Bus) {
		b := memory.New()
		return b, b
	})
}
