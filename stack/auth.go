package stack

import (
	"context"
	"errors"
	"fmt"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
)

// AuthExchange is the server's side of one run of an MQTT 5 enhanced
// authentication method (MQTT 5.0 section 4.12) for one client: a SASL-style
// challenge and response, such as SCRAM (package auth/scram). Authentication
// drives it; it is used by one goroutine at a time.
type AuthExchange interface {
	// Next takes the Authentication Data the client sent, in its CONNECT or
	// in an AUTH (nil when it sent none), and returns the data to send back
	// (nil for none). With done false the exchange goes on: the data goes to
	// the client in AUTH 0x18 continue authentication, and the client's
	// answer comes to the next call. With done true the client is
	// authenticated: the data goes in the CONNACK, or in AUTH 0x00 success
	// after a re-authentication. An error fails the authentication, with
	// its reason code if it carries one (packet.NotAuthorized if not).
	//
	// data is valid only until Next returns: copy what must be kept.
	Next(ctx context.Context, data []byte) (reply []byte, done bool, err error)
}

// Redirect refuses a client by sending it to another server (MQTT 5.0
// section 4.11): return it from a PreConnect, an Authenticate, an
// AuthExchange or any middleware. An MQTT 5 client gets reason code 0x9C use
// another server (0x9D server moved when Permanent) with Server as the
// Server Reference property, in CONNACK before it is accepted, in DISCONNECT
// after. A 3.1 or 3.1.1 client has no way to be told where to go: it gets
// return code 3 server unavailable, the only refusal of those versions that
// says nothing of its credentials.
type Redirect struct {
	// Server is where the client should connect instead: a host, or a
	// host and port, or several separated by spaces, as the spec suggests;
	// empty for none.
	Server string
	// Permanent says the server moved (0x9D) rather than that another
	// should be used this time (0x9C).
	Permanent bool
}

// Code returns the reason code of the redirect.
func (r *Redirect) Code() packet.ReasonCode {
	if r.Permanent {
		return packet.ServerMoved
	}
	return packet.UseAnotherServer
}

// Error implements error.
func (r *Redirect) Error() string {
	return fmt.Sprintf("stack: %v: %q", r.Code(), r.Server)
}

// Unwrap returns the reason code, so that errors.As finds it.
func (r *Redirect) Unwrap() error { return r.Code() }

// Properties implements mqtt.PropertiesError: the Server Reference.
func (r *Redirect) Properties() *packet.Properties {
	if r.Server == "" {
		return nil
	}
	return &packet.Properties{ServerReference: r.Server}
}

var _ mqtt.PropertiesError = (*Redirect)(nil)

// authState is a connection's enhanced authentication: the method its
// CONNECT named, and the exchange under way. Only the connection's reader
// goroutine touches it (Handle, and the CONNACK SessionManager sends there).
type authState struct {
	method string
	ex     AuthExchange // a re-authentication under way; nil when none
	final  []byte       // the data for the CONNACK, until it is sent
	acked  bool         // the CONNACK has taken method and final
}

var authKey = NewKey[*authState]("auth")

// AuthConnack adds to ack, a successful CONNACK for c, the Authentication
// Method of c's CONNECT and the final Authentication Data of the exchange
// that authenticated it, as [MQTT-4.12.0-5] requires; for a connection
// authenticated without a method it does nothing [MQTT-4.12.0-6].
// SessionManager calls it; a middleware of one's own that answers CONNECT
// calls it too.
func AuthConnack(c *mqtt.Conn, ack *packet.Connack) {
	st := authKey.Get(c)
	if st == nil || st.acked || ack.ReasonCode != packet.Success {
		return
	}
	st.acked = true
	if ack.Props == nil {
		ack.Props = &packet.Properties{}
	}
	ack.Props.AuthMethod, ack.Props.AuthData = st.method, st.final
	st.final = nil
}

// authMethod returns the Authentication Method of a CONNECT, "" for none.
func authMethod(p *packet.Connect) string {
	if p.Version != packet.V5 || p.Props == nil {
		return ""
	}
	return p.Props.AuthMethod
}

// authData returns the Authentication Data of a CONNECT or AUTH's
// properties.
func authData(props *packet.Properties) []byte {
	if props == nil {
		return nil
	}
	return props.AuthData
}

// protocolError is the error of a client that broke the rules of the
// exchange: CONNACK or DISCONNECT 0x82.
func protocolError(msg string) error {
	return &packet.Error{Code: packet.ProtocolError, Msg: msg}
}

// start starts an exchange of method for c. A StartAuth that returns no
// exchange and no error does not know the method.
func (a *Authentication) start(ctx context.Context, c *mqtt.Conn, method string) (AuthExchange, error) {
	var ex AuthExchange
	var err error
	if a.StartAuth != nil {
		ex, err = a.StartAuth(ctx, c, method)
	}
	switch {
	case err != nil:
		return nil, refusal(err, packet.NotAuthorized)
	case ex == nil:
		// [MQTT-4.12.0-1]
		return nil, &packet.Error{Code: packet.BadAuthenticationMethod, Msg: fmt.Sprintf("authentication method %q not supported", method)}
	}
	return ex, nil
}

