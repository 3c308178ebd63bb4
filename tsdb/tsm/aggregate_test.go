package tsm_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// bruteAggregate computes the windows of a directly from its values.
func bruteAggregate(a *tsm.Array, start, end, every int64, exclude []tsm.TimeRange) []tsm.Aggregate {
	n := (end - start + every - 1) / every
	out := make([]tsm.Aggregate, n)
	for k := range out {
		out[k].Start = start + int64(k)*every
	}
	fsum := make([]float64, n)
	for i, t := range a.Timestamps {
		if t < start || t >= end {
			continue
		}
		skip := false
		for _, x := range exclude {
			if t >= x.Min && t <= x.Max {
				skip = true
			}
		}
		if skip {
			continue
		}
		w := &out[(t-start)/every]
		v := a.Value(i).N
		if w.Count == 0 {
			w.Min, w.Max, w.First, w.FirstTime = v, v, v, t
		}
		w.Count++
		w.Last, w.LastTime = v, t
		switch a.Type {
		case models.FieldTypeFloat:
			f := math.Float64frombits(v)
			fsum[(t-start)/every] += f
			w.Min = math.Float64bits(math.Min(math.Float64frombits(w.Min), f))
			w.Max = math.Float64bits(math.Max(math.Float64frombits(w.Max), f))
		case models.FieldTypeInteger:
			w.Sum += v
			w.Min, w.Max = uint64(min(int64(w.Min), int64(v))), uint64(max(int64(w.Max), int64(v)))
		default:
			if a.Type == models.FieldTypeUnsigned {
				w.Sum += v
			}
			w.Min, w.Max = min(w.Min, v), max(w.Max, v)
		}
	}
	if a.Type == models.FieldTypeFloat {
		for k := range out {
			out[k].Sum = math.Float64bits(fsum[k])
		}
	}
	return out
}

// sameAggregate compares windows; float sums may differ by rounding order.
func sameAggregate(typ models.FieldType, got, want tsm.Aggregate) bool {
	if typ == models.FieldTypeFloat {
		g, w := math.Float64frombits(got.Sum), math.Float64frombits(want.Sum)
		if math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			return false
		}
		got.Sum, want.Sum = 0, 0
	}
	if want.Count == 0 {
		return got.Count == 0
	}
	return got == want
}

func TestAggregateMatchesBruteForce(t *testing.T) {
	for _, typ := range []models.FieldType{models.FieldTypeFloat, models.FieldTypeInteger, models.FieldTypeUnsigned, models.FieldTypeBoolean} {
		arr := genArray(typ, 5500, 0, 10, 5)
		path := writeFile(t, t.TempDir(), "a.tsm", []column{{"s", "f", arr}})
		r := mustOpen(t, path)
		cases := []struct {
			start, end, every int64
			exclude           []tsm.TimeRange
		}{
			{0, 55_000, 100_000, nil}, // one window, all blocks from stats
			{0, 55_000, 3_600, nil},   // windows narrower than blocks
			{-7, 60_000, 25_000, nil}, // blocks inside windows and straddling
			{15, 40_005, 10_000, nil}, // range cuts blocks
			{0, 55_000, 30_000, []tsm.TimeRange{{Min: 12_000, Max: 12_500}}},
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%d_%d_%d", typ, tc.start, tc.end, tc.every), func(t *testing.T) {
				g, err := tsm.NewAggregator(typ, tc.start, tc.end, tc.every)
				if err != nil {
					t.Fatalf("NewAggregator: got error %v; want nil", err)
				}
				if err := r.Aggregate([]byte("s"), []byte("f"), g, tc.exclude, nil); err != nil {
					t.Fatalf("Aggregate: got error %v; want nil", err)
				}
				want := bruteAggregate(arr, tc.start, tc.end, tc.every, tc.exclude)
				got := g.Windows()
				if len(got) != len(want) {
					t.Fatalf("got %d windows; want %d", len(got), len(want))
				}
				for k := range want {
					if !sameAggregate(typ, got[k], want[k]) {
						t.Errorf("window %d: got %+v; want %+v", k, got[k], want[k])
					}
				}
			})
		}
	}
}

func TestAggregatorAddBlock(t *testing.T) {
	g, err := tsm.NewAggregator(models.FieldTypeInteger, 0, 100, 10)
	if err != nil {
		t.Fatalf("NewAggregator: got error %v; want nil", err)
	}
	in := tsm.BlockMeta{MinTime: 11, MaxTime: 19, Count: 3, Stats: tsm.Stats{Min: 1, Max: 5, Sum: 9, First: 5, Last: 1}}
	if !g.AddBlock(in) {
		t.Errorf("AddBlock(block inside one window) = false; want true")
	}
	if w := g.Windows()[1]; w.Count != 3 || w.Sum != 9 || w.First != 5 || w.FirstTime != 11 || w.LastTime != 19 {
		t.Errorf("window 1 after AddBlock = %+v; want count 3 sum 9 first 5@11 last@19", w)
	}
	for _, m := range []tsm.BlockMeta{{MinTime: 15, MaxTime: 25, Count: 2}, {MinTime: 95, MaxTime: 100, Count: 2}, {MinTime: -1, MaxTime: 5, Count: 2}} {
		if g.AddBlock(m) {
			t.Errorf("AddBlock([%d,%d]) = true; want false (straddles a window or the range)", m.MinTime, m.MaxTime)
		}
	}
	for _, bad := range []struct {
		typ               models.FieldType
		start, end, every int64
	}{{models.FieldTypeString, 0, 10, 1}, {models.FieldTypeInteger, 0, 10, 0}, {models.FieldTypeInteger, 10, 10, 1}, {models.FieldTypeInteger, math.MinInt64, math.MaxInt64, 1}} {
		if _, err := tsm.NewAggregator(bad.typ, bad.start, bad.end, bad.every); !errors.Is(err, tsm.ErrInvalidWindow) {
			t.Errorf("NewAggregator(%s, %d, %d, %d): got %v; want ErrInvalidWindow", bad.typ, bad.start, bad.end, bad.every, err)
		}
	}
}
