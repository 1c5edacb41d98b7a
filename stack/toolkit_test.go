package stack_test

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/broker/brokertest"
	mqmemory "github.com/midge-mqtt/midge/mq/memory"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
	storememory "github.com/midge-mqtt/midge/store/memory"
)

// mustServe returns a function that takes start's results, fails t on an
// error, stops the broker when t ends, and returns the broker's address:
// mustServe(t)(start(newBroker(…))).
func mustServe(t *testing.T) func(addr string, stop func(), err error) string {
	return func(addr string, stop func(), err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		return addr
	}
}

// TestStackConformance runs the protocol suite against a broker composed
// in the test from the stack's middlewares and the MemoryBackend, without
// the broker package: it has every feature, so every test runs.
func TestStackConformance(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) string {
		backend := stack.NewMemoryBackend()
		return mustServe(t)(start(newBroker(backend.Store, backend)))
	})
}

// TestBackendConformance runs the whole suite against the broker of
// Example_backend, whose routing backend is written outside the package.
func TestBackendConformance(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) string {
		return mustServe(t)(start(newBroker(storememory.New(), newMapBackend())))
	})
}

// TestMinimalConformance runs the suite against the QoS 0 broker of
// Example_minimal, but for what it leaves out.
func TestMinimalConformance(t *testing.T) {
	o := brokertest.Options{Without: brokertest.QoS12 | brokertest.Retained | brokertest.Wills}
	brokertest.RunWith(t, o, func(t *testing.T) string {
		return mustServe(t)(start(newMinimalBroker()))
	})
}

// TestRateLimit checks the middleware of ExampleMiddleware_rateLimit: a
// burst goes through, the next PUBLISH ends its connection (MQTT 5 with
// DISCONNECT 0x96) and is not delivered, and other clients carry on.
func TestRateLimit(t *testing.T) {
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		t.Run(v.String(), func(t *testing.T) {
			backend := stack.NewMemoryBackend()
			addr := mustServe(t)(start(newBroker(backend.Store, backend, &rateLimit{Rate: 1.0 / 3600, Burst: 3})))
			connect := func(id string) *brokertest.Client {
				return brokertest.MustConnect(t, addr, &packet.Connect{Version: v, ClientID: id, CleanStart: true})
			}
			sub := connect("sub")
			sub.MustSubscribe(1, packet.Subscription{Filter: "r", QoS: 1})
			pub := connect("pub")
			for i := range 3 {
				pub.MustPublish(&packet.Publish{Topic: "r", Payload: []byte{'0' + byte(i)}, QoS: packet.QoS(i % 3), ID: uint16(i + 1)})
			}
			pub.Publish(&packet.Publish{Topic: "r", Payload: []byte("too many"), QoS: 1, ID: 9})
			if v == packet.V5 {
				if d := brokertest.Expect[*packet.Disconnect](pub); d.ReasonCode != packet.MessageRateTooHigh {
					t.Fatalf("DISCONNECT %v, want message rate too high", d.ReasonCode)
				}
			}
			pub.ExpectClosed() // and no PUBACK for message 9
			for i := range 3 {
				got := sub.NextPublish()
				if string(got.Payload) != string('0'+byte(i)) {
					t.Fatalf("delivery %d: %+v", i, got)
				}
				sub.Ack(got)
			}
			sub.ExpectNothing(200 * time.Millisecond)
			// Each connection has its own bucket, full at the start.
			again := connect("pub")
			for i := range 3 {
				again.MustPublish(&packet.Publish{Topic: "r", Payload: []byte("again"), QoS: 1, ID: uint16(i + 1)})
			}
		})
	}
}

// TestRateLimitRefills checks that the bucket refills with time: a client
// that waits for a token may publish again. (Only that way round: a test
// that a fast client is cut off in time would depend on the machine's
// speed.)
func TestRateLimitRefills(t *testing.T) {
	backend := stack.NewMemoryBackend()
	addr := mustServe(t)(start(newBroker(backend.Store, backend, &rateLimit{Rate: 10, Burst: 1})))
	c := brokertest.MustConnect(t, addr, &packet.Connect{Version: packet.V311, ClientID: "patient", CleanStart: true})
	for i := range 3 {
		c.MustPublish(&packet.Publish{Topic: "r", Payload: []byte("x"), QoS: 1, ID: uint16(i + 1)})
		time.Sleep(150 * time.Millisecond) // 1.5 tokens at 10 a second
	}
}

// TestBrokerChainIsDocumented checks that the broker is built from the
// stack's middlewares in the order docs/stack.md gives, that newBroker
// (the chain of TestStackConformance) is the same but for the
// PacketEmitter, and that the broker's default backend is the
// MemoryBackend's: a Router over an in-memory store and bus.
func TestBrokerChainIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/stack.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	section = section[strings.Index(section, "## How the broker composes them"):]
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^\| \d+ \| (\w+) \|`).FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	names := func(mws []stack.Middleware) []string {
		var out []string
		for _, mw := range mws {
			out = append(out, reflect.Indirect(reflect.ValueOf(mw)).Type().Name())
		}
		return out
	}
	b, err := broker.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	chain := names(b.Stack().Middlewares())
	if !slices.Equal(chain, documented) {
		t.Errorf("broker.New builds\n\t%v\ndocs/stack.md documents\n\t%v", chain, documented)
	}
	backend := stack.NewMemoryBackend()
	_, s, err := newBroker(backend.Store, backend)
	if err != nil {
		t.Fatal(err)
	}
	if own := names(s.Middlewares()); !slices.Equal(append([]string{"PacketEmitter"}, own...), chain) {
		t.Errorf("newBroker builds\n\t%v\nthe broker\n\t%v", own, chain)
	}
	r, err := stack.Need[*stack.Router](b.Stack())
	if err != nil {
		t.Fatal(err)
	}
	_, memStore := r.Store.(*storememory.Store)
	_, memBus := r.Bus.(*mqmemory.Bus)
	if !memStore || !memBus {
		t.Errorf("the default broker's Router is over %T and %T, not the MemoryBackend's", r.Store, r.Bus)
	}
}
