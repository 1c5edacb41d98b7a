package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/broker"
	"github.com/midge-mqtt/midge/listener"
	"github.com/midge-mqtt/midge/stack"
)

// keyCases sets every key of the configuration to a value other than its
// default: text is the value as a flag and as YAML, want the field's value.
var keyCases = []struct {
	key, text string
	want      any
}{
	{"tcp", "127.0.0.1:1884", "127.0.0.1:1884"},
	{"tls", "127.0.0.1:8883", "127.0.0.1:8883"},
	{"ws", "127.0.0.1:9001", "127.0.0.1:9001"},
	{"wss", "127.0.0.1:8443", "127.0.0.1:8443"},
	{"ws-path", "/ws", "/ws"},
	{"unix", "/run/midge/mqtt.sock", "/run/midge/mqtt.sock"},
	{"cert", "/etc/midge/cert.pem", "/etc/midge/cert.pem"},
	{"key", "/etc/midge/key.pem", "/etc/midge/key.pem"},
	{"proxy-protocol", "true", true},
	{"log-level", "debug", "debug"},
	{"log-format", "json", "json"},
	{"id", "edge-1", "edge-1"},
	{"max-client-id-length", "64", 64},
	{"heartbeat-interval", "10s", "10s"},
	{"connect-timeout", "5s", "5s"},
	{"max-inflight", "100", 100},
	{"max-queued", "5000", 5000},
	{"max-packet-size", "65536", 65536},
	{"max-pending", "2097152", 2097152},
	{"max-subscriptions", "50", 50},
	{"max-qos", "1", 1},
	{"retain-available", "false", false},
	{"wildcard-subscriptions", "false", false},
	{"subscription-identifiers", "false", false},
	{"shared-subscriptions", "false", false},
	{"receive-maximum", "20", 20},
	{"topic-alias-maximum", "5", 5},
	{"topic-aliases-to-clients", "true", true},
	{"max-session-expiry", "2h", "2h"},
	{"server-keep-alive", "30s", "30s"},
	{"response-information", "reply/", "reply/"},
	{"shared-strategy", "random", "random"},
}

// writeConfig writes a config file into a temporary directory and returns
// its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "midge.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// field returns the value of c's field for a key.
func field(c *Config, key string) any {
	f, ok := configFields(c)[key]
	if !ok {
		return fmt.Sprintf("<no key %q>", key)
	}
	return f.Interface()
}

func TestEveryKeyHasACaseAndAFlag(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("midge", flag.ContinueOnError)
	c.bind(fs)
	var flags, keys, cases []string
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f.Name) })
	for k := range configFields(&c) {
		keys = append(keys, k)
	}
	for _, kc := range keyCases {
		cases = append(cases, kc.key)
	}
	slices.Sort(keys)
	slices.Sort(cases)
	if !slices.Equal(flags, keys) {
		t.Errorf("flags %q\nYAML keys %q\nwant the same names", flags, keys)
	}
	if !slices.Equal(cases, keys) {
		t.Errorf("keyCases cover %q\nwant every key %q", cases, keys)
	}
}

