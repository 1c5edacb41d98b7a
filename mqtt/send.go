package mqtt

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// Connect sends a CONNECT and fixes the connection's version: p.Version,
// else Options.Version, else 3.1.1. Packets read after it decode at that
// version.
func (c *Conn) Connect(p *packet.Connect) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := p.Version
	if v == 0 {
		v = c.Version()
	}
	if v == 0 {
		v = packet.V311
	}
	if err := c.appendLocked(p, nil, v); err != nil {
		return err
	}
	// Under mu, so that every packet queued after this one encodes at v.
	c.version.Store(uint32(v))
	c.connect.Store(true)
	return nil
}

// Connack sends a CONNACK. For 3.1 and 3.1.1 its reason code is mapped to a
// return code by the codec (see packet.Connack). The first CONNACK sent or
// received is what ConnackCode reports.
func (c *Conn) Connack(p *packet.Connack) error {
	if err := c.send(p); err != nil {
		return err
	}
	c.noteConnack(p.ReasonCode)
	return nil
}

// Publish sends a PUBLISH. It does not allocate once the connection's
// buffers have grown to its traffic. It goes out at once even while the
// connection's reader is busy with a packet (see sendNow).
func (c *Conn) Publish(p *packet.Publish) error { return c.sendNow(p) }

// Puback sends a PUBACK.
func (c *Conn) Puback(p *packet.Puback) error { return c.send(p) }

// Pubrec sends a PUBREC.
func (c *Conn) Pubrec(p *packet.Pubrec) error { return c.send(p) }

// Pubrel sends a PUBREL.
func (c *Conn) Pubrel(p *packet.Pubrel) error { return c.send(p) }

// Pubcomp sends a PUBCOMP.
func (c *Conn) Pubcomp(p *packet.Pubcomp) error { return c.send(p) }

// Subscribe sends a SUBSCRIBE.
func (c *Conn) Subscribe(p *packet.Subscribe) error { return c.send(p) }

// Suback sends a SUBACK. It goes out at once even while the connection's
// reader is busy with a packet (see sendNow): what follows it, the retained
// messages, may take the handler a while to find.
func (c *Conn) Suback(p *packet.Suback) error { return c.sendNow(p) }

// Unsubscribe sends an UNSUBSCRIBE.
func (c *Conn) Unsubscribe(p *packet.Unsubscribe) error { return c.send(p) }

// Unsuback sends an UNSUBACK.
func (c *Conn) Unsuback(p *packet.Unsuback) error { return c.send(p) }

// Pingreq sends a PINGREQ.
func (c *Conn) Pingreq() error { return c.send(pingreq) }

// Pingresp sends a PINGRESP.
func (c *Conn) Pingresp() error { return c.send(pingresp) }

// Disconnect sends a DISCONNECT; p may be nil for a plain one (reason code
// 0x00). It does not close the connection: call Close after it, which
// flushes it.
func (c *Conn) Disconnect(p *packet.Disconnect) error {
	if p == nil {
		p = &disconnect
	}
	return c.send(p)
}

// Auth sends an AUTH, which exists in MQTT 5 only.
func (c *Conn) Auth(p *packet.Auth) error { return c.send(p) }

var (
	pingreq    = &packet.Pingreq{}
	pingresp   = &packet.Pingresp{}
	disconnect packet.Disconnect // never changed: Append only reads it
)

// WritePacket sends any packet, as the method for its type does.
func (c *Conn) WritePacket(p packet.Packet) error {
	switch p := p.(type) {
	case *packet.Connect:
		return c.Connect(p)
	case *packet.Connack:
		return c.Connack(p)
	case *packet.Publish:
		return c.Publish(p)
	case *packet.Suback:
		return c.Suback(p)
	case nil:
		return errors.New("mqtt: WritePacket of a nil packet")
	}
	return c.send(p)
}

