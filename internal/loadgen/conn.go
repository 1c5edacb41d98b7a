package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// maxFrame bounds a packet the broker may send us; ours are far smaller.
const maxFrame = 16 << 20

// pingreq is the whole PINGREQ packet, the same in every version.
var pingreq = []byte{byte(packet.TypePingreq) << 4, 0}

// conn is one MQTT connection of the generator.
type conn struct {
	nc   net.Conn
	v    packet.Version
	name string // client identifier, for messages
	fr   frameReader

	// receiveMax is the broker's Receive Maximum from an MQTT 5 CONNACK;
	// 65535 when it sent none.
	receiveMax int

	// wmu serialises writes to nc: a publisher's batches, the acks its
	// reader owes, and the pinger's PINGREQs.
	wmu sync.Mutex

	pings   atomic.Int64 // PINGREQs written
	pongs   atomic.Int64 // PINGRESPs read
	dead    atomic.Bool  // the reader has stopped
	closing atomic.Bool  // we are closing it: a read error is expected

	// err is why the reader stopped; the coordinator reads it after the
	// reader's goroutine is done.
	err error
}

// dial connects to the broker and completes the CONNECT/CONNACK exchange.
// A refused CONNACK is an error naming the reason.
func dial(ctx context.Context, cfg *Config, clientID string, readBuf int) (*conn, error) {
	d := net.Dialer{Timeout: cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %s: %w", clientID, err)
	}
	c := &conn{nc: nc, v: cfg.Version, name: clientID, fr: newFrameReader(nc, readBuf), receiveMax: 65535}
	if err := c.connect(cfg); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *conn) connect(cfg *Config) error {
	_ = c.nc.SetDeadline(time.Now().Add(cfg.DialTimeout))
	defer c.nc.SetDeadline(time.Time{})
	// Clean sessions: a run leaves nothing behind in the broker.
	p := packet.Connect{Version: c.v, CleanStart: true, KeepAlive: uint16(cfg.KeepAlive / time.Second), ClientID: c.name}
	b, err := p.Append(nil, c.v)
	if err != nil {
		return fmt.Errorf("loadgen: %s: encode CONNECT: %w", c.name, err)
	}
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("loadgen: %s: send CONNECT: %w", c.name, err)
	}
	pk, err := c.readControl("CONNACK")
	if err != nil {
		return err
	}
	ack, ok := pk.(*packet.Connack)
	if !ok {
		return fmt.Errorf("loadgen: %s: broker answered CONNECT with %v", c.name, pk.Type())
	}
	if ack.ReasonCode != packet.Success {
		return fmt.Errorf("loadgen: %s: broker refused the connection: %v (0x%02X)", c.name, ack.ReasonCode, byte(ack.ReasonCode))
	}
	if ack.Props != nil && ack.Props.ReceiveMaximum != 0 {
		c.receiveMax = int(ack.Props.ReceiveMaximum)
	}
	return nil
}

// subscribe sends one SUBSCRIBE and waits for its SUBACK; a refused
// subscription is an error.
func (c *conn) subscribe(cfg *Config, filter string, qos packet.QoS) error {
	_ = c.nc.SetDeadline(time.Now().Add(cfg.DialTimeout))
	defer c.nc.SetDeadline(time.Time{})
	p := packet.Subscribe{ID: 1, Subscriptions: []packet.Subscription{{Filter: filter, QoS: qos}}}
	b, err := p.Append(nil, c.v)
	if err != nil {
		return fmt.Errorf("loadgen: %s: encode SUBSCRIBE: %w", c.name, err)
	}
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("loadgen: %s: send SUBSCRIBE: %w", c.name, err)
	}
	pk, err := c.readControl("SUBACK")
	if err != nil {
		return err
	}
	ack, ok := pk.(*packet.Suback)
	if !ok || ack.ID != 1 || len(ack.Reasons) != 1 {
		return fmt.Errorf("loadgen: %s: broker answered SUBSCRIBE with %v", c.name, pk.Type())
	}
	if rc := ack.Reasons[0]; rc.IsError() {
		return fmt.Errorf("loadgen: %s: broker refused the subscription to %q: %v (0x%02X)", c.name, filter, rc, byte(rc))
	}
	return nil
}

// readControl reads and decodes one packet during setup, when nothing else
// reads the connection.
func (c *conn) readControl(want string) (packet.Packet, error) {
	frame, _, err := c.fr.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("broker closed the connection")
		}
		return nil, fmt.Errorf("loadgen: %s: waiting for %s: %w", c.name, want, err)
	}
	pk, _, err := packet.Decode(frame, c.v, 0)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %s: waiting for %s: %w", c.name, want, err)
	}
	if d, ok := pk.(*packet.Disconnect); ok {
		return nil, fmt.Errorf("loadgen: %s: broker disconnected while we waited for %s: %v", c.name, want, d.ReasonCode)
	}
	return pk, nil
}

// write writes b under the write lock.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	_, err := c.nc.Write(b)
	c.wmu.Unlock()
	return err
}

// ping writes a PINGREQ. With wait false it gives up when another write
// holds the lock: that write is traffic enough for the keepalive.
func (c *conn) ping(wait bool) {
	if c.dead.Load() {
		return
	}
	if wait {
		c.wmu.Lock()
	} else if !c.wmu.TryLock() {
		return
	}
	_, err := c.nc.Write(pingreq)
	c.wmu.Unlock()
	if err == nil {
		c.pings.Add(1)
	}
}

