package query

import "testing"

// SetSliceValues sets how many values a streamed query reads per time
// slice, whatever its sink, for tb's duration.
func SetSliceValues(tb testing.TB, n int) {
	old, oldHeld := sliceValues, heldSliceValues
	sliceValues, heldSliceValues = n, n
	tb.Cleanup(func() { sliceValues, heldSliceValues = old, oldHeld })
}
