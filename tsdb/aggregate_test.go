package tsdb_test

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// naiveStart is the start of the window of width every shifted by offset
// that holds t, t - ((t - offset) mod every), computed exactly and clamped
// to math.MinInt64 when the window begins before the int64 range.
func naiveStart(t, every, offset int64) int64 {
	m := new(big.Int).Sub(big.NewInt(t), big.NewInt(offset))
	m.Mod(m, big.NewInt(every)) // Euclidean: in [0, every)
	start := new(big.Int).Sub(big.NewInt(t), m)
	if !start.IsInt64() {
		return math.MinInt64
	}
	return start.Int64()
}

// naiveWindows aggregates cursor output directly into windows of width
// every shifted by offset.
func naiveWindows(vals []tv, every, offset int64) map[int64]*tsdb.Window {
	out := map[int64]*tsdb.Window{}
	for _, x := range vals {
		start := naiveStart(x.ts, every, offset)
		w := out[start]
		if w == nil {
			w = &tsdb.Window{Start: start, Min: x.v, Max: x.v, First: x.v, FirstTime: x.ts, Sum: models.Value{Type: x.v.Type}}
			out[start] = w
		}
		w.Count++
		switch x.v.Type {
		case models.FieldTypeFloat:
			w.Sum = models.FloatValue(w.Sum.Float() + x.v.Float())
			w.Min = models.FloatValue(math.Min(w.Min.Float(), x.v.Float()))
			w.Max = models.FloatValue(math.Max(w.Max.Float(), x.v.Float()))
		case models.FieldTypeInteger:
			w.Sum.N += x.v.N
			w.Min = models.IntegerValue(min(w.Min.Integer(), x.v.Integer()))
			w.Max = models.IntegerValue(max(w.Max.Integer(), x.v.Integer()))
		}
		w.Last, w.LastTime = x.v, x.ts
	}
	return out
}

func checkWindows(t *testing.T, stage string, got []tsdb.Window, want map[int64]*tsdb.Window, float bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d windows, want %d", stage, len(got), len(want))
	}
	for i, g := range got {
		if i > 0 && got[i-1].Start >= g.Start {
			t.Fatalf("%s: windows not in time order at %d", stage, i)
		}
		w := want[g.Start]
		if w == nil {
			t.Fatalf("%s: unexpected window %d", stage, g.Start)
		}
		sumOK := g.Sum.Equal(w.Sum)
		if float {
			sumOK = math.Abs(g.Sum.Float()-w.Sum.Float()) <= 1e-6*math.Abs(w.Sum.Float())+1e-9
		}
		if g.Count != w.Count || !sumOK || !g.Min.Equal(w.Min) || !g.Max.Equal(w.Max) ||
			!g.First.Equal(w.First) || g.FirstTime != w.FirstTime || !g.Last.Equal(w.Last) || g.LastTime != w.LastTime {
			t.Fatalf("%s: window %d: got %+v, want %+v", stage, g.Start, g, *w)
		}
	}
}

