// Package scram is the SCRAM-SHA-256 authentication mechanism (RFC 5802,
// RFC 7677) for MQTT 5 enhanced authentication: the client proves it knows a
// password without sending it, the server stores only keys derived from it,
// and the client checks in turn that the server knew them.
//
// Server is the server's side: its Start returns an *Exchange, which has the
// method of stack.AuthExchange, so a broker uses it as is:
//
//	s := &scram.Server{Lookup: lookup}
//	broker.Hooks{StartAuth: func(ctx context.Context, c *broker.Client, method string) (stack.AuthExchange, error) {
//		if method != scram.Method {
//			return nil, nil // 0x8C bad authentication method
//		}
//		return s.Start(), nil
//	}}
//
// Client is the client's side, for Go clients and tests. The package imports
// nothing of midge.
//
// What is left out: channel binding (SCRAM-SHA-256-PLUS; a client that asks
// for it is refused), and SASLprep of passwords (they are used as the UTF-8
// bytes given, which is the same for ASCII passwords).
//
// Concurrency: a Server is safe for concurrent use once built; an Exchange
// and a Client run one conversation, on one goroutine at a time.
package scram

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Method is the name of the mechanism, the MQTT Authentication Method.
const Method = "SCRAM-SHA-256"

// DefaultIterations is the iteration count NewCredentials uses for 0: the
// minimum RFC 7677 asks for.
const DefaultIterations = 4096

// MaxIterations bounds the iteration count a Client accepts from a server:
// a server cannot make it spin for ever.
const MaxIterations = 1 << 22

