package tsdb

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/strata-db/strata/internal/freelist"
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
	// AggTimes asks for FirstTime and LastTime without First and Last:
	// with AggCount alone, blocks are counted from their timestamps, their
	// values left undecoded.
	AggTimes
	// AggCountAny relaxes AggCount: a window holding values need only
	// have a Count of at least 1, not their number. With First and Last
	// alone besides, over data lying in one window, the aggregate is then
	// read from each source's edge values, newest source first, without
	// reading every value (what a raw query's LIMIT 1 needs: TSBS
	// lastpoint).
	AggCountAny

	AggMean = AggSum | AggCount
	AggAll  = AggCount | AggSum | AggMin | AggMax | AggFirst | AggLast
)

// ErrInvalidWindow is returned by WindowAggregate for every <= 0 or
// min > max.
var ErrInvalidWindow = errors.New("invalid aggregate window")

// Window is the aggregate of one time window [Start, Start+every), except
// that a window beginning before the int64 time range has Start
// math.MinInt64. Only the requested aggregates are set. Sum, Min and Max are
// of the field's type (float, integer or unsigned; integer sums wrap) and
// unset for strings and booleans; Min and Max ignore NaN (NaN when a window
// holds only NaN). First and Last are the values with the smallest and
// largest timestamps.
type Window struct {
	Start               int64
	Count               int64
	Sum, Min, Max       models.Value
	First, Last         models.Value
	FirstTime, LastTime int64
}

// WindowAggregate computes aggregates of (seriesKey, field) per window of
// width every over [min, max], windows starting at offset + k*every for
// integers k (any offset: only offset modulo every matters, so 0 aligns
// windows to multiples of every since the epoch); windows without values
// are omitted. A file block that lies wholly inside one window and is not
// overlapped by any other block, cached value or tombstone is aggregated
// from its index statistics without being decoded.
func (s *Shard) WindowAggregate(seriesKey, field []byte, min, max, every, offset int64, aggs AggregateSet) ([]Window, error) {
	return s.AppendWindowAggregate(nil, seriesKey, field, min, max, every, offset, aggs)
}

// AppendWindowAggregate is WindowAggregate appending to dst, so a caller
// aggregating many series reuses one result buffer.
func (s *Shard) AppendWindowAggregate(dst []Window, seriesKey, field []byte, min, max, every, offset int64, aggs AggregateSet) ([]Window, error) {
	if every <= 0 || min > max {
		return nil, fmt.Errorf("window aggregate every=%d over [%d, %d]: %w", every, min, max, ErrInvalidWindow)
	}
	rs, err := s.acquireRead()
	if err != nil {
		return nil, err
	}
	defer rs.release()
	if edgeAggregates(aggs) {
		w, ok, err := rs.edgeWindow(seriesKey, field, min, max, newGrid(every, offset), aggs)
		if err != nil {
			return nil, fmt.Errorf("window aggregate shard %d: %w", s.id, err)
		}
		if ok {
			if w.Count > 0 {
				dst = append(dst, w)
			}
			return dst, nil
		}
	}
	wa := windowAgg{grid: newGrid(every, offset), aggs: aggs}
	defer wa.release()
	if err := rs.aggregate(&wa, seriesKey, field, min, max); err != nil {
		return nil, fmt.Errorf("window aggregate shard %d: %w", s.id, err)
	}
	return wa.appendResult(dst), nil
}

// blockRef is one file block of the aggregated key.
type blockRef struct {
	file *dataFile
	typ  models.FieldType
	meta tsm.BlockMeta
	// isolated: overlaps no other source, so its values need no merge.
	isolated bool
	// stat: isolated and inside one window: aggregate from its statistics.
	stat bool
}

// aggScratch holds the copies of cached values one aggregation reads and
// its other buffers; it is reused across aggregations (a query aggregates
// every series it reads: copying a whole cache entry anew each time
// allocated ~20 MB per TSBS lastpoint query, and growing the block lists
// anew was a fifth of lastpoint's CPU).
type aggScratch struct {
	snap, live tsm.Array
	caches     []tsm.Array
	metas      []tsm.BlockMeta
	blocks     []blockRef
	order      []int
	parts      []tsm.Array
	// accs are the values read from each file whose blocks overlap
	// others, and merge the buffers merging them with the caches: a
	// series whose cache overlaps its last block (points that arrived
	// out of order across a snapshot) merged them into fresh arrays on
	// every query, 70 MB of garbage per TSBS lastpoint query.
	accs  []tsm.Array
	merge mergeBufs
	blk   tsm.Array
	times []int64
}