// connectExchange runs the exchange of a CONNECT that names method, up to
// the CONNACK (which SessionManager sends, with AuthConnack). It reads the
// client's AUTH packets itself, on the connection's reader goroutine: the
// CONNECT is passed on only once the client is authenticated, so that every
// middleware before this one sees it once, and acts after next returns as
// for any CONNECT. The read deadline KeepAlive.ConnContext set is left as
// it is, so the connect timeout covers the whole exchange.
func (a *Authentication) connectExchange(ctx context.Context, c *mqtt.Conn, p *packet.Connect, method string) error {
	ex, err := a.start(ctx, c, method)
	if err != nil {
		return err
	}
	data := authData(p.Props)
	for {
		reply, done, err := ex.Next(ctx, data)
		if err != nil {
			return refusal(err, packet.NotAuthorized) // [MQTT-4.12.0-4]
		}
		if done {
			authKey.Set(c, &authState{method: method, final: reply})
			return nil
		}
		// [MQTT-4.12.0-2] [MQTT-4.12.0-5]
		if err := c.Auth(&packet.Auth{ReasonCode: packet.ContinueAuthentication,
			Props: &packet.Properties{AuthMethod: method, AuthData: reply}}); err != nil {
			return err
		}
		in, err := c.ReadPacket()
		if err != nil {
			return err
		}
		switch in := in.(type) {
		case *packet.Auth:
			if err := checkAuth(in, method); err != nil {
				return err
			}
			if in.ReasonCode != packet.ContinueAuthentication {
				return protocolError(fmt.Sprintf("AUTH %v before CONNACK, want continue authentication [MQTT-4.12.0-3]", in.ReasonCode))
			}
			data = authData(in.Props)
		case *packet.Disconnect:
			// The client gives up, as it may at any point.
			return ErrDisconnected
		default:
			return protocolError(fmt.Sprintf("%v during authentication, before CONNACK [MQTT-3.1.2-30]", in.Type()))
		}
	}
}

// checkAuth checks the method of a client's AUTH against the CONNECT's.
func checkAuth(p *packet.Auth, method string) error {
	var got string
	if p.Props != nil {
		got = p.Props.AuthMethod
	}
	if got != method {
		return protocolError(fmt.Sprintf("AUTH with authentication method %q, CONNECT had %q [MQTT-4.12.0-5]", got, method))
	}
	return nil
}

// reauthenticate handles an AUTH after CONNACK: a re-authentication
// (MQTT 5.0 section 4.12.1), which the client starts with AUTH 0x19 and
// which goes on with 0x18 both ways, while the connection's other packets
// keep flowing. It ends with AUTH 0x00, or with an error that ends the
// connection with a DISCONNECT [MQTT-4.12.1-2].
func (a *Authentication) reauthenticate(ctx context.Context, c *mqtt.Conn, p *packet.Auth) error {
	st := authKey.Get(c)
	if st == nil {
		return protocolError("AUTH from a client whose CONNECT had no authentication method [MQTT-4.12.0-7]")
	}
	if err := checkAuth(p, st.method); err != nil {
		return err // [MQTT-4.12.1-1]
	}
	switch p.ReasonCode {
	case packet.ReAuthenticate:
		if st.ex != nil {
			return protocolError("re-authenticate during a re-authentication: the client answers with continue authentication [MQTT-4.12.0-3]")
		}
		ex, err := a.start(ctx, c, st.method)
		if err != nil {
			return reauthFailed(err)
		}
		st.ex = ex
	case packet.ContinueAuthentication:
		if st.ex == nil {
			return protocolError("continue authentication with no re-authentication under way")
		}
	default:
		return protocolError(fmt.Sprintf("AUTH %v from a client [MQTT-3.15.2-1]", p.ReasonCode))
	}
	reply, done, err := st.ex.Next(ctx, authData(p.Props))
	if err != nil {
		st.ex = nil
		return reauthFailed(err)
	}
	rc := packet.ContinueAuthentication
	if done {
		st.ex, rc = nil, packet.Success
	}
	return c.Auth(&packet.Auth{ReasonCode: rc, Props: &packet.Properties{AuthMethod: st.method, AuthData: reply}})
}

// reauthFailed returns the error that ends a connection whose
// re-authentication failed: its code, or NotAuthorized when it has none
// that DISCONNECT can carry (0x86 bad user name or password is CONNACK's
// only).
func reauthFailed(err error) error {
	var rc packet.ReasonCode
	if errors.As(err, &rc) && rc.IsError() && packet.ReasonAllowed(packet.TypeDisconnect, rc) {
		return err
	}
	return &packet.Error{Code: packet.NotAuthorized, Msg: "re-authentication failed: " + err.Error()}
}
