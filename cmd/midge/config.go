package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/listener"
)

// Config is the daemon's configuration. Its YAML keys are the names of the
// command-line flags, so one reference serves both; a flag given on the
// command line wins over the file.
type Config struct {
	TCP     string `yaml:"tcp"`     // TCP listener address; "" turns it off
	TLS     string `yaml:"tls"`     // TLS listener address; needs cert and key
	WS      string `yaml:"ws"`      // WebSocket listener address; "" turns it off
	WSS     string `yaml:"wss"`     // WebSocket over TLS listener address; needs cert and key
	WSPath  string `yaml:"ws-path"` // URL path of ws and wss
	Unix    string `yaml:"unix"`    // Unix socket path
	Cert    string `yaml:"cert"`    // PEM certificate chain for tls and wss
	Key     string `yaml:"key"`     // PEM private key for tls and wss
	Proxy   bool   `yaml:"proxy-protocol"`
	LogLvl  string `yaml:"log-level"`  // debug, info, warn, error
	LogFmt  string `yaml:"log-format"` // text or json
	ID      string `yaml:"id"`
	MaxCID  int    `yaml:"max-client-id-length"`
	HB      string `yaml:"heartbeat-interval"`
	ConnTO  string `yaml:"connect-timeout"`
	Inflt   int    `yaml:"max-inflight"`
	Queued  int    `yaml:"max-queued"`
	MaxPkt  int    `yaml:"max-packet-size"`
	Pending int    `yaml:"max-pending"`
}

// defaults are the daemon's defaults: TCP on 1883 and WebSocket on 8083, as
// most brokers have them.
func defaults() Config {
	return Config{TCP: ":1883", WS: ":8083", WSPath: "/mqtt", LogLvl: "info", LogFmt: "text"}
}

// bind registers a flag for every field of c, with c's values as defaults.
func (c *Config) bind(fs *flag.FlagSet) {
	fs.StringVar(&c.TCP, "tcp", c.TCP, "TCP listener `address`; empty turns it off")
	fs.StringVar(&c.TLS, "tls", c.TLS, "TLS listener `address` (needs -cert and -key)")
	fs.StringVar(&c.WS, "ws", c.WS, "WebSocket listener `address`; empty turns it off")
	fs.StringVar(&c.WSS, "wss", c.WSS, "WebSocket over TLS listener `address` (needs -cert and -key)")
	fs.StringVar(&c.WSPath, "ws-path", c.WSPath, "URL `path` of the WebSocket listeners")
	fs.StringVar(&c.Unix, "unix", c.Unix, "Unix socket `path`")
	fs.StringVar(&c.Cert, "cert", c.Cert, "PEM certificate chain `file` for -tls and -wss")
	fs.StringVar(&c.Key, "key", c.Key, "PEM private key `file` for -tls and -wss")
	fs.BoolVar(&c.Proxy, "proxy-protocol", c.Proxy, "expect a PROXY protocol header on every connection (only behind a trusted proxy)")
	fs.StringVar(&c.LogLvl, "log-level", c.LogLvl, "log `level`: debug, info, warn or error")
	fs.StringVar(&c.LogFmt, "log-format", c.LogFmt, "log `format`: text or json")
	fs.StringVar(&c.ID, "id", c.ID, "broker `id` for $SYS topics (default: a random UUID)")
	fs.IntVar(&c.MaxCID, "max-client-id-length", c.MaxCID, "longest client id accepted from MQTT 3.1 clients (default 23)")
	fs.StringVar(&c.HB, "heartbeat-interval", c.HB, "`interval` of $SYS/{id}/heartbeat (default 60s)")
	fs.StringVar(&c.ConnTO, "connect-timeout", c.ConnTO, "how long a new connection has to send CONNECT (default 30s)")
	fs.IntVar(&c.Inflt, "max-inflight", c.Inflt, "QoS 1 and 2 messages in flight per client (default 32)")
	fs.IntVar(&c.Queued, "max-queued", c.Queued, "QoS 1 and 2 messages queued per session (default 1000)")
	fs.IntVar(&c.MaxPkt, "max-packet-size", c.MaxPkt, "largest packet accepted, in bytes (default 1048576)")
	fs.IntVar(&c.Pending, "max-pending", c.Pending, "output bytes queued per client before QoS 0 is dropped (default 1048576)")
}

