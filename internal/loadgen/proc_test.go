package loadgen

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 are utime and stime; the command name may hold
	// spaces and parentheses.
	stat := "1234 (my (odd) broker) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 1 0 100 10000000 500 18446744073709551615\n"
	got, err := parseStatCPU([]byte(stat), 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := 4 * time.Second; got != want {
		t.Errorf("CPU = %v, want %v (250+150 ticks at 100 Hz)", got, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 utime stime"} {
		if _, err := parseStatCPU([]byte(bad), 100); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
}

func TestParseStatusRSS(t *testing.T) {
	status := "Name:\tmosquitto\nVmPeak:\t   20000 kB\nVmRSS:\t    6144 kB\nThreads:\t1\n"
	got, err := parseStatusRSS([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if got != 6144<<10 {
		t.Errorf("RSS = %d, want %d", got, 6144<<10)
	}
	if _, err := parseStatusRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("a status without VmRSS parsed")
	}
}

func TestSampleProcSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux only")
	}
	if got := clockTicks(); got != 100 {
		t.Logf("clock ticks = %d (not the usual 100)", got)
	}
	// Burn some CPU so that there is something to see.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = strings.Repeat("x", x%100)
	}
	s, err := SampleProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU <= 0 || s.RSS <= 1<<20 {
		t.Errorf("SampleProc(self) = %+v: want some CPU time and over 1 MiB of RSS", s)
	}
	self, ok := selfCPU()
	if !ok || self < s.CPU/2 {
		t.Errorf("selfCPU = %v, %v; /proc says %v", self, ok, s.CPU)
	}
	if _, err := SampleProc(1 << 30); err == nil {
		t.Error("SampleProc of a process that does not exist succeeded")
	}
}

func TestParseMachineBusy(t *testing.T) {
	stat := "cpu  100 5 50 1000 7 3 2 1 0 0\ncpu0 50 2 25 500 3 1 1 0 0 0\n"
	got, err := parseMachineBusy([]byte(stat), 100)
	if err != nil {
		t.Fatal(err)
	}
	// user 100 + nice 5 + system 50 + irq 3 + softirq 2 + steal 1 ticks.
	if want := 1610 * time.Millisecond; got != want {
		t.Errorf("busy = %v, want %v", got, want)
	}
	if _, err := parseMachineBusy([]byte("intr 1 2 3\n"), 100); err == nil {
		t.Error("a stat without the cpu line parsed")
	}
}
