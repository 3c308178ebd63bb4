package tsdb_test

import (
	"context"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// TestReadArraysAt reads two fields at a few times, from two files (the
// newer overlapping the older), the cache and a tombstone: at each time
// the values equal ReadArrays' over the whole range, and a file block
// holding none of the times is not read (its values are absent).
func TestReadArraysAt(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	key := seriesKey("a")
	write := func(field string, from, to int64, v func(int64) models.Value) {
		var pts []models.Point
		for ts := from; ts < to; ts++ {
			pts = append(pts, pt("a", field, ts, v(ts)))
		}
		must(t, sh.WritePoints(context.Background(), pts), "write")
	}
	// 5000 values a field: blocks [0, 999], [1000, 1999], … [4000, 4999].
	write("i", 0, 5000, func(ts int64) models.Value { return models.IntegerValue(ts * 2) })
	write("f", 0, 5000, func(ts int64) models.Value { return models.FloatValue(float64(ts) / 4) })
	must(t, sh.Snapshot(), "snapshot")
	write("f", 2500, 2510, func(ts int64) models.Value { return models.FloatValue(-float64(ts)) }) // newer file
	must(t, sh.Snapshot(), "snapshot")
	write("f", 4000, 4001, func(int64) models.Value { return models.FloatValue(999) }) // cache
	must(t, sh.DeleteFieldRange(key, []byte("f"), 1200, 1210), "delete")

	fields := [][]byte{[]byte("i"), []byte("f")}
	times := []int64{5, 1205, 2503, 4000, 4999}
	var at, all [2]tsm.Array
	must(t, sh.ReadArraysAt(at[:], key, fields, times), "read at")
	must(t, sh.ReadArrays(all[:], key, fields, times[0], times[len(times)-1]), "read range")
	for i, f := range fields {
		for _, ts := range times {
			got, gok := valueAt(&at[i], ts)
			want, wok := valueAt(&all[i], ts)
			if gok != wok || !got.Equal(want) {
				t.Errorf("field %s at %d: read at gives %v (present %v), read range %v (present %v)", f, ts, got, gok, want, wok)
			}
		}
		if v, ok := valueAt(&at[i], 3500); ok {
			t.Errorf("field %s: block [3000, 3999] holds none of the times but was read (value %v at 3500)", f, v)
		}
		if at[i].Len() >= all[i].Len() {
			t.Errorf("field %s: %d values read at the times, %d over the range; want fewer", f, at[i].Len(), all[i].Len())
		}
	}
	if v, ok := valueAt(&at[1], 2503); !ok || !v.Equal(models.FloatValue(-2503)) {
		t.Errorf("f at 2503 = %v (present %v), want the newer file's -2503", v, ok)
	}
	if _, ok := valueAt(&at[1], 1205); ok {
		t.Errorf("f at 1205 is deleted but was read")
	}
}

// valueAt returns a's value at ts, if it has one.
func valueAt(a *tsm.Array, ts int64) (models.Value, bool) {
	for i, x := range a.Timestamps {
		if x == ts {
			return a.Value(i), true
		}
	}
	return models.Value{}, false
}
