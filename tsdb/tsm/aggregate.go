package tsm

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/strata-db/strata/tsdb/models"
)

// MaxWindows bounds the number of windows one Aggregator holds.
const MaxWindows = 1 << 22

// ErrInvalidWindow is returned by NewAggregator for an empty time range, a
// non-positive window width, more than MaxWindows windows, or a column
// type without aggregates.
var ErrInvalidWindow = errors.New("tsm: invalid aggregate window")

// Aggregate holds the partial aggregates of one window, from which InfluxQL
// computes count, sum, mean (sum/count), min, max, first and last. Values
// use the encoding of models.Value.N, like Stats: float64 bits for floats,
// int64 for integers (Sum wraps as InfluxQL's integer SUM does), uint64 for
// unsigneds, 0/1 for booleans (Sum unused). Min and Max are meaningful only
// when Count > 0; float Min/Max skip NaN unless every value is NaN. First
// and Last are the values at FirstTime and LastTime.
type Aggregate struct {
	Start     int64 // window start (inclusive)
	Count     int64
	Sum       uint64
	Min, Max  uint64
	First     uint64
	Last      uint64
	FirstTime int64
	LastTime  int64
}

// Aggregator accumulates window aggregates over the fixed windows
// [start + k·every, start + (k+1)·every) clipped to [start, end). Values
// can be added in any order, from any number of files, as whole blocks
// (AddBlock, using the index statistics) or as decoded arrays (AddArray).
// The caller must not add a value twice: when sources overlap in time it
// merges them (newest wins) before adding. Not safe for concurrent use.
type Aggregator struct {
	typ        models.FieldType
	start, end int64 // [start, end)
	every      int64
	windows    []Aggregate
	ents       []BlockMeta // scratch for Reader.Aggregate
}

// NewAggregator returns an Aggregator for a column of type typ (float,
// integer, unsigned or boolean) over [start, end) in windows of every ns.
func NewAggregator(typ models.FieldType, start, end, every int64) (*Aggregator, error) {
	g := &Aggregator{}
	if err := g.Reset(typ, start, end, every); err != nil {
		return nil, err
	}
	return g, nil
}

// Reset makes g a fresh Aggregator for new parameters, reusing its memory.
func (g *Aggregator) Reset(typ models.FieldType, start, end, every int64) error {
	switch {
	case !validType(typ) || typ == models.FieldTypeString:
		return fmt.Errorf("%w: no aggregates for type %s", ErrInvalidWindow, typ)
	case every <= 0 || end <= start:
		return fmt.Errorf("%w: range [%d, %d) every %d", ErrInvalidWindow, start, end, every)
	}
	span := uint64(end) - uint64(start)
	n := span / uint64(every)
	if span%uint64(every) != 0 {
		n++
	}
	if n > MaxWindows {
		return fmt.Errorf("%w: %d windows exceed %d", ErrInvalidWindow, n, MaxWindows)
	}
	g.typ, g.start, g.end, g.every = typ, start, end, every
	g.windows = slices.Grow(g.windows[:0], int(n))[:n]
	for k := range g.windows {
		g.windows[k] = Aggregate{Start: start + int64(k)*every}
	}
	return nil
}

// Windows returns the aggregates, one per window in time order. The slice
// belongs to the Aggregator.
func (g *Aggregator) Windows() []Aggregate { return g.windows }

// window returns the index of the window holding t, which lies in range.
func (g *Aggregator) window(t int64) int { return int((uint64(t) - uint64(g.start)) / uint64(g.every)) }

// AddBlock adds a block using its index statistics if the block lies
// wholly inside one window, and reports whether it did. When it returns
// false the caller decodes the block and calls AddArray.
func (g *Aggregator) AddBlock(m BlockMeta) bool {
	if m.MinTime < g.start || m.MaxTime >= g.end {
		return false
	}
	k := g.window(m.MinTime)
	if k != g.window(m.MaxTime) {
		return false
	}
	s := m.Stats
	g.combine(&g.windows[k], int64(m.Count), s.Sum, s.Min, s.Max, s.First, m.MinTime, s.Last, m.MaxTime)
	return true
}

