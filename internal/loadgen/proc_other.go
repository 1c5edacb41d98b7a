//go:build !unix

package loadgen

import "time"

// selfCPU reports that this platform has no getrusage.
func selfCPU() (time.Duration, bool) { return 0, false }