// TestWindowAggregateMatchesCursor compares pushed-down aggregates (block
// statistics where possible) with aggregates of the cursor's values, across
// overlapping files, overwrites, a tombstone and the cache, for windows
// aligned to the epoch and shifted by offsets (positive, negative, larger
// than every, a multiple of every), over a time range crossing zero.
func TestWindowAggregateMatchesCursor(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	rng := rand.New(rand.NewPCG(1, 2))
	key := seriesKey("a")
	write := func(from, to int64, step int64) {
		var pts []models.Point
		for ts := from; ts < to; ts += step {
			pts = append(pts, pt("a", "f", ts, models.FloatValue(rng.NormFloat64()*100)))
			pts = append(pts, pt("a", "i", ts, models.IntegerValue(rng.Int64N(1000)-500)))
		}
		must(t, sh.WritePoints(context.Background(), pts), "write")
	}
	const every = 10_000
	offsets := []int64{0, 2_500, -2_500, 13_000, -37_777, 3 * every, every - 1, math.MinInt64, math.MaxInt64}
	check := func(stage string) {
		t.Helper()
		for _, f := range []string{"f", "i"} {
			for _, r := range [][2]int64{{math.MinInt64, math.MaxInt64}, {12_345, 77_777}, {-23_456, 4_321}} {
				vals := readRange(t, sh, key, f, r[0], r[1], true)
				for _, off := range offsets {
					got, err := sh.WindowAggregate(key, []byte(f), r[0], r[1], every, off, tsdb.AggAll)
					must(t, err, "window aggregate")
					want := naiveWindows(vals, every, off)
					checkWindows(t, fmt.Sprintf("%s field %s range %v offset %d", stage, f, r, off), got, want, f == "f")
					// Count and times alone (blocks counted from their
					// timestamps) agree with the full aggregate.
					times, err := sh.WindowAggregate(key, []byte(f), r[0], r[1], every, off, tsdb.AggCount|tsdb.AggTimes)
					must(t, err, "window aggregate of count and times")
					if len(times) != len(got) {
						t.Fatalf("%s field %s range %v offset %d: %d windows of count and times, %d of all aggregates", stage, f, r, off, len(times), len(got))
					}
					for i, w := range times {
						g := got[i]
						if w.Start != g.Start || w.Count != g.Count || w.FirstTime != g.FirstTime || w.LastTime != g.LastTime || w.First.Type != models.FieldTypeUnknown {
							t.Fatalf("%s field %s range %v offset %d: window %d of count and times = %+v, want start %d count %d times %d..%d and no values",
								stage, f, r, off, i, w, g.Start, g.Count, g.FirstTime, g.LastTime)
						}
					}
					// A part of the aggregates (folded without the others)
					// equals the same part of all of them, bit for bit.
					for _, aggs := range []tsdb.AggregateSet{tsdb.AggMean, tsdb.AggMax, tsdb.AggMin | tsdb.AggCount} {
						part, err := sh.WindowAggregate(key, []byte(f), r[0], r[1], every, off, aggs)
						must(t, err, "window aggregate of a part")
						if len(part) != len(got) {
							t.Fatalf("%s field %s range %v offset %d aggs %b: %d windows, want %d", stage, f, r, off, aggs, len(part), len(got))
						}
						for i, w := range part {
							g := got[i]
							if w.Start != g.Start || (aggs&tsdb.AggCount != 0 && w.Count != g.Count) ||
								(aggs&tsdb.AggSum != 0 && !w.Sum.Equal(g.Sum)) || (aggs&tsdb.AggMin != 0 && !w.Min.Equal(g.Min)) ||
								(aggs&tsdb.AggMax != 0 && !w.Max.Equal(g.Max)) {
								t.Fatalf("%s field %s range %v offset %d aggs %b: window %d = %+v, want the parts of %+v", stage, f, r, off, aggs, i, w, g)
							}
						}
					}
				}
			}
		}
	}
	write(-30_000, 100_000, 7) // ~18k values: many full blocks
	must(t, sh.Snapshot(), "snapshot")
	check("one file")
	write(50_000, 52_000, 13) // overlapping file
	must(t, sh.Snapshot(), "snapshot")
	write(-12_000, -9_000, 11) // overlapping file across an offset window edge
	must(t, sh.Snapshot(), "snapshot")
	write(90_000, 91_000, 3) // cache overlapping
	write(-2_000, 2_000, 5)  // cache across zero
	must(t, sh.DeleteFieldRange(key, []byte("f"), 20_000, 20_500), "delete")
	must(t, sh.DeleteFieldRange(key, []byte("i"), -7_600, -7_400), "delete")
	check("files+cache+tombstones")
	must(t, sh.Compact(true), "compact")
	check("compacted")
	if _, err := sh.WindowAggregate(key, []byte("f"), 0, 10, 0, 0, tsdb.AggAll); err == nil {
		t.Fatalf("every=0: got nil error, want ErrInvalidWindow")
	}
	// Only requested aggregates are set.
	got, err := sh.WindowAggregate(key, []byte("i"), 0, 100_000, every, 0, tsdb.AggCount)
	must(t, err, "count only")
	if got[0].Count == 0 || got[0].Sum.Type != models.FieldTypeUnknown || got[0].Max.Type != models.FieldTypeUnknown {
		t.Fatalf("count only: got %+v, want only Count set", got[0])
	}
}

