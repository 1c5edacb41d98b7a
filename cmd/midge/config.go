package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/listener"
	"github.com/midge-mqtt/midge/packet"
	"github.com/midge-mqtt/midge/stack"
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
	MaxSubs int    `yaml:"max-subscriptions"`

	// MQTT 5 capabilities, enforced for every client and announced to MQTT
	// 5 ones.
	MaxQoS       int    `yaml:"max-qos"`
	Retain       bool   `yaml:"retain-available"`
	Wildcards    bool   `yaml:"wildcard-subscriptions"`
	SubIDs       bool   `yaml:"subscription-identifiers"`
	Shared       bool   `yaml:"shared-subscriptions"`
	RecvMax      int    `yaml:"receive-maximum"`
	AliasMax     int    `yaml:"topic-alias-maximum"`
	AliasOut     bool   `yaml:"topic-aliases-to-clients"`
	MaxExpiry    string `yaml:"max-session-expiry"`
	ServerKA     string `yaml:"server-keep-alive"`
	ResponseInfo string `yaml:"response-information"`
	ShareStrat   string `yaml:"shared-strategy"`
}

// defaults are the daemon's defaults: TCP on 1883 and WebSocket on 8083, as
// most brokers have them.
func defaults() Config {
	caps := stack.DefaultCapabilities()
	return Config{TCP: ":1883", WS: ":8083", WSPath: "/mqtt", LogLvl: "info", LogFmt: "text",
		MaxQoS: int(caps.MaximumQoS), Retain: true, Wildcards: true, SubIDs: true, Shared: true,
		AliasMax: int(caps.TopicAliasMaximum), ShareStrat: "round-robin"}
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
	fs.IntVar(&c.MaxSubs, "max-subscriptions", c.MaxSubs, "subscriptions per session; 0 means no limit")
	fs.IntVar(&c.MaxQoS, "max-qos", c.MaxQoS, "highest QoS accepted and granted: 0, 1 or 2")
	fs.BoolVar(&c.Retain, "retain-available", c.Retain, "accept retained messages")
	fs.BoolVar(&c.Wildcards, "wildcard-subscriptions", c.Wildcards, "accept subscriptions with wildcards")
	fs.BoolVar(&c.SubIDs, "subscription-identifiers", c.SubIDs, "accept MQTT 5 subscription identifiers")
	fs.BoolVar(&c.Shared, "shared-subscriptions", c.Shared, "accept shared subscriptions ($share/group/filter)")
	fs.IntVar(&c.RecvMax, "receive-maximum", c.RecvMax, "QoS 1 and 2 messages an MQTT 5 client may have unacknowledged (default 65535)")
	fs.IntVar(&c.AliasMax, "topic-alias-maximum", c.AliasMax, "topic aliases an MQTT 5 client may set; 0 accepts none")
	fs.BoolVar(&c.AliasOut, "topic-aliases-to-clients", c.AliasOut, "send topic aliases to MQTT 5 clients that accept them")
	fs.StringVar(&c.MaxExpiry, "max-session-expiry", c.MaxExpiry, "longest a session outlives its connection, as a `duration` (default: as long as the client asks)")
	fs.StringVar(&c.ServerKA, "server-keep-alive", c.ServerKA, "keep alive imposed on MQTT 5 clients, as a `duration` (default: the client's)")
	fs.StringVar(&c.ShareStrat, "shared-strategy", c.ShareStrat, "how a shared subscription's group picks the member for a message: round-robin or random")
	fs.StringVar(&c.ResponseInfo, "response-information", c.ResponseInfo, "`prefix` of the response information sent to MQTT 5 clients that ask; the client id follows it")
}

// loadConfig reads a YAML config file into c: a mapping whose keys are the
// flags' names. A key with no value (`tcp:`) sets the zero value, so it turns
// a listener off as `tcp: ""` does. An error names the file, the line and the
// key: an unknown key, a key given twice, a value of the wrong type.
func loadConfig(path string, c *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml's syntax errors read "yaml: line 3: …".
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil // an empty file, or only comments
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s line %d: want keys and values (such as \"tcp: :1883\"), not a %s", path, root.Line, nodeKind(root))
	}
	fields := configFields(c)
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		field, ok := fields[key]
		if k.Kind != yaml.ScalarNode || !ok {
			if k.Kind != yaml.ScalarNode {
				key = "<" + nodeKind(k) + ">"
			}
			return fmt.Errorf("%s line %d: unknown key %q (the keys are the flags' names: midge -h lists them)", path, k.Line, key)
		}
		if first, dup := seen[key]; dup {
			return fmt.Errorf("%s line %d: key %q given twice (first on line %d)", path, k.Line, key, first)
		}
		seen[key] = k.Line
		if err := decodeValue(v, field); err != nil {
			return fmt.Errorf("%s line %d: %s: %w", path, v.Line, key, err)
		}
	}
	return nil
}

// configFields maps each YAML key of Config to its field in c.
func configFields(c *Config) map[string]reflect.Value {
	fields := map[string]reflect.Value{}
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); key != "" && key != "-" {
			fields[key] = v.Field(i)
		}
	}
	return fields
}

