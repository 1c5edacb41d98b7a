// Package loadgen is the load generator behind `midge bench`: it drives any
// MQTT broker over plain TCP with the scenarios the project tracks and
// measures what came back.
//
// # Scenarios
//
// FanIn runs P publishers, each on its own topic, into S subscribers on a
// wildcard filter (or, with Config.Shared, one shared subscription that
// splits the messages among them). FanOut runs P publishers on one topic to
// S subscribers of that topic. Idle opens N connections, keeps them alive
// with PINGREQ at the keepalive interval and reports how many are still
// answering at the end.
//
// # Measuring
//
// Every payload starts with the time it was encoded, in nanoseconds of the
// generator's monotonic clock, so a subscriber's latency is one subtraction
// and the message's own timestamp tells whether it belongs to the warm-up
// or to the measured window: a message stamped during the warm-up is not
// counted, wherever it arrives. After the window the generator waits for the
// last messages (Config.Drain), then loss is exactly expected − received.
// Latencies go into a log-linear Histogram, not a slice of samples.
//
// # Flow control
//
// QoS 1 and 2 publishers keep to an in-flight window (Config.Inflight, or
// the broker's Receive Maximum in MQTT 5). Above that, at every QoS, the
// generator bounds the messages written but not yet seen by all of its own
// subscribers (Config.Backlog): it owns both ends, and without that bound a
// publisher "as fast as possible" fills megabytes of loopback socket buffers
// and broker queues, and the run measures the queue, with latencies in
// seconds, instead of the broker.
//
// The generator reports its own CPU time (getrusage) per delivered message
// and as a share of one core, so a reader can see that it was not the
// bottleneck; given a broker PID it samples the broker's CPU and RSS from
// /proc the same way.
//
// # Cost
//
// The hot path allocates nothing: publishers encode batches of PUBLISH
// packets with packet.(*Publish).Append into one reused buffer and write each
// batch with one call; readers take packets straight out of a large
// bufio.Reader's buffer. PUBLISH and the four acknowledgements are parsed in
// place here (fixed header, topic length, packet identifier, MQTT 5 property
// length) because packet.DecodeInto copies each body once, which would be an
// allocation per message; every other packet goes through packet.Decode.
// Acknowledgements a reader owes are batched too and written when its buffer
// runs dry.
//
// # Concurrency
//
// Each connection has one reader goroutine; a publisher has one writer
// goroutine besides. Writes to a socket are serialised by the connection's
// mutex; a single pinger goroutine serves every connection of a run and
// skips a connection whose mutex is held, since a write in progress already
// counts as traffic for the keepalive. Counters shared with the coordinator
// are atomic; histograms are per reader and merged when the readers have
// stopped.
//
// # Caveats
//
// The generator shares the machine with the broker when both run on one
// host: read its CPU figure before believing a throughput figure. Payloads
// are at least 8 bytes, the size of the timestamp. Sessions are clean and
// nothing is retained, so a run leaves no state in the broker; topics carry
// a random run identifier so that concurrent runs do not see each other's
// messages.
package loadgen
