package coordinator

import (
	"math"
	"testing"
)

func TestWindowStart(t *testing.T) {
	for _, tc := range []struct{ t, every, offset, want int64 }{
		{0, 10, 0, 0},
		{9, 10, 0, 0},
		{10, 10, 0, 10},
		{-1, 10, 0, -10},
		{-10, 10, 0, -10},
		{7, 10, 3, 3},
		{2, 10, 3, -7},
		{2, 10, -7, -7},
		{25, 10, 13, 23},
		{math.MaxInt64, 10, 0, math.MaxInt64 - 7},
		{math.MinInt64, 10, 0, math.MinInt64},     // true start is below the range
		{math.MinInt64 + 2, 10, 0, math.MinInt64}, // window [..810, ..800): clamped
		{math.MinInt64 + 8, 10, 0, math.MinInt64 + 8},
		{math.MinInt64, math.MaxInt64, 5, math.MinInt64},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64 - 1},
	} {
		if got := windowStart(tc.t, tc.every, tc.offset); got != tc.want {
			t.Errorf("windowStart(%d, %d, %d) = %d, want %d", tc.t, tc.every, tc.offset, got, tc.want)
		}
	}
}
