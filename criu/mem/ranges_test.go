package mem

import (
	"reflect"
	"testing"
)

func TestRangeSets(t *testing.T) {
	r := func(p ...uint64) []Range {
		var out []Range
		for i := 0; i < len(p); i += 2 {
			out = append(out, Range{p[i], p[i+1]})
		}
		return out
	}
	for _, tc := range []struct {
		a, b, and, minus []Range
	}{
		{nil, r(0, 10), nil, nil},
		{r(0, 10), nil, nil, r(0, 10)},
		{r(0, 10), r(0, 10), r(0, 10), nil},
		{r(0, 10), r(2, 4, 6, 8), r(2, 4, 6, 8), r(0, 2, 4, 6, 8, 10)},
		{r(0, 4, 6, 10), r(3, 7), r(3, 4, 6, 7), r(0, 3, 7, 10)},
		{r(5, 6), r(0, 5, 6, 9), nil, r(5, 6)},
		{r(0, 2, 3, 5, 8, 9), r(1, 8), r(1, 2, 3, 5), r(0, 1, 8, 9)},
	} {
		if got := Intersect(tc.a, tc.b); !reflect.DeepEqual(got, tc.and) {
			t.Errorf("Intersect(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.and)
		}
		if got := Subtract(tc.a, tc.b); !reflect.DeepEqual(got, tc.minus) {
			t.Errorf("Subtract(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.minus)
		}
	}
}
