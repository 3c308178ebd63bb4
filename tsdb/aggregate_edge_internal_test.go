package tsdb

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

var edgeKey = []byte("m,t=a")

// edgePoints returns points of edgeKey at times from, from+step, ... below
// to, each with fields f (float), i (integer), b (boolean) and s (string)
// whose values depend on the time and salt.
func edgePoints(from, to, step int64, salt int) []models.Point {
	var pts []models.Point
	for ts := from; ts < to; ts += step {
		v := int64(salt)*1_000_000 + ts
		pts = append(pts, models.Point{
			Measurement: []byte("m"), Tags: models.Tags{{Key: []byte("t"), Value: []byte("a")}}, Time: ts,
			Fields: []models.Field{
				{Key: []byte("b"), Value: models.BooleanValue((ts+int64(salt))%3 == 0)},
				{Key: []byte("f"), Value: models.FloatValue(float64(v) / 4)},
				{Key: []byte("i"), Value: models.IntegerValue(v)},
				{Key: []byte("s"), Value: models.StringValue(fmt.Appendf(nil, "s%d", v))},
			},
		})
	}
	return pts
}

func writeEdge(t *testing.T, sh *Shard, from, to, step int64, salt int) {
	t.Helper()
	if err := sh.WritePoints(context.Background(), edgePoints(from, to, step, salt)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// edgeRanges are the [min, max] each case is read over: all time, ranges
// whose ends cut file blocks and cached runs, single times, empty ones.
var edgeRanges = [][2]int64{
	{math.MinInt64, math.MaxInt64}, {500, 1500}, {999, 1000}, {1500, 1500}, {1, 2998},
	{-250, 250}, {2999, 2999}, {3000, 4000}, {-1_000_000, -600}, {0, 0}, {2500, math.MaxInt64},
}

// checkEdges compares, for every field, range and end (first, last,
// both), the edge path's window against the general path's (exact count)
// over the same read state and against the merged values a read returns.
// fast says whether the edge path must answer itself for a field and
// range; elsewhere it may decline (the general path then answers).
func checkEdges(t *testing.T, stage string, rs *readState, every, offset int64, fast func(field string, r [2]int64) bool) {
	t.Helper()
	g := newGrid(every, offset)
	for _, field := range []string{"b", "f", "i", "s"} {
		for _, r := range edgeRanges {
			vals, err := rs.read(edgeKey, []byte(field), r[0], r[1])
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			for _, ends := range []AggregateSet{AggLast, AggFirst, AggFirst | AggLast} {
				what := fmt.Sprintf("%s: field %s range %v ends %b", stage, field, r, ends)
				got, ok, err := rs.edgeWindow(edgeKey, []byte(field), r[0], r[1], g, ends|AggCount|AggCountAny)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if !ok && fast(field, r) {
					t.Fatalf("%s: the edge path declined", what)
				}
				if !ok {
					continue
				}
				wa := windowAgg{grid: g, aggs: ends | AggCount}
				if err := rs.aggregate(&wa, edgeKey, []byte(field), r[0], r[1]); err != nil {
					t.Fatalf("%s: aggregate: %v", what, err)
				}
				general := wa.appendResult(nil)
				wa.release()
				if vals.Len() == 0 {
					if got.Count != 0 || len(general) != 0 {
						t.Fatalf("%s: no values, edge window %+v, general %+v", what, got, general)
					}
					continue
				}
				if got.Count != 1 || len(general) != 1 {
					t.Fatalf("%s: edge window %+v, general windows %+v: want one of each", what, got, general)
				}
				want := general[0]
				want.Count = 1
				if got.Start != want.Start || !got.First.Equal(want.First) || got.FirstTime != want.FirstTime ||
					!got.Last.Equal(want.Last) || got.LastTime != want.LastTime {
					t.Fatalf("%s: edge window %+v, want the general path's %+v", what, got, want)
				}
				n := vals.Len() - 1
				if ends&AggLast != 0 && (got.LastTime != vals.Timestamps[n] || !got.Last.Equal(vals.Value(n))) {
					t.Fatalf("%s: last %d=%v, want %d=%v", what, got.LastTime, got.Last, vals.Timestamps[n], vals.Value(n))
				}
				if ends&AggFirst != 0 && (got.FirstTime != vals.Timestamps[0] || !got.First.Equal(vals.Value(0))) {
					t.Fatalf("%s: first %d=%v, want %d=%v", what, got.FirstTime, got.First, vals.Timestamps[0], vals.Value(0))
				}
			}
		}
	}
}

func always(string, [2]int64) bool { return true }

func edgeShard(t *testing.T) *Shard {
	cfg := NewConfig()
	cfg.Dir = t.TempDir()
	cfg.CompactCheckInterval = 0
	cfg.CacheSnapshotSize = 1 << 30
	cfg.CacheMaxSize = 2 << 30
	return openTestShard(t, cfg)
}

func snapshotEdge(t *testing.T, sh *Shard) {
	t.Helper()
	if err := sh.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
}

// withReadState calls fn with the shard's read state.
func withReadState(t *testing.T, sh *Shard, fn func(rs *readState)) {
	t.Helper()
	rs, err := sh.acquireRead()
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	defer rs.release()
	fn(rs)
}

// TestEdgeWindowMatchesGeneralPath checks the edge path (First and Last
// from the sources' edges, newest source first) against the general path
// and a merged read where the answer hides in a corner: a key only in
// the cache, file blocks cut by the range, equal times across the cache,
// the snapshotting cache and files (the newest source wins), an older
// file holding the later times, points overwritten, tombstones (which
// make the edge path decline when they delete an edge value), and values
// spanning more than one window (declined too).
func TestEdgeWindowMatchesGeneralPath(t *testing.T) {
	t.Run("cache only", func(t *testing.T) {
		sh := edgeShard(t)
		writeEdge(t, sh, 0, 3000, 1, 0)
		writeEdge(t, sh, 1000, 2000, 7, 1) // overwritten in the cache
		withReadState(t, sh, func(rs *readState) { checkEdges(t, "cache", rs, math.MaxInt64, 0, always) })
	})
	t.Run("files", func(t *testing.T) {
		sh := edgeShard(t)
		writeEdge(t, sh, 0, 3000, 1, 0)
		snapshotEdge(t, sh)
		withReadState(t, sh, func(rs *readState) { checkEdges(t, "one file", rs, math.MaxInt64, 0, always) })
		// A newer file overwriting the ends and a stretch inside.
		writeEdge(t, sh, 2999, 3000, 1, 1)
		writeEdge(t, sh, 0, 1, 1, 1)
		writeEdge(t, sh, 1200, 1700, 3, 1)
		snapshotEdge(t, sh)
		withReadState(t, sh, func(rs *readState) { checkEdges(t, "overwriting file", rs, math.MaxInt64, 0, always) })
		// A newest file holding only earlier times: the older files hold
		// the last values.
		writeEdge(t, sh, -700, -100, 5, 2)
		snapshotEdge(t, sh)
		withReadState(t, sh, func(rs *readState) { checkEdges(t, "older file later", rs, math.MaxInt64, -1_000_000, always) })
		// The cache overwriting the files' ends, and a cached run inside.
		writeEdge(t, sh, 2999, 3000, 1, 3)
		writeEdge(t, sh, -700, -699, 1, 3)
		writeEdge(t, sh, 1500, 1510, 1, 3)
		withReadState(t, sh, func(rs *readState) { checkEdges(t, "files and cache", rs, math.MaxInt64, -1_000_000, always) })
		if err := sh.Compact(true); err != nil {
			t.Fatalf("compact: %v", err)
		}
		withReadState(t, sh, func(rs *readState) { checkEdges(t, "compacted", rs, math.MaxInt64, -1_000_000, always) })
	})
	t.Run("snapshotting cache", func(t *testing.T) {
		sh := edgeShard(t)
		writeEdge(t, sh, 0, 3000, 1, 0)
		snapshotEdge(t, sh)
		writeEdge(t, sh, 2000, 2500, 1, 1)
		withReadState(t, sh, func(rs *readState) {
			// A snapshotting cache between the file and the live cache,
			// holding the file's ends and times past the live cache's.
			snap := newCache()
			for _, p := range append(edgePoints(2999, 3000, 1, 2), append(edgePoints(0, 1, 1, 2), edgePoints(2500, 2600, 1, 2)...)...) {
				for _, f := range p.Fields {
					snap.write(edgeKey, f.Key, p.Time, f.Value)
				}
			}
			rs.snap = &snapState{c: snap, seq: rs.files[len(rs.files)-1].seq + 1}
			checkEdges(t, "snapshotting", rs, math.MaxInt64, 0, always)
			// A tombstone newer than the snapshotting cache deleting its
			// newest values (the edge path declines where one is the
			// edge).
			rs.tombs = []Tombstone{{Seq: rs.snap.seq + 1, SeriesKey: edgeKey, Min: 2550, Max: 3100}}
			checkEdges(t, "snapshotting, tombstoned", rs, math.MaxInt64, 0, func(_ string, r [2]int64) bool {
				return r[1] < 2550 || r[0] > 3100
			})
		})
	})
	t.Run("tombstones", func(t *testing.T) {
		sh := edgeShard(t)
		writeEdge(t, sh, 0, 3000, 1, 0)
		snapshotEdge(t, sh)
		if err := sh.DeleteFieldRange(edgeKey, []byte("f"), 2990, 2999); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if err := sh.DeleteFieldRange(edgeKey, []byte("i"), 100, 200); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if err := sh.DeleteSeriesRange([][]byte{edgeKey}, -5, 3); err != nil {
			t.Fatalf("delete: %v", err)
		}
		// The cache holds times deleted from the file, written after
		// the delete: they count.
		writeEdge(t, sh, 2995, 2996, 1, 1)
		withReadState(t, sh, func(rs *readState) {
			checkEdges(t, "tombstones", rs, math.MaxInt64, 0, func(field string, r [2]int64) bool {
				touches := func(lo, hi int64) bool { return r[0] <= hi && r[1] >= lo }
				return !touches(-5, 3) && !(field == "f" && touches(2990, 2999)) && !(field == "i" && touches(100, 200))
			})
		})
	})
	t.Run("windows", func(t *testing.T) {
		sh := edgeShard(t)
		writeEdge(t, sh, -700, 3000, 3, 0)
		snapshotEdge(t, sh)
		writeEdge(t, sh, 2000, 2100, 1, 1)
		withReadState(t, sh, func(rs *readState) {
			// Windows of 1000: a range whose values lie in one window is
			// answered.
			checkEdges(t, "windows", rs, 1000, 0, func(_ string, r [2]int64) bool {
				lo, hi := max(r[0], -700), min(r[1], 2999)
				g := newGrid(1000, 0)
				return lo > hi || g.num(lo) == g.num(hi)
			})
		})
	})
}

// TestWindowAggregateEdgePath checks that AppendWindowAggregate answers
// First and Last with a relaxed count from the edges (Count 1 where the
// key holds thousands of values) and with the general path's values, and
// counts exactly when the count is not relaxed.
func TestWindowAggregateEdgePath(t *testing.T) {
	sh := edgeShard(t)
	writeEdge(t, sh, 0, 3000, 1, 0)
	snapshotEdge(t, sh)
	writeEdge(t, sh, 2500, 3500, 1, 1)
	for _, ends := range []AggregateSet{AggLast, AggFirst} {
		edge, err := sh.WindowAggregate(edgeKey, []byte("f"), math.MinInt64, math.MaxInt64, math.MaxInt64, 0, ends|AggCount|AggCountAny)
		if err != nil {
			t.Fatalf("edge: %v", err)
		}
		exact, err := sh.WindowAggregate(edgeKey, []byte("f"), math.MinInt64, math.MaxInt64, math.MaxInt64, 0, ends|AggCount)
		if err != nil {
			t.Fatalf("exact: %v", err)
		}
		if len(edge) != 1 || len(exact) != 1 || edge[0].Count != 1 || exact[0].Count != 3500 {
			t.Fatalf("ends %b: edge %+v, exact %+v: want counts 1 and 3500", ends, edge, exact)
		}
		edge[0].Count = exact[0].Count
		if !edge[0].First.Equal(exact[0].First) || !edge[0].Last.Equal(exact[0].Last) || edge[0].Start != exact[0].Start ||
			edge[0].FirstTime != exact[0].FirstTime || edge[0].LastTime != exact[0].LastTime {
			t.Fatalf("ends %b: edge %+v, exact %+v", ends, edge[0], exact[0])
		}
	}
}