// decodeValue sets field from the YAML value v, which must be a scalar. Its
// text is parsed as the flag's would be, so a file and the command line take
// the same values; null is the zero value.
func decodeValue(v *yaml.Node, field reflect.Value) error {
	if v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	if v.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a single value, not a %s", nodeKind(v))
	}
	if v.Tag == "!!null" {
		field.SetZero()
		return nil
	}
	switch field.Kind() {
	case reflect.String:
		// Any scalar reads as its text: `tcp: 1883` is "1883", which
		// the listener then refuses with its own message.
		field.SetString(v.Value)
	case reflect.Int:
		n, err := strconv.ParseInt(v.Value, 0, strconv.IntSize)
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%s is out of range", v.Value)
		}
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v.Value)
		}
		field.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(v.Value)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v.Value)
		}
		field.SetBool(b)
	default:
		panic("midge: Config field of unsupported kind " + field.Kind().String())
	}
	return nil
}

// nodeKind names a YAML node's kind for error messages.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
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
		// The flag package has printed the error and the usage.
		return nil, errReported{err}
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

// errReported is an error already reported to the user, by the flag package.
type errReported struct{ error }

func (e errReported) Unwrap() error { return e.error }

// validate checks values the types do not, naming the key at fault.
func (c *Config) validate() error {
	if _, err := parseLevel(c.LogLvl); err != nil {
		return err
	}
	if c.LogFmt != "text" && c.LogFmt != "json" {
		return fmt.Errorf("log-format: %q is not text or json", c.LogFmt)
	}
	for key, v := range map[string]string{"heartbeat-interval": c.HB, "connect-timeout": c.ConnTO,
		"max-session-expiry": c.MaxExpiry, "server-keep-alive": c.ServerKA} {
		if v == "" {
			continue
		}
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return fmt.Errorf("%s: %q is not a positive duration such as 30s", key, v)
		}
	}
	for key, v := range map[string]int{"max-client-id-length": c.MaxCID, "max-inflight": c.Inflt,
		"max-queued": c.Queued, "max-packet-size": c.MaxPkt, "max-pending": c.Pending,
		"max-subscriptions": c.MaxSubs, "receive-maximum": c.RecvMax, "topic-alias-maximum": c.AliasMax} {
		if v < 0 {
			return fmt.Errorf("%s: %d is negative", key, v)
		}
	}
	if c.ShareStrat != "round-robin" && c.ShareStrat != "random" {
		return fmt.Errorf("shared-strategy: %q is not round-robin or random", c.ShareStrat)
	}
	if c.MaxQoS > 2 {
		return fmt.Errorf("max-qos: %d is not 0, 1 or 2", c.MaxQoS)
	}
	for key, v := range map[string]int{"receive-maximum": c.RecvMax, "topic-alias-maximum": c.AliasMax} {
		if v > 65535 {
			return fmt.Errorf("%s: %d is more than 65535", key, v)
		}
	}
	if d := c.duration(c.ServerKA); d != 0 && (d < time.Second || d > 65535*time.Second) {
		return fmt.Errorf("server-keep-alive: %q is not between 1s and 65535s", c.ServerKA)
	}
	if d := c.duration(c.MaxExpiry); d > 0xFFFFFFFE*time.Second {
		return fmt.Errorf("max-session-expiry: %q is longer than MQTT can say", c.MaxExpiry)
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

// duration parses a duration validate has checked; "" is 0.
func (c *Config) duration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}

// capabilities turns the configuration into the broker's capabilities.
func (c *Config) capabilities() *stack.Capabilities {
	caps := &stack.Capabilities{
		MaximumQoS:                packet.QoS(c.MaxQoS),
		RetainUnavailable:         !c.Retain,
		WildcardUnavailable:       !c.Wildcards,
		SubscriptionIDUnavailable: !c.SubIDs,
		SharedUnavailable:         !c.Shared,
		ReceiveMaximum:            uint16(c.RecvMax),
		TopicAliasMaximum:         uint16(c.AliasMax),
		TopicAliasesToClients:     c.AliasOut,
		MaxSessionExpiry:          uint32(c.duration(c.MaxExpiry) / time.Second),
		ServerKeepAlive:           uint16(c.duration(c.ServerKA) / time.Second),
	}
	if prefix := c.ResponseInfo; prefix != "" {
		caps.ResponseInformation = func(clientID string) string { return prefix + clientID }
	}
	if def := stack.DefaultCapabilities(); reflect.DeepEqual(*caps, def) {
		return nil // the broker's default
	}
	return caps
}

// shareStrategy returns the strategy of shared subscriptions; nil for the
// broker's default, round robin.
func (c *Config) shareStrategy() stack.ShareStrategy {
	if c.ShareStrat == "random" {
		return stack.ShareRandom{}
	}
	return nil
}

// brokerOptions turns the configuration into broker options.
func (c *Config) brokerOptions(log *slog.Logger) *broker.Options {
	dur := c.duration
	return &broker.Options{
		Capabilities:      c.capabilities(),
		ShareStrategy:     c.shareStrategy(),
		MaxSubscriptions:  c.MaxSubs,
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
