package query

import "testing"

// SetSliceValues sets how many values a streamed query reads per time
// slice, for tb's duration.
func SetSliceValues(tb testing.TB, n int) {
	old := sliceValues
	sliceValues = n
	tb.Cleanup(func() { sliceValues = old })
}
