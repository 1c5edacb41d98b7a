package scram

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// The example of RFC 7677 section 3: user "user", password "pencil".
const (
	rfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
	rfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

func rfcCredentials(t testing.TB) Credentials {
	t.Helper()
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred, err := NewCredentials("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// users is a Lookup over a map of passwords.
func users(t testing.TB, passwords map[string]string) func(context.Context, string) (Credentials, error) {
	creds := map[string]Credentials{}
	for u, p := range passwords {
		c, err := NewCredentials(p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		creds[u] = c
	}
	return func(_ context.Context, user string) (Credentials, error) {
		c, ok := creds[user]
		if !ok {
			return Credentials{}, ErrUnknownUser
		}
		return c, nil
	}
}

func TestClientRFC7677(t *testing.T) {
	c := NewClient("user", "pencil")
	c.nonce = "rOprNGfwEbeRWgbNEkqO"
	if got := string(c.First()); got != rfcClientFirst {
		t.Fatalf("client-first %q, want %q", got, rfcClientFirst)
	}
	final, err := c.Next([]byte(rfcServerFirst))
	if err != nil {
		t.Fatal(err)
	}
	if string(final) != rfcClientFinal {
		t.Fatalf("client-final %q, want %q", final, rfcClientFinal)
	}
	if out, err := c.Next([]byte(rfcServerFinal)); err != nil || out != nil {
		t.Fatalf("server-final: %q, %v; want nil, nil", out, err)
	}
}

func TestServerRFC7677(t *testing.T) {
	cred := rfcCredentials(t)
	s := &Server{Lookup: func(_ context.Context, user string) (Credentials, error) {
		if user != "user" {
			t.Errorf("Lookup(%q)", user)
		}
		return cred, nil
	}}
	s.init()
	s.nonce = func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }
	e := s.Start()
	ctx := context.Background()
	first, done, err := e.Next(ctx, []byte(rfcClientFirst))
	if err != nil || done || string(first) != rfcServerFirst {
		t.Fatalf("server-first %q, %v, %v; want %q", first, done, err, rfcServerFirst)
	}
	final, done, err := e.Next(ctx, []byte(rfcClientFinal))
	if err != nil || !done || string(final) != rfcServerFinal {
		t.Fatalf("server-final %q, %v, %v; want %q", final, done, err, rfcServerFinal)
	}
	if e.User() != "user" {
		t.Errorf("User() = %q", e.User())
	}
	if _, _, err := e.Next(ctx, []byte(rfcClientFinal)); !errors.Is(err, ErrMalformed) {
		t.Errorf("a third message: %v, want ErrMalformed", err)
	}
}

// run runs a whole conversation between a Client and an Exchange, and
// returns the server's error, then the client's.
func run(s *Server, c *Client) (serverErr, clientErr error) {
	ctx := context.Background()
	e := s.Start()
	first, _, err := e.Next(ctx, c.First())
	if err != nil {
		return err, nil
	}
	final, err := c.Next(first)
	if err != nil {
		return nil, err
	}
	last, done, err := e.Next(ctx, final)
	if err != nil {
		return err, nil
	}
	if !done {
		return errors.New("not done"), nil
	}
	_, err = c.Next(last)
	return nil, err
}

func TestConversation(t *testing.T) {
	s := &Server{Lookup: users(t, map[string]string{"alice": "secret", "b,o=b": "pa=ss,"})}
	tests := []struct {
		name, user, password string
		server               error
	}{
		{"right password", "alice", "secret", nil},
		{"escaped name", "b,o=b", "pa=ss,", nil},
		{"wrong password", "alice", "guess", ErrAuthFailed},
		{"unknown user", "mallory", "secret", ErrAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serr, cerr := run(s, NewClient(tt.user, tt.password))
			if !errors.Is(serr, tt.server) && !(serr == nil && tt.server == nil) {
				t.Errorf("server: %v, want %v", serr, tt.server)
			}
			if cerr != nil {
				t.Errorf("client: %v", cerr)
			}
		})
	}
}

// TestUnknownUserLooksKnown: an unknown user gets a salt that stays the
// same from one attempt to the next, as a known one's does.
func TestUnknownUserLooksKnown(t *testing.T) {
	s := &Server{Lookup: users(t, nil)}
	salt := func() string {
		first, _, err := s.Start().Next(context.Background(), []byte("n,,n=ghost,r=abc"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := parseServerFirst(string(first))
		if err != nil {
			t.Fatal(err)
		}
		return string(m.salt)
	}
	if a, b := salt(), salt(); a != b || len(a) != 16 {
		t.Errorf("salts %x and %x, want the same 16 bytes", a, b)
	}
}

func TestServerRefuses(t *testing.T) {
	cred := rfcCredentials(t)
	lookupErr := errors.New("store down")
	s := &Server{Lookup: func(_ context.Context, user string) (Credentials, error) {
		if user == "down" {
			return Credentials{}, lookupErr
		}
		return cred, nil
	}}
	s.init()
	s.nonce = func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }
	firsts := []struct {
		name, msg string
		want      error
	}{
		{"empty", "", ErrMalformed},
		{"no header", "n=user,r=abc", ErrMalformed},
		{"bad flag", "x,,n=user,r=abc", ErrMalformed},
		{"channel binding", "p=tls-unique,,n=user,r=abc", ErrUnsupported},
		{"mandatory extension", "n,,m=ext,n=user,r=abc", ErrUnsupported},
		{"no nonce", "n,,n=user", ErrMalformed},
		{"empty user", "n,,n=,r=abc", ErrMalformed},
		{"bad escape", "n,,n=us=er,r=abc", ErrMalformed},
		{"nonce with a space", "n,,n=user,r=a c", ErrMalformed},
		{"other authzid", "n,a=admin,n=user,r=abc", ErrUnsupported},
		{"bad extension", "n,,n=user,r=abc,?", ErrMalformed},
		{"lookup fails", "n,,n=down,r=abc", lookupErr},
	}
	for _, tt := range firsts {
		t.Run("first/"+tt.name, func(t *testing.T) {
			if _, _, err := s.Start().Next(context.Background(), []byte(tt.msg)); !errors.Is(err, tt.want) {
				t.Errorf("%q: %v, want %v", tt.msg, err, tt.want)
			}
		})
	}
	nonce := "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	proof := "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	finals := []struct {
		name, msg string
		want      error
	}{
		{"no proof", "c=biws,r=" + nonce, ErrMalformed},
		{"short proof", "c=biws,r=" + nonce + ",p=AAAA", ErrMalformed},
		{"other binding", "c=eSws,r=" + nonce + ",p=" + proof, ErrMalformed},
		{"other nonce", "c=biws,r=" + nonce + "x,p=" + proof, ErrMalformed},
		{"wrong proof", "c=biws,r=" + nonce + ",p=" + strings.Repeat("A", 43) + "=", ErrAuthFailed},
		{"attributes swapped", "r=" + nonce + ",c=biws,p=" + proof, ErrMalformed},
	}
	for _, tt := range finals {
		t.Run("final/"+tt.name, func(t *testing.T) {
			e := s.Start()
			if _, _, err := e.Next(context.Background(), []byte(rfcClientFirst)); err != nil {
				t.Fatal(err)
			}
			if _, done, err := e.Next(context.Background(), []byte(tt.msg)); !errors.Is(err, tt.want) || done {
				t.Errorf("%q: %v, %v; want %v", tt.msg, done, err, tt.want)
			}
		})
	}
}

func TestClientRefuses(t *testing.T) {
	tests := []struct {
		name, first, final string
		want               error
	}{
		{"nonce not extended", "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "", ErrMalformed},
		{"other nonce", "r=xxx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "", ErrMalformed},
		{"no salt", "r=rOprNGfwEbeRWgbNEkqOx,i=4096", "", ErrMalformed},
		{"zero iterations", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", "", ErrMalformed},
		{"too many iterations", "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999", "", ErrUnsupported},
		{"mandatory extension", "m=x,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "", ErrUnsupported},
		{"server error", rfcServerFirst, "e=other-error", ErrServer},
		{"wrong signature", rfcServerFirst, "v=" + strings.Repeat("A", 43) + "=", ErrServer},
		{"neither", rfcServerFirst, "x=1", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient("user", "pencil")
			c.nonce = "rOprNGfwEbeRWgbNEkqO"
			c.First()
			_, err := c.Next([]byte(tt.first))
			if tt.final != "" {
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.Next([]byte(tt.final))
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("%v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzServer feeds any two messages to a server's exchange, with the
// RFC's nonce but another password than the RFC's: it must not panic, and
// never accept, since that would take forging a proof.
func FuzzServer(f *testing.F) {
	f.Add([]byte(rfcClientFirst), []byte(rfcClientFinal))
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred, err := NewCredentials("not pencil", salt, 16)
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{Lookup: func(context.Context, string) (Credentials, error) { return cred, nil }}
	s.init()
	s.nonce = func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }
	f.Fuzz(func(t *testing.T, first, final []byte) {
		e := s.Start()
		if _, _, err := e.Next(context.Background(), first); err != nil {
			return
		}
		if _, done, err := e.Next(context.Background(), final); done || err == nil {
			t.Fatalf("accepted %q then %q", first, final)
		}
	})
}

// FuzzClient feeds any two messages to a client with the RFC's nonce but
// another password than the RFC's: it must not panic, and never verify a
// server, since that would take forging a signature.
func FuzzClient(f *testing.F) {
	f.Add([]byte(rfcServerFirst), []byte(rfcServerFinal))
	f.Fuzz(func(t *testing.T, first, final []byte) {
		c := NewClient("user", "not pencil")
		c.nonce = "rOprNGfwEbeRWgbNEkqO"
		c.maxIterations = 4096 // not MaxIterations: the fuzzer would spend its time in PBKDF2
		c.First()
		if _, err := c.Next(first); err != nil {
			return
		}
		if _, err := c.Next(final); err == nil {
			t.Fatalf("verified %q then %q", first, final)
		}
	})
}
