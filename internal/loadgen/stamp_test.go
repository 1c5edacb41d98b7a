package loadgen

import (
	"bytes"
	"math"
	"testing"
	"time"
)

func TestStampRoundTrip(t *testing.T) {
	for _, ns := range []int64{0, 1, 1234567890, int64(time.Hour), math.MaxInt64, -1} {
		p := bytes.Repeat([]byte{0xAA}, 64)
		putStamp(p, ns)
		got, ok := readStamp(p)
		if !ok || got != ns {
			t.Errorf("readStamp(putStamp(%d)) = %d, %v", ns, got, ok)
		}
		if !bytes.Equal(p[stampLen:], bytes.Repeat([]byte{0xAA}, 64-stampLen)) {
			t.Errorf("putStamp(%d) wrote past the stamp", ns)
		}
	}
}

func TestStampWire(t *testing.T) {
	// Big-endian nanoseconds, so that a packet capture reads naturally.
	p := make([]byte, 8)
	putStamp(p, 0x0102030405060708)
	if want := []byte{1, 2, 3, 4, 5, 6, 7, 8}; !bytes.Equal(p, want) {
		t.Errorf("putStamp wrote % x, want % x", p, want)
	}
}

func TestStampShortPayload(t *testing.T) {
	for n := range stampLen {
		if _, ok := readStamp(make([]byte, n)); ok {
			t.Errorf("readStamp of %d bytes succeeded", n)
		}
	}
}

func TestClockMonotonic(t *testing.T) {
	c := newClock()
	a := c.now()
	time.Sleep(time.Millisecond)
	if b := c.now(); b <= a || b-a < int64(time.Millisecond) {
		t.Errorf("clock went from %d to %d across a 1ms sleep", a, b)
	}
}
