package loadgen

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	for _, q := range []float64{0, 0.5, 1} {
		if got := h.Quantile(q); got != 0 {
			t.Errorf("Quantile(%v) of an empty histogram = %v, want 0", q, got)
		}
	}
	if h.Count() != 0 || h.Max() != 0 || h.Min() != 0 || h.Mean() != 0 {
		t.Errorf("empty histogram: count %d max %v min %v mean %v", h.Count(), h.Max(), h.Min(), h.Mean())
	}
}

func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"one value", []time.Duration{42 * time.Microsecond}, 0.5, 42 * time.Microsecond},
		{"p0 is the minimum", []time.Duration{5, 9, 7}, 0, 5},
		{"p100 is the maximum", []time.Duration{5, 9, 7}, 1, 9},
		{"small values are exact", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.5, 5},
		{"rank rounds up", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.91, 10},
		{"negative counts as zero", []time.Duration{-5, 3}, 0.5, 0},
		{"clamped to the maximum", []time.Duration{time.Second + 1}, 0.5, time.Second + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tt.values {
				h.Record(v)
			}
			if got := h.Quantile(tt.q); got != tt.want {
				t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

// TestHistogramAccuracy checks every percentile the bench reports against
// the exact value from sorted samples, over distributions with long tails.
func TestHistogramAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() time.Duration{
		"uniform 1µs-10ms": func() time.Duration { return time.Microsecond + time.Duration(r.Int64N(int64(10*time.Millisecond))) },
		"exponential 100µs": func() time.Duration {
			return time.Duration(r.ExpFloat64() * float64(100*time.Microsecond))
		},
		"bimodal": func() time.Duration {
			if r.IntN(100) == 0 {
				return 50*time.Millisecond + time.Duration(r.Int64N(int64(time.Millisecond)))
			}
			return 30*time.Microsecond + time.Duration(r.Int64N(int64(10*time.Microsecond)))
		},
	}
	for name, next := range dists {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			vals := make([]time.Duration, 100000)
			for i := range vals {
				vals[i] = next()
				h.Record(vals[i])
			}
			sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
				exact := vals[int(q*float64(len(vals)))-1]
				got := h.Quantile(q)
				// The bucket's upper bound: never below the truth, at most
				// 1/128 above it.
				if got < exact || float64(got-exact) > float64(exact)/subCount+1 {
					t.Errorf("Quantile(%v) = %v, exact %v: off by more than 1/%d", q, got, exact, subCount)
				}
			}
			if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] {
				t.Errorf("min/max = %v/%v, want %v/%v", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
			}
		})
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(new(Histogram))
	if m != all {
		t.Errorf("merged histogram differs from the one that saw every value: count %d/%d, p50 %v/%v",
			m.Count(), all.Count(), m.Quantile(0.5), all.Quantile(0.5))
	}
}

// TestBuckets checks that buckets are contiguous and ordered: every value
// lands in a bucket whose upper bound is at least the value and whose
// predecessor's upper bound is below it.
func TestBuckets(t *testing.T) {
	check := func(v uint64) {
		i := bucket(v)
		if i < 0 || i >= nBuckets {
			t.Fatalf("bucket(%d) = %d, out of range", v, i)
		}
		if v <= maxValue && bucketHigh(i) < v {
			t.Fatalf("bucket(%d) = %d whose upper bound %d is below it", v, i, bucketHigh(i))
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Fatalf("bucket(%d) = %d, but bucket %d already reaches %d", v, i, i-1, bucketHigh(i-1))
		}
	}
	for v := uint64(0); v < 1<<16; v++ {
		check(v)
	}
	for e := 16; e <= maxBits; e++ {
		check(1<<e - 1)
		check(1 << e)
		check(1<<e + 1)
	}
	if bucket(1<<62) != nBuckets-1 {
		t.Errorf("a huge value is not clamped into the last bucket")
	}
}

func TestHistogramRecordAllocs(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(1000, func() { h.Record(123 * time.Microsecond) }); n != 0 {
		t.Errorf("Record allocates %v times", n)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i & 0xFFFFF))
	}
}
