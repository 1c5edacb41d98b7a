package broker

import (
	"testing"

	"github.com/midge-mqtt/midge/broker/brokertest"
)

// TestConformance runs the protocol suite against the broker with default
// options.
func TestConformance(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) string {
		_, addr := startBroker(t, nil)
		return addr
	})
}