var aggScratches = freelist.New[aggScratch]()

// maxIdleAggValues bounds the values an idle aggScratch array keeps room
// for.
const maxIdleAggValues = 1 << 20

func (sc *aggScratch) release() {
	idle := func(a *tsm.Array) {
		clear(a.Strings[:cap(a.Strings)]) // the cache's string bytes
		if cap(a.Timestamps) > maxIdleAggValues {
			*a = tsm.Array{}
		}
	}
	for _, a := range []*tsm.Array{&sc.snap, &sc.live, &sc.blk, &sc.merge[0], &sc.merge[1]} {
		idle(a)
	}
	for i := range sc.accs {
		idle(&sc.accs[i])
	}
	// Drop what points at cached values and files.
	clear(sc.caches[:cap(sc.caches)])
	clear(sc.parts[:cap(sc.parts)])
	clear(sc.blocks[:cap(sc.blocks)])
	if cap(sc.times) > maxIdleAggValues {
		sc.times = nil
	}
	aggScratches.Put(sc)
}

func (rs *readState) aggregate(wa *windowAgg, seriesKey, field []byte, min, max int64) error {
	sc := aggScratches.Get()
	defer sc.release()
	caches := sc.caches[:0]
	if rs.snap != nil && rs.snap.c.valuesInto(&sc.snap, seriesKey, field, min, max) {
		applyTombstones(&sc.snap, rs.tombs, rs.snap.seq, seriesKey, field)
		caches = append(caches, sc.snap)
	}
	if rs.cache.valuesInto(&sc.live, seriesKey, field, min, max) {
		caches = append(caches, sc.live)
	}
	sc.caches = caches

	blocks := sc.blocks[:0]
	var typ models.FieldType
	for _, f := range rs.files {
		if f.r.MaxTime() < min || f.r.MinTime() > max {
			continue
		}
		var t models.FieldType
		t, sc.metas = f.r.AppendEntries(sc.metas[:0], seriesKey, field)
		if t == models.FieldTypeUnknown {
			continue
		}
		typ = t
		for _, m := range sc.metas {
			if m.MaxTime >= min && m.MinTime <= max {
				blocks = append(blocks, blockRef{file: f, typ: t, meta: m})
			}
		}
	}
	sc.blocks = blocks
	for _, c := range caches {
		if c.Len() > 0 {
			typ = c.Type
		}
	}
	wa.typ = typ
	sc.order = markStatBlocks(blocks, caches, rs.tombs, seriesKey, field, min, max, wa.grid, sc.order)
	wa.plan(blocks, caches, min, max)

	// Blocks overlapping nothing are folded straight from their decoded
	// values; the rest are merged per file with the caches, newest winning.
	parts := sc.parts[:0]
	blk, times := &sc.blk, sc.times
	defer func() { sc.times, sc.parts = times, parts }()
	timesOnly := wa.aggs&^(AggCount|AggTimes) == 0
	for i := 0; i < len(blocks); {
		f := blocks[i].file
		if len(parts) == len(sc.accs) {
			sc.accs = append(sc.accs, tsm.Array{})
		}
		acc := &sc.accs[len(parts)]
		acc.Reset(models.FieldTypeUnknown)
		for ; i < len(blocks) && blocks[i].file == f; i++ {
			b := &blocks[i]
			if b.typ != typ && b.isolated {
				continue // an older type of a re-created field
			}
			if b.stat {
				wa.addStats(&b.meta)
				continue
			}
			if timesOnly && b.isolated {
				var err error
				if times, err = f.r.AppendTimes(times[:0], b.meta); err != nil {
					return err
				}
				lo, _ := slices.BinarySearch(times, min)
				hi := lo
				for hi < len(times) && times[hi] <= max {
					hi++
				}
				wa.addTimes(times[lo:hi])
				continue
			}
			if err := f.r.ReadArray(b.meta, blk); err != nil {
				return err
			}
			blk.Include(min, max)
			if b.isolated {
				if blk.Len() > 0 {
					wa.addArray(blk)
				}
				continue
			}
			if acc.Len() == 0 {
				acc.Type = blk.Type
			}
			appendOwned(acc, blk)
		}
		if acc.Len() > 0 {
			applyTombstones(acc, rs.tombs, f.seq, seriesKey, field)
			parts = append(parts, *acc)
		}
	}
	parts = append(parts, caches...)
	merged := sc.merge.merge(parts)
	if merged.Type == typ && merged.Len() > 0 {
		wa.addArray(&merged)
	}
	return nil
}

