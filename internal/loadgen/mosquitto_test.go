package loadgen

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// broker is a Mosquitto started for a test.
type broker struct {
	addr string
	pid  int
}

// mosquittoConf is the configuration the tests start Mosquitto with: queues
// and windows large enough that a QoS 1 or 2 run at a modest rate loses
// nothing.
const mosquittoConf = `listener %d 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 1000000
max_inflight_messages 1000
log_dest stderr
log_type error
log_type warning
`

// startMosquitto starts Mosquitto on a free loopback port with
// mosquittoConf plus extra lines, and kills it when the test ends. It skips
// the test when Mosquitto is not installed.
func startMosquitto(t *testing.T, extra ...string) broker {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
			if _, err := os.Stat(p); err == nil {
				bin = p
			}
		}
	}
	if bin == "" {
		t.Skip("mosquitto is not installed; these tests drive a real broker (apt-get install mosquitto)")
	}
	// The port is free when we pick it but may be taken before Mosquitto
	// binds it: try again with another.
	var lastErr error
	for range 3 {
		b, err := tryMosquitto(t, bin, strings.Join(extra, "\n"))
		if err == nil {
			return b
		}
		lastErr = err
	}
	t.Fatalf("start mosquitto: %v", lastErr)
	return broker{}
}

func tryMosquitto(t *testing.T, bin, extra string) (broker, error) {
	port := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(mosquittoConf, port)+extra+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "mosquitto.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		return broker{}, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			out, _ := os.ReadFile(logf.Name())
			return broker{}, fmt.Errorf("mosquitto exited: %s", out)
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return broker{addr: addr, pid: cmd.Process.Pid}, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return broker{}, fmt.Errorf("mosquitto is not listening on %s after 5s", addr)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// checkNoLoss fails the test unless every message sent in the window
// arrived, once, with a latency, and the run saw no error.
func checkNoLoss(t *testing.T, r *Result, minSent int64) {
	t.Helper()
	for _, e := range r.Errors {
		t.Errorf("run error: %s", e)
	}
	m := r.Messages
	if m == nil {
		t.Fatal("no message counts")
	}
	if m.Sent < minSent {
		t.Errorf("sent %d, want at least %d", m.Sent, minSent)
	}
	if m.Received != m.Expected || m.Lost != 0 || m.Extra != 0 {
		t.Errorf("received %d of %d expected: lost %d, extra %d", m.Received, m.Expected, m.Lost, m.Extra)
	}
	if r.Latency == nil || r.Latency.Count != uint64(m.Received) {
		t.Fatalf("latency %+v for %d messages", r.Latency, m.Received)
	}
	if l := r.Latency; l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max || l.Max > 5e6 {
		t.Errorf("implausible latency (µs): %+v", l)
	}
	if r.QoS > 0 && (m.Acked < m.Sent || m.Refused != 0) {
		t.Errorf("QoS %d: %d flows acked (%d refused) for %d sent", r.QoS, m.Acked, m.Refused, m.Sent)
	}
}

func TestPubSubNoLoss(t *testing.T) {
	b := startMosquitto(t)
	for _, sc := range []struct {
		scenario   Scenario
		pubs, subs int
	}{{FanIn, 4, 1}, {FanOut, 1, 5}} {
		for _, v := range []packet.Version{packet.V311, packet.V5} {
			for qos := range packet.QoS(3) {
				t.Run(fmt.Sprintf("%s/%v/QoS%d", sc.scenario, v, qos), func(t *testing.T) {
					cfg := Config{
						Addr: b.addr, Scenario: sc.scenario, QoS: qos, Version: v,
						Pubs: sc.pubs, Subs: sc.subs,
						Duration: time.Second, Warmup: 200 * time.Millisecond, Rate: 200,
						BrokerPID: b.pid,
					}
					r, err := Run(context.Background(), cfg)
					if err != nil {
						t.Fatal(err)
					}
					// 200/s for 1s, with room for a busy machine.
					checkNoLoss(t, r, int64(sc.pubs)*100)
					if m := r.Messages; m.Expected != m.Sent*int64(sc.subs) {
						t.Errorf("expected %d for %d sent to %d subscribers", m.Expected, m.Sent, sc.subs)
					}
					// A writer that fell behind during the warm-up catches up
					// in the window, so the bound counts the warm-up too.
					if m := r.Messages; m.Sent > int64(float64(sc.pubs)*200*(r.Seconds+r.Warmup)*1.05)+int64(sc.pubs) {
						t.Errorf("sent %d in %.2fs: over the rate of 200/s per publisher", m.Sent, r.Seconds)
					}
					if r.Messages.WarmupSent == 0 {
						t.Error("nothing was sent during the warm-up")
					}
					// The broker's CPU time comes in clock ticks (10ms): at
					// this rate it may well be zero.
					if r.Broker == nil || r.Broker.PID != b.pid || r.Broker.RSSAfter <= 0 || r.Broker.WallSeconds <= 0 {
						t.Errorf("broker usage %+v", r.Broker)
					}
					if r.Generator.CPUSeconds <= 0 || r.Generator.PerMsgMicros <= 0 {
						t.Errorf("generator usage %+v", r.Generator)
					}
				})
			}
		}
	}
}

// TestMQTT31 runs MQTT 3.1 ("MQIsdp"), whose servers may limit client
// identifiers to 23 bytes.
func TestMQTT31(t *testing.T) {
	b := startMosquitto(t)
	for _, sc := range []Scenario{FanIn, Idle} {
		t.Run(string(sc), func(t *testing.T) {
			r, err := Run(context.Background(), Config{
				Addr: b.addr, Scenario: sc, QoS: 1, Version: packet.V31,
				Subs: 2, Conns: 20, Duration: 500 * time.Millisecond, Rate: 200,
			})
			if err != nil {
				t.Fatal(err)
			}
			if sc == Idle {
				if r.Idle.Alive != 20 {
					t.Errorf("%d of 20 connections alive", r.Idle.Alive)
				}
				return
			}
			checkNoLoss(t, r, 100)
		})
	}
}

// TestFullSpeedQoS1 runs without a rate limit: the in-flight window is all
// that holds the publishers back, and nothing may be lost.
func TestFullSpeedQoS1(t *testing.T) {
	b := startMosquitto(t)
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		t.Run(v.String(), func(t *testing.T) {
			r, err := Run(context.Background(), Config{
				Addr: b.addr, Scenario: FanIn, QoS: 1, Version: v, Pubs: 2, Subs: 1,
				Duration: 500 * time.Millisecond, Inflight: 32,
			})
			if err != nil {
				t.Fatal(err)
			}
			checkNoLoss(t, r, 100)
		})
	}
}

