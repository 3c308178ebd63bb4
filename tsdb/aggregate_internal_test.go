package tsdb

import (
	"context"
	"math"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

func TestMarkStatBlocks(t *testing.T) {
	old := &dataFile{seq: 1}
	newer := &dataFile{seq: 2}
	blk := func(f *dataFile, lo, hi int64) blockRef {
		return blockRef{file: f, typ: models.FieldTypeFloat, meta: tsm.BlockMeta{MinTime: lo, MaxTime: hi, Count: 1}}
	}
	blocks := []blockRef{
		blk(old, 0, 9),     // isolated, inside window 0: stats
		blk(old, 10, 25),   // spans windows 10 and 20: decode
		blk(old, 30, 35),   // overlapped by the newer file: decode
		blk(old, 40, 45),   // a cached value at 44: decode
		blk(old, 50, 55),   // tombstoned at 52: decode
		blk(old, 60, 65),   // isolated: stats
		blk(newer, 33, 38), // overlaps the old block: decode
		blk(old, 70, 75),   // partly outside [min, max]: decode
	}
	cache := tsm.Array{Type: models.FieldTypeFloat, Timestamps: []int64{44}, Floats: []float64{1}}
	tombs := []Tombstone{{Seq: 5, SeriesKey: []byte("k"), Min: 52, Max: 52}}
	markStatBlocks(blocks, []tsm.Array{cache}, tombs, []byte("k"), []byte("f"), 0, 72, newGrid(10, 0), nil)
	wantStat := []bool{true, false, false, false, false, true, false, false}
	wantIsolated := []bool{true, true, false, false, false, true, false, true}
	for i, b := range blocks {
		if b.stat != wantStat[i] || b.isolated != wantIsolated[i] {
			t.Fatalf("block %d [%d,%d]: stat, isolated got %v, %v, want %v, %v",
				i, b.meta.MinTime, b.meta.MaxTime, b.stat, b.isolated, wantStat[i], wantIsolated[i])
		}
	}
}

// TestMarkStatBlocksOffset checks that "inside one window" is judged on
// the shifted grid: with windows [-5, 5), [5, 15), ... a block [0, 9]
// spans two windows and a block [15, 24] lies in one.
func TestMarkStatBlocksOffset(t *testing.T) {
	f := &dataFile{seq: 1}
	blk := func(lo, hi int64) blockRef {
		return blockRef{file: f, typ: models.FieldTypeFloat, meta: tsm.BlockMeta{MinTime: lo, MaxTime: hi, Count: 1}}
	}
	for _, off := range []int64{5, -5, 25, -1_000_005} {
		blocks := []blockRef{blk(0, 9), blk(15, 24), blk(-15, -6), blk(25, 35), blk(40, 44)}
		markStatBlocks(blocks, nil, nil, []byte("k"), []byte("f"), math.MinInt64, math.MaxInt64, newGrid(10, off), nil)
		wantStat := []bool{false, true, true, false, true}
		for i, b := range blocks {
			if !b.isolated || b.stat != wantStat[i] {
				t.Fatalf("offset %d block %d [%d,%d]: stat, isolated got %v, %v, want %v, true",
					off, i, b.meta.MinTime, b.meta.MaxTime, b.stat, b.isolated, wantStat[i])
			}
		}
	}
}

func TestGrid(t *testing.T) {
	for _, tc := range []struct{ t, every, offset, start, end int64 }{
		{0, 10, 0, 0, 9},
		{9, 10, 0, 0, 9},
		{10, 10, 0, 10, 19},
		{-1, 10, 0, -10, -1},
		{-10, 10, 0, -10, -1},
		{7, 10, 3, 3, 12},
		{2, 10, 3, -7, 2},
		{2, 10, -7, -7, 2},
		{2, 10, 13, -7, 2},
		{25, 10, 13, 23, 32},
		{-25, 10, 13, -27, -18},
		{5, 1, 0, 5, 5},
		{math.MaxInt64, 10, 0, math.MaxInt64 - 7, math.MaxInt64},          // window ends past the range
		{math.MaxInt64 - 8, 10, 0, math.MaxInt64 - 17, math.MaxInt64 - 8}, // the window before it
		{math.MinInt64, 10, 0, math.MinInt64, math.MinInt64 + 7},          // true start is below the range
		{math.MinInt64 + 2, 10, 0, math.MinInt64, math.MinInt64 + 7},      // window [..810, ..801]: clamped
		{math.MinInt64 + 8, 10, 0, math.MinInt64 + 8, math.MinInt64 + 17},
		{math.MinInt64, 10, 2, math.MinInt64, math.MinInt64 + 9}, // starts exactly at the range's start
		{math.MinInt64, math.MaxInt64, 5, math.MinInt64, math.MinInt64 + 5},
		{0, math.MaxInt64, 5, math.MinInt64 + 6, 4},
		{5, math.MaxInt64, 5, 5, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64 - 1, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MaxInt64},
		{-1, 1 << 62, math.MinInt64, -1 << 62, -1},
	} {
		g := newGrid(tc.every, tc.offset)
		n := g.num(tc.t)
		if start, end := g.start(n), g.end(n); start != tc.start || end != tc.end {
			t.Errorf("every %d offset %d: window of %d = [%d, %d], want [%d, %d]", tc.every, tc.offset, tc.t, start, end, tc.start, tc.end)
		}
		if tc.start != math.MinInt64 && g.num(tc.start) != n || g.num(tc.end) != n {
			t.Errorf("every %d offset %d: window of %d is %d, but its bounds are in %d and %d", tc.every, tc.offset, tc.t, n, g.num(tc.start), g.num(tc.end))
		}
	}
}

// TestWindowAggregateStatsWithOffset checks that blocks lying inside one
// window of a shifted grid are aggregated from their statistics, and that
// the results still equal aggregates of the decoded values.
func TestWindowAggregateStatsWithOffset(t *testing.T) {
	cfg := NewConfig()
	cfg.Dir = t.TempDir()
	cfg.CompactCheckInterval = 0
	sh := openTestShard(t, cfg)
	key, field := []byte("m,t=a"), []byte("v")
	// Blocks of tsm.MaxPointsPerBlock values at times -5500+k*1000 ..:
	// each lies inside one window [500+k*1000, 1500+k*1000), none in a
	// window aligned to the epoch.
	const n = 10 * tsm.MaxPointsPerBlock
	pts := make([]models.Point, n)
	for i := range pts {
		pts[i] = models.Point{Measurement: []byte("m"), Tags: models.Tags{{Key: []byte("t"), Value: []byte("a")}},
			Fields: []models.Field{{Key: field, Value: models.IntegerValue(int64(i % 77))}}, Time: -5500 + int64(i)}
	}
	if err := sh.WritePoints(context.Background(), pts); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := sh.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	aggregate := func(offset int64, stats *int) []Window {
		rs, err := sh.acquireRead()
		if err != nil {
			t.Fatalf("acquire: %v", err)
		}
		defer rs.release()
		wa := windowAgg{grid: newGrid(1000, offset), aggs: AggAll}
		defer wa.release()
		if err := rs.aggregate(&wa, key, field, math.MinInt64, math.MaxInt64); err != nil {
			t.Fatalf("aggregate: %v", err)
		}
		*stats = wa.stats
		return wa.appendResult(nil)
	}
	var epochStats int
	aggregate(0, &epochStats)
	if epochStats != 0 {
		t.Fatalf("epoch-aligned windows: %d blocks from statistics, want 0 (every block spans two windows)", epochStats)
	}
	for _, off := range []int64{500, -500, 2500, -1_000_000_500} {
		var stats int
		got := aggregate(off, &stats)
		if stats != 10 {
			t.Errorf("offset %d: %d blocks from statistics, want 10", off, stats)
		}
		var want int
		decoded := func(o int64) []Window { // the same windows with every block decoded
			d := windowAgg{grid: newGrid(1000, o), aggs: AggAll, typ: models.FieldTypeInteger}
			a := tsm.Array{Type: models.FieldTypeInteger}
			for i := range pts {
				a.Timestamps = append(a.Timestamps, pts[i].Time)
				a.Integers = append(a.Integers, pts[i].Fields[0].Value.Integer())
			}
			d.addArray(&a)
			want = len(d.sparse)
			return d.appendResult(nil)
		}(off)
		if len(got) != 10 || len(decoded) != 10 || want != 10 {
			t.Fatalf("offset %d: %d windows from the shard, %d decoded, want 10", off, len(got), len(decoded))
		}
		for i := range got {
			g, d := got[i], decoded[i]
			if g.Start != d.Start || g.Count != d.Count || !g.Sum.Equal(d.Sum) || !g.Min.Equal(d.Min) || !g.Max.Equal(d.Max) ||
				!g.First.Equal(d.First) || !g.Last.Equal(d.Last) || g.FirstTime != d.FirstTime || g.LastTime != d.LastTime {
				t.Fatalf("offset %d window %d: got %+v, want %+v", off, i, g, d)
			}
		}
	}
}

// TestWindowAggregateReusesBuffers checks that aggregating a key whose
// blocks must be decoded (every window boundary inside a block) reuses
// the previous aggregation's buffers: the decoded block, the block lists
// the index entries and the window accumulators' pool box. A query aggregates every series it reads, and
// allocating them anew per key was a third of TSBS double-groupby's CPU.
func TestWindowAggregateReusesBuffers(t *testing.T) {
	cfg := NewConfig()
	cfg.Dir = t.TempDir()
	cfg.CompactCheckInterval = 0
	sh := openTestShard(t, cfg)
	key, field := []byte("m,t=a"), []byte("v")
	const n = 10 * tsm.MaxPointsPerBlock
	pts := make([]models.Point, n)
	for i := range pts {
		pts[i] = models.Point{Measurement: []byte("m"), Tags: models.Tags{{Key: []byte("t"), Value: []byte("a")}},
			Fields: []models.Field{{Key: field, Value: models.FloatValue(float64(i%91) / 4)}}, Time: int64(i)}
	}
	if err := sh.WritePoints(context.Background(), pts); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := sh.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	every := int64(tsm.MaxPointsPerBlock/3 + 1) // boundaries inside every block
	var dst []Window
	aggregate := func() {
		var err error
		if dst, err = sh.AppendWindowAggregate(dst[:0], key, field, 0, n, every, 0, AggMean); err != nil {
			t.Fatalf("aggregate: %v", err)
		}
	}
	aggregate()
	if want := int((n + every - 1) / every); len(dst) != want {
		t.Fatalf("%d windows, want %d", len(dst), want)
	}
	if raceEnabled {
		return
	}
	// The read state and its file list are all it allocates.
	if allocs := testing.AllocsPerRun(20, aggregate); allocs > 2 {
		t.Fatalf("%.1f allocations per aggregation of %d blocks, want at most 2", allocs, n/tsm.MaxPointsPerBlock)
	}
	// Cached points inside the file's last block (late arrivals across a
	// snapshot) make that block merge with the cache: into the reused
	// buffers, not fresh arrays each time.
	late := pts[n-tsm.MaxPointsPerBlock/2 : n : n]
	for i := range late {
		late[i].Fields = []models.Field{{Key: field, Value: models.FloatValue(-1)}}
	}
	if err := sh.WritePoints(context.Background(), late); err != nil {
		t.Fatalf("write: %v", err)
	}
	aggregate()
	if allocs := testing.AllocsPerRun(20, aggregate); allocs > 2 {
		t.Fatalf("%.1f allocations per aggregation of %d blocks, the last merged with the cache, want at most 2", allocs, n/tsm.MaxPointsPerBlock)
	}
}
