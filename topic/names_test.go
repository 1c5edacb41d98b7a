package topic

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNamesSetGetDelete(t *testing.T) {
	var n Names[int]
	n.Set("a/b", 1)
	n.Set("a/b", 2)
	n.Set("a", 3)
	if v, ok := n.Get("a/b"); !ok || v != 2 {
		t.Fatalf("Get a/b = %v, %v", v, ok)
	}
	if n.Len() != 2 {
		t.Fatalf("Len = %d, want 2", n.Len())
	}
	if _, ok := n.Get("a/b/c"); ok {
		t.Fatal("Get of a name never set found something")
	}
	if !n.Delete("a/b") || n.Delete("a/b") {
		t.Fatal("Delete did not delete exactly once")
	}
	if !n.Delete("a") || n.Len() != 0 || len(n.root.children) != 0 {
		t.Fatalf("not empty after deleting everything: %d", n.Len())
	}
}

func TestNamesMatchCases(t *testing.T) {
	for _, tt := range matchCases {
		var n Names[bool]
		n.Set(tt.name, true)
		got := false
		n.Match(tt.filter, func(name string, _ bool) bool {
			if name != tt.name {
				t.Errorf("filter %q: visited name %q, stored %q", tt.filter, name, tt.name)
			}
			got = true
			return true
		})
		if got != tt.want {
			t.Errorf("names with %q matching filter %q = %v, want %v", tt.name, tt.filter, got, tt.want)
		}
	}
}

// TestNamesAgreesWithMatch checks Names.Match against Match over random
// names and filters.
func TestNamesAgreesWithMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 50; round++ {
		var n Names[int]
		stored := map[string]bool{}
		for i := 0; i < 40; i++ {
			name := randomLevels(r, []string{"a", "b", "", "$s", "c"})
			n.Set(name, i)
			stored[name] = true
		}
		for name := range stored {
			if r.IntN(4) == 0 {
				n.Delete(name)
				delete(stored, name)
			}
		}
		if n.Len() != len(stored) {
			t.Fatalf("Len = %d, want %d", n.Len(), len(stored))
		}
		for j := 0; j < 100; j++ {
			filter := randomFilter(r)
			var want, got []string
			for name := range stored {
				if Match(filter, name) {
					want = append(want, name)
				}
			}
			n.Match(filter, func(name string, _ int) bool { got = append(got, name); return true })
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("filter %q: Names %q, Match %q", filter, got, want)
			}
		}
	}
}

func TestNamesMatchStops(t *testing.T) {
	var n Names[int]
	for i := range 10 {
		n.Set(fmt.Sprintf("x/%d", i), i)
	}
	calls := 0
	n.Match("#", func(string, int) bool { calls++; return calls < 3 })
	if calls != 3 {
		t.Fatalf("fn called %d times after asking to stop at 3", calls)
	}
}
