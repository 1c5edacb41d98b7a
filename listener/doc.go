// Package listener is the transports in front of an MQTT server: TCP, TLS,
// WebSocket (ws:// and wss://) and Unix domain sockets, and the PROXY
// protocol of load balancers. Each is a plain net.Listener whose Accept
// returns a net.Conn carrying the raw MQTT byte stream, so the MQTT layer
// (mqtt.Server.Serve) does not know or care which transport it serves:
//
//	l, err := listener.TCP(":1883")
//	l, err := listener.TLS(":8883", "cert.pem", "key.pem")
//	l, err := listener.WebSocket(":8080", nil)              // ws://host:8080/mqtt
//	l, err := listener.WebSocketTLS(":8443", config, nil)   // wss://host:8443/mqtt
//	l, err := listener.Unix("/run/midge/mqtt.sock")
//	l = listener.ProxyProtocol(l, nil)                       // behind HAProxy
//	l, err := listener.Listen(listener.Spec{Kind: "wss", Addr: ":443", CertFile: c, KeyFile: k})
//
// # WebSocket
//
// MQTT over WebSocket follows chapter 6 of MQTT 3.1.1 and 5.0: binary
// messages only, packets not aligned to messages. The choices, each an
// option of WebSocketOptions:
//
//   - Subprotocols: "mqtt" (the spec's) and "mqttv3.1" (MQTT.js and Paho
//     JavaScript for MQTT 3.1) are accepted; the first of them the client
//     offers is selected, in the client's order of preference. A client
//     that offers only other subprotocols is refused with 400, since it
//     does not mean to speak MQTT (as Mosquitto and EMQX refuse it). A
//     client that offers none is accepted, as Aedes accepts it: the
//     header is only a label, and some embedded and WeChat mini-program
//     clients omit it. RequireSubprotocol refuses it, as Mosquitto and
//     EMQX (by default) do.
//   - Origins: any origin is accepted. MQTT authenticates in CONNECT, not
//     through cookies, so the browser's same-origin check protects
//     nothing by default and would only refuse legitimate web apps served
//     from elsewhere. OriginPatterns restricts origins, which a broker
//     must do when it trusts what a browser adds on its own (cookies, the
//     client's network location).
//   - Read limit: none. github.com/coder/websocket's default is 32 KiB per
//     message, below many MQTT packets; messages are read as streams, never
//     held whole, so the MQTT layer's maximum packet size is the real
//     limit. ReadLimit sets one per message.
//   - No compression (permessage-deflate): it costs memory per connection
//     and MQTT payloads are often compressed already.
//   - The connection's RemoteAddr is the HTTP request's RemoteAddr, the
//     client's address, rather than the placeholder websocket.NetConn may
//     give.
//
// WebSocketHandler is the same as an http.Handler, to mount MQTT over
// WebSocket on a program's own HTTP server next to other handlers.
//
// # PROXY protocol
//
// ProxyProtocol reads the PROXY header (v1 text or v2 binary) that a load
// balancer sends first on each connection, so the connection reports the
// original client's address. It must only be enabled where nothing but the
// trusted proxy can connect: anyone else could claim any address. A
// connection with a bad header, or none within the header timeout, is
// closed and never reaches Accept; the others are unaffected. The parser
// is this package's own, strict, and fuzzed (FuzzProxyHeader).
//
// # Concurrency
//
// Every listener's Accept and Close are safe for concurrent use, as with
// net.Listener; connections are used as net.Conn documents. A listener
// owns what it wraps: Close closes the inner listener (and the HTTP server
// of the WebSocket listeners), closes the connections accepted from the
// network but not yet returned by Accept, and returns once the listener's
// own goroutines are gone. Accept then returns an error for which
// errors.Is(err, net.ErrClosed) holds. Connections already returned by
// Accept belong to the caller and stay open.
//
// ProxyProtocol runs one goroutine accepting from the inner listener and
// one per connection while its header is read; the WebSocket listeners run
// an http.Server, with a goroutine per HTTP connection until it is
// upgraded and taken by Accept. A connection that is returned by Accept
// has no goroutine of this package behind it.
//
// # Caveats
//
// TLS handshakes happen on a connection's first Read or Write (as with
// tls.NewListener), so the MQTT layer's connect timeout must bound them.
// For wss:// the handshake is bounded by the HTTP server's
// HandshakeTimeout instead.
//
// A WebSocket connection is websocket.NetConn of github.com/coder/websocket:
// each Write sends one binary message; a deadline that passes during a Read
// or Write closes the WebSocket; Close sends a close frame and waits, up to
// five seconds (the library's fixed limit), for the peer's. Only binary
// messages are accepted: a text message closes the connection.
//
// ProxyProtocol and the WebSocket listeners wrap their connections, so a
// type assertion to *net.TCPConn fails on them; ProxyProtocol's have a
// NetConn method, as *tls.Conn has, for the connection underneath. The
// PROXY v2 TLVs (such as the TLS details of a terminating proxy) are
// checked for form but not exposed. A PROXY header is only read before
// the TLS handshake: terminate TLS at the proxy or here, but send the
// header in the clear.
//
// Unix removes a stale socket file after a failed connection attempt to
// it; a process that binds the same path between the attempt and the
// removal loses its socket.
package listener
