// Package brokertest is a conformance suite for MQTT 3.1 and 3.1.1 brokers,
// run over real sockets: Run checks a broker, any broker, against the
// protocol, as slogtest checks a slog.Handler.
//
//	func TestConformance(t *testing.T) {
//		brokertest.Run(t, func(t *testing.T) string {
//			b, _ := broker.New(nil)
//			l, _ := net.Listen("tcp", "127.0.0.1:0")
//			go b.Serve(l)
//			t.Cleanup(func() { b.Close() })
//			return l.Addr().String()
//		})
//	}
//
// Every test runs for each version, 3.1 and 3.1.1, with a broker of its
// own, and names the spec clauses it checks (3.1.1 numbering). Client is the
// raw client the suite is written with, exported for a broker's own tests.
// A broker built from parts that leaves a feature out (QoS 1 and 2,
// retained messages, wills) runs the rest with RunWith.
//
// # Concurrency
//
// The tests run in parallel: newBroker is called from several goroutines
// at once, and each broker it starts must be independent of the others.
//
// # Caveats
//
// The suite expects a broker with default settings: an in-flight window of
// at least 16 messages, a queue of at least 500 per session, keep alive
// enforced at one and a half times the client's value, client identifiers
// of 1 to 23 characters accepted, and topics starting with '$' (but not
// "$SYS/") open to clients.
package brokertest

import (
	"testing"

	"github.com/midge-mqtt/midge/packet"
)

// Run runs the suite against brokers made by newBroker: it starts a broker
// with default settings on a loopback port, arranges for it to stop with
// t.Cleanup, and returns its address.
func Run(t *testing.T, newBroker func(t *testing.T) (addr string)) {
	RunWith(t, Options{}, newBroker)
}

// tests is the suite, in the order a reader meets the protocol.
var tests = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"ConnectFirst", testConnectFirst},
	{"ProtocolLevel", testProtocolLevel},
	{"SecondConnect", testSecondConnect},
	{"ClientID", testClientID},
	{"Ping", testPing},
	{"Disconnect", testDisconnect},
	{"QoS", testQoS},
	{"PacketIDs", testPacketIDs},
	{"DuplicateQoS2", testDuplicateQoS2},
	{"PubrelUnknown", testPubrelUnknown},
	{"Ordering", testOrdering},
	{"Wildcards", testWildcards},
	{"Overlapping", testOverlapping},
	{"Resubscribe", testResubscribe},
	{"Unsubscribe", testUnsubscribe},
	{"InvalidFilters", testInvalidFilters},
	{"WildcardPublish", testWildcardPublish},
	{"MalformedPublish", testMalformedPublish},
	{"Retained", testRetained},
	{"PersistentSession", testPersistentSession},
	{"Redelivery", testRedelivery},
	{"Takeover", testTakeover},
	{"Will", testWill},
	{"KeepAlive", testKeepAlive},
}

// env is what a test gets: the protocol version and a way to start brokers.
type env struct {
	v     packet.Version
	start func(t *testing.T) string
}

// broker starts a broker for t.
func (e *env) broker(t *testing.T) *server {
	t.Helper()
	return &server{t: t, v: e.v, addr: e.start(t)}
}

// server is one broker under test, seen from t.
type server struct {
	t    *testing.T
	v    packet.Version
	addr string
}

// on returns s as seen from t, a subtest.
func (s *server) on(t *testing.T) *server { return &server{t: t, v: s.v, addr: s.addr} }

// dial opens a connection and sends nothing.
func (s *server) dial() *Client {
	s.t.Helper()
	return Dial(s.t, s.addr, s.v)
}

// connect connects a client the broker must accept.
func (s *server) connect(id string, clean bool) *Client {
	s.t.Helper()
	return MustConnect(s.t, s.addr, &packet.Connect{Version: s.v, ClientID: id, CleanStart: clean})
}

// connectWith sends p at the server's version and returns the CONNACK.
func (s *server) connectWith(p packet.Connect) (*Client, *packet.Connack) {
	s.t.Helper()
	p.Version = s.v
	return Connect(s.t, s.addr, &p)
}
