package listener

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"
)

// TCP listens on the TCP address addr ("host:port"; port 0 picks a free
// port, which Addr reports). Accepted connections keep Go's defaults:
// TCP_NODELAY on, so that small MQTT packets leave at once, and TCP
// keep-alive probes on.
func TCP(addr string) (net.Listener, error) {
	return net.Listen("tcp", addr)
}

// TLS listens on the TCP address addr for MQTT over TLS, with the
// certificate chain and private key read from PEM files by LoadTLSConfig.
func TLS(addr, certFile, keyFile string) (net.Listener, error) {
	config, err := LoadTLSConfig(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return TLSWithConfig(addr, config)
}

// TLSWithConfig listens on the TCP address addr for MQTT over TLS with a
// copy of config whose MinVersion is raised to TLS 1.2 when lower. config
// must provide a certificate (Certificates, GetCertificate or
// GetConfigForClient); set its ClientAuth and ClientCAs to require client
// certificates. The TLS handshake runs on the connection's first Read or
// Write, not in Accept, so the connection's deadlines bound it and a slow
// client never holds up Accept.
func TLSWithConfig(addr string, config *tls.Config) (net.Listener, error) {
	cfg, err := serverTLSConfig(config)
	if err != nil {
		return nil, err
	}
	l, err := TCP(addr)
	if err != nil {
		return nil, err
	}
	return tls.NewListener(l, cfg), nil
}

// LoadTLSConfig returns a server configuration with the certificate chain
// and private key read from the PEM files certFile and keyFile (certFile
// may hold the intermediate certificates after the leaf) and MinVersion
// TLS 1.2. The files are read once: to take up a renewed certificate,
// listen again, or pass TLSWithConfig a config whose GetCertificate
// reloads it.
func LoadTLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("listener: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// serverTLSConfig checks config and returns a copy with TLS 1.2 at least.
func serverTLSConfig(config *tls.Config) (*tls.Config, error) {
	if config == nil {
		return nil, errors.New("listener: nil TLS config")
	}
	if len(config.Certificates) == 0 && config.GetCertificate == nil && config.GetConfigForClient == nil {
		return nil, errors.New("listener: TLS config has no certificate")
	}
	cfg := config.Clone()
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg, nil
}

// Unix listens on the Unix domain socket at path. A socket file left
// behind by a process that is gone (a crash, a SIGKILL) is removed first,
// but only when it is a socket and a connection to it is refused: a path
// that something listens on, or that is not a socket, is an error and is
// left alone. The file is removed by Close. Its permissions follow the
// process's umask; restrict access with the directory's permissions, or
// os.Chmod after Unix returns.
func Unix(path string) (net.Listener, error) {
	l, err := net.Listen("unix", path)
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) || isAbstract(path) {
		return l, err
	}
	fi, serr := os.Lstat(path)
	if serr != nil || fi.Mode().Type() != fs.ModeSocket {
		return nil, err
	}
	c, derr := net.DialTimeout("unix", path, time.Second)
	if derr == nil {
		c.Close()
		return nil, fmt.Errorf("listener: %s is in use by another process: %w", path, err)
	}
	if !errors.Is(derr, syscall.ECONNREFUSED) {
		return nil, err
	}
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return nil, fmt.Errorf("listener: removing stale socket: %w", rerr)
	}
	return net.Listen("unix", path)
}

// isAbstract reports whether path names a Linux abstract socket, which has
// no file.
func isAbstract(path string) bool { return len(path) > 0 && path[0] == '@' }

// Spec describes one listener in configuration terms, for a daemon's
// config file: Listen opens it.
type Spec struct {
	// Kind is the transport: "tcp", "tls", "ws", "wss" or "unix".
	Kind string
	// Addr is the address to listen on: "host:port" for every kind but
	// "unix", whose Addr is the socket's path. It is required: an empty
	// host listens on every interface (":1883").
	Addr string
	// CertFile and KeyFile are the PEM certificate chain and private key
	// of "tls" and "wss" (see LoadTLSConfig).
	CertFile, KeyFile string
	// Path is the URL path of "ws" and "wss"; DefaultWebSocketPath when
	// empty.
	Path string
	// ProxyProtocol expects a PROXY protocol header (v1 or v2) at the start
	// of every connection, with the default ProxyOptions. Enable it only
	// behind a trusted proxy: see ProxyProtocol.
	ProxyProtocol bool
}

// String returns the spec as a URL-like string, such as "wss://:443/mqtt",
// for logs.
func (s Spec) String() string {
	switch s.Kind {
	case "ws", "wss":
		path := s.Path
		if path == "" {
			path = DefaultWebSocketPath
		}
		return s.Kind + "://" + s.Addr + path
	}
	return s.Kind + "://" + s.Addr
}

// Listen opens the listener s describes. For "tls" and "wss" the PROXY
// header, when enabled, is read before the TLS handshake, as proxies send
// it.
func Listen(s Spec) (net.Listener, error) {
	if s.Addr == "" {
		return nil, fmt.Errorf("listener: %s listener without an address", s.Kind)
	}
	var config *tls.Config
	switch s.Kind {
	case "tcp", "ws", "unix":
		if s.CertFile != "" || s.KeyFile != "" {
			return nil, fmt.Errorf("listener: certificate given for a %s listener", s.Kind)
		}
	case "tls", "wss":
		if s.CertFile == "" || s.KeyFile == "" {
			return nil, fmt.Errorf("listener: %s listener needs a certificate and key file", s.Kind)
		}
		var err error
		if config, err = LoadTLSConfig(s.CertFile, s.KeyFile); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("listener: unknown kind %q (want tcp, tls, ws, wss or unix)", s.Kind)
	}
	if s.Path != "" && s.Kind != "ws" && s.Kind != "wss" {
		return nil, fmt.Errorf("listener: path given for a %s listener", s.Kind)
	}
	if s.Path != "" && s.Path[0] != '/' {
		return nil, fmt.Errorf("listener: path %q does not start with /", s.Path)
	}
	var l net.Listener
	var err error
	if s.Kind == "unix" {
		l, err = Unix(s.Addr)
	} else {
		l, err = TCP(s.Addr)
	}
	if err != nil {
		return nil, err
	}
	if s.ProxyProtocol {
		l = ProxyProtocol(l, nil)
	}
	switch s.Kind {
	case "tls":
		l = tls.NewListener(l, config)
	case "ws":
		l = ServeWebSocket(l, &WebSocketOptions{Path: s.Path})
	case "wss":
		l = ServeWebSocket(tls.NewListener(l, httpsConfig(config)), &WebSocketOptions{Path: s.Path})
	}
	return l, nil
}
