package mqtt

import (
	"context"

	"github.com/midge-mqtt/midge/packet"
)

// Handler serves the packets a connection reads. A Server calls ServeMQTT on
// the connection's reader goroutine, once per packet, in the order the
// packets arrived, and reads the next packet only when it returns: a slow
// handler slows its own peer down and no one else.
//
// ctx is the connection's Context. An error ends the connection with that
// error as its cause; if the error carries a packet.ReasonCode of 0x80 or
// more (a ReasonCode itself, or a *packet.Error), the Server first tells the
// peer: see Server.
//
// A handler may keep c and send on it from any goroutine, but must not call
// c.ReadPacket. p is the handler's to keep: the connection does not reuse
// it.
type Handler interface {
	ServeMQTT(ctx context.Context, c *Conn, p packet.Packet) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, c *Conn, p packet.Packet) error

// ServeMQTT calls f(ctx, c, p).
func (f HandlerFunc) ServeMQTT(ctx context.Context, c *Conn, p packet.Packet) error {
	return f(ctx, c, p)
}

// Events is a Handler made of one optional function per packet type, the
// events of mqtt-connection: each is called for the packets of its type,
// and a nil one ignores them. Close and Error report the end of the
// connection.
//
// Close is called once per connection Events has handled a packet for, when
// the connection is closed: from the first Close or CloseWithCause call to
// return (a Server makes that call when a connection ends), with the
// connection's cause. Before it, when the cause is a failure rather than an
// orderly end (io.EOF from the peer, ErrClosed, ErrServerClosed), Error is
// called with it. Both run after the stream is closed and the writer is
// gone; they must not block for long.
//
// Events works wrapped in middleware: it needs no optional interface, only
// to see the connection's packets. An Events value must not be copied once
// used, and its fields must not change while it serves.
type Events struct {
	Connect     func(ctx context.Context, c *Conn, p *packet.Connect) error
	Connack     func(ctx context.Context, c *Conn, p *packet.Connack) error
	Publish     func(ctx context.Context, c *Conn, p *packet.Publish) error
	Puback      func(ctx context.Context, c *Conn, p *packet.Puback) error
	Pubrec      func(ctx context.Context, c *Conn, p *packet.Pubrec) error
	Pubrel      func(ctx context.Context, c *Conn, p *packet.Pubrel) error
	Pubcomp     func(ctx context.Context, c *Conn, p *packet.Pubcomp) error
	Subscribe   func(ctx context.Context, c *Conn, p *packet.Subscribe) error
	Suback      func(ctx context.Context, c *Conn, p *packet.Suback) error
	Unsubscribe func(ctx context.Context, c *Conn, p *packet.Unsubscribe) error
	Unsuback    func(ctx context.Context, c *Conn, p *packet.Unsuback) error
	Pingreq     func(ctx context.Context, c *Conn, p *packet.Pingreq) error
	Pingresp    func(ctx context.Context, c *Conn, p *packet.Pingresp) error
	Disconnect  func(ctx context.Context, c *Conn, p *packet.Disconnect) error
	Auth        func(ctx context.Context, c *Conn, p *packet.Auth) error

	// Close is called once the connection is closed, with its cause.
	Close func(c *Conn, cause error)
	// Error is called before Close when the cause is a failure: a
	// malformed packet, a handler's error, a broken stream.
	Error func(c *Conn, err error)
}

// ServeMQTT calls the function for p's type, if any, and returns its error.
func (e *Events) ServeMQTT(ctx context.Context, c *Conn, p packet.Packet) error {
	var err error
	switch p := p.(type) {
	case *packet.Connect:
		err = call(e.Connect, ctx, c, p)
	case *packet.Connack:
		err = call(e.Connack, ctx, c, p)
	case *packet.Publish:
		err = call(e.Publish, ctx, c, p)
	case *packet.Puback:
		err = call(e.Puback, ctx, c, p)
	case *packet.Pubrec:
		err = call(e.Pubrec, ctx, c, p)
	case *packet.Pubrel:
		err = call(e.Pubrel, ctx, c, p)
	case *packet.Pubcomp:
		err = call(e.Pubcomp, ctx, c, p)
	case *packet.Subscribe:
		err = call(e.Subscribe, ctx, c, p)
	case *packet.Suback:
		err = call(e.Suback, ctx, c, p)
	case *packet.Unsubscribe:
		err = call(e.Unsubscribe, ctx, c, p)
	case *packet.Unsuback:
		err = call(e.Unsuback, ctx, c, p)
	case *packet.Pingreq:
		err = call(e.Pingreq, ctx, c, p)
	case *packet.Pingresp:
		err = call(e.Pingresp, ctx, c, p)
	case *packet.Disconnect:
		err = call(e.Disconnect, ctx, c, p)
	case *packet.Auth:
		err = call(e.Auth, ctx, c, p)
	}
	// Watch after the packet's event, so that Close comes after it even
	// when the event closed the connection.
	if (e.Close != nil || e.Error != nil) && c.watcher.Load() != e {
		e.watch(c)
	}
	return err
}

func call[P packet.Packet](f func(context.Context, *Conn, P) error, ctx context.Context, c *Conn, p P) error {
	if f == nil {
		return nil
	}
	return f(ctx, c, p)
}

// watch registers e's Close and Error for c, once: the first Events to
// watch a connection takes the lock-free fast path of ServeMQTT, others the
// deduplication in onClose.
func (e *Events) watch(c *Conn) {
	c.watcher.CompareAndSwap(nil, e)
	c.onClose(e, func(cause error) {
		if e.Error != nil && !clean(cause) {
			e.Error(c, cause)
		}
		if e.Close != nil {
			e.Close(c, cause)
		}
	})
}