func TestEachKey(t *testing.T) {
	for _, kc := range keyCases {
		t.Run(kc.key, func(t *testing.T) {
			t.Run("file", func(t *testing.T) {
				c := defaults()
				if reflect.DeepEqual(field(&c, kc.key), kc.want) {
					t.Fatalf("the case's value %v is the default", kc.want)
				}
				path := writeConfig(t, fmt.Sprintf("# a comment\n%s: %s\n", kc.key, kc.text))
				if err := loadConfig(path, &c); err != nil {
					t.Fatal(err)
				}
				if got := field(&c, kc.key); !reflect.DeepEqual(got, kc.want) {
					t.Errorf("%s = %#v, want %#v", kc.key, got, kc.want)
				}
				// Nothing else changed.
				want := defaults()
				configFields(&want)[kc.key].Set(reflect.ValueOf(kc.want))
				if c != want {
					t.Errorf("config %+v\nwant %+v", c, want)
				}
			})
			t.Run("flag", func(t *testing.T) {
				c := defaults()
				fs := flag.NewFlagSet("midge", flag.ContinueOnError)
				c.bind(fs)
				if err := fs.Parse([]string{"-" + kc.key + "=" + kc.text}); err != nil {
					t.Fatal(err)
				}
				if got := field(&c, kc.key); !reflect.DeepEqual(got, kc.want) {
					t.Errorf("%s = %#v, want %#v", kc.key, got, kc.want)
				}
			})
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := parseArgs(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []listener.Spec{
		{Kind: "tcp", Addr: ":1883"},
		{Kind: "ws", Addr: ":8083", Path: "/mqtt"},
	}
	if got := c.listeners(); !reflect.DeepEqual(got, want) {
		t.Errorf("listeners %+v, want %+v", got, want)
	}
	if got := *c.brokerOptions(nil); !reflect.DeepEqual(got, broker.Options{}) {
		t.Errorf("broker options %+v, want the broker's defaults (zero)", got)
	}
}

// TestConfigToOptions checks that every key reaches the listeners or the
// broker.
func TestConfigToOptions(t *testing.T) {
	c := defaults()
	for _, kc := range keyCases {
		configFields(&c)[kc.key].Set(reflect.ValueOf(kc.want))
	}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	specs := c.listeners()
	wantSpecs := []listener.Spec{
		{Kind: "tcp", Addr: "127.0.0.1:1884", ProxyProtocol: true},
		{Kind: "tls", Addr: "127.0.0.1:8883", CertFile: "/etc/midge/cert.pem", KeyFile: "/etc/midge/key.pem", ProxyProtocol: true},
		{Kind: "ws", Addr: "127.0.0.1:9001", Path: "/ws", ProxyProtocol: true},
		{Kind: "wss", Addr: "127.0.0.1:8443", CertFile: "/etc/midge/cert.pem", KeyFile: "/etc/midge/key.pem", Path: "/ws", ProxyProtocol: true},
		{Kind: "unix", Addr: "/run/midge/mqtt.sock", ProxyProtocol: true},
	}
	if !reflect.DeepEqual(specs, wantSpecs) {
		t.Errorf("listeners\n%+v\nwant\n%+v", specs, wantSpecs)
	}
	got := *c.brokerOptions(nil)
	if got.Capabilities == nil || got.Capabilities.ResponseInformation == nil {
		t.Fatalf("no response information in %+v", got.Capabilities)
	}
	if ri := got.Capabilities.ResponseInformation("c1"); ri != "reply/c1" {
		t.Errorf("response information %q, want reply/c1", ri)
	}
	got.Capabilities.ResponseInformation = nil // funcs do not compare
	want := broker.Options{
		Capabilities: &stack.Capabilities{MaximumQoS: 1, RetainUnavailable: true, WildcardUnavailable: true,
			SubscriptionIDUnavailable: true, SharedUnavailable: true, ReceiveMaximum: 20, TopicAliasMaximum: 5,
			TopicAliasesToClients: true, MaxSessionExpiry: 7200, ServerKeepAlive: 30},
		MaxSubscriptions:  50,
		ShareStrategy:     stack.ShareRandom{},
		ID:                "edge-1",
		MaxClientIDLength: 64,
		HeartbeatInterval: 10 * time.Second,
		ConnectTimeout:    5 * time.Second,
		MaxInflight:       100,
		MaxQueued:         5000,
		MaxPacketSize:     65536,
		MaxPending:        2097152,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("broker options\n%+v\nwant\n%+v", got, want)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	path := writeConfig(t, `
tcp: 127.0.0.1:1001
ws: 127.0.0.1:1002
unix: /tmp/from-file.sock
max-inflight: 5
log-level: debug
`)
	c, err := parseArgs([]string{
		"-tcp", "127.0.0.1:2001", // a flag wins over the file
		"-config", path, // wherever -config stands
		"-ws", ":8083", // even when the flag gives the default
		"-unix", "", // and when it turns a listener off
		"-max-inflight", "7",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := defaults()
	want.TCP = "127.0.0.1:2001"
	want.WS = ":8083"
	want.Unix = ""
	want.Inflt = 7
	want.LogLvl = "debug" // from the file: no flag
	if *c != want {
		t.Errorf("config %+v\nwant %+v", *c, want)
	}
}

// emptyFile stands for a config file of zero bytes.
const emptyFile = "<empty>"

func TestEmptyTurnsListenerOff(t *testing.T) {
	specs := func(c *Config) []string {
		var s []string
		for _, l := range c.listeners() {
			s = append(s, l.String())
		}
		return s
	}
	for _, tc := range []struct {
		name string
		file string // "" for none
		args []string
		want []string
	}{
		{"flag ws", "", []string{"-ws", ""}, []string{"tcp://:1883"}},
		{"flag tcp", "", []string{"-tcp="}, []string{"ws://:8083/mqtt"}},
		{"flag spaces", "", []string{"-tcp", "  "}, []string{"ws://:8083/mqtt"}},
		{"file quoted", "ws: \"\"\n", nil, []string{"tcp://:1883"}},
		{"file no value", "tcp:\nws: 127.0.0.1:0\n", nil, []string{"ws://127.0.0.1:0/mqtt"}},
		{"file tilde", "tcp: ~\n", nil, []string{"ws://:8083/mqtt"}},
		{"file empty", emptyFile, nil, []string{"tcp://:1883", "ws://:8083/mqtt"}},
		{"file comments only", "# nothing here\n", nil, []string{"tcp://:1883", "ws://:8083/mqtt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				path := writeConfig(t, strings.TrimPrefix(tc.file, emptyFile))
				args = []string{"-config", path}
			}
			c, err := parseArgs(args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := specs(c); !slices.Equal(got, tc.want) {
				t.Errorf("listeners %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string // written to a file passed with -config, when not ""
		args []string
		want string // in the error; FILE stands for the file's path
	}{
		{"unknown key", "tcp: 127.0.0.1:0\nws: \"\"\nbogus: 1\n", nil,
			`FILE line 3: unknown key "bogus"`},
		{"unknown nested key", "tcp:\n  addr: 1\n", nil,
			`FILE line 2: tcp: want a single value, not a mapping`},
		{"key twice", "tcp: 127.0.0.1:0\nws: \"\"\ntcp: 127.0.0.1:1\n", nil,
			`FILE line 3: key "tcp" given twice (first on line 1)`},
		{"not a mapping", "- tcp\n- ws\n", nil,
			`FILE line 1: want keys and values`},
		{"syntax", "tcp: [127.0.0.1:0\n", nil,
			`FILE: line`},
		{"int", "max-inflight: lots\n", nil,
			`FILE line 1: max-inflight: "lots" is not a whole number`},
		{"int fraction", "max-queued: 1.5\n", nil,
			`FILE line 1: max-queued: "1.5" is not a whole number`},
		{"int range", "max-packet-size: 99999999999999999999\n", nil,
			`FILE line 1: max-packet-size: 99999999999999999999 is out of range`},
		{"bool", "\nproxy-protocol: maybe\n", nil,
			`FILE line 2: proxy-protocol: "maybe" is not true or false`},
		{"list", "tcp: [a, b]\n", nil,
			`FILE line 1: tcp: want a single value, not a list`},
		{"log-level", "log-level: loud\n", nil,
			`log-level: "loud" is not debug, info, warn or error`},
		{"log-format", "log-format: xml\n", nil,
			`log-format: "xml" is not text or json`},
		{"heartbeat-interval", "heartbeat-interval: 10\n", nil,
			`heartbeat-interval: "10" is not a positive duration`},
		{"connect-timeout", "connect-timeout: -1s\n", nil,
			`connect-timeout: "-1s" is not a positive duration`},
		{"negative", "max-queued: -1\n", nil,
			`max-queued: -1 is negative`},
		{"max-inflight", "max-inflight: 70000\n", nil,
			`max-inflight: 70000 is more than 65535`},
		{"max-qos", "max-qos: 3\n", nil,
			`max-qos: 3 is not 0, 1 or 2`},
		{"receive-maximum", "receive-maximum: 70000\n", nil,
			`receive-maximum: 70000 is more than 65535`},
		{"server-keep-alive", "server-keep-alive: 20h\n", nil,
			`server-keep-alive: "20h" is not between 1s and 65535s`},
		{"max-session-expiry", "max-session-expiry: 0s\n", nil,
			`max-session-expiry: "0s" is not a positive duration`},
		{"shared-strategy", "shared-strategy: fair\n", nil,
			`shared-strategy: "fair" is not round-robin or random`},
		{"tls without cert", "tls: 127.0.0.1:0\n", nil,
			`cert, key: the tls and wss listeners need both`},
		{"wss without key flag", "", []string{"-wss", "127.0.0.1:0", "-cert", "c.pem"},
			`cert, key: the tls and wss listeners need both`},
		{"all off", "tcp: \"\"\n", []string{"-ws="},
			`every listener is off`},
		{"flag value", "", []string{"-max-pending", "-5"},
			`max-pending: -5 is negative`},
		{"no such file", "", []string{"-config", "/nonexistent/midge.yaml"},
			`/nonexistent/midge.yaml`},
		{"argument", "", []string{"serve"},
			`unexpected argument "serve"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			want := tc.want
			if tc.file != "" {
				path := writeConfig(t, tc.file)
				args = append([]string{"-config", path}, args...)
				want = strings.ReplaceAll(want, "FILE", path)
			}
			c, err := parseArgs(args, io.Discard)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q\nwant it to contain %q", err, want)
			}
		})
	}
}

func TestBadFlagsReportedOnce(t *testing.T) {
	var stderr strings.Builder
	_, err := parseArgs([]string{"-max-inflight", "lots"}, &stderr)
	if !errors.As(err, new(errReported)) {
		t.Fatalf("error %v is not marked as reported", err)
	}
	if !strings.Contains(stderr.String(), `invalid value "lots" for flag -max-inflight`) {
		t.Errorf("stderr %q does not name the flag", stderr.String())
	}
}
