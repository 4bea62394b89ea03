package mm

import (
	"slices"
	"testing"
)

func TestSavedAuxv(t *testing.T) {
	for _, tc := range []struct{ in, want []uint64 }{
		{[]uint64{33, 0x7f00, 6, 4096, 0, 0}, []uint64{33, 0x7f00, 6, 4096}},
		{[]uint64{33, 0x7f00, 6, 4096}, []uint64{33, 0x7f00, 6, 4096}},
		{[]uint64{0, 0}, []uint64{}},
		{nil, nil},
	} {
		if got := savedAuxv(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("savedAuxv(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
