package tsdb_test

import (
	"context"
	"fmt"
	"math"
	"slices"
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

// TestSeriesReadsSeeWholePoints reads a series' four fields while points
// of those fields arrive one by one: SeriesPoints (what shard streams,
// so backups and anti-entropy, carry) and ReadArrays (what queries read)
// must see each point with all of its fields or none of them. Reading
// field by field from the live cache saw the first fields before a point
// arrived and the last one after: a restored backup held points with only
// their string field.
func TestSeriesReadsSeeWholePoints(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	key := seriesKey("a")
	names := [][]byte{[]byte("b"), []byte("f"), []byte("i"), []byte("s")}
	const points = 1000
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for ts := int64(1); ts <= points; ts++ {
			select {
			case <-stop:
				return
			default:
			}
			p := pt("a", "b", ts, models.BooleanValue(ts%2 == 0))
			p.Fields = append(p.Fields,
				models.Field{Key: names[1], Value: models.FloatValue(float64(ts))},
				models.Field{Key: names[2], Value: models.IntegerValue(-ts)},
				models.Field{Key: names[3], Value: models.StringValue([]byte("v"))})
			if err := sh.WritePoints(context.Background(), []models.Point{p}); err != nil {
				t.Errorf("write %d: %v", ts, err)
				return
			}
		}
	}()
	arrays := make([]tsm.Array, len(names))
	torn := func() error {
		counts := map[int64]int{}
		if err := sh.SeriesPoints(key, math.MinInt64, math.MaxInt64, func(p models.Point) error {
			counts[p.Time]++
			return nil
		}); err != nil {
			return err
		}
		for ts, n := range counts {
			if n != len(names) {
				return fmt.Errorf("SeriesPoints read point %d with %d of its %d fields", ts, n, len(names))
			}
		}
		if err := sh.ReadArrays(arrays, key, names, math.MinInt64, math.MaxInt64); err != nil {
			return err
		}
		for i := range arrays {
			// The points' times are 1, 2, ...: equal counts are equal times.
			if arrays[i].Len() != arrays[0].Len() {
				return fmt.Errorf("ReadArrays read %d values of field %s and %d of field %s", arrays[0].Len(), names[0], arrays[i].Len(), names[i])
			}
		}
		return nil
	}
	for {
		select {
		case <-done:
			return
		default:
		}
		if err := torn(); err != nil {
			close(stop)
			<-done
			t.Fatal(err)
		}
	}
}

// TestReadArraysOwnTheirValues checks that what ReadArrays returns is
// held in the caller's arrays, not in the pooled buffers of the read: a
// later read of another series leaves it as it was. Series a is merged
// from two files and the cache, b is in the cache only.
func TestReadArraysOwnTheirValues(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	write := func(series string, from, to int64, base float64) {
		var pts []models.Point
		for ts := from; ts < to; ts++ {
			pts = append(pts, pt(series, "f", ts, models.FloatValue(base+float64(ts))))
		}
		must(t, sh.WritePoints(context.Background(), pts), "write")
	}
	write("a", 0, 100, 0)
	write("z", 0, 100, 500)
	must(t, sh.Snapshot(), "snapshot")
	write("a", 100, 200, 0)
	write("z", 100, 200, 500)
	must(t, sh.Snapshot(), "snapshot")
	write("a", 200, 300, 0)
	write("b", 200, 300, 0)
	write("z", 200, 300, 500)
	fields := [][]byte{[]byte("f")}
	for _, s := range []string{"a", "b"} {
		var got [1]tsm.Array
		must(t, sh.ReadArrays(got[:], seriesKey(s), fields, 0, 1000), "read "+s)
		want := slices.Clone(got[0].Floats)
		// Series z has other values in the same places.
		write("z", 0, 300, 1000)
		for range 3 {
			var other [1]tsm.Array
			must(t, sh.ReadArrays(other[:], seriesKey("z"), fields, 0, 1000), "read z")
		}
		if !slices.Equal(got[0].Floats, want) {
			t.Errorf("series %s: values changed by a read of another series", s)
		}
	}
}
