package query

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/models"
)

// pushable maps the aggregates Storage can compute per window to the
// partials they need. They merge exactly across shards and series.
var pushable = map[string]AggregateSet{
	"count": AggregateCount,
	"sum":   AggregateSum,
	"mean":  AggregateSum | AggregateCount,
	"min":   AggregateMin,
	"max":   AggregateMax,
	"first": AggregateFirst,
	"last":  AggregateLast,
}

// pushdown returns the partial aggregates to ask Storage for, or 0 when
// the query must read raw points: it needs no field condition and only
// count/sum/mean/min/max/first/last of plain fields (numeric ones for
// sum, mean, min and max), possibly inside transformations and
// arithmetic. Without GROUP BY time the whole range is one
// window (see windowGrid), except for a lone min or max.
func (p *plan) pushdown() AggregateSet {
	if !p.agg || p.needsPts || p.aux >= 0 {
		return 0
	}
	if p.lower > p.shown {
		// The first window's plain aggregates count from the lower bound
		// inside it, a transformation's input from a window earlier:
		// partials of whole windows cannot answer both.
		return 0
	}
	if p.loc != nil && p.gridEvery == 0 {
		// Windows that follow the zone's changes and no grid under them.
		return 0
	}
	if p.interval == 0 && len(p.exprs) == 1 {
		// A lone min/max without GROUP BY time reports its point's time,
		// which partials do not carry.
		if c, ok := p.exprs[0].(*influxql.Call); ok && (c.Name == "min" || c.Name == "max") {
			return 0
		}
	}
	var set AggregateSet
	ok := true
	for _, e := range p.exprs {
		influxql.WalkFunc(e, func(n influxql.Node) {
			c, isCall := n.(*influxql.Call)
			if !isCall || !ok {
				return
			}
			if isMath(c.Name) {
				return // applied to the merged values
			}
			if transforms[c.Name] {
				// Over a pushed-down aggregate (visited next) only.
				if _, inner := c.Args[0].(*influxql.Call); !inner {
					ok = false
				}
				return
			}
			a, known := pushable[c.Name]
			if !known || len(c.Args) != 1 {
				ok = false
				return
			}
			f := fieldOf(c)
			if f < 0 {
				ok = false
				return
			}
			if c.Name != "count" && c.Name != "first" && c.Name != "last" && !isNumeric(p.types[f]) {
				ok = false
				return
			}
			set |= a
		})
	}
	if !ok {
		return 0
	}
	return set
}

// rawKeep is how many points per field and series a raw query can need
// at most: with no field condition, the rows of LIMIT n OFFSET m are
// among the first (or, descending, last) n+m timestamps of each series,
// and those lie within each field's first (last) n+m points. 0 means all.
func (p *plan) rawKeep() int {
	if p.agg || p.needsPts || p.stmt.Limit <= 0 {
		return 0
	}
	return p.stmt.Limit + p.stmt.Offset
}

// edgePushdown returns AggregateLast (descending) or AggregateFirst for a
// raw query that needs one point per field and series (LIMIT 1, the
// "last point of every host" query), so Storage sends one value per field
// instead of every point: one window spanning all time (Every
// math.MaxInt64) whose first or last point per field is exactly what the
// raw rows would start with.
func (p *plan) edgePushdown() AggregateSet {
	if p.rawKeep() != 1 {
		return 0
	}
	if p.stmt.TimeAscending() {
		return AggregateFirst
	}
	return AggregateLast
}

// windowGrid is the windows asked of Storage: the GROUP BY windows, the
// finer grid their edges lie on when they follow a zone's changes, or
// all of time (Every math.MaxInt64) without GROUP BY time.
func (p *plan) windowGrid() (every, offset int64) {
	switch {
	case p.interval == 0:
		return math.MaxInt64, 0
	case p.loc != nil:
		return p.gridEvery, p.gridOffset
	}
	return p.interval, p.offset
}

// BuildWindows computes the partial aggregates of req over pts (sorted by
// time), appending one Window per non-empty window to dst. Storage
// implementations that hold raw points can use it to answer a windowed
// Scan.
func BuildWindows(dst []Window, pts []Point, req *WindowRequest) []Window {
	p := plan{windowing: windowing{interval: req.Every, offset: req.Offset}}
	if len(pts) > 0 {
		n := windowCount(p.windowStart(pts[0].Time), p.windowStart(pts[len(pts)-1].Time), req.Every)
		dst = slices.Grow(dst, int(min(n, int64(len(pts)))))
	}
	for i := 0; i < len(pts); {
		start := p.windowStart(pts[i].Time)
		end := p.windowEnd(start) // math.MaxInt64: the window runs to the end of time
		j := i
		for j < len(pts) && (pts[j].Time < end || end == math.MaxInt64) {
			j++
		}
		dst = append(dst, partials(start, pts[i:j], req.Aggregates))
		i = j
	}
	return dst
}

