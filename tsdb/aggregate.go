package tsdb

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// AggregateSet selects the aggregates WindowAggregate computes.
type AggregateSet uint8

// Aggregates. Mean is Sum and Count (its parts, which combine across shards).
const (
	AggCount AggregateSet = 1 << iota
	AggSum
	AggMin
	AggMax
	AggFirst
	AggLast

	AggMean = AggSum | AggCount
	AggAll  = AggCount | AggSum | AggMin | AggMax | AggFirst | AggLast
)

// ErrInvalidWindow is returned by WindowAggregate for every <= 0 or
// min > max.
var ErrInvalidWindow = errors.New("invalid aggregate window")

// Window is the aggregate of one time window [Start, Start+every). Only the
// requested aggregates are set. Sum, Min and Max are of the field's type
// (float, integer or unsigned; integer sums wrap) and unset for strings and
// booleans; Min and Max ignore NaN. First and Last are the values with the
// smallest and largest timestamps.
type Window struct {
	Start               int64
	Count               int64
	Sum, Min, Max       models.Value
	First, Last         models.Value
	FirstTime, LastTime int64
}

// WindowAggregate computes aggregates of (seriesKey, field) per window of
// width every over [min, max], windows aligned to multiples of every since
// the epoch; windows without values are omitted. A file block that lies
// wholly inside one window and is not overlapped by any other block, cached
// value or tombstone is aggregated from its index statistics without being
// decoded.
func (s *Shard) WindowAggregate(seriesKey, field []byte, min, max, every int64, aggs AggregateSet) ([]Window, error) {
	if every <= 0 || min > max {
		return nil, fmt.Errorf("window aggregate every=%d over [%d, %d]: %w", every, min, max, ErrInvalidWindow)
	}
	rs, err := s.acquireRead()
	if err != nil {
		return nil, err
	}
	defer rs.release()
	wa := windowAgg{every: every, aggs: aggs, idx: map[int64]int{}}
	if err := rs.aggregate(&wa, seriesKey, field, min, max); err != nil {
		return nil, fmt.Errorf("window aggregate shard %d: %w", s.id, err)
	}
	wa.mask()
	slices.SortFunc(wa.out, func(a, b Window) int {
		return cmpInt64(a.Start, b.Start)
	})
	return wa.out, nil
}

// blockRef is one file block of the aggregated key.
type blockRef struct {
	file *dataFile
	typ  models.FieldType
	meta tsm.BlockMeta
	stat bool // aggregate from its statistics
}

func (rs *readState) aggregate(wa *windowAgg, seriesKey, field []byte, min, max int64) error {
	var caches []tsm.Array
	if rs.snap != nil {
		if a, ok := rs.snap.c.values(seriesKey, field, min, max); ok {
			applyTombstones(&a, rs.tombs, rs.snap.seq, seriesKey, field)
			caches = append(caches, a)
		}
	}
	if a, ok := rs.cache.values(seriesKey, field, min, max); ok {
		caches = append(caches, a)
	}

	var blocks []blockRef
	var typ models.FieldType
	for _, f := range rs.files {
		if f.r.MaxTime() < min || f.r.MinTime() > max {
			continue
		}
		t, metas := f.r.AppendEntries(nil, seriesKey, field)
		if t == models.FieldTypeUnknown {
			continue
		}
		typ = t
		for _, m := range metas {
			if m.MaxTime >= min && m.MinTime <= max {
				blocks = append(blocks, blockRef{file: f, typ: t, meta: m})
			}
		}
	}
	for _, c := range caches {
		if c.Len() > 0 {
			typ = c.Type
		}
	}
	wa.typ = typ
	markStatBlocks(blocks, caches, rs.tombs, seriesKey, field, min, max, wa.every)

	// Decode the other blocks, per file, then merge with the caches.
	var parts []tsm.Array
	var blk tsm.Array
	for i := 0; i < len(blocks); {
		f := blocks[i].file
		var acc tsm.Array
		for ; i < len(blocks) && blocks[i].file == f; i++ {
			b := &blocks[i]
			if b.stat {
				if b.typ == typ {
					wa.addStats(&b.meta)
				}
				continue
			}
			if err := f.r.ReadArray(b.meta, &blk); err != nil {
				return err
			}
			blk.Include(min, max)
			if acc.Len() == 0 {
				acc.Type = blk.Type
			}
			appendOwned(&acc, &blk)
		}
		applyTombstones(&acc, rs.tombs, f.seq, seriesKey, field)
		parts = append(parts, acc)
	}
	parts = append(parts, caches...)
	merged := mergeNewestWins(parts)
	if merged.Type == typ {
		wa.addArray(&merged)
	}
	return nil
}

