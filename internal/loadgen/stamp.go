package loadgen

import (
	"encoding/binary"
	"time"
)

// stampLen is the size of the timestamp at the start of every payload.
const stampLen = 8

// clock is the generator's monotonic clock: nanoseconds since the run began.
// Publishers and subscribers live in one process, so they share it and a
// latency needs no clock synchronisation.
type clock struct{ base time.Time }

func newClock() clock { return clock{base: time.Now()} }

// now returns the nanoseconds elapsed since the clock's base; time.Since
// reads the monotonic clock, so wall-clock steps do not show.
func (c clock) now() int64 { return int64(time.Since(c.base)) }

// putStamp writes ns, big-endian, into the first stampLen bytes of payload,
// which must be at least that long.
func putStamp(payload []byte, ns int64) {
	binary.BigEndian.PutUint64(payload, uint64(ns))
}

// readStamp returns the timestamp at the start of payload; ok is false when
// the payload is too short to hold one.
func readStamp(payload []byte) (ns int64, ok bool) {
	if len(payload) < stampLen {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(payload)), true
}
