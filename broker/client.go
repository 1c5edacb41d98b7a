package broker

import (
	"net"
	"sync/atomic"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
)

// Client is one client connection as the broker's hooks and events see it.
// Its fields are set from the CONNECT and do not change.
type Client struct {
	// ID is the client identifier: the one the client sent, or the one the
	// broker assigned to a client that sent none.
	ID       string
	Version  packet.Version
	Username string
	// Clean is the clean session (3.x) or clean start (5) flag.
	Clean     bool
	KeepAlive uint16
	// Props are the MQTT 5 properties of the CONNECT (session expiry,
	// receive maximum, user properties, …); nil for 3.x clients.
	Props *packet.Properties
	// Conn is the client's connection.
	Conn *mqtt.Conn

	session *stack.Session
	// told is set once an error event was emitted for a refusal that ends
	// the connection, so that its end is not reported a second time.
	told atomic.Bool
}

// RemoteAddr returns the client's network address, when its stream has one.
func (c *Client) RemoteAddr() net.Addr { return c.Conn.RemoteAddr() }

// Close closes the client's connection: its will is published, as for any
// connection not ended by DISCONNECT.
func (c *Client) Close() error { return c.Conn.Close() }

var clientKey = stack.NewKey[*Client]("broker.client")

// clientOf returns the Client of a connection: nil before its CONNECT.
func clientOf(c *mqtt.Conn) *Client { return clientKey.Get(c) }

// newClient makes the Client of a connection from its CONNECT.
func newClient(c *mqtt.Conn, p *packet.Connect) *Client {
	cl := &Client{ID: p.ClientID, Version: p.Version, Username: p.Username, Clean: p.CleanStart,
		KeepAlive: p.KeepAlive, Props: p.Props, Conn: c}
	clientKey.Set(c, cl)
	return cl
}
