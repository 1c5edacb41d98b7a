package scram

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The messages of RFC 5802 section 7, parsed. Each parser checks the
// syntax and takes only what this package uses; extensions it does not
// know are skipped, as the RFC asks, but a mandatory one ("m=") is refused.

type clientFirst struct {
	gs2Header string // "n,," and the like: repeated in the final message
	bare      string // client-first-message-bare, for the AuthMessage
	user      string
	nonce     string
}

func parseClientFirst(msg string) (clientFirst, error) {
	var m clientFirst
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return m, malformed("no GS2 header")
	}
	authzid, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return m, malformed("no GS2 header")
	}
	switch {
	case flag == "n" || flag == "y":
		// No channel binding: the client has none, or thinks the server
		// has none (it is right).
	case strings.HasPrefix(flag, "p="):
		return m, unsupported("channel binding")
	default:
		return m, malformed("channel binding flag %q", flag)
	}
	m.gs2Header, m.bare = msg[:len(flag)+1+len(authzid)+1], bare
	attrs := strings.Split(bare, ",")
	if strings.HasPrefix(attrs[0], "m=") {
		return m, unsupported("mandatory extension")
	}
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") {
		return m, malformed("client-first-message is not n=…,r=…")
	}
	user, err := saslname(attrs[0][2:])
	if err != nil {
		return m, err
	}
	if authzid != "" {
		z, err := saslname(strings.TrimPrefix(authzid, "a="))
		if err != nil || !strings.HasPrefix(authzid, "a=") {
			return m, malformed("authorization identity %q", authzid)
		}
		if z != user {
			return m, unsupported("an authorization identity other than the user")
		}
	}
	if err := checkAttrs(attrs[2:]); err != nil {
		return m, err
	}
	m.user, m.nonce = user, attrs[1][2:]
	return m, checkNonce(m.nonce)
}

type clientFinal struct {
	withoutProof string // client-final-message-without-proof
	binding      string // the decoded channel binding
	nonce        string
	proof        []byte
}

func parseClientFinal(msg string) (clientFinal, error) {
	var m clientFinal
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return m, malformed("no proof")
	}
	m.withoutProof = msg[:i]
	proof, err := base64.StdEncoding.Strict().DecodeString(msg[i+3:])
	if err != nil || len(proof) != 32 {
		return m, malformed("proof is not 32 bytes of base64")
	}
	attrs := strings.Split(m.withoutProof, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return m, malformed("client-final-message is not c=…,r=…,p=…")
	}
	binding, err := base64.StdEncoding.Strict().DecodeString(attrs[0][2:])
	if err != nil {
		return m, malformed("channel binding is not base64")
	}
	if err := checkAttrs(attrs[2:]); err != nil {
		return m, err
	}
	m.binding, m.nonce, m.proof = string(binding), attrs[1][2:], proof
	return m, nil
}

type serverFirst struct {
	nonce      string
	salt       []byte
	iterations int
}

func parseServerFirst(msg string) (serverFirst, error) {
	var m serverFirst
	attrs := strings.Split(msg, ",")
	if strings.HasPrefix(attrs[0], "m=") {
		return m, unsupported("mandatory extension")
	}
	if len(attrs) < 3 || !strings.HasPrefix(attrs[0], "r=") || !strings.HasPrefix(attrs[1], "s=") || !strings.HasPrefix(attrs[2], "i=") {
		return m, malformed("server-first-message is not r=…,s=…,i=…")
	}
	m.nonce = attrs[0][2:]
	if err := checkNonce(m.nonce); err != nil {
		return m, err
	}
	salt, err := base64.StdEncoding.Strict().DecodeString(attrs[1][2:])
	if err != nil || len(salt) == 0 {
		return m, malformed("salt is not base64")
	}
	n, err := strconv.Atoi(attrs[2][2:])
	if err != nil || n <= 0 || attrs[2][2] == '0' || attrs[2][2] == '+' {
		return m, malformed("iteration count %q", attrs[2][2:])
	}
	m.salt, m.iterations = salt, n
	return m, checkAttrs(attrs[3:])
}

// parseServerFinal returns the server's signature, or the error it sent.
func parseServerFinal(msg string) ([]byte, error) {
	attr, _, _ := strings.Cut(msg, ",")
	switch {
	case strings.HasPrefix(attr, "e="):
		return nil, serverError(attr[2:])
	case strings.HasPrefix(attr, "v="):
		v, err := base64.StdEncoding.Strict().DecodeString(attr[2:])
		if err != nil {
			return nil, malformed("server signature is not base64")
		}
		return v, nil
	}
	return nil, malformed("server-final-message is neither v=… nor e=…")
}

// saslname decodes a user name: valid UTF-8, not empty, escapes undone.
func saslname(s string) (string, error) {
	if s == "" || !utf8.ValidString(s) {
		return "", malformed("user name empty or not UTF-8")
	}
	return unescape(s)
}

// checkNonce checks a nonce: printable ASCII but ',', not empty.
func checkNonce(s string) error {
	if s == "" {
		return malformed("empty nonce")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7E || s[i] == ',' {
			return malformed("nonce has byte 0x%02X", s[i])
		}
	}
	return nil
}

// checkAttrs checks extensions: each a letter, '=', and a value.
func checkAttrs(attrs []string) error {
	for _, a := range attrs {
		if len(a) < 2 || a[1] != '=' || !('a' <= a[0] && a[0] <= 'z' || 'A' <= a[0] && a[0] <= 'Z') {
			return malformed("attribute %q", a)
		}
	}
	return nil
}