// close says DISCONNECT, best effort, and closes the socket.
func (c *conn) close() {
	c.closing.Store(true)
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	if b, err := (&packet.Disconnect{}).Append(nil, c.v); err == nil {
		_ = c.write(b)
	}
	c.nc.Close()
}

// stopped records why the reader stopped. A read error after close is the
// close itself, not a failure.
func (c *conn) stopped(err error) {
	if c.closing.Load() {
		err = nil
	} else if errors.Is(err, io.EOF) {
		err = errors.New("broker closed the connection")
	}
	if err != nil {
		err = fmt.Errorf("%s: %w", c.name, err)
	}
	c.err = err
	c.dead.Store(true)
}

// readDisconnect explains a DISCONNECT from the broker.
func (c *conn) readDisconnect(frame []byte) error {
	pk, _, err := packet.Decode(frame, c.v, 0)
	if err != nil {
		return err
	}
	if d, ok := pk.(*packet.Disconnect); ok && c.v == packet.V5 {
		return fmt.Errorf("broker disconnected: %v (0x%02X)", d.ReasonCode, byte(d.ReasonCode))
	}
	return errors.New("broker sent DISCONNECT")
}

// frameReader takes whole packets out of a bufio.Reader without copying
// them: a packet that fits in the buffer is returned in place and consumed at
// the next call.
type frameReader struct {
	br   *bufio.Reader
	skip int    // bytes of the last packet, discarded at the next call
	big  []byte // for packets larger than br's buffer
}

func newFrameReader(r io.Reader, size int) frameReader {
	return frameReader{br: bufio.NewReaderSize(r, size)}
}

// next returns the next packet, fixed header included, and the length of
// its fixed header. The packet is valid until the next call.
func (f *frameReader) next() (frame []byte, hdrLen int, err error) {
	if f.skip > 0 {
		_, _ = f.br.Discard(f.skip) // the bytes are buffered: it cannot fail
		f.skip = 0
	}
	// The remaining length is 1 to 4 bytes, each with a continuation bit.
	n := 2
	var b []byte
	for {
		b, err = f.br.Peek(n)
		if len(b) < n {
			if errors.Is(err, io.EOF) && len(b) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, err
		}
		if b[n-1]&0x80 == 0 {
			break
		}
		if n == 5 {
			return nil, 0, errors.New("malformed remaining length")
		}
		n++
	}
	rem := 0
	for i := n - 1; i >= 1; i-- {
		rem = rem<<7 | int(b[i]&0x7F)
	}
	size := n + rem
	if size <= f.br.Size() {
		b, err = f.br.Peek(size)
		if len(b) < size {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, err
		}
		f.skip = size
		return b, n, nil
	}
	if size > maxFrame {
		return nil, 0, fmt.Errorf("%v packet of %d bytes is over our limit of %d", packet.Type(b[0]>>4), size, maxFrame)
	}
	if cap(f.big) < size {
		f.big = make([]byte, size)
	}
	frame = f.big[:size]
	if _, err := io.ReadFull(f.br, frame); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, 0, err
	}
	return frame, n, nil
}

// ready reports whether a whole packet is buffered, so that next will not
// block. A reader flushes what it owes the broker before it blocks.
func (f *frameReader) ready() bool {
	n := f.br.Buffered() - f.skip
	if n < 2 {
		return false
	}
	b, _ := f.br.Peek(f.br.Buffered()) // buffered already: no read
	b = b[f.skip:]
	rem, shift := 0, 0
	for i := 1; i < len(b) && i <= 4; i++ {
		rem |= int(b[i]&0x7F) << shift
		if b[i]&0x80 == 0 {
			return 1+i+rem <= len(b)
		}
		shift += 7
	}
	return false
}

// errMalformed is a packet from the broker we cannot parse.
var errMalformed = errors.New("malformed packet from the broker")

// parsePublish takes the QoS, packet identifier and payload out of a PUBLISH
// body in place. It checks only what it needs; this is the hot path.
func parsePublish(first byte, body []byte, v5 bool) (qos packet.QoS, id uint16, payload []byte, err error) {
	qos = packet.QoS(first>>1) & 3
	if len(body) < 2 {
		return 0, 0, nil, errMalformed
	}
	p := 2 + (int(body[0])<<8 | int(body[1]))
	if qos > 0 {
		if len(body) < p+2 {
			return 0, 0, nil, errMalformed
		}
		id = uint16(body[p])<<8 | uint16(body[p+1])
		p += 2
	}
	if v5 { // skip the properties: a length, then that many bytes
		n, shift := 0, 0
		for {
			if p >= len(body) || shift > 21 {
				return 0, 0, nil, errMalformed
			}
			c := body[p]
			p++
			n |= int(c&0x7F) << shift
			if c&0x80 == 0 {
				break
			}
			shift += 7
		}
		p += n
	}
	if p > len(body) || qos > packet.ExactlyOnce || (qos > 0 && id == 0) {
		return 0, 0, nil, errMalformed
	}
	return qos, id, body[p:], nil
}

// parseAck returns the packet identifier and, in MQTT 5, the reason code of
// a PUBACK, PUBREC, PUBREL or PUBCOMP body.
func parseAck(body []byte) (id uint16, rc packet.ReasonCode, err error) {
	if len(body) < 2 {
		return 0, 0, errMalformed
	}
	id = uint16(body[0])<<8 | uint16(body[1])
	if len(body) > 2 {
		rc = packet.ReasonCode(body[2])
	}
	if id == 0 {
		return 0, 0, errMalformed
	}
	return id, rc, nil
}
