package topic

import (
	"fmt"
	"testing"
)

// BenchmarkTreeMatch1M matches against a tree of 1,000,000 subscriptions:
// 250,000 devices each subscribed to its command topic, its own subtree, a
// per-device status filter with '+', and one shared fleet filter level.
func BenchmarkTreeMatch1M(b *testing.B) {
	var tr Tree[int, byte]
	const devices = 250_000
	for i := range devices {
		tr.Add(fmt.Sprintf("devices/%d/cmd", i), i, 1)
		tr.Add(fmt.Sprintf("devices/%d/#", i), i, 1)
		tr.Add(fmt.Sprintf("fleet/%d/+/status", i%1000), i, 0)
		tr.Add(fmt.Sprintf("users/%d/inbox", i), i, 2)
	}
	if tr.Len() != 1_000_000 {
		b.Fatalf("Len = %d", tr.Len())
	}
	names := make([]string, 1024)
	for i := range names {
		names[i] = fmt.Sprintf("devices/%d/cmd", (i*7919)%devices)
	}
	n := 0
	visit := func(int, byte) { n++ }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tr.Match(names[i&1023], visit)
	}
	if n == 0 {
		b.Fatal("nothing matched")
	}
}

// BenchmarkTreeMatchFanout matches one name subscribed by 10,000 keys.
func BenchmarkTreeMatchFanout(b *testing.B) {
	var tr Tree[int, byte]
	for i := range 10_000 {
		tr.Add("broadcast/all", i, 0)
	}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		tr.Match("broadcast/all", func(int, byte) { n++ })
	}
}

func BenchmarkTreeAddRemove(b *testing.B) {
	var tr Tree[int, byte]
	filters := make([]string, 1024)
	for i := range filters {
		filters[i] = fmt.Sprintf("devices/%d/+/state", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := filters[i&1023]
		tr.Add(f, i, 1)
		tr.Remove(f, i)
	}
}
