package brokertest

import "testing"

// TestNeedsNamesTests guards the feature table against a test renamed or
// removed: a stale name would skip nothing, silently.
func TestNeedsNamesTests(t *testing.T) {
	names := map[string]bool{}
	for _, tc := range tests {
		names[tc.name] = true
	}
	for name, f := range needs {
		if !names[name] {
			t.Errorf("needs lists %q (%v), which is not a test of the suite", name, f)
		}
	}
	if got := (QoS12 | Wills).String(); got != "QoS12|Wills" {
		t.Errorf("String = %q", got)
	}
}
