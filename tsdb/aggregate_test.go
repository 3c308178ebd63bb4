package tsdb_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// naiveWindows aggregates cursor output directly.
func naiveWindows(vals []tv, every int64) map[int64]*tsdb.Window {
	out := map[int64]*tsdb.Window{}
	for _, x := range vals {
		start := x.ts - ((x.ts%every)+every)%every
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
// overlapping files, overwrites, a tombstone and the cache.
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
		must(t, sh.WritePoints(pts), "write")
	}
	const every = 10_000
	check := func(stage string) {
		t.Helper()
		for _, f := range []string{"f", "i"} {
			for _, r := range [][2]int64{{math.MinInt64, math.MaxInt64}, {12_345, 77_777}} {
				got, err := sh.WindowAggregate(key, []byte(f), r[0], r[1], every, tsdb.AggAll)
				must(t, err, "window aggregate")
				want := naiveWindows(readRange(t, sh, key, f, r[0], r[1], true), every)
				checkWindows(t, stage+" field "+f, got, want, f == "f")
			}
		}
	}
	write(0, 100_000, 7) // ~14k values: many full blocks
	must(t, sh.Snapshot(), "snapshot")
	check("one file")
	write(50_000, 52_000, 13) // overlapping file
	must(t, sh.Snapshot(), "snapshot")
	write(90_000, 91_000, 3) // cache overlapping
	must(t, sh.DeleteFieldRange(key, []byte("f"), 20_000, 20_500), "delete")
	check("files+cache+tombstone")
	must(t, sh.Compact(true), "compact")
	check("compacted")
	if _, err := sh.WindowAggregate(key, []byte("f"), 0, 10, 0, tsdb.AggAll); err == nil {
		t.Fatalf("every=0: got nil error, want ErrInvalidWindow")
	}
	// Only requested aggregates are set.
	got, err := sh.WindowAggregate(key, []byte("i"), 0, 100_000, every, tsdb.AggCount)
	must(t, err, "count only")
	if got[0].Count == 0 || got[0].Sum.Type != models.FieldTypeUnknown || got[0].Max.Type != models.FieldTypeUnknown {
		t.Fatalf("count only: got %+v, want only Count set", got[0])
	}
}
