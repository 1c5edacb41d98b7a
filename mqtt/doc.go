// Package mqtt is one MQTT connection over any byte stream, and a server
// loop over many: the counterpart of the Node module mqtt-connection. It
// speaks MQTT 3.1, 3.1.1 and 5.0 through the codec of package packet, and
// holds no policy beyond what the protocol itself demands of a connection.
//
// # Conn
//
// A Conn wraps an io.ReadWriteCloser: a net.Conn, a *tls.Conn, a WebSocket
// through websocket.NetConn(ctx, ws, websocket.MessageBinary) of
// github.com/coder/websocket, one end of net.Pipe. The same type serves
// either side of a connection.
//
// Sending has a method per packet type (Connect, Connack, Publish, …,
// Disconnect, Auth), plus WritePacket for any packet and WriteEncoded for
// bytes already encoded, such as one PUBLISH encoded once for many
// subscribers. A send encodes on the caller's goroutine into the
// connection's pending buffer and returns: its error is the encoding error,
// ErrQueueFull, or the connection's end. One writer goroutine writes the
// whole pending buffer in a single Write while the callers fill a second
// one, so packets sent meanwhile share the next system call, and the
// stream is flushed as soon as nothing more is queued: there is no timer.
// The writer starts with the first send and exits after a second idle. On a
// TCP or Unix socket served by a Server, the reader goroutine writes what
// its handlers sent (a CONNACK, a PINGRESP, acknowledgements) itself before
// it reads again, as far as the socket takes it without waiting; only the
// rest, and what is sent while the reader waits for input, needs the
// writer, so a connection that only answers never starts one.
// Flush waits until what was queued is written, which is how a caller gets
// the per-write callback of mqtt-connection.
//
// Receiving is by pull: ReadPacket reads one packet when it is called, so a
// slow reader slows its peer down through the transport's flow control
// rather than buffering without bound.
//
// The connection learns its protocol version from the first CONNECT it
// reads (server side) or sends (client side); Options.Version sets it when
// it is known beforehand.
//
// Context is cancelled when the connection ends, with the cause: io.EOF
// when the peer closed, ErrClosed after Close, the cause given to
// CloseWithCause, or the read or write error. Code that must react to the
// end uses context.AfterFunc(c.Context(), …) and context.Cause.
//
// # Server and Handler
//
// Server is shaped like net/http's: Serve(l) accepts connections,
// ServeConn(rwc) serves a single stream (such as a WebSocket from an HTTP
// handler), Shutdown and Close stop it. Each connection has one reader
// goroutine, which calls Handler.ServeMQTT for each packet in turn, so a
// handler sees its connection's packets in order and a slow handler holds
// back only its own peer. HandlerFunc adapts a function.
//
// A malformed packet, or a handler error that carries a packet.ReasonCode
// of 0x80 or more, ends only its own connection: the Server answers with a
// CONNACK (before the connection is accepted) or, on MQTT 5, a DISCONNECT
// carrying the code, then closes. See Server for the rules.
//
// # Events
//
// Events is the event interface of mqtt-connection as a Handler: a struct
// with one optional function per packet type (Connect, Publish, Pingreq, …)
// and two for the end of the connection, Close and Error. A nil function
// costs nothing. Close and Error need no optional interface: Events
// registers them with the connection when it first handles one of its
// packets, and the connection calls them when it is closed, so they still
// work when Events is wrapped in middleware.
//
// # Concurrency
//
// Every Conn method is safe for concurrent use except ReadPacket, which one
// goroutine at a time may call. Packets sent from one goroutine reach the
// peer in the order they were sent; sends from different goroutines
// interleave whole packets, never bytes.
//
// Each Conn owns at most one writer goroutine, started by a send when the
// writer is needed and gone once idle; Close (or CloseWithCause) stops it
// and returns once it is gone. Each connection a
// Server serves owns, besides, the reader goroutine that runs its Handler;
// Close and Shutdown return once those are gone. No goroutine ever writes
// to another connection's stream, and no send waits for a peer: a full
// queue is an error, not a wait.
//
// Lock order: Server.mu before Conn.mu; Conn.mu is a leaf, and no user code
// runs while either is held.
//
// # Caveats
//
// A client that reads before it sends CONNECT must set Options.Version: a
// ReadPacket already waiting when Connect is called decodes the reply at the
// version it started with.
//
// ReadPacket errors are sticky, including a read deadline's timeout: after
// any error the stream may be out of step, and the connection should be
// closed. A websocket.NetConn goes further and closes the WebSocket when a
// deadline passes during a read.
//
// The output held for a slow peer is bounded by MaxPending, or by one
// packet when that alone is larger; append growth can make the two buffers'
// capacity up to twice that. When the connection goes idle, buffers over
// 64 KiB that its recent traffic did not need go to a pool shared by all
// connections, so idle connections do not pin memory and bursts do not
// regrow buffers.
//
// Closing the stream itself can take a moment beyond CloseTimeout: a
// *tls.Conn sends close_notify and a websocket.NetConn runs the WebSocket
// closing handshake, each bounded by its own package (5 seconds for both).
//
// Nothing watches a connection nobody reads: the end of the stream is seen
// by ReadPacket (or a failed write). Call Close on every Conn: it is what
// stops the writer goroutine and runs the Close events.
package mqtt