// markStatBlocks sets stat on the blocks that can be aggregated from their
// statistics: inside [min, max] and one window, overlapping no other block
// (of any file), no cached value and no applicable tombstone.
func markStatBlocks(blocks []blockRef, caches []tsm.Array, tombs []Tombstone, seriesKey, field []byte, min, max, every int64) {
	if len(blocks) == 0 {
		return
	}
	order := make([]int, len(blocks))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmpInt64(blocks[a].meta.MinTime, blocks[b].meta.MinTime)
	})
	prevMax := int64(math.MinInt64)
	for k, i := range order {
		m := &blocks[i].meta
		isolated := k == 0 || prevMax < m.MinTime
		if k+1 < len(order) && blocks[order[k+1]].meta.MinTime <= m.MaxTime {
			isolated = false
		}
		if m.MaxTime > prevMax {
			prevMax = m.MaxTime
		}
		if !isolated || m.MinTime < min || m.MaxTime > max ||
			floorDiv(m.MinTime, every) != floorDiv(m.MaxTime, every) {
			continue
		}
		covered := false
		for c := range caches {
			lo, hi := arrayWindow(&caches[c], m.MinTime, m.MaxTime)
			if hi > lo {
				covered = true
				break
			}
		}
		for t := range tombs {
			tb := &tombs[t]
			if blocks[i].file.seq < tb.Seq && tb.Max >= m.MinTime && tb.Min <= m.MaxTime && tb.matches(seriesKey, field) {
				covered = true
				break
			}
		}
		blocks[i].stat = !covered
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// floorDiv returns floor(a / b) for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// windowAgg accumulates windows.
type windowAgg struct {
	every int64
	aggs  AggregateSet
	typ   models.FieldType
	idx   map[int64]int // window start -> index in out
	out   []Window
}

func (wa *windowAgg) window(ts int64) *Window {
	start := floorDiv(ts, wa.every) * wa.every
	i, ok := wa.idx[start]
	if !ok {
		i = len(wa.out)
		wa.idx[start] = i
		wa.out = append(wa.out, Window{Start: start, FirstTime: math.MaxInt64, LastTime: math.MinInt64})
	}
	return &wa.out[i]
}

// numeric reports whether the type has sum/min/max.
func numeric(t models.FieldType) bool {
	return t == models.FieldTypeFloat || t == models.FieldTypeInteger || t == models.FieldTypeUnsigned
}

// addStats folds a block's index statistics into its window.
func (wa *windowAgg) addStats(m *tsm.BlockMeta) {
	w := wa.window(m.MinTime)
	w.Count += int64(m.Count)
	if numeric(wa.typ) {
		wa.foldSum(w, models.Value{Type: wa.typ, N: m.Stats.Sum})
		wa.foldMinMax(w, models.Value{Type: wa.typ, N: m.Stats.Min}, models.Value{Type: wa.typ, N: m.Stats.Max})
	}
	if m.MinTime < w.FirstTime {
		w.FirstTime, w.First = m.MinTime, models.Value{Type: wa.typ, N: m.Stats.First}
	}
	if m.MaxTime > w.LastTime {
		w.LastTime, w.Last = m.MaxTime, models.Value{Type: wa.typ, N: m.Stats.Last}
	}
}

// addArray folds decoded, merged values into their windows.
func (wa *windowAgg) addArray(a *tsm.Array) {
	for i := 0; i < a.Len(); {
		ts := a.Timestamps[i]
		w := wa.window(ts)
		end := w.Start + wa.every // values of this window are contiguous
		j := i
		for j < a.Len() && a.Timestamps[j] < end {
			j++
		}
		wa.foldRun(w, a, i, j)
		i = j
	}
}

// foldRun folds values [i, j) of a, all in window w.
func (wa *windowAgg) foldRun(w *Window, a *tsm.Array, i, j int) {
	w.Count += int64(j - i)
	if a.Timestamps[i] < w.FirstTime {
		w.FirstTime, w.First = a.Timestamps[i], ownedValue(a.Value(i))
	}
	if a.Timestamps[j-1] > w.LastTime {
		w.LastTime, w.Last = a.Timestamps[j-1], ownedValue(a.Value(j-1))
	}
	switch a.Type {
	case models.FieldTypeFloat:
		sum, lo, hi := 0.0, math.NaN(), math.NaN()
		for _, v := range a.Floats[i:j] {
			sum += v
			if !math.IsNaN(v) {
				if math.IsNaN(lo) || v < lo {
					lo = v
				}
				if math.IsNaN(hi) || v > hi {
					hi = v
				}
			}
		}
		wa.foldSum(w, models.FloatValue(sum))
		wa.foldMinMax(w, models.FloatValue(lo), models.FloatValue(hi))
	case models.FieldTypeInteger:
		vs := a.Integers[i:j]
		var sum int64
		lo, hi := vs[0], vs[0]
		for _, v := range vs {
			sum += v
			lo, hi = min(lo, v), max(hi, v)
		}
		wa.foldSum(w, models.IntegerValue(sum))
		wa.foldMinMax(w, models.IntegerValue(lo), models.IntegerValue(hi))
	case models.FieldTypeUnsigned:
		vs := a.Unsigneds[i:j]
		var sum uint64
		lo, hi := vs[0], vs[0]
		for _, v := range vs {
			sum += v
			lo, hi = min(lo, v), max(hi, v)
		}
		wa.foldSum(w, models.UnsignedValue(sum))
		wa.foldMinMax(w, models.UnsignedValue(lo), models.UnsignedValue(hi))
	}
}

func ownedValue(v models.Value) models.Value {
	if v.S != nil {
		v.S = append([]byte(nil), v.S...)
	}
	return v
}

func (wa *windowAgg) foldSum(w *Window, v models.Value) {
	if w.Sum.Type == models.FieldTypeUnknown {
		w.Sum = v
		return
	}
	switch v.Type {
	case models.FieldTypeFloat:
		w.Sum = models.FloatValue(w.Sum.Float() + v.Float())
	default: // integer and unsigned both add as uint64 bits (wrapping)
		w.Sum.N += v.N
	}
}

func (wa *windowAgg) foldMinMax(w *Window, lo, hi models.Value) {
	if w.Min.Type == models.FieldTypeUnknown {
		w.Min, w.Max = lo, hi
		return
	}
	if replaces(lo, w.Min, true) {
		w.Min = lo
	}
	if replaces(hi, w.Max, false) {
		w.Max = hi
	}
}

// replaces reports whether numeric v should replace the current minimum
// (smaller) or maximum cur. A NaN never replaces a number and a number
// always replaces NaN.
func replaces(v, cur models.Value, smaller bool) bool {
	switch v.Type {
	case models.FieldTypeFloat:
		fv, fc := v.Float(), cur.Float()
		switch {
		case math.IsNaN(fv):
			return false
		case math.IsNaN(fc):
			return true
		case smaller:
			return fv < fc
		default:
			return fv > fc
		}
	case models.FieldTypeInteger:
		if smaller {
			return v.Integer() < cur.Integer()
		}
		return v.Integer() > cur.Integer()
	default:
		if smaller {
			return v.N < cur.N
		}
		return v.N > cur.N
	}
}

// mask clears the aggregates that were not requested.
func (wa *windowAgg) mask() {
	for i := range wa.out {
		w := &wa.out[i]
		if wa.aggs&AggCount == 0 {
			w.Count = 0
		}
		if wa.aggs&AggSum == 0 {
			w.Sum = models.Value{}
		}
		if wa.aggs&AggMin == 0 {
			w.Min = models.Value{}
		}
		if wa.aggs&AggMax == 0 {
			w.Max = models.Value{}
		}
		if wa.aggs&AggFirst == 0 {
			w.First, w.FirstTime = models.Value{}, 0
		}
		if wa.aggs&AggLast == 0 {
			w.Last, w.LastTime = models.Value{}, 0
		}
	}
}
