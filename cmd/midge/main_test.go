package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/internal/testcert"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// syncBuffer is a strings.Builder safe for the daemon's logger and the test
// to share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon is run() on a goroutine.
type daemon struct {
	addrs  []string // as reported on ready: tcp://…, ws://…/mqtt
	log    *syncBuffer
	cancel context.CancelFunc
	code   chan int // run's exit code
}

// startRun runs the daemon in-process with args and waits until it serves.
// The test must stop it with d.stop.
func startRun(t *testing.T, args ...string) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{log: &syncBuffer{}, cancel: cancel, code: make(chan int, 1)}
	ready := make(chan []string, 1)
	go func() { d.code <- run(ctx, args, d.log, ready) }()
	select {
	case d.addrs = <-ready:
	case code := <-d.code:
		cancel()
		t.Fatalf("run exited with %d before serving:\n%s", code, d.log)
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatalf("run not serving after 5 s:\n%s", d.log)
	}
	return d
}

// stop cancels the daemon's context and returns its exit code.
func (d *daemon) stop(t *testing.T) int {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.code:
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("run still running 10 s after its context ended:\n%s", d.log)
	}
	return -1
}

// pahoClient connects a paho.mqtt.golang client (MQTT 3.1.1) to url, whose
// scheme picks the transport; opts adjust its options. lost is closed when
// the connection is lost.
func pahoClient(t *testing.T, url, id string, opts ...func(*paho.ClientOptions)) (c paho.Client, lost <-chan struct{}) {
	t.Helper()
	lostc := make(chan struct{})
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(paho.Client, error) { close(lostc) })
	for _, f := range opts {
		f(o)
	}
	c = paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", url, tok.Error())
	}
	return c, lostc
}