// WriteEncoded sends a packet the caller has already encoded for the
// connection's version, such as one PUBLISH encoded once and sent to many
// connections. b is copied before WriteEncoded returns. It is not checked
// beyond its type: a CONNECT or CONNACK is decoded to keep Version and
// ConnackCode right, anything else is sent as it is.
func (c *Conn) WriteEncoded(b []byte) error {
	if len(b) < 2 {
		return errors.New("mqtt: WriteEncoded of less than a packet")
	}
	switch packet.Type(b[0] >> 4) {
	case packet.TypeConnect, packet.TypeConnack:
		p, _, err := packet.Decode(b, c.Version(), 0)
		if err != nil {
			return err
		}
		return c.WritePacket(p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold = false // as sendNow: most often a PUBLISH encoded for many
	return c.appendLocked(nil, b, c.encodeVersion())
}

// send queues p at the connection's version.
func (c *Conn) send(p packet.Packet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.appendLocked(p, nil, c.encodeVersion())
}

// sendNow queues p and has it written at once, as send does while the
// connection's reader is not busy with a packet. While it is (inline.go),
// output is held for the reader to write before its next read: right for
// the answers that end its handling, wrong for a packet another goroutine
// delivers, or one a handler sends before it waits on something slow (a
// store, a hook): a blocked reader would hold it back. So a PUBLISH or a
// SUBACK lifts the hold, for this packet and the rest of the handling, and
// a writer takes the output.
func (c *Conn) sendNow(p packet.Packet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold = false
	return c.appendLocked(p, nil, c.encodeVersion())
}

// encodeVersion is the version packets are encoded for: 3.1.1 until the
// connection knows better.
func (c *Conn) encodeVersion() packet.Version {
	if v := c.Version(); v != 0 {
		return v
	}
	return packet.V311
}

// appendLocked encodes p (or copies raw, when p is nil) onto the pending
// output and wakes the writer. c.mu is held.
func (c *Conn) appendLocked(p packet.Packet, raw []byte, v packet.Version) error {
	if c.cause != nil {
		return c.sendErr
	}
	n := len(c.out)
	if c.out == nil {
		c.out = getBuffer(c.wbufSize)
	}
	var out []byte
	if p == nil {
		out = append(c.out, raw...)
	} else {
		var err error
		if out, err = p.Append(c.out, v); err != nil {
			return err
		}
	}
	size := uint64(len(out) - n)
	if c.maxSend != 0 && size > c.maxSend {
		c.out = out[:n]
		return ErrPacketTooLarge
	}
	// Unwritten counts the batch the writer holds as well as the pending
	// one: the bound is on memory held for a slow peer.
	if unwritten := c.queued - c.written; unwritten > 0 && unwritten+size > c.maxPending {
		c.out = out[:n]
		return ErrQueueFull
	}
	c.out = out
	c.queued += size
	c.kickLocked()
	return nil
}

// writerLinger is how long a writer with nothing to write waits for more
// before its goroutine exits; the next send starts another. Busy connections
// keep theirs, idle ones cost no goroutine.
var writerLinger = time.Second // a variable so that tests can shorten it

// kickLocked makes sure the queued output will be written: it wakes a
// writer that waits, and starts one when none runs, unless the connection's
// reader is to write it (inline.go). A busy writer needs nothing: it looks
// for more output after each write, which spares a channel send per packet.
// c.mu is held.
func (c *Conn) kickLocked() {
	switch {
	case c.stopped:
	case c.running:
		if c.idle {
			c.idle = false
			c.wake()
		}
	case c.inline:
		// The reader is writing; it starts a writer for what is left.
	case c.hold && c.cause == nil:
		// The reader writes it before its next read (inline.go).
	default:
		if c.kick == nil { // made only now: most connections never need it
			c.kick = make(chan struct{}, 1)
		}
		c.running, c.idle = true, false
		go c.writeLoop()
	}
}

// wake tells the writer there is something to do, without blocking: a
// wake-up already pending covers this one.
func (c *Conn) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Flush waits until every packet queued before the call has been written to
// the stream. It returns nil then, the error that stopped the writer if that
// output can no longer be written, or context.Cause(ctx) if ctx ends first.
// Flush gives a caller what mqtt-connection's per-write callback gave.
func (c *Conn) Flush(ctx context.Context) error {
	c.mu.Lock()
	target := c.queued
	for c.written < target {
		if c.stopped {
			err := c.werr
			if err == nil {
				err = c.sendErr
			}
			c.mu.Unlock()
			return err
		}
		if c.hold {
			// Held for the reader, which may be this caller, in a
			// handler: a writer writes it now.
			c.hold = false
			c.kickLocked()
		}
		ch := c.progressLocked()
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		c.mu.Lock()
	}
	c.mu.Unlock()
	return nil
}

// progressLocked returns a channel closed when the writer next makes
// progress or stops. c.mu is held.
func (c *Conn) progressLocked() <-chan struct{} {
	if c.flushed == nil {
		c.flushed = make(chan struct{})
	}
	return c.flushed
}

// waitProgressLocked waits until the writer makes progress or stops. c.mu
// is held, and released while it waits.
func (c *Conn) waitProgressLocked() {
	ch := c.progressLocked()
	c.mu.Unlock()
	<-ch
	c.mu.Lock()
}

// wakeFlushers tells the Flush and Close calls waiting that the writer made
// progress or stopped. c.mu is held.
func (c *Conn) wakeFlushers() {
	if c.flushed != nil {
		close(c.flushed)
		c.flushed = nil
	}
}

// writeLoop is the writer goroutine. It swaps the pending buffer for its
// spare one (double buffering) and writes the whole batch in one Write, so
// the packets queued while a Write is under way go out together in the next
// one, and the stream is flushed whenever nothing more is queued. Once the
// connection ends it writes what is left, closes the stream and returns.
func (c *Conn) writeLoop() {
	var spare []byte
	for {
		c.mu.Lock()
		for len(c.out) == 0 {
			if c.cause != nil {
				c.mu.Unlock()
				c.stop(nil)
				return
			}
			// Going idle: give both buffers back to the shared pool, so
			// that an idle connection holds no output memory at all; the
			// next burst takes one from the pool.
			putBuffer(c.out)
			putBuffer(spare)
			c.out, spare = nil, nil
			c.idle = true
			if c.linger == nil {
				c.linger = time.NewTimer(writerLinger)
			} else {
				c.linger.Reset(writerLinger)
			}
			linger := c.linger
			c.mu.Unlock()
			select {
			case <-c.kick:
				c.mu.Lock()
			case <-linger.C:
				c.mu.Lock()
				if c.idle { // nothing came: let the goroutine go
					c.idle, c.running = false, false
					c.linger = nil // and its timer: an idle connection keeps nothing
					c.mu.Unlock()
					return
				}
				// A send raced the timer and kicked: take its kick.
				c.mu.Unlock()
				<-c.kick
				c.mu.Lock()
			}
			c.linger.Stop()
		}
		batch, end := c.out, c.queued
		c.out = spare[:0] // nil at first: appendLocked allocates it
		c.mu.Unlock()

		_, err := c.rwc.Write(batch)

		c.mu.Lock()
		if err == nil {
			c.written = end
		}
		c.wakeFlushers()
		c.mu.Unlock()
		if err != nil {
			c.shutdown(err, false)
			c.stop(err)
			return
		}
		spare = batch[:0]
	}
}

// buffers holds the output buffers of idle connections, for the next
// connection that has something to send.
var buffers sync.Pool // of *[]byte

// getBuffer returns an empty buffer: one from the pool if there is one,
// else a new one of capacity size.
func getBuffer(size int) []byte {
	if p, _ := buffers.Get().(*[]byte); p != nil {
		return *p
	}
	return make([]byte, 0, size)
}

// putBuffer gives b to the pool.
func putBuffer(b []byte) {
	if cap(b) == 0 {
		return
	}
	b = b[:0]
	buffers.Put(&b)
}

// stop ends the writer: it closes the stream, which wakes a blocked
// ReadPacket, records werr, the write error that lost output, and releases
// Flush and Close callers.
func (c *Conn) stop(werr error) {
	// The stream's close error tells nothing the cause does not: a TLS
	// close_notify that cannot be sent to a gone peer, a second close.
	_ = c.rwc.Close()
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.stopped = true
	if werr != nil { // else keep the error of a failed inline write
		c.werr = werr
	}
	c.out = nil
	c.wakeFlushers() // and the Close calls waiting for the end
	c.mu.Unlock()
}
