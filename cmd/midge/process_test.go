package main

// Tests of the real binary: what only main does (signals, `midge version`).

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testVersion is stamped into the binary the tests build.
const testVersion = "v9.8.7-test"

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildMidge builds the daemon once, with go build, its version stamped as a
// release does, and returns the binary's path.
func buildMidge(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	built.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if built.dir, built.err = os.MkdirTemp("", "midge-test-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "midge")
		cmd := exec.Command(goBin, "build", "-o", built.bin, "-ldflags", "-X main.version="+testVersion, ".")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

var listeningTCP = regexp.MustCompile(`listening on=tcp://(\S+)`)

func TestSignalStops(t *testing.T) {
	bin := buildMidge(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			// -ws "" turns off the default WebSocket listener on :8083.
			cmd := exec.Command(bin, "-tcp", "127.0.0.1:0", "-ws", "")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()

			lines := make(chan string, 100)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			var log []string
			var addr string
			timeout := time.After(10 * time.Second)
			for addr == "" {
				select {
				case line, ok := <-lines:
					if !ok {
						t.Fatalf("midge exited before listening:\n%s", strings.Join(log, "\n"))
					}
					log = append(log, line)
					if m := listeningTCP.FindStringSubmatch(line); m != nil {
						addr = m[1]
					}
				case <-timeout:
					t.Fatalf("no %q in the log after 10 s:\n%s", "listening on=tcp://", strings.Join(log, "\n"))
				}
			}

			// A client is connected when the signal comes.
			c, lost := pahoClient(t, "tcp://"+addr, "signal-test")
			defer c.Disconnect(0)

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() {
				for line := range lines {
					log = append(log, line)
				}
				exited <- cmd.Wait() // after the pipe is drained, as Wait wants
			}()
			select {
			case err := <-exited:
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					t.Errorf("midge exited with %v after %v, want status 0", ee.ProcessState, sig)
				} else if err != nil {
					t.Error(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("midge still running 5 s after %v", sig)
			}
			select {
			case <-lost:
			case <-time.After(5 * time.Second):
				t.Error("the client is still connected")
			}
			text := strings.Join(log, "\n")
			for _, want := range []string{"version=" + testVersion, "shutting down", "midge stopped"} {
				if !strings.Contains(text, want) {
					t.Errorf("log lacks %q:\n%s", want, text)
				}
			}
			if strings.Contains(text, "level=ERROR") {
				t.Errorf("errors in the log:\n%s", text)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	bin := buildMidge(t)
	for _, arg := range []string{"version", "-version", "--version"} {
		t.Run(arg, func(t *testing.T) {
			out, err := exec.Command(bin, arg).Output()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(out), "midge "+testVersion+"\n"; got != want {
				t.Errorf("midge %s printed %q, want %q", arg, got, want)
			}
		})
	}
}
