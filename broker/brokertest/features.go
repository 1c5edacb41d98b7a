package brokertest

import (
	"strings"
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// Feature is a part of the protocol that a broker built from parts (a
// stack of middlewares) may leave out. Features combine with |.
type Feature uint

const (
	// QoS12 is delivery to subscribers at QoS 1 and 2: granting those
	// QoS, the broker's side of their flows, and what a persistent session
	// keeps of them for its client.
	QoS12 Feature = 1 << iota
	// Retained is retained messages [MQTT-3.3.1-5].
	Retained
	// Wills is will messages [MQTT-3.1.2-8].
	Wills
)

// String returns the names of the features in f, joined by "|".
func (f Feature) String() string {
	var names []string
	for _, n := range []struct {
		f    Feature
		name string
	}{{QoS12, "QoS12"}, {Retained, "Retained"}, {Wills, "Wills"}} {
		if f&n.f != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, "|")
}

// Options adjust what RunWith checks.
type Options struct {
	// Without lists the features the broker leaves out: each test that
	// needs one of them is skipped, and says which. A complete broker
	// leaves out nothing, and is checked with Run.
	Without Feature
}

// needs lists what each test needs beyond the core of the protocol
// (CONNECT, sessions, SUBSCRIBE at QoS 0, PUBLISH in at every QoS, PINGREQ,
// DISCONNECT, keep alive); a test not listed needs only the core.
var needs = map[string]Feature{
	"QoS":               QoS12,
	"PacketIDs":         QoS12,
	"DuplicateQoS2":     QoS12,
	"Ordering":          QoS12,
	"Wildcards":         QoS12,
	"Overlapping":       QoS12,
	"Resubscribe":       QoS12,
	"Unsubscribe":       QoS12,
	"InvalidFilters":    QoS12,
	"Retained":          Retained,
	"PersistentSession": QoS12,
	"Redelivery":        QoS12,
	"Will":              Wills | QoS12,
}

// RunWith runs the suite as Run does, against a broker that may leave out
// the features o.Without names.
func RunWith(t *testing.T, o Options, newBroker func(t *testing.T) (addr string)) {
	for _, v := range []packet.Version{packet.V31, packet.V311} {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					if missing := needs[tc.name] & o.Without; missing != 0 {
						t.Skipf("the broker leaves out %v", missing)
					}
					t.Parallel()
					tc.run(t, &env{v: v, start: newBroker})
				})
			}
		})
	}
}
