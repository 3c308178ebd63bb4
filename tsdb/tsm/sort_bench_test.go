package tsm_test

import (
	"testing"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// swappedRuns fills a with n float values arriving as runs of `run`
// ascending timestamps, each pair of neighbouring runs swapped: what a cache
// holds when two writers' batches of one series land out of order.
func swappedRuns(a *tsm.Array, n, run int) {
	a.Reset(models.FieldTypeFloat)
	for start := 0; start < n; start += 2 * run {
		for _, base := range []int{start + run, start} {
			for i := base; i < base+run && i < n; i++ {
				_ = a.Append(int64(i)*10, models.FloatValue(float64(i)))
			}
		}
	}
}

// BenchmarkSortDedupe sorts a cache-sized column of swapped runs (1,600
// values in runs of 50: one snapshot's share of one TSBS series field).
func BenchmarkSortDedupe(b *testing.B) {
	var a tsm.Array
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		swappedRuns(&a, 1600, 50)
		b.StartTimer()
		a.SortDedupe()
	}
	b.SetBytes(1600 * 16)
}
