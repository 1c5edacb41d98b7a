package topic

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// matched returns the keys the tree visits for name, sorted.
func matched(tr *Tree[string, int], name string) []string {
	var keys []string
	tr.Match(name, func(k string, _ int) { keys = append(keys, k) })
	slices.Sort(keys)
	return keys
}

func TestTreeMatchCases(t *testing.T) {
	for _, tt := range matchCases {
		var tr Tree[string, int]
		tr.Add(tt.filter, "c", 1)
		got := len(matched(&tr, tt.name)) == 1
		if got != tt.want {
			t.Errorf("tree with %q matching %q = %v, want %v", tt.filter, tt.name, got, tt.want)
		}
	}
}

func TestTreeAddReplaceRemove(t *testing.T) {
	var tr Tree[string, int]
	if !tr.Add("a/+", "c1", 1) {
		t.Fatal("first Add not new")
	}
	if tr.Add("a/+", "c1", 2) {
		t.Fatal("second Add of the same key and filter reported new")
	}
	if v, ok := tr.Get("a/+", "c1"); !ok || v != 2 {
		t.Fatalf("Get = %v, %v; want 2, true", v, ok)
	}
	tr.Add("a/b", "c2", 0)
	tr.Add("#", "c3", 0)
	if got := matched(&tr, "a/b"); !slices.Equal(got, []string{"c1", "c2", "c3"}) {
		t.Fatalf("match a/b = %v", got)
	}
	if tr.Len() != 3 {
		t.Fatalf("Len = %d, want 3", tr.Len())
	}
	if tr.Remove("a/+", "c2") {
		t.Fatal("Remove of a key not on that filter reported true")
	}
	if !tr.Remove("a/+", "c1") || tr.Remove("a/+", "c1") {
		t.Fatal("Remove did not remove exactly once")
	}
	if got := matched(&tr, "a/b"); !slices.Equal(got, []string{"c2", "c3"}) {
		t.Fatalf("match a/b after remove = %v", got)
	}
	tr.Remove("a/b", "c2")
	tr.Remove("#", "c3")
	if tr.Len() != 0 || !tr.root.isEmpty() {
		t.Fatalf("tree not empty after removing everything: len %d, root %+v", tr.Len(), tr.root)
	}
}

// TestTreeManySubscribersOneFilter crosses the index threshold both ways.
func TestTreeManySubscribersOneFilter(t *testing.T) {
	var tr Tree[string, int]
	const n = 100
	for i := range n {
		tr.Add("x/y", fmt.Sprint(i), i)
	}
	if got := len(matched(&tr, "x/y")); got != n {
		t.Fatalf("matched %d, want %d", got, n)
	}
	for i := 0; i < n; i += 2 {
		if !tr.Remove("x/y", fmt.Sprint(i)) {
			t.Fatalf("Remove %d failed", i)
		}
	}
	for i := range n {
		v, ok := tr.Get("x/y", fmt.Sprint(i))
		if ok != (i%2 == 1) || (ok && v != i) {
			t.Fatalf("Get %d = %v, %v", i, v, ok)
		}
	}
	for i := 1; i < n; i += 2 {
		tr.Remove("x/y", fmt.Sprint(i))
	}
	if tr.Len() != 0 || !tr.root.isEmpty() {
		t.Fatal("tree not empty")
	}
}

// randomFilter and randomName draw from a small alphabet of levels, so that
// matches are frequent.
func randomLevels(r *rand.Rand, levels []string) string {
	n := 1 + r.IntN(4)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = levels[r.IntN(len(levels))]
	}
	return strings.Join(parts, "/")
}

func randomFilter(r *rand.Rand) string {
	f := randomLevels(r, []string{"a", "b", "", "+", "$s"})
	if r.IntN(4) == 0 {
		if r.IntN(2) == 0 {
			return "#"
		}
		f += "/#"
	}
	return f
}

// TestTreeAgreesWithMatch checks the tree against the plain Match function
// over random filters and names, including removals.
func TestTreeAgreesWithMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		var tr Tree[string, int]
		subs := map[string]string{} // key → filter
		for i := 0; i < 40; i++ {
			k, f := fmt.Sprint(i), randomFilter(r)
			tr.Add(f, k, i)
			subs[k] = f
		}
		for k, f := range subs {
			if r.IntN(3) == 0 {
				tr.Remove(f, k)
				delete(subs, k)
			}
		}
		for j := 0; j < 100; j++ {
			name := randomLevels(r, []string{"a", "b", "", "$s", "c"})
			var want []string
			for k, f := range subs {
				if Match(f, name) {
					want = append(want, k)
				}
			}
			slices.Sort(want)
			if got := matched(&tr, name); !slices.Equal(got, want) {
				t.Fatalf("round %d: name %q: tree %v, Match %v (subs %v)", round, name, got, want, subs)
			}
		}
	}
}