// combine merges partial aggregates into w.
func (g *Aggregator) combine(w *Aggregate, count int64, sum, lo, hi, first uint64, firstTime int64, last uint64, lastTime int64) {
	if w.Count == 0 {
		*w = Aggregate{Start: w.Start, Count: count, Sum: sum, Min: lo, Max: hi,
			First: first, FirstTime: firstTime, Last: last, LastTime: lastTime}
		return
	}
	w.Count += count
	switch g.typ {
	case models.FieldTypeFloat:
		w.Sum = math.Float64bits(math.Float64frombits(w.Sum) + math.Float64frombits(sum))
		w.Min = math.Float64bits(fmin(math.Float64frombits(w.Min), math.Float64frombits(lo)))
		w.Max = math.Float64bits(fmax(math.Float64frombits(w.Max), math.Float64frombits(hi)))
	case models.FieldTypeInteger:
		w.Sum += sum
		w.Min = uint64(min(int64(w.Min), int64(lo)))
		w.Max = uint64(max(int64(w.Max), int64(hi)))
	default: // unsigned, boolean
		w.Sum += sum
		w.Min, w.Max = min(w.Min, lo), max(w.Max, hi)
	}
	if firstTime < w.FirstTime {
		w.First, w.FirstTime = first, firstTime
	}
	if lastTime > w.LastTime {
		w.Last, w.LastTime = last, lastTime
	}
}

// fmin and fmax skip a NaN operand unless both are NaN.
func fmin(a, b float64) float64 {
	if a != a || b < a {
		return b
	}
	return a
}

func fmax(a, b float64) float64 {
	if a != a || b > a {
		return b
	}
	return a
}

// AddArray adds decoded values; those outside [start, end) are ignored.
// a's timestamps must ascend and its type must be the Aggregator's
// (ErrTypeMismatch otherwise).
func (g *Aggregator) AddArray(a *Array) error {
	if a.Len() == 0 {
		return nil
	}
	if a.Type != g.typ {
		return fmt.Errorf("%w: %s values for %s aggregator", ErrTypeMismatch, a.Type, g.typ)
	}
	ts := a.Timestamps
	i := a.search(g.start)
	for i < len(ts) && ts[i] < g.end {
		k := g.window(ts[i])
		wEnd := g.windows[k].Start + g.every // may exceed end; ts < end holds anyway
		if wEnd > g.end || wEnd < g.windows[k].Start {
			wEnd = g.end
		}
		j, _ := slices.BinarySearch(ts[i+1:], wEnd)
		j += i + 1
		g.addRun(&g.windows[k], a, i, j)
		i = j
	}
	return nil
}

// addRun adds a's values [i, j), all in window w.
func (g *Aggregator) addRun(w *Aggregate, a *Array, i, j int) {
	ft, lt := a.Timestamps[i], a.Timestamps[j-1]
	n := int64(j - i)
	switch g.typ {
	case models.FieldTypeFloat:
		s := floatStats(a.Floats[i:j])
		g.combine(w, n, s.Sum, s.Min, s.Max, s.First, ft, s.Last, lt)
	case models.FieldTypeInteger:
		vs := a.Integers[i:j]
		lo, hi, sum := intStats(vs)
		g.combine(w, n, uint64(sum), uint64(lo), uint64(hi), uint64(vs[0]), ft, uint64(vs[len(vs)-1]), lt)
	case models.FieldTypeUnsigned:
		vs := a.Unsigneds[i:j]
		lo, hi, sum := intStats(vs)
		g.combine(w, n, sum, lo, hi, vs[0], ft, vs[len(vs)-1], lt)
	case models.FieldTypeBoolean:
		part := a.Slice(i, j)
		s := ComputeMeta(&part).Stats
		g.combine(w, n, 0, s.Min, s.Max, s.First, ft, s.Last, lt)
	}
}

// Aggregate adds this file's values of (series, field) to g, skipping the
// values inside any of the exclude ranges (tombstones, or time ranges the
// caller takes from newer data). Blocks wholly inside one window and clear
// of exclude ranges are added from their statistics without decoding;
// others are decoded into scratch (which may be nil). It returns
// ErrTypeMismatch if the column's type differs from g's, and an
// ErrCorrupt error for a damaged block.
func (r *Reader) Aggregate(series, field []byte, g *Aggregator, exclude []TimeRange, scratch *Array) error {
	typ, ents := r.AppendEntries(g.ents[:0], series, field)
	g.ents = ents
	if typ == models.FieldTypeUnknown {
		return nil
	}
	if typ != g.typ {
		return fmt.Errorf("%w: %q/%q is %s, aggregator is %s", ErrTypeMismatch, series, field, typ, g.typ)
	}
	if scratch == nil {
		scratch = &Array{}
	}
	for _, m := range ents {
		if m.MaxTime < g.start || m.MinTime >= g.end {
			continue
		}
		touched := false
		for _, x := range exclude {
			if x.Overlaps(m.MinTime, m.MaxTime) {
				touched = true
				break
			}
		}
		if !touched && g.AddBlock(m) {
			continue
		}
		if err := r.ReadArray(m, scratch); err != nil {
			return err
		}
		for _, x := range exclude {
			scratch.Exclude(x.Min, x.Max)
		}
		if err := g.AddArray(scratch); err != nil {
			return err
		}
	}
	return nil
}
