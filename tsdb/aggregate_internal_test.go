package tsdb

import (
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
	markStatBlocks(blocks, []tsm.Array{cache}, tombs, []byte("k"), []byte("f"), 0, 72, 10)
	wantStat := []bool{true, false, false, false, false, true, false, false}
	wantIsolated := []bool{true, true, false, false, false, true, false, true}
	for i, b := range blocks {
		if b.stat != wantStat[i] || b.isolated != wantIsolated[i] {
			t.Fatalf("block %d [%d,%d]: stat, isolated got %v, %v, want %v, %v",
				i, b.meta.MinTime, b.meta.MaxTime, b.stat, b.isolated, wantStat[i], wantIsolated[i])
		}
	}
}