// edgeAggregates reports whether aggs asks for First or Last (or both)
// and a relaxed count alone: what edgeWindow answers.
func edgeAggregates(aggs AggregateSet) bool {
	const count = AggCount | AggCountAny
	return aggs&count == count && aggs&(AggFirst|AggLast) != 0 && aggs&^(count|AggFirst|AggLast) == 0
}

// edgeValue is a value at one end of a key's values in [min, max]: the
// newest or the oldest.
type edgeValue struct {
	found bool
	t     int64
	v     models.Value
}

// edgeWindow answers a window aggregate that asks for First or Last (or
// both) and a relaxed count (see edgeAggregates) from the sources' edge
// values alone: see edge. ok is false when the general path must answer
// instead: edge could not, or the key's values in [min, max] may span
// more than one window of g. The window's Count is 1 (0, with no window,
// when the key has no values in [min, max]).
func (rs *readState) edgeWindow(seriesKey, field []byte, min, max int64, g grid, aggs AggregateSet) (Window, bool, error) {
	sc := aggScratches.Get()
	defer sc.release()
	var first, last edgeValue
	var typ models.FieldType
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, newest := range [...]bool{true, false} {
		want := AggFirst
		if newest {
			want = AggLast
		}
		if aggs&want == 0 {
			continue
		}
		e, t, elo, ehi, ok, err := rs.edge(sc, seriesKey, field, min, max, newest)
		if err != nil || !ok {
			return Window{}, false, err
		}
		if !newest && aggs&AggLast != 0 && (t != typ || e.found != last.found) {
			return Window{}, false, nil // a write between the two reads of the live cache
		}
		typ, lo, hi = t, minI64(lo, elo), maxI64(hi, ehi)
		if newest {
			last, hi = e, e.t
		} else {
			first, lo = e, e.t
		}
	}
	if !first.found && !last.found {
		return Window{}, true, nil
	}
	lo, hi = maxI64(lo, min), minI64(hi, max)
	n := g.num(hi)
	if g.num(lo) != n {
		return Window{}, false, nil
	}
	w := Window{Start: g.start(n), Count: 1}
	if aggs&AggFirst != 0 {
		w.First, w.FirstTime = ownedValue(first.v), first.t
	}
	if aggs&AggLast != 0 {
		w.Last, w.LastTime = ownedValue(last.v), last.t
	}
	return w, true, nil
}

// ownedValue returns v with its string bytes copied.
func ownedValue(v models.Value) models.Value {
	if v.Type == models.FieldTypeString {
		v.S = append([]byte{}, v.S...)
	}
	return v
}

// edge returns the newest (or, newest false, the oldest) value of
// (seriesKey, field) in [min, max] and the type of the key's values, as
// the general path reads them: files, the snapshotting cache and the live
// cache merged, the newest source winning on equal times, tombstones
// applied. It reads the sources newest first (live cache, snapshotting
// cache, files from the newest) and each only at its edge: a file's from
// its index statistics, decoding only a block that straddles min or max
// (or holds strings); a file whose time range cannot hold a strictly
// later (earlier) time than the best so far is not read at all. lo and hi
// bound the key's times in [min, max] (lo at most the oldest, hi at least
// the newest). ok is false when the general path must answer: a tombstone
// deletes the edge value, sources' types differ, or a file's blocks
// overlap at its edge (their order on equal times is the merge's).
func (rs *readState) edge(sc *aggScratch, seriesKey, field []byte, min, max int64, newest bool) (best edgeValue, typ models.FieldType, lo, hi int64, ok bool, err error) {
	lo, hi = math.MaxInt64, math.MinInt64
	// beats reports whether time t of a source older than best's wins.
	beats := func(t int64) bool {
		return !best.found || newest && t > best.t || !newest && t < best.t
	}
	var snap *cache
	if rs.snap != nil {
		snap = rs.snap.c
	}
	for i, c := range [...]*cache{rs.cache, snap} {
		if c == nil {
			continue
		}
		ce := c.edge(seriesKey, field, min, max, newest)
		if ce.n == 0 {
			continue
		}
		if typ != models.FieldTypeUnknown && ce.typ != typ {
			return edgeValue{}, typ, lo, hi, false, nil
		}
		typ, lo, hi = ce.typ, minI64(lo, ce.first), maxI64(hi, ce.last)
		t := ce.first
		if newest {
			t = ce.last
		}
		if !beats(t) {
			continue
		}
		// The live cache holds no deleted value; the snapshotting one
		// may.
		if i == 1 && rs.deleted(seriesKey, field, rs.snap.seq, t) {
			return edgeValue{}, typ, lo, hi, false, nil
		}
		best = edgeValue{found: true, t: t, v: ownedValue(ce.v)}
	}
	for k := len(rs.files) - 1; k >= 0; k-- {
		f := rs.files[k]
		fmin, fmax := f.r.MinTime(), f.r.MaxTime()
		if fmax < min || fmin > max {
			continue
		}
		lo, hi = minI64(lo, fmin), maxI64(hi, fmax)
		if best.found && (newest && fmax <= best.t || !newest && fmin >= best.t) {
			continue // it cannot hold a time that beats best's
		}
		var t models.FieldType
		t, sc.metas = f.r.AppendEntries(sc.metas[:0], seriesKey, field)
		if t == models.FieldTypeUnknown {
			continue
		}
		if typ != models.FieldTypeUnknown && t != typ {
			return edgeValue{}, typ, lo, hi, false, nil
		}
		typ = t
		e, ok, err := fileEdge(f.r, sc.metas, t, min, max, newest, &sc.blk)
		if err != nil || !ok {
			return edgeValue{}, typ, lo, hi, false, err
		}
		if !e.found || !beats(e.t) {
			continue
		}
		if rs.deleted(seriesKey, field, f.seq, e.t) {
			return edgeValue{}, typ, lo, hi, false, nil
		}
		best = e
	}
	return best, typ, lo, hi, true, nil
}

