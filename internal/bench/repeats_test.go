package bench

import "testing"

// TestRepeatBookAllowsOneRepeatPerEvent: a copy whose outcome an event left
// unknown explains one further copy, never two.
func TestRepeatBookAllowsOneRepeatPerEvent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		unknown []bool // per copy, in order
		want    []bool // explained (or first) per copy
	}{
		{"single", []bool{false}, []bool{true}},
		{"repeat after a lost answer", []bool{true, false}, []bool{true, true}},
		{"repeat without cause", []bool{false, false}, []bool{true, false}},
		{"two repeats, one event", []bool{true, false, false}, []bool{true, true, false}},
		{"two repeats, two events", []bool{true, true, false}, []bool{true, true, true}},
	} {
		b := repeatBook{}
		for i, u := range tc.unknown {
			if got := b.copy("x", u); got != tc.want[i] {
				t.Errorf("%s: copy %d explained = %v, want %v", tc.name, i+1, got, tc.want[i])
			}
		}
	}
}