// Errors of an exchange. Every message that breaks the syntax of RFC 5802
// gives an error that is ErrMalformed.
var (
	// ErrUnknownUser is what a Server's Lookup returns for a user it does
	// not know.
	ErrUnknownUser = errors.New("scram: unknown user")
	// ErrAuthFailed is the end of an exchange whose proof was wrong: a wrong
	// password, or a user Lookup does not know (the two look alike to the
	// client).
	ErrAuthFailed = errors.New("scram: authentication failed")
	// ErrMalformed is a message that is not SCRAM.
	ErrMalformed = errors.New("scram: malformed message")
	// ErrUnsupported is a message that asks for what this package does not
	// do: channel binding, a mandatory extension, an authorization
	// identity other than the user.
	ErrUnsupported = errors.New("scram: unsupported")
	// ErrServer is a server that failed to prove it knew the password, or
	// refused with an error of its own (the client's side).
	ErrServer = errors.New("scram: server not verified")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Credentials are what a server stores for a user: a salt, an iteration
// count and two keys derived from the password, never the password itself.
type Credentials struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte // H(HMAC(SaltedPassword, "Client Key"))
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// NewCredentials derives the credentials of password with salt (16 random
// bytes when nil) and iterations (DefaultIterations when 0).
func NewCredentials(password string, salt []byte, iterations int) (Credentials, error) {
	if iterations == 0 {
		iterations = DefaultIterations
	}
	if salt == nil {
		salt = make([]byte, 16)
		rand.Read(salt)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return Credentials{}, fmt.Errorf("scram: %w", err)
	}
	clientKey := hmacSum(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return Credentials{Salt: salt, Iterations: iterations, StoredKey: stored[:], ServerKey: hmacSum(salted, "Server Key")}, nil
}

func hmacSum(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// Server is the server's side of SCRAM-SHA-256 for the users Lookup knows.
type Server struct {
	// Lookup returns the credentials of user. Return ErrUnknownUser (or an
	// error that wraps it) for a user it does not know: the exchange then
	// goes on with made-up credentials and fails at its end, so that a
	// client cannot tell an unknown user from a wrong password (RFC 5802
	// section 5.1). Any other error ends the exchange at once with it.
	Lookup func(ctx context.Context, user string) (Credentials, error)

	once   sync.Once
	secret []byte        // for made-up salts: the same user gets the same one
	nonce  func() string // the server's part of the nonce; tests set it
}

func (s *Server) init() {
	s.once.Do(func() {
		s.secret = make([]byte, 32)
		rand.Read(s.secret)
		if s.nonce == nil {
			s.nonce = randomNonce
		}
	})
}

// randomNonce returns 18 random bytes in base64: printable, and no comma.
func randomNonce() string {
	b := make([]byte, 18)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Start returns a new exchange, for one client.
func (s *Server) Start() *Exchange {
	s.init()
	return &Exchange{s: s}
}

// Exchange is one SCRAM-SHA-256 conversation on the server's side: the
// client's first message, then its final one.
type Exchange struct {
	s           *Server
	step        int // messages taken
	user        string
	known       bool // Lookup knew user
	cred        Credentials
	gs2Header   string
	nonce       string
	clientFirst string // client-first-message-bare
	serverFirst string
}

// User returns the user name the client gave, once its first message has
// been read; the user is authenticated only once Next returned done.
func (e *Exchange) User() string { return e.user }

// Next takes the client's message and returns the server's answer: the
// server-first-message after the client's first, then, when the proof is
// right, the server-final-message with done set. It implements
// stack.AuthExchange.
func (e *Exchange) Next(ctx context.Context, data []byte) (reply []byte, done bool, err error) {
	e.step++
	switch e.step {
	case 1:
		reply, err = e.first(ctx, string(data))
		return reply, false, err
	case 2:
		reply, err = e.final(string(data))
		return reply, err == nil, err
	}
	return nil, false, fmt.Errorf("%w: message after the exchange ended", ErrMalformed)
}

func (e *Exchange) first(ctx context.Context, msg string) ([]byte, error) {
	m, err := parseClientFirst(msg)
	if err != nil {
		return nil, err
	}
	e.user, e.gs2Header, e.clientFirst = m.user, m.gs2Header, m.bare
	if e.s.Lookup == nil {
		return nil, errors.New("scram: Server.Lookup is nil")
	}
	e.cred, err = e.s.Lookup(ctx, m.user)
	switch {
	case errors.Is(err, ErrUnknownUser):
		e.cred = Credentials{Salt: e.fakeSalt(m.user), Iterations: DefaultIterations}
	case err != nil:
		return nil, err
	case len(e.cred.StoredKey) != sha256.Size || len(e.cred.ServerKey) != sha256.Size || e.cred.Iterations <= 0:
		return nil, fmt.Errorf("scram: bad credentials for %q", m.user)
	default:
		e.known = true
	}
	e.nonce = m.nonce + e.s.nonce()
	e.serverFirst = "r=" + e.nonce + ",s=" + base64.StdEncoding.EncodeToString(e.cred.Salt) +
		",i=" + strconv.Itoa(e.cred.Iterations)
	return []byte(e.serverFirst), nil
}

// fakeSalt is the made-up salt of an unknown user: the same for every
// attempt, as a real one would be.
func (e *Exchange) fakeSalt(user string) []byte {
	return hmacSum(e.s.secret, user)[:16]
}

func (e *Exchange) final(msg string) ([]byte, error) {
	m, err := parseClientFinal(msg)
	if err != nil {
		return nil, err
	}
	if m.binding != e.gs2Header {
		return nil, malformed("channel binding %q does not repeat the header %q", m.binding, e.gs2Header)
	}
	if m.nonce != e.nonce {
		return nil, malformed("nonce differs from the server's")
	}
	if !e.known {
		return nil, ErrAuthFailed
	}
	authMessage := e.clientFirst + "," + e.serverFirst + "," + m.withoutProof
	// ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the proof
	// holds when H(ClientKey) is the StoredKey.
	clientKey := hmacSum(e.cred.StoredKey, authMessage)
	subtle.XORBytes(clientKey, clientKey, m.proof)
	stored := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(stored[:], e.cred.StoredKey) != 1 {
		return nil, ErrAuthFailed
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSum(e.cred.ServerKey, authMessage))), nil
}

// Client is the client's side of SCRAM-SHA-256: First, then Next with the
// server's first message, then Next with its final one.
type Client struct {
	user, password string
	nonce          string
	step           int
	bare           string
	serverSig      []byte
	maxIterations  int // 0: MaxIterations
}

// NewClient returns a client that authenticates as user with password.
func NewClient(user, password string) *Client {
	return &Client{user: user, password: password, nonce: randomNonce()}
}

// First returns the client-first-message: the MQTT CONNECT's (or
// re-authenticating AUTH's) Authentication Data.
func (c *Client) First() []byte {
	c.step = 1
	c.bare = "n=" + escape(c.user) + ",r=" + c.nonce
	return []byte("n,," + c.bare)
}

// Next takes the server's message. To its first it returns the
// client-final-message; its final one it checks, and returns nil: the server
// is then verified, and a nil error says so.
func (c *Client) Next(data []byte) ([]byte, error) {
	msg := string(data)
	switch c.step {
	case 1:
		c.step = 2
		return c.final(msg)
	case 2:
		c.step = 3
		return nil, c.verify(msg)
	}
	return nil, errors.New("scram: client used out of order")
}

func (c *Client) final(msg string) ([]byte, error) {
	m, err := parseServerFirst(msg)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(m.nonce, c.nonce) || len(m.nonce) == len(c.nonce) {
		return nil, malformed("server nonce does not extend the client's")
	}
	if m.iterations > MaxIterations || c.maxIterations > 0 && m.iterations > c.maxIterations {
		return nil, fmt.Errorf("%w: %d iterations", ErrUnsupported, m.iterations)
	}
	salted, err := pbkdf2.Key(sha256.New, c.password, m.salt, m.iterations, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("scram: %w", err)
	}
	withoutProof := "c=biws,r=" + m.nonce // biws: base64 of "n,,"
	authMessage := c.bare + "," + msg + "," + withoutProof
	clientKey := hmacSum(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	proof := hmacSum(stored[:], authMessage)
	subtle.XORBytes(proof, proof, clientKey)
	c.serverSig = hmacSum(hmacSum(salted, "Server Key"), authMessage)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

func (c *Client) verify(msg string) error {
	v, err := parseServerFinal(msg)
	if err != nil {
		return err
	}
	if !hmac.Equal(v, c.serverSig) {
		return fmt.Errorf("%w: wrong server signature", ErrServer)
	}
	return nil
}

// escape writes a user name as a saslname: ',' and '=' are "=2C" and "=3D".
func escape(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// unescape reads a saslname; any other '=' sequence is malformed.
func unescape(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", malformed("bad escape in name %q", s)
		}
		i += 2
	}
	return b.String(), nil
}

func unsupported(what string) error { return fmt.Errorf("%w: %s", ErrUnsupported, what) }

func serverError(v string) error { return fmt.Errorf("%w: the server says %q", ErrServer, v) }
