// Package stack builds MQTT brokers from middlewares: one per job a broker
// does, each usable on its own. The broker package is these middlewares in
// a fixed order; a program builds a smaller broker from fewer of them, a
// larger one with middlewares of its own, or one over another routing
// backend. docs/stack.md is the guide.
//
// A Middleware's Handle sees each packet of a connection and passes it on
// with next.ServeMQTT, or stops it. New links middlewares into a Stack, an
// mqtt.Handler to serve with an mqtt.Server:
//
//	backend := stack.NewMemoryBackend()
//	keepAlive := &stack.KeepAlive{ConnectTimeout: 10 * time.Second}
//	s, err := stack.New(
//		stack.Connection{},
//		keepAlive,
//		&stack.SessionManager{Store: backend.Store},
//		&stack.Authorize{},
//		&stack.SubscriptionManager{},
//		&stack.InboundManager{},
//		&stack.OutboundManager{},
//		backend,
//	)
//	srv := &mqtt.Server{Handler: s, ConnContext: keepAlive.ConnContext}
//
// Middlewares call each other through callbacks, small interfaces
// (Sessions, Subscriptions, Relayer, Retainer, Publisher,
// PublishAuthorizer, SubscribeAuthorizer): a middleware offers one by
// implementing it and needs one by looking it up with Need in its Bind. A
// callback nobody offers fails New, so a stack that builds has every
// callback its middlewares call.
//
// Per-connection state lives under typed keys (Key); what runs when a
// connection ends is registered with Stack.AfterEnd.
//
// # Concurrency
//
// A Stack and its middlewares are shared by every connection: Handle runs
// concurrently for different connections, and in packet order on one
// connection's reader goroutine. Callbacks run on the goroutine that calls
// them; Relay delivers on the publisher's. A Session is safe for
// concurrent use. Lock order: SessionManager, then Session, then the
// mqtt.Conn; a backend delivers without holding its own locks.
//
// # Caveats
//
// Call Stack.Wait once the server serving the stack has stopped, before
// closing the store and bus the middlewares use: what runs at the
// connections' ends may still use them until then. Retained messages are
// looked up for a new subscription after its SUBACK, so one published in
// between may reach it twice, live and retained.
package stack