// TestReceiveMaximum gives Mosquitto a window of 4: an MQTT 5 publisher must
// keep to the Receive Maximum of the CONNACK, not to its own -inflight, or
// the broker disconnects it.
func TestReceiveMaximum(t *testing.T) {
	b := startMosquitto(t, "max_inflight_messages 4")
	for _, qos := range []packet.QoS{1, 2} {
		t.Run(fmt.Sprintf("QoS%d", qos), func(t *testing.T) {
			r, err := Run(context.Background(), Config{
				Addr: b.addr, Scenario: FanIn, QoS: qos, Version: packet.V5, Pubs: 2, Subs: 1,
				Duration: 500 * time.Millisecond, Inflight: 64,
			})
			if err != nil {
				t.Fatal(err)
			}
			checkNoLoss(t, r, 10)
		})
	}
}

func TestSharedFanIn(t *testing.T) {
	b := startMosquitto(t)
	r, err := Run(context.Background(), Config{
		Addr: b.addr, Scenario: FanIn, QoS: 1, Pubs: 2, Subs: 3, Shared: true,
		Duration: time.Second, Rate: 200,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkNoLoss(t, r, 200)
	if m := r.Messages; m.Expected != m.Sent {
		t.Errorf("shared subscription: expected %d for %d sent", m.Expected, m.Sent)
	}
}

func TestIdleHolds(t *testing.T) {
	b := startMosquitto(t)
	const conns = 300
	r, err := Run(context.Background(), Config{
		Addr: b.addr, Scenario: Idle, Conns: conns, KeepAlive: time.Second,
		Duration: 2500 * time.Millisecond, BrokerPID: b.pid,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range r.Errors {
		t.Errorf("run error: %s", e)
	}
	i := r.Idle
	if i == nil || i.Connected != conns || i.Alive != conns {
		t.Fatalf("idle: %+v, want %d connected and alive", i, conns)
	}
	// Two pings each in 2.5s at a 1s period, and the final one; a busy
	// machine may delay one, but a connection that missed its pings for
	// 1.5s would have been closed by the broker, and not be alive.
	if i.Pings < 2*conns || i.Pongs != i.Pings {
		t.Errorf("%d pings sent and %d answered for %d connections", i.Pings, i.Pongs, conns)
	}
	if r.Broker == nil || r.Broker.RSSAfter <= 0 || r.Broker.RSSPerConn <= 0 {
		t.Errorf("broker usage %+v", r.Broker)
	}
}

func TestConnackRefused(t *testing.T) {
	b := startMosquitto(t, "allow_anonymous false")
	for _, v := range []packet.Version{packet.V311, packet.V5} {
		t.Run(v.String(), func(t *testing.T) {
			_, err := Run(context.Background(), Config{Addr: b.addr, Scenario: FanIn, Version: v, Duration: time.Second})
			if err == nil || !strings.Contains(err.Error(), "broker refused the connection") {
				t.Fatalf("Run = %v, want a refused connection", err)
			}
			t.Log(err)
		})
	}
}

func TestSubscribeRefused(t *testing.T) {
	b := startMosquitto(t)
	// Mosquitto refuses a shared subscription with the "no local" option...
	// simpler: a filter with a wildcard in the middle of a level is invalid,
	// and Mosquitto closes the connection or refuses it; either is an error.
	_, err := Run(context.Background(), Config{Addr: b.addr, Scenario: FanIn, Topic: "bad+prefix", Duration: time.Second})
	if err == nil {
		t.Fatal("Run with an invalid filter succeeded")
	}
	t.Log(err)
}

func TestNoBroker(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, err := Run(context.Background(), Config{Addr: addr, Scenario: Idle, Conns: 3, DialTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Run against %s with nothing listening = %v, want connection refused", addr, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Scenario: "fanall"},
		{QoS: 3},
		{Version: 6},
		{Size: 4},
		{Inflight: 70000},
		{Scenario: FanOut, Shared: true},
		{KeepAlive: time.Millisecond},
		{Rate: -1},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) accepted", cfg)
		}
	}
}