// deleted reports whether a tombstone deletes time t of (seriesKey,
// field) from a source of sequence seq.
func (rs *readState) deleted(seriesKey, field []byte, seq uint64, t int64) bool {
	for i := range rs.tombs {
		tb := &rs.tombs[i]
		if tb.Min <= t && t <= tb.Max && tb.appliesTo(seq, seriesKey, field) {
			return true
		}
	}
	return false
}

// fileEdge returns the newest (or oldest) value in [min, max] of a key
// whose index entries in r are metas (in time order, values of type typ),
// string bytes owned; blk is a decoding buffer. ok is false when another
// of the key's blocks may hold the value's time or one beyond it.
func fileEdge(r *tsm.Reader, metas []tsm.BlockMeta, typ models.FieldType, min, max int64, newest bool, blk *tsm.Array) (edgeValue, bool, error) {
	n := len(metas)
	for k := range n {
		i := k
		if newest {
			i = n - 1 - k
		}
		m := &metas[i]
		if m.MaxTime < min || m.MinTime > max {
			continue
		}
		var e edgeValue
		if typ != models.FieldTypeString && m.MinTime >= min && m.MaxTime <= max {
			// Wholly inside: the statistics hold both ends.
			e = edgeValue{found: true, t: m.MinTime, v: models.Value{Type: typ, N: m.Stats.First}}
			if newest {
				e.t, e.v.N = m.MaxTime, m.Stats.Last
			}
		} else {
			if err := r.ReadArray(*m, blk); err != nil {
				return edgeValue{}, false, err
			}
			blk.Include(min, max)
			if blk.Len() == 0 {
				continue // straddles the range, holds nothing in it
			}
			j := 0
			if newest {
				j = blk.Len() - 1
			}
			e = edgeValue{found: true, t: blk.Timestamps[j], v: ownedValue(blk.Value(j))}
		}
		// The blocks not yet seen must lie wholly before (after) it.
		for o := range n {
			if newest && o < i && metas[o].MaxTime >= e.t || !newest && o > i && metas[o].MinTime <= e.t {
				return edgeValue{}, false, nil
			}
		}
		return e, true, nil
	}
	return edgeValue{}, true, nil
}

// cacheEdge is what cache.edge reads of one key.
type cacheEdge struct {
	typ         models.FieldType
	n           int          // values in [min, max]
	first, last int64        // the times of the first and last of them
	v           models.Value // the value at first or last; string bytes shared
}

