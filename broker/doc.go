// Package broker is midge's embeddable MQTT broker for MQTT 3.1, 3.1.1 and
// 5.0: QoS 0, 1 and 2 both ways, retained messages, wills, clean and
// persistent sessions with offline queues, session takeover, keep alive,
// wildcards and the $-topic rule, $SYS topics, and the hooks and events an
// Aedes user knows; and for MQTT 5 session expiry, flow control, topic
// aliases, message expiry, subscription options and identifiers, shared
// subscriptions, will delay, enhanced authentication and reason codes, with
// the broker's capabilities set by Options.Capabilities.
//
// A Broker is a middleware stack (package stack) over a store (package
// store; in memory by default) and a message bus (package mq; in-process by
// default): the hooks are passed to the stack's built-in middlewares.
//
//	b, err := broker.New(&broker.Options{Hooks: broker.Hooks{
//		Authenticate: func(ctx context.Context, c *broker.Client, user string, pass []byte) error {
//			if user != "alice" {
//				return packet.BadUserNameOrPassword
//			}
//			return nil
//		},
//	}})
//	l, _ := net.Listen("tcp", ":1883")
//	go b.Serve(l)
//	defer b.Close()
//
// # Concurrency
//
// A Broker is safe for concurrent use. Each connection has one reader
// goroutine that runs the stack for its packets, and a writer goroutine
// while it has output to write.
// A publish is routed on its publisher's goroutine: the message is encoded
// into each subscriber's bounded output buffer, and nothing waits on another
// client's socket. A slow subscriber loses QoS 0 messages past its output
// bound and keeps QoS 1 and 2 ones in its session up to MaxQueued.
//
// # Caveats
//
// Hooks run on the connection's goroutine, server-side Subscribe callbacks on
// the publisher's: a slow one slows its client or its publisher. Events must
// not block.
package broker