// partials computes the partial aggregates of one window's points.
func partials(start int64, pts []Point, set AggregateSet) Window {
	first, last := pts[0], pts[len(pts)-1]
	w := Window{
		Start: start, Count: int64(len(pts)),
		First: first.Value, FirstTime: first.Time, Last: last.Value, LastTime: last.Time,
		Sum: first.Value, Min: first.Value, Max: first.Value,
	}
	if set&(AggregateSum|AggregateMin|AggregateMax) == 0 || !isNumeric(first.Value.Type) {
		return w
	}
	switch first.Value.Type {
	case models.FieldTypeFloat:
		sum, lo, hi := 0.0, first.Value.Float(), first.Value.Float()
		for _, p := range pts {
			f := p.Value.Float()
			sum += f
			lo = math.Min(lo, f)
			hi = math.Max(hi, f)
		}
		w.Sum, w.Min, w.Max = models.FloatValue(sum), models.FloatValue(lo), models.FloatValue(hi)
	default:
		for _, p := range pts[1:] {
			w.Sum = addValues(w.Sum, p.Value)
			if less(p.Value, w.Min) {
				w.Min = p.Value
			}
			if less(w.Max, p.Value) {
				w.Max = p.Value
			}
		}
	}
	return w
}

// mergeWindow merges the partials of src into dst (same window). A
// zero-Count dst takes src's values.
func mergeWindow(dst *Window, src Window, set AggregateSet) {
	if src.Count == 0 {
		return
	}
	if dst.Count == 0 {
		start := dst.Start
		*dst = src
		dst.Start = start
		return
	}
	dst.Count += src.Count
	if set&AggregateSum != 0 {
		dst.Sum = addValues(dst.Sum, src.Sum)
	}
	if set&AggregateMin != 0 && less(src.Min, dst.Min) {
		dst.Min = src.Min
	}
	if set&AggregateMax != 0 && less(dst.Max, src.Max) {
		dst.Max = src.Max
	}
	// On equal times (points of different series) the value decides, as
	// in the raw path: see tieWins.
	if set&AggregateFirst != 0 && (src.FirstTime < dst.FirstTime || src.FirstTime == dst.FirstTime && tieWins("first", src.First, dst.First)) {
		dst.First, dst.FirstTime = src.First, src.FirstTime
	}
	if set&AggregateLast != 0 && (src.LastTime > dst.LastTime || src.LastTime == dst.LastTime && tieWins("last", src.Last, dst.Last)) {
		dst.Last, dst.LastTime = src.Last, src.LastTime
	}
}

// addValues adds two sums, keeping integer sums integers.
func addValues(a, b models.Value) models.Value {
	switch {
	case a.Type == models.FieldTypeInteger && b.Type == models.FieldTypeInteger:
		return models.IntegerValue(a.Integer() + b.Integer())
	case a.Type == models.FieldTypeUnsigned && b.Type == models.FieldTypeUnsigned:
		return models.UnsignedValue(a.Unsigned() + b.Unsigned())
	}
	x, _ := asFloat(a)
	y, _ := asFloat(b)
	return models.FloatValue(x + y)
}

// sameStarts reports whether ws holds exactly one window for each of
// starts, in order.
func sameStarts(ws []Window, starts []int64) bool {
	return slices.EqualFunc(ws, starts, func(w Window, start int64) bool { return w.Start == start })
}

// windowRows computes a pushed-down aggregate query for one group from
// the windows Storage returned.
func (p *plan) windowRows(g *group, limit int64) ([][]any, error) {
	lo, found := int64(0), false
	for _, s := range g.series {
		for _, ws := range s.wins {
			if len(ws) > 0 && (!found || ws[0].Start < lo) {
				lo, found = ws[0].Start, true
			}
		}
	}
	if !found {
		return nil, nil
	}
	starts, err := p.windowStarts(lo, limit, func() []int64 {
		var times []int64
		for _, s := range g.series {
			for _, ws := range s.wins {
				for _, w := range ws {
					times = append(times, w.Start)
				}
			}
		}
		return p.startsOf(times)
	})
	if err != nil {
		return nil, err
	}
	// Without GROUP BY time every partial goes to the one answer.
	merged := make([][]Window, len(p.fields))
	set := p.pushdown()
	for f := range merged {
		if len(g.series) == 1 && p.loc == nil && sameStarts(g.series[0].wins[f], starts) {
			// One series' windows, one per window of the answer:
			// merging would copy each into an empty window.
			merged[f] = g.series[0].wins[f]
			continue
		}
		merged[f] = make([]Window, len(starts))
		for _, s := range g.series {
			for _, w := range s.wins[f] {
				k := 0
				if p.interval > 0 {
					// The window holding the partial's: its own, or with a
					// zone's windows the one its grid cell lies in.
					k = sort.Search(len(starts), func(i int) bool { return starts[i] > w.Start }) - 1
					if k < 0 || (p.loc == nil && starts[k] != w.Start) {
						continue
					}
				}
				mergeWindow(&merged[f][k], w, set)
			}
		}
	}
	calls := func(c *influxql.Call, w int) (any, int64, bool) {
		f := fieldOf(c)
		win := &merged[f][w]
		if win.Count == 0 {
			return nil, 0, false
		}
		switch c.Name {
		case "count":
			return win.Count, 0, true
		case "sum":
			return toAny(win.Sum), 0, true
		case "mean":
			s, _ := asFloat(win.Sum)
			return s / float64(win.Count), 0, true
		case "min":
			return toAny(win.Min), 0, true
		case "max":
			return toAny(win.Max), 0, true
		case "first":
			return toAny(win.First), win.FirstTime, true
		case "last":
			return toAny(win.Last), win.LastTime, true
		}
		return nil, 0, false
	}
	return p.buildRows(starts, calls, nil, nil), nil
}

func timeDuration(ns int64) time.Duration { return time.Duration(ns) }
