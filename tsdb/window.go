package tsdb

import (
	"math"
	"slices"
	"sync"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// maxDenseWindows bounds the window slice allocated up front; queries with
// more windows fall back to a map.
const maxDenseWindows = 1 << 16

// winAcc accumulates one window with values as models.Value.N bits (for
// strings, first and last index windowAgg.strs). It holds no pointers, so
// folding into it costs no GC write barriers.
type winAcc struct {
	count               int64
	sum, min, max       uint64
	first, last         uint64
	firstTime, lastTime int64
	minMax              bool // min and max hold a number (not only NaN seen)
}

// windowAgg accumulates windows: in a dense slice indexed from the first
// window of the data's time range, or a map when that range has too many
// windows. A window is in use once its count is non-zero. Values must be
// folded in time order per source; sources may come in any order.
type windowAgg struct {
	grid   grid
	aggs   AggregateSet
	typ    models.FieldType
	base   int64     // window number of dense[0]
	dense  []winAcc  // nil when all windows are sparse
	pooled *[]winAcc // what dense came from (and goes back to) in winAccPool
	sparse map[int64]*winAcc
	strs   [][]byte // first/last string values
	stats  int      // blocks folded from their statistics
}

// plan sizes the window storage from the time range the sources cover.
func (wa *windowAgg) plan(blocks []blockRef, caches []tsm.Array, min, max int64) {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range blocks {
		lo, hi = minI64(lo, blocks[i].meta.MinTime), maxI64(hi, blocks[i].meta.MaxTime)
	}
	for i := range caches {
		if n := caches[i].Len(); n > 0 {
			lo, hi = minI64(lo, caches[i].Timestamps[0]), maxI64(hi, caches[i].Timestamps[n-1])
		}
	}
	lo, hi = maxI64(lo, min), minI64(hi, max)
	if lo > hi {
		return
	}
	first, last := wa.grid.num(lo), wa.grid.num(hi)
	if uint64(last-first) < maxDenseWindows { // last-first may not fit an int64
		wa.base = first
		n := int(last - first + 1)
		p, ok := winAccPool.Get().(*[]winAcc)
		if !ok {
			p = new([]winAcc)
		}
		if cap(*p) >= n {
			wa.dense = (*p)[:n]
			clear(wa.dense)
		} else {
			wa.dense = make([]winAcc, n)
		}
		wa.pooled = p
	}
}

// winAccPool recycles dense window accumulators between queries.
var winAccPool sync.Pool

// release returns the accumulators to the pool; wa must not be used after.
func (wa *windowAgg) release() {
	if wa.pooled != nil {
		*wa.pooled = wa.dense
		winAccPool.Put(wa.pooled)
		wa.dense, wa.pooled = nil, nil
	}
}

func minI64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

func maxI64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// window returns the accumulator of window number n.
func (wa *windowAgg) window(n int64) *winAcc {
	var w *winAcc
	if i := n - wa.base; wa.dense != nil && i >= 0 && i < int64(len(wa.dense)) {
		w = &wa.dense[i]
	} else {
		if wa.sparse == nil {
			wa.sparse = map[int64]*winAcc{}
		}
		if w = wa.sparse[n]; w == nil {
			w = &winAcc{}
			wa.sparse[n] = w
		}
	}
	if w.count == 0 {
		*w = winAcc{firstTime: math.MaxInt64, lastTime: math.MinInt64}
	}
	return w
}

// numeric reports whether the type has sum/min/max.
func numeric(t models.FieldType) bool {
	return t == models.FieldTypeFloat || t == models.FieldTypeInteger || t == models.FieldTypeUnsigned
}

// addStats folds a block's index statistics into its window.
func (wa *windowAgg) addStats(m *tsm.BlockMeta) {
	wa.stats++
	w := wa.window(wa.grid.num(m.MinTime))
	first := w.count == 0
	w.count += int64(m.Count)
	if numeric(wa.typ) {
		wa.foldSum(w, m.Stats.Sum, first)
		wa.foldMinMax(w, m.Stats.Min, m.Stats.Max)
	}
	if m.MinTime < w.firstTime {
		w.firstTime, w.first = m.MinTime, m.Stats.First
	}
	if m.MaxTime > w.lastTime {
		w.lastTime, w.last = m.MaxTime, m.Stats.Last
	}
}

// addArray folds time-ordered values into their windows.
func (wa *windowAgg) addArray(a *tsm.Array) {
	wa.eachWindow(a.Timestamps, func(w *winAcc, i, j int) { wa.foldRun(w, a, i, j) })
}

// addTimes folds ascending timestamps into their windows' counts and
// first and last times (aggregates of values other than Count are not
// asked for).
func (wa *windowAgg) addTimes(ts []int64) {
	wa.eachWindow(ts, func(w *winAcc, i, j int) {
		w.count += int64(j - i)
		w.firstTime, w.lastTime = min(w.firstTime, ts[i]), max(w.lastTime, ts[j-1])
	})
}

// eachWindow calls fn for each run [i, j) of ascending ts that falls in
// one window, with that window's accumulator. Times lying wholly in one
// window (all of them, aggregating over all time) are one run without a
// scan.
func (wa *windowAgg) eachWindow(ts []int64, fn func(w *winAcc, i, j int)) {
	if len(ts) == 0 {
		return
	}
	if n := wa.grid.num(ts[0]); n == wa.grid.num(ts[len(ts)-1]) {
		fn(wa.window(n), 0, len(ts))
		return
	}
	for i := 0; i < len(ts); {
		n := wa.grid.num(ts[i])
		end := wa.grid.end(n)
		j := i + 1
		for j < len(ts) && ts[j] <= end {
			j++
		}
		fn(wa.window(n), i, j)
		i = j
	}
}

// foldRun folds values [i, j) of a, all in window w, computing only the
// sums and extremes asked for.
func (wa *windowAgg) foldRun(w *winAcc, a *tsm.Array, i, j int) {
	first := w.count == 0
	w.count += int64(j - i)
	setFirst := a.Timestamps[i] < w.firstTime
	setLast := a.Timestamps[j-1] > w.lastTime
	if setFirst {
		w.firstTime = a.Timestamps[i]
	}
	if setLast {
		w.lastTime = a.Timestamps[j-1]
	}
	sum, minMax := wa.aggs&AggSum != 0, wa.aggs&(AggMin|AggMax) != 0
	switch a.Type {
	case models.FieldTypeFloat:
		vs := a.Floats[i:j]
		if sum {
			s := 0.0
			for _, v := range vs {
				s += v
			}
			wa.foldSum(w, math.Float64bits(s), first)
		}
		if minMax {
			lo, hi := math.NaN(), math.NaN()
			for _, v := range vs {
				if v < lo || lo != lo {
					lo = v
				}
				if v > hi || hi != hi {
					hi = v
				}
			}
			if lo == lo {
				wa.foldMinMax(w, math.Float64bits(lo), math.Float64bits(hi))
			}
		}
		setEnds(w, setFirst, setLast, math.Float64bits(vs[0]), math.Float64bits(vs[len(vs)-1]))
	case models.FieldTypeInteger:
		vs := a.Integers[i:j]
		if sum {
			var s int64
			for _, v := range vs {
				s += v
			}
			wa.foldSum(w, uint64(s), first)
		}
		if minMax {
			lo, hi := vs[0], vs[0]
			for _, v := range vs {
				lo, hi = min(lo, v), max(hi, v)
			}
			wa.foldMinMax(w, uint64(lo), uint64(hi))
		}
		setEnds(w, setFirst, setLast, uint64(vs[0]), uint64(vs[len(vs)-1]))
	case models.FieldTypeUnsigned:
		vs := a.Unsigneds[i:j]
		if sum {
			var s uint64
			for _, v := range vs {
				s += v
			}
			wa.foldSum(w, s, first)
		}
		if minMax {
			lo, hi := vs[0], vs[0]
			for _, v := range vs {
				lo, hi = min(lo, v), max(hi, v)
			}
			wa.foldMinMax(w, lo, hi)
		}
		setEnds(w, setFirst, setLast, vs[0], vs[len(vs)-1])
	case models.FieldTypeBoolean:
		setEnds(w, setFirst, setLast, b2u(a.Booleans[i]), b2u(a.Booleans[j-1]))
	case models.FieldTypeString:
		if setFirst {
			w.first = uint64(len(wa.strs))
			wa.strs = append(wa.strs, append([]byte(nil), a.Strings[i]...))
		}
		if setLast {
			w.last = uint64(len(wa.strs))
			wa.strs = append(wa.strs, append([]byte(nil), a.Strings[j-1]...))
		}
	}
}

func setEnds(w *winAcc, setFirst, setLast bool, first, last uint64) {
	if setFirst {
		w.first = first
	}
	if setLast {
		w.last = last
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// foldSum adds v (bits of the window's type) to the sum; integer sums wrap.
func (wa *windowAgg) foldSum(w *winAcc, v uint64, first bool) {
	switch {
	case first:
		w.sum = v
	case wa.typ == models.FieldTypeFloat:
		w.sum = math.Float64bits(math.Float64frombits(w.sum) + math.Float64frombits(v))
	default:
		w.sum += v
	}
}

// foldMinMax folds a run's minimum and maximum (not NaN) into w.
func (wa *windowAgg) foldMinMax(w *winAcc, lo, hi uint64) {
	if wa.typ == models.FieldTypeFloat && math.IsNaN(math.Float64frombits(lo)) {
		return // block statistics of an all-NaN block
	}
	if !w.minMax {
		w.min, w.max, w.minMax = lo, hi, true
		return
	}
	switch wa.typ {
	case models.FieldTypeFloat:
		if math.Float64frombits(lo) < math.Float64frombits(w.min) {
			w.min = lo
		}
		if math.Float64frombits(hi) > math.Float64frombits(w.max) {
			w.max = hi
		}
	case models.FieldTypeInteger:
		if int64(lo) < int64(w.min) {
			w.min = lo
		}
		if int64(hi) > int64(w.max) {
			w.max = hi
		}
	default:
		w.min, w.max = min(w.min, lo), max(w.max, hi)
	}
}

// result converts the windows in use to Windows in time order, keeping only
// the requested aggregates.
func (wa *windowAgg) appendResult(dst []Window) []Window {
	n := len(wa.sparse)
	for i := range wa.dense {
		if wa.dense[i].count > 0 {
			n++
		}
	}
	base := len(dst)
	dst = slices.Grow(dst, n)[:base+n]
	out := dst[base:]
	clear(out)
	k := 0
	for i := range wa.dense {
		if wa.dense[i].count > 0 {
			wa.fill(&out[k], wa.base+int64(i), &wa.dense[i])
			k++
		}
	}
	if len(wa.sparse) > 0 {
		for n, w := range wa.sparse {
			wa.fill(&out[k], n, w)
			k++
		}
		slices.SortFunc(out, func(a, b Window) int { return cmpInt64(a.Start, b.Start) })
	}
	return dst
}

// set stores bits of the window's type into v, field by field: for
// non-strings no pointer is written, which keeps filling large results free
// of GC write barriers.
func (wa *windowAgg) set(v *models.Value, bits uint64) {
	v.Type = wa.typ
	if wa.typ == models.FieldTypeString {
		v.S = wa.strs[bits]
		return
	}
	v.N = bits
}

// fill writes window number n of w into the zeroed out.
func (wa *windowAgg) fill(out *Window, n int64, w *winAcc) {
	out.Start = wa.grid.start(n)
	if wa.aggs&AggCount != 0 {
		out.Count = w.count
	}
	if numeric(wa.typ) {
		if wa.aggs&AggSum != 0 {
			wa.set(&out.Sum, w.sum)
		}
		lo, hi := w.min, w.max
		if !w.minMax { // only NaN seen
			lo, hi = math.Float64bits(math.NaN()), math.Float64bits(math.NaN())
		}
		if wa.aggs&AggMin != 0 {
			wa.set(&out.Min, lo)
		}
		if wa.aggs&AggMax != 0 {
			wa.set(&out.Max, hi)
		}
	}
	if wa.aggs&AggFirst != 0 {
		wa.set(&out.First, w.first)
	}
	if wa.aggs&AggLast != 0 {
		wa.set(&out.Last, w.last)
	}
	if wa.aggs&(AggFirst|AggTimes) != 0 {
		out.FirstTime = w.firstTime
	}
	if wa.aggs&(AggLast|AggTimes) != 0 {
		out.LastTime = w.lastTime
	}
}
