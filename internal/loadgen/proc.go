package loadgen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// ProcSample is one reading of a process's resource use.
type ProcSample struct {
	CPU time.Duration // user plus system time since the process started
	RSS int64         // resident set size in bytes
}

// SampleProc reads the CPU time and resident set size of process pid from
// /proc/PID/stat (utime+stime, in clock ticks) and /proc/PID/status (VmRSS).
// It works on Linux only.
func SampleProc(pid int) (ProcSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("loadgen: sample process %d: %w", pid, err)
	}
	cpu, err := parseStatCPU(stat, clockTicks())
	if err != nil {
		return ProcSample{}, fmt.Errorf("loadgen: sample process %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcSample{}, fmt.Errorf("loadgen: sample process %d: %w", pid, err)
	}
	rss, err := parseStatusRSS(status)
	if err != nil {
		return ProcSample{}, fmt.Errorf("loadgen: sample process %d: %w", pid, err)
	}
	return ProcSample{CPU: cpu, RSS: rss}, nil
}

// parseStatCPU returns utime+stime from the contents of /proc/PID/stat.
// The command name (field 2) may hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseStatCPU(stat []byte, ticks int64) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed stat: no ')'")
	}
	// After ")" come fields 3 (state) onwards; utime and stime are 14 and 15.
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, errors.New("malformed stat: too few fields")
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("malformed stat: %w", err)
	}
	return time.Duration((utime + stime) * int64(time.Second) / ticks), nil
}

// sampleMachine returns the CPU time all CPUs of the machine have spent
// busy (not idle, not waiting for I/O) since boot, from /proc/stat.
func sampleMachine() (time.Duration, bool) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	d, err := parseMachineBusy(stat, clockTicks())
	return d, err == nil
}

// parseMachineBusy sums the busy fields of the "cpu" line of /proc/stat:
// user, nice, system, irq, softirq and steal (guest time is in user).
func parseMachineBusy(stat []byte, ticks int64) (time.Duration, error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, errors.New("malformed /proc/stat")
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(string(f[i]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed /proc/stat: %w", err)
		}
		busy += v
	}
	return time.Duration(busy * int64(time.Second) / ticks), nil
}

// parseStatusRSS returns VmRSS in bytes from the contents of
// /proc/PID/status.
func parseStatusRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("malformed VmRSS line %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed VmRSS line: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmRSS in status (a zombie or kernel thread?)")
}

// clockTicks returns the kernel's clock ticks per second, the unit of the
// times in /proc/PID/stat: sysconf(_SC_CLK_TCK). Go has no sysconf without
// cgo, but the kernel hands the same value to every process in its auxiliary
// vector (AT_CLKTCK), which is where the C library's sysconf reads it.
// It is 100 on every Linux we know of, hence the fallback.
func clockTicks() int64 {
	const atClkTck = 17
	auxv, err := os.ReadFile("/proc/self/auxv")
	if err == nil && strconv.IntSize == 64 { // entries are two words: 16 bytes here

		for ; len(auxv) >= 16; auxv = auxv[16:] {
			k := binary.NativeEndian.Uint64(auxv)
			if k == atClkTck {
				if v := int64(binary.NativeEndian.Uint64(auxv[8:])); v > 0 {
					return v
				}
			}
		}
	}
	return 100
}