func TestTreeMatchAllocatesNothing(t *testing.T) {
	var tr Tree[int, byte]
	for i := range 1000 {
		tr.Add(fmt.Sprintf("devices/%d/cmd", i), i, 1)
		tr.Add(fmt.Sprintf("devices/%d/#", i), i, 1)
	}
	tr.Add("devices/+/cmd", -1, 0)
	count := 0
	visit := func(int, byte) { count++ }
	allocs := testing.AllocsPerRun(100, func() { tr.Match("devices/500/cmd", visit) })
	if allocs != 0 {
		t.Fatalf("Match allocated %v times per run", allocs)
	}
	count = 0
	tr.Match("devices/500/cmd", visit)
	if count != 3 {
		t.Fatalf("matched %d subscriptions, want 3", count)
	}
}

func TestTreeConcurrent(t *testing.T) {
	var tr Tree[int, int]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 500 {
				f := fmt.Sprintf("t/%d/%d", g, i%50)
				tr.Add(f, i, i)
				tr.Remove(f, i)
			}
		}()
		go func() {
			defer wg.Done()
			for i := range 500 {
				tr.Match(fmt.Sprintf("t/%d/%d", g, i%50), func(int, int) {})
			}
		}()
	}
	wg.Wait()
	if tr.Len() != 0 {
		t.Fatalf("Len = %d after balanced adds and removes", tr.Len())
	}
}

func FuzzTreeMatch(f *testing.F) {
	for _, c := range matchCases {
		f.Add(c.filter, c.name)
	}
	f.Fuzz(func(t *testing.T, filter, name string) {
		if ValidateFilter(filter) != nil || ValidateName(name) != nil {
			return
		}
		var tr Tree[int, int]
		tr.Add(filter, 1, 1)
		got := false
		tr.Match(name, func(int, int) { got = true })
		if want := Match(filter, name); got != want {
			t.Fatalf("filter %q name %q: tree %v, Match %v", filter, name, got, want)
		}
		if !tr.Remove(filter, 1) || !tr.root.isEmpty() {
			t.Fatalf("filter %q: remove did not empty the tree", filter)
		}
	})
}

// TestTreeVersion checks that every change raises the version, and that
// MatchStamp records the version it matched: lower than a subscription's
// when it did not see it, at least as high when it did.
func TestTreeVersion(t *testing.T) {
	var tr Tree[string, int]
	var stamp atomic.Uint64
	stamp.Store(99)
	tr.MatchStamp("a/b", &stamp, func(string, int) { t.Fatal("matched an empty tree") })
	if stamp.Load() != 0 {
		t.Fatalf("stamp of an empty tree = %d, want 0", stamp.Load())
	}
	added, v1 := tr.AddVersion("a/+", "x", 1)
	if !added || v1 == 0 {
		t.Fatalf("AddVersion = %v, %d", added, v1)
	}
	var saw []string
	tr.MatchStamp("a/b", &stamp, func(k string, _ int) { saw = append(saw, k) })
	if stamp.Load() != v1 || !slices.Equal(saw, []string{"x"}) {
		t.Fatalf("stamp %d, saw %v; want %d, [x]", stamp.Load(), saw, v1)
	}
	// Adding elsewhere, replacing and removing all raise it.
	_, v2 := tr.AddVersion("c", "y", 1)
	added, v3 := tr.AddVersion("a/+", "x", 2)
	tr.Remove("c", "y")
	_, v4 := tr.AddVersion("d", "z", 1)
	if added || !(v1 < v2 && v2 < v3 && v3+1 < v4) {
		t.Fatalf("versions %d %d %d %d (replaced: added %v)", v1, v2, v3, v4, added)
	}
	if tr.Remove("nothing", "x") {
		t.Fatal("removed a subscription that was not there")
	}
	tr.MatchStamp("a/b", &stamp, func(string, int) {})
	if stamp.Load() != v4 {
		t.Fatalf("stamp %d after a failed Remove, want %d", stamp.Load(), v4)
	}
	tr.MatchStamp("a/b", nil, func(string, int) {}) // no stamp: nothing to store
}

// TestTreeVersionConcurrent adds subscriptions while matching: a match
// stamped below a subscription's version never saw it, and one stamped at
// or above it always did.
func TestTreeVersionConcurrent(t *testing.T) {
	var tr Tree[int, int]
	const n = 2000
	versions := make([]atomic.Uint64, n)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			_, v := tr.AddVersion("t", i, 0)
			versions[i].Store(v)
		}
	})
	for range 2 {
		wg.Go(func() {
			for range n {
				var stamp atomic.Uint64
				seen := make(map[int]bool)
				tr.MatchStamp("t", &stamp, func(k, _ int) { seen[k] = true })
				for i := range n {
					v := versions[i].Load()
					if v == 0 {
						continue // not added yet, or its version not yet recorded
					}
					if seen[i] != (stamp.Load() >= v) {
						t.Errorf("subscription %d (version %d): seen %v by a match stamped %d", i, v, seen[i], stamp.Load())
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