// wait waits for a paho token and fails the test if it fails or takes more
// than a few seconds.
func wait(t *testing.T, tok paho.Token, what string) {
	t.Helper()
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatalf("%s: no answer in 5 s", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// goroutineLeaks waits a few seconds for the number of goroutines to fall
// back to base, and fails the test with their stacks if it does not.
func goroutineLeaks(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines left, %d before the daemon:\n%s", runtime.NumGoroutine(), base, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunServesEveryListener runs the daemon in-process with every kind of
// listener, passes messages between clients of each, and shuts it down with
// the clients still connected: run returns 0, the clients are disconnected,
// and no goroutine is left.
func TestRunServesEveryListener(t *testing.T) {
	dir := t.TempDir()
	cert, key, roots := selfSigned(t, dir)
	sock := filepath.Join(dir, "midge.sock")
	base := runtime.NumGoroutine()
	d := startRun(t, "-tcp", "127.0.0.1:0", "-ws", "127.0.0.1:0", "-ws-path", "/custom",
		"-tls", "127.0.0.1:0", "-wss", "127.0.0.1:0", "-cert", cert, "-key", key,
		"-unix", sock, "-id", "test-daemon")
	urls := map[string]string{}
	for _, a := range d.addrs {
		scheme, _, _ := strings.Cut(a, "://")
		urls[scheme] = a
	}
	want := map[string]string{
		"tcp": `^tcp://127\.0\.0\.1:\d+$`, "ws": `^ws://127\.0\.0\.1:\d+/custom$`,
		"tls": `^tls://127\.0\.0\.1:\d+$`, "wss": `^wss://127\.0\.0\.1:\d+/custom$`,
		"unix": "^unix://" + regexp.QuoteMeta(sock) + "$",
	}
	for scheme, re := range want {
		if !regexp.MustCompile(re).MatchString(urls[scheme]) {
			d.stop(t)
			t.Fatalf("ready reported %q: no %s listener matching %s", d.addrs, scheme, re)
		}
	}

	type client struct {
		c    paho.Client
		lost <-chan struct{}
		got  chan string
	}
	ring := []string{"tcp", "ws", "tls", "wss", "unix"}
	clients := map[string]*client{}
	for _, name := range ring {
		c, lost := pahoClient(t, urls[name], "daemon-test-"+name, func(o *paho.ClientOptions) {
			o.SetTLSConfig(&tls.Config{RootCAs: roots})
		})
		cl := &client{c: c, lost: lost, got: make(chan string, 10)}
		wait(t, c.Subscribe("to/"+name+"/#", 1, func(_ paho.Client, m paho.Message) {
			cl.got <- m.Topic() + " " + string(m.Payload())
		}), "subscribe over "+name)
		clients[name] = cl
	}
	// Each client publishes to the next: the broker routes across
	// transports.
	for i, from := range ring {
		to := ring[(i+1)%len(ring)]
		topic := "to/" + to + "/from/" + from
		wait(t, clients[from].c.Publish(topic, 1, false, "hello"), "publish over "+from)
		select {
		case got := <-clients[to].got:
			if want := topic + " hello"; got != want {
				t.Errorf("%s client got %q, want %q", to, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s client got nothing from %s", to, from)
		}
	}

	if code := d.stop(t); code != 0 {
		t.Errorf("exit code %d, want 0:\n%s", code, d.log)
	}
	for name, cl := range clients {
		select {
		case <-cl.lost:
		case <-time.After(5 * time.Second):
			t.Errorf("the %s client is still connected after shutdown", name)
		}
		cl.c.Disconnect(0)
	}
	log := d.log.String()
	wantLog := []string{"midge started", "id=test-daemon", "shutting down", "midge stopped"}
	for _, a := range d.addrs {
		wantLog = append(wantLog, "listening on="+a)
	}
	for _, want := range wantLog {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if _, err := os.Stat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the Unix socket is still there after shutdown: %v", err)
	}
	goroutineLeaks(t, base)
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key into
// dir, and returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	c := testcert.New(t)
	certFile, keyFile = c.WriteFiles(t, dir)
	return certFile, keyFile, c.Pool
}

func TestRunListenFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	base := runtime.NumGoroutine()
	var log syncBuffer
	code := run(context.Background(), []string{"-tcp", "127.0.0.1:0", "-ws", busy.Addr().String()}, &log, nil)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.Contains(log.String(), busy.Addr().String()) || !strings.Contains(log.String(), "address already in use") {
		t.Errorf("log does not say which address is in use:\n%s", log.String())
	}
	goroutineLeaks(t, base)
}

func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // in stderr
		not  string   // not in stderr
	}{
		{"help", []string{"-h"}, 0, []string{"-tcp address", "-config file", "log level"}, "help requested"},
		// The flag package reports it; run must not say it again.
		{"unknown flag", []string{"-bogus"}, 2, []string{"flag provided but not defined: -bogus", "Usage"}, "midge: flag"},
		{"bad value", []string{"-log-level", "loud"}, 2, []string{`midge: log-level: "loud" is not debug, info, warn or error`}, "Usage"},
		{"bad file", []string{"-config", "/nonexistent/midge.yaml"}, 2, []string{"midge: open /nonexistent/midge.yaml"}, "Usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr syncBuffer
			code := run(context.Background(), tc.args, &stderr, nil)
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			out := stderr.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("stderr lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, tc.not) {
				t.Errorf("stderr has %q:\n%s", tc.not, out)
			}
		})
	}
}

// TestRunConfigFile runs the daemon from a config file, with a flag over it.
func TestRunConfigFile(t *testing.T) {
	path := writeConfig(t, "tcp: 127.0.0.1:0\nws:\nid: from-file\nlog-format: json\n")
	d := startRun(t, "-config", path, "-id", "from-flag")
	code := d.stop(t)
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if len(d.addrs) != 1 || !strings.HasPrefix(d.addrs[0], "tcp://127.0.0.1:") {
		t.Errorf("listening on %q, want one tcp://127.0.0.1:PORT (ws off in the file)", d.addrs)
	}
	log := d.log.String()
	if !strings.Contains(log, `"id":"from-flag"`) || !strings.Contains(log, `"msg":"midge started"`) {
		t.Errorf("log is not JSON (from the file) with the id from the flag:\n%s", log)
	}
}
