package mqtt

import "time"

// A connection served by a Server writes its own answers (CONNACK, PINGRESP,
// acknowledgements) from its reader goroutine when it can, so that most
// connections never start a writer goroutine: an idle connection that
// pings costs one goroutine, not two.
//
// While the reader is busy with a packet (hold is set), a send queues its
// packet as always but starts no writer. When the reader next needs bytes
// from the stream, before it blocks in Read, it writes what was queued
// itself, without waiting: whatever the socket's send buffer does not take
// at once, and anything queued meanwhile, goes to a writer goroutine, as
// does all output while the reader is blocked in Read. So:
//   - the reader never blocks on its peer: a peer that does not read gets a
//     writer goroutine and its queue, and the reader keeps reading (keep
//     alive, DISCONNECT, the peer's own flow);
//   - no send ever waits for the reader, nor for any socket;
//   - the wire order is the order of the sends: there is one queue, and
//     the reader and the writer never write at the same time (inline and
//     running exclude each other);
//   - the packets a handler sends go out in one write when the reader has
//     drained its read buffer, as a writer would batch them;
//   - a busy connection (answers less than busyAnswers apart) hands its
//     output to a writer, which then stays while the traffic lasts: there,
//     a writer on another core is faster than the reader doing both.
// Only the answers wait for the reader: a PUBLISH (another goroutine's
// delivery, which a slow handler must not hold back) or a SUBACK (a handler
// may look for retained messages after it) lifts the hold and starts a
// writer, as Flush does (a handler may call it): see sendNow.

// directWriter writes to a stream without waiting for it.
type directWriter interface {
	// writeNow writes as much of b as the stream takes at once and returns
	// how much that was; a full stream is not an error.
	writeNow(b []byte) (int, error)
}

// busyAnswers is the interval under which a connection's answers count as
// busy: a flush that comes sooner after the last inline write starts a
// writer instead. An idle connection (a PINGREQ every few seconds) writes
// inline; a publisher streaming QoS 1 gets its PUBACKs from a writer that
// runs in parallel with its reader, as before. A variable so that tests can
// change it.
var busyAnswers = 10 * time.Millisecond

// epoch is the origin of Conn.inlined, 0 meaning never: time.Since(epoch)
// is monotonic.
var epoch = time.Now()

// inlineStream is the stream a served connection's packet.Reader reads: the
// connection's own stream, with held output written before each read.
type inlineStream Conn

// Read writes the output held for the reader, then reads from the stream.
func (s *inlineStream) Read(p []byte) (int, error) {
	c := (*Conn)(s)
	if err := c.flushHeld(); err != nil {
		return 0, err
	}
	n, err := c.rwc.Read(p)
	c.mu.Lock()
	c.hold = true // busy with what it read: sends leave the output to it
	c.mu.Unlock()
	return n, err
}

// flushHeld writes the queued output as far as the socket takes it at once,
// and hands the rest, with what is queued meanwhile, to a writer goroutine.
// From its return until the reader's Read returns, sends start a writer as
// usual. It returns the error of a write that failed; the connection is
// then ending.
func (c *Conn) flushHeld() error {
	c.mu.Lock()
	c.hold = false
	if len(c.out) == 0 || c.running || c.stopped || c.cause != nil {
		// Nothing to write, or the writer's to write: a running writer was
		// woken by the send, an end started one.
		c.mu.Unlock()
		return nil
	}
	now := time.Since(epoch)
	if c.inlined != 0 && now-c.inlined < busyAnswers {
		// A busy connection: a writer writes while the reader reads, on
		// another core, batching across reads; it stays while busy.
		c.kickLocked()
		c.mu.Unlock()
		return nil
	}
	c.inlined = now
	batch, end := c.out, c.queued
	c.out = nil
	c.inline = true
	c.mu.Unlock()

	n, err := c.direct.writeNow(batch)

	c.mu.Lock()
	c.inline = false
	c.written = end - uint64(len(batch)-n)
	switch {
	case err != nil:
		c.werr = err // lost output; the writer that ends the connection keeps it
		putBuffer(batch)
		putBuffer(c.out)
		c.out = nil
	case n < len(batch):
		// The socket is full: the writer writes the rest first, then what
		// was queued meanwhile.
		rest := batch[:copy(batch, batch[n:])]
		if len(c.out) > 0 {
			rest = append(rest, c.out...)
			putBuffer(c.out)
		}
		c.out = rest
	default:
		putBuffer(batch)
	}
	if n > 0 {
		c.wakeFlushers()
	}
	if len(c.out) > 0 || c.cause != nil {
		c.kickLocked() // hold is off: this starts a writer
	}
	c.mu.Unlock()
	if err != nil {
		c.shutdown(err, false)
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sendErr
	}
	return nil
}