// edge reads the values of (series, field) in [min, max] at one end: the
// newest, or with newest false the oldest (n is 0 without any).
func (c *cache) edge(series, field []byte, min, max int64, newest bool) cacheEdge {
	h := seriesHash(series)
	pt := c.part(h)
	pt.mu.Lock()
	defer pt.mu.Unlock()
	cs, _ := pt.find(h, series)
	if cs == nil {
		return cacheEdge{}
	}
	var view tsm.Array
	a := cs.fieldValues(pt, field, 0, &view)
	if a == nil {
		return cacheEdge{}
	}
	n := a.Len()
	if n == 0 || a.Timestamps[0] > max || a.Timestamps[n-1] < min {
		return cacheEdge{}
	}
	lo, hi := 0, n
	if a.Timestamps[0] < min || a.Timestamps[n-1] > max { // else all of them, the usual case
		lo, hi = arrayWindow(a, min, max)
		if hi <= lo {
			return cacheEdge{}
		}
	}
	ce := cacheEdge{typ: a.Type, n: hi - lo, first: a.Timestamps[lo], last: a.Timestamps[hi-1], v: a.Value(lo)}
	if newest {
		ce.v = a.Value(hi - 1)
	}
	return ce
}

// markStatBlocks sets isolated on the blocks that overlap no other block
// (of any file), no cached value and no applicable tombstone, and stat on
// the isolated blocks that can be aggregated from their statistics (inside
// [min, max] and one window of g). It returns order, its scratch (reused
// when given back).
func markStatBlocks(blocks []blockRef, caches []tsm.Array, tombs []Tombstone, seriesKey, field []byte, min, max int64, g grid, order []int) []int {
	if len(blocks) == 0 {
		return order
	}
	order = order[:0]
	sorted := true
	for i := range blocks {
		order = append(order, i)
		sorted = sorted && (i == 0 || blocks[i-1].meta.MinTime <= blocks[i].meta.MinTime)
	}
	if !sorted { // one file's blocks are in time order already
		slices.SortFunc(order, func(a, b int) int {
			return cmpInt64(blocks[a].meta.MinTime, blocks[b].meta.MinTime)
		})
	}
	prevMax := int64(math.MinInt64)
	for k, i := range order {
		m := &blocks[i].meta
		isolated := k == 0 || prevMax < m.MinTime
		if k+1 < len(order) && blocks[order[k+1]].meta.MinTime <= m.MaxTime {
			isolated = false
		}
		prevMax = maxI64(prevMax, m.MaxTime)
		if !isolated {
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
			if tb.Max >= m.MinTime && tb.Min <= m.MaxTime && tb.appliesTo(blocks[i].file.seq, seriesKey, field) {
				covered = true
				break
			}
		}
		blocks[i].isolated = !covered
		// A string block's statistics hold no values (first and last are
		// read from the block), so it is never folded from them.
		blocks[i].stat = !covered && blocks[i].typ != models.FieldTypeString &&
			m.MinTime >= min && m.MaxTime <= max && g.num(m.MinTime) == g.num(m.MaxTime)
	}
	return order
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

// grid is the windows of width every starting at offset + k*every, k
// any integer; window k is numbered k. Numbers and starts are computed
// without overflow over the whole int64 time range.
type grid struct {
	every  int64
	offset int64 // in [0, every)
	// first and last are the numbers of the windows holding
	// math.MinInt64 and math.MaxInt64.
	first, last int64
}

// newGrid returns the grid of width every > 0 shifted by offset (any
// int64; only offset modulo every matters).
func newGrid(every, offset int64) grid {
	g := grid{every: every, offset: floorMod(offset, every)}
	g.first, g.last = g.num(math.MinInt64), g.num(math.MaxInt64)
	return g
}

// num returns the number of the window holding t, floor((t-offset)/every).
func (g grid) num(t int64) int64 {
	n := t / g.every
	r := t % g.every
	if r < 0 {
		n, r = n-1, r+g.every
	}
	// Now t = n*every + r with 0 <= r < every.
	if r < g.offset {
		n--
	}
	return n
}

// start returns the start of window n, or math.MinInt64 for the window
// holding math.MinInt64 (which may begin before it). n must hold a time.
func (g grid) start(n int64) int64 {
	if n <= g.first {
		return math.MinInt64
	}
	// The start lies in the int64 range, so the wrapping arithmetic is
	// exact even where n*every alone overflows.
	return n*g.every + g.offset
}

// end returns the last time of window n, math.MaxInt64 for the window
// holding math.MaxInt64. n must hold a time.
func (g grid) end(n int64) int64 {
	if n >= g.last {
		return math.MaxInt64
	}
	return g.start(n+1) - 1
}

// floorDiv returns floor(a / b) for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// floorMod returns a mod b in [0, b) for b > 0.
func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