// loadConfig reads a YAML config file into c. An unknown key is an error
// that names it.
func loadConfig(path string, c *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// parseArgs builds the configuration: defaults, then the file named by
// -config, then the flags given on the command line.
func parseArgs(args []string, stderr io.Writer) (*Config, error) {
	c := defaults()
	fs := flag.NewFlagSet("midge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config `file`; its keys are these flags' names")
	c.bind(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *configPath != "" {
		fromFile := defaults()
		if err := loadConfig(*configPath, &fromFile); err != nil {
			return nil, err
		}
		// The file fills in what the command line did not set.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		fileFlags := flag.NewFlagSet("file", flag.ContinueOnError)
		fromFile.bind(fileFlags)
		fs.VisitAll(func(f *flag.Flag) {
			if !set[f.Name] && f.Name != "config" {
				f.Value.Set(fileFlags.Lookup(f.Name).Value.String())
			}
		})
	}
	return &c, c.validate()
}

// validate checks values the types do not, naming the key at fault.
func (c *Config) validate() error {
	if _, err := parseLevel(c.LogLvl); err != nil {
		return err
	}
	if c.LogFmt != "text" && c.LogFmt != "json" {
		return fmt.Errorf("log-format: %q is not text or json", c.LogFmt)
	}
	for key, v := range map[string]string{"heartbeat-interval": c.HB, "connect-timeout": c.ConnTO} {
		if v == "" {
			continue
		}
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return fmt.Errorf("%s: %q is not a positive duration such as 30s", key, v)
		}
	}
	for key, v := range map[string]int{"max-client-id-length": c.MaxCID, "max-inflight": c.Inflt,
		"max-queued": c.Queued, "max-packet-size": c.MaxPkt, "max-pending": c.Pending} {
		if v < 0 {
			return fmt.Errorf("%s: %d is negative", key, v)
		}
	}
	if c.Inflt > 65535 {
		return fmt.Errorf("max-inflight: %d is more than 65535 packet identifiers", c.Inflt)
	}
	if (c.TLS != "" || c.WSS != "") && (c.Cert == "" || c.Key == "") {
		return errors.New("cert, key: the tls and wss listeners need both")
	}
	if len(c.listeners()) == 0 {
		return errors.New("tcp, tls, ws, wss, unix: every listener is off")
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log-level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}

// listeners returns the listeners the configuration turns on.
func (c *Config) listeners() []listener.Spec {
	var specs []listener.Spec
	add := func(kind, addr string) {
		if addr = strings.TrimSpace(addr); addr == "" {
			return
		}
		s := listener.Spec{Kind: kind, Addr: addr, ProxyProtocol: c.Proxy}
		switch kind {
		case "tls", "wss":
			s.CertFile, s.KeyFile = c.Cert, c.Key
		}
		if kind == "ws" || kind == "wss" {
			s.Path = c.WSPath
		}
		specs = append(specs, s)
	}
	add("tcp", c.TCP)
	add("tls", c.TLS)
	add("ws", c.WS)
	add("wss", c.WSS)
	add("unix", c.Unix)
	return specs
}

// brokerOptions turns the configuration into broker options.
func (c *Config) brokerOptions(log *slog.Logger) *broker.Options {
	dur := func(s string) time.Duration { d, _ := time.ParseDuration(s); return d }
	return &broker.Options{
		ID:                c.ID,
		MaxClientIDLength: c.MaxCID,
		HeartbeatInterval: dur(c.HB),
		ConnectTimeout:    dur(c.ConnTO),
		MaxInflight:       c.Inflt,
		MaxQueued:         c.Queued,
		MaxPacketSize:     c.MaxPkt,
		MaxPending:        c.Pending,
		Logger:            log,
	}
}

// logger makes the daemon's logger.
func (c *Config) logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLvl)
	o := &slog.HandlerOptions{Level: level}
	if c.LogFmt == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}