// TestWindowAggregateTimeRangeEdges aggregates values at the ends of the
// time range a point may have (models.MinNanoTime, models.MaxNanoTime),
// where window starts and ends leave the int64 range: the window holding
// the earliest point starts at math.MinInt64. (Two fields: a file block
// cannot span more than math.MaxInt64 ns.)
func TestWindowAggregateTimeRangeEdges(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	key := seriesKey("a")
	var pts []models.Point
	for i := range int64(50) {
		pts = append(pts, pt("a", "lo", models.MinNanoTime+i*3, models.IntegerValue(i)))
		pts = append(pts, pt("a", "lo", i*7-400, models.IntegerValue(i*i)))
		pts = append(pts, pt("a", "hi", models.MaxNanoTime-i*3, models.IntegerValue(-i)))
		pts = append(pts, pt("a", "hi", i*7, models.IntegerValue(i*i)))
	}
	must(t, sh.WritePoints(context.Background(), pts), "write")
	for _, snapshot := range []bool{false, true} {
		if snapshot {
			must(t, sh.Snapshot(), "snapshot")
		}
		for _, f := range []string{"lo", "hi"} {
			vals := readAll(t, sh, key, f, true)
			for _, every := range []int64{1, 10, 1000, 1 << 62, math.MaxInt64} {
				for _, off := range []int64{0, 3, -3, 1 << 61, math.MinInt64, math.MaxInt64} {
					got, err := sh.WindowAggregate(key, []byte(f), math.MinInt64, math.MaxInt64, every, off, tsdb.AggAll)
					must(t, err, "window aggregate")
					checkWindows(t, fmt.Sprintf("snapshot %v field %s every %d offset %d", snapshot, f, every, off), got, naiveWindows(vals, every, off), false)
				}
			}
		}
	}
}

// TestWindowAggregateStringsFromFiles checks first and last of a string
// field whose file blocks each fall inside one window. Block statistics hold
// no string values, so such blocks must be read, not folded from their
// statistics: `SELECT first(v) … GROUP BY time(2s)` over a snapshotted
// string field panicked with an index out of range in windowAgg.set.
func TestWindowAggregateStringsFromFiles(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	key := seriesKey("a")
	var pts []models.Point
	for ts := int64(0); ts < 40; ts++ {
		pts = append(pts, pt("a", "s", ts, models.StringValue([]byte(fmt.Sprint("v", ts)))))
	}
	must(t, sh.WritePoints(context.Background(), pts), "write")
	must(t, sh.Snapshot(), "snapshot")
	vals := readRange(t, sh, key, "s", math.MinInt64, math.MaxInt64, true)
	for _, every := range []int64{1_000, 20} {
		got, err := sh.WindowAggregate(key, []byte("s"), math.MinInt64, math.MaxInt64, every, 0, tsdb.AggCount|tsdb.AggFirst|tsdb.AggLast)
		must(t, err, "window aggregate")
		want := naiveWindows(vals, every, 0)
		if len(got) != len(want) {
			t.Fatalf("every %d: got %d windows, want %d", every, len(got), len(want))
		}
		for _, g := range got {
			w := want[g.Start]
			if w == nil || g.Count != w.Count || !g.First.Equal(w.First) || !g.Last.Equal(w.Last) ||
				g.FirstTime != w.FirstTime || g.LastTime != w.LastTime {
				t.Fatalf("every %d: window %d: got %+v, want %+v", every, g.Start, g, w)
			}
		}
	}
}
