package query

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/models"
)

// aggregates lists the InfluxQL aggregate and selector functions the
// executor computes; selectors return the time of the point they pick.
var aggregates = map[string]bool{
	"count": false, "sum": false, "mean": false, "median": false, "mode": false,
	"spread": false, "stddev": false, "integral": false, "distinct": false,
	"percentile": true, "min": true, "max": true, "first": true, "last": true,
	"top": true, "bottom": true,
}

func isAggregate(name string) bool { _, ok := aggregates[name]; return ok }

func isSelector(name string) bool { return aggregates[name] }

// transforms lists the functions applied to a series of values.
var transforms = map[string]bool{
	"derivative": true, "non_negative_derivative": true, "difference": true,
	"non_negative_difference": true, "moving_average": true, "cumulative_sum": true,
	"elapsed": true,
}

// tv is one output value with its time.
type tv struct {
	t int64
	v any
}

// aggregate computes call over pts (sorted by time). It returns the value,
// the time of the selected point for selectors (ok false when the window
// has no answer), or several values for top, bottom and distinct.
func aggregate(call *influxql.Call, pts []Point) (val any, t int64, ok bool) {
	if len(pts) == 0 {
		return nil, 0, false
	}
	switch call.Name {
	case "count":
		return int64(len(pts)), 0, true
	case "sum":
		return sumOf(pts), 0, true
	case "mean":
		s, n := 0.0, 0
		for _, p := range pts {
			if f, ok := asFloat(p.Value); ok {
				s += f
				n++
			}
		}
		if n == 0 {
			return nil, 0, false
		}
		return s / float64(n), 0, true
	case "median":
		fs := floats(pts)
		if len(fs) == 0 {
			return nil, 0, false
		}
		slices.Sort(fs)
		m := len(fs) / 2
		if len(fs)%2 == 1 {
			return fs[m], 0, true
		}
		return fs[m-1] + (fs[m]-fs[m-1])/2, 0, true
	case "mode":
		return modeOf(pts), 0, true
	case "spread":
		lo, hi := pts[0].Value, pts[0].Value
		for _, p := range pts[1:] {
			if less(p.Value, lo) {
				lo = p.Value
			}
			if less(hi, p.Value) {
				hi = p.Value
			}
		}
		switch sameType(pts) {
		case models.FieldTypeInteger:
			return hi.Integer() - lo.Integer(), 0, true
		case models.FieldTypeUnsigned:
			return hi.Unsigned() - lo.Unsigned(), 0, true
		}
		a, _ := asFloat(lo)
		b, _ := asFloat(hi)
		return b - a, 0, true
	case "stddev":
		fs := floats(pts)
		switch len(fs) {
		case 0:
			return nil, 0, false
		case 1:
			// InfluxDB 1.8's stddev of one point is a NaN point
			// (query/call_iterator.go, FloatStddevReduceSlice): a value
			// no fill replaces, answered as null.
			return math.NaN(), 0, true
		}
		mean := 0.0
		for _, f := range fs {
			mean += f
		}
		mean /= float64(len(fs))
		ss := 0.0
		for _, f := range fs {
			ss += (f - mean) * (f - mean)
		}
		return math.Sqrt(ss / float64(len(fs)-1)), 0, true
	case "integral":
		unit := durationArg(call, 1, time.Second)
		area := 0.0
		for i := 1; i < len(pts); i++ {
			a, _ := asFloat(pts[i-1].Value)
			b, _ := asFloat(pts[i].Value)
			area += (a + b) / 2 * nsBetween(pts[i-1].Time, pts[i].Time)
		}
		return area / float64(unit), 0, true
	case "min", "max":
		best := 0
		for i := 1; i < len(pts); i++ {
			if (call.Name == "min" && less(pts[i].Value, pts[best].Value)) ||
				(call.Name == "max" && less(pts[best].Value, pts[i].Value)) {
				best = i
			}
		}
		return toAny(pts[best].Value), pts[best].Time, true
	case "first", "last":
		p := pts[selectIndex(call, pts)]
		return toAny(p.Value), p.Time, true
	case "percentile":
		pct, _ := numberArg(call, 1)
		sorted := sortedByValue(pts)
		i := int(math.Floor(float64(len(sorted))*pct/100+0.5)) - 1
		if i < 0 || i >= len(sorted) {
			return nil, 0, false
		}
		return toAny(sorted[i].Value), sorted[i].Time, true
	}
	return nil, 0, false
}

// multiAggregate computes top, bottom and distinct: several values per
// window. top and bottom keep their points' times; distinct uses start.
func multiAggregate(call *influxql.Call, pts []Point, start int64) []tv {
	if len(pts) == 0 {
		return nil
	}
	switch call.Name {
	case "distinct":
		// InfluxDB 1.8 orders the values by the time each first appeared,
		// equal times by value (query/functions.gen.go
		// FloatDistinctReducer.Emit sorts by floatPoints: time, then value).
		// pts is sorted by time, so a stable sort by value and a pass that
		// keeps each value's earliest point, then a sort by that time, give
		// that order.
		byValue := slices.Clone(pts)
		slices.SortStableFunc(byValue, func(a, b Point) int {
			switch {
			case less(a.Value, b.Value):
				return -1
			case less(b.Value, a.Value):
				return 1
			}
			return 0
		})
		firsts := make([]Point, 0, len(byValue))
		for i, p := range byValue {
			if i == 0 || less(byValue[i-1].Value, p.Value) {
				firsts = append(firsts, p)
			}
		}
		slices.SortStableFunc(firsts, cmpPointTime)
		out := make([]tv, len(firsts))
		for i, p := range firsts {
			out[i] = tv{start, toAny(p.Value)}
		}
		return out
	case "top", "bottom":
		n, _ := numberArg(call, len(call.Args)-1)
		sorted := sortedByValue(pts)
		if call.Name == "top" {
			// Highest first; among equal values the earliest point.
			sort.SliceStable(sorted, func(i, j int) bool { return less(sorted[j].Value, sorted[i].Value) })
		}
		k := min(int(n), len(sorted))
		sel := slices.Clone(sorted[:k])
		sort.SliceStable(sel, func(i, j int) bool { return sel[i].Time < sel[j].Time })
		out := make([]tv, k)
		for i, p := range sel {
			out[i] = tv{p.Time, toAny(p.Value)}
		}
		return out
	}
	return nil
}

func isMulti(name string) bool { return name == "top" || name == "bottom" || name == "distinct" }

// sortedByValue returns pts sorted by value ascending, earlier points
// first among equal values.
func sortedByValue(pts []Point) []Point {
	s := slices.Clone(pts)
	sort.SliceStable(s, func(i, j int) bool { return less(s[i].Value, s[j].Value) })
	return s
}

func floats(pts []Point) []float64 {
	fs := make([]float64, 0, len(pts))
	for _, p := range pts {
		if f, ok := asFloat(p.Value); ok {
			fs = append(fs, f)
		}
	}
	return fs
}

// sameType returns the type all pts share, or FieldTypeUnknown when a
// field has different types in different shards.
func sameType(pts []Point) models.FieldType {
	t := pts[0].Value.Type
	for _, p := range pts[1:] {
		if p.Value.Type != t {
			return models.FieldTypeUnknown
		}
	}
	return t
}

func sumOf(pts []Point) any {
	switch sameType(pts) {
	case models.FieldTypeInteger:
		var s int64
		for _, p := range pts {
			s += p.Value.Integer()
		}
		return s
	case models.FieldTypeUnsigned:
		var s uint64
		for _, p := range pts {
			s += p.Value.Unsigned()
		}
		return s
	}
	s := 0.0
	for _, p := range pts {
		f, _ := asFloat(p.Value)
		s += f
	}
	return s
}

// modeOf returns the most frequent value, the smallest among ties.
func modeOf(pts []Point) any {
	s := sortedByValue(pts)
	best, bestN := s[0].Value, 0
	for i := 0; i < len(s); {
		j := i + 1
		for j < len(s) && !less(s[i].Value, s[j].Value) {
			j++
		}
		if j-i > bestN {
			best, bestN = s[i].Value, j-i
		}
		i = j
	}
	return toAny(best)
}

// durationArg returns call's argument i as a duration, or def.
func durationArg(call *influxql.Call, i int, def time.Duration) time.Duration {
	if i < len(call.Args) {
		if d, ok := call.Args[i].(*influxql.DurationLiteral); ok && d.Val > 0 {
			return d.Val
		}
	}
	return def
}

// numberArg returns call's argument i as a number.
func numberArg(call *influxql.Call, i int) (float64, bool) {
	if i < 0 || i >= len(call.Args) {
		return 0, false
	}
	switch x := call.Args[i].(type) {
	case *influxql.IntegerLiteral:
		return float64(x.Val), true
	case *influxql.NumberLiteral:
		return x.Val, true
	}
	return 0, false
}

// transform applies a transformation to a series of values sorted by
// time, ascending or (ascending false) descending; nil values are
// skipped. interval is the GROUP BY time interval (0 for raw values), the
// default unit of the derivatives.
func transform(call *influxql.Call, in []tv, interval time.Duration, ascending bool) []tv {
	vals := make([]tv, 0, len(in))
	for _, x := range in {
		if x.v != nil {
			vals = append(vals, x)
		}
	}
	var out []tv
	switch call.Name {
	case "derivative", "non_negative_derivative":
		def := time.Second
		if interval > 0 {
			def = interval
		}
		unit := float64(durationArg(call, 1, def))
		for i := 1; i < len(vals); i++ {
			a, _ := anyFloat(vals[i-1].v)
			b, _ := anyFloat(vals[i].v)
			dt := nsBetween(vals[i-1].t, vals[i].t)
			if !ascending {
				dt = -dt
			}
			if dt == 0 {
				continue
			}
			d := (b - a) / (dt / unit)
			if call.Name == "non_negative_derivative" && d < 0 {
				continue
			}
			out = append(out, tv{vals[i].t, d})
		}
	case "difference", "non_negative_difference":
		for i := 1; i < len(vals); i++ {
			d := subtract(vals[i].v, vals[i-1].v)
			if call.Name == "non_negative_difference" {
				if f, _ := anyFloat(d); f < 0 {
					continue
				}
			}
			out = append(out, tv{vals[i].t, d})
		}
	case "moving_average":
		nf, _ := numberArg(call, 1)
		n := int(nf)
		if n < 1 {
			return nil
		}
		sum := 0.0
		for i, x := range vals {
			f, _ := anyFloat(x.v)
			sum += f
			if i >= n {
				g, _ := anyFloat(vals[i-n].v)
				sum -= g
			}
			if i >= n-1 {
				out = append(out, tv{x.t, sum / float64(n)})
			}
		}
	case "cumulative_sum":
		var acc any
		for _, x := range vals {
			if acc == nil {
				acc = x.v
			} else {
				acc = add(acc, x.v)
			}
			out = append(out, tv{x.t, acc})
		}
	case "elapsed":
		unit := int64(durationArg(call, 1, time.Nanosecond))
		for i := 1; i < len(vals); i++ {
			out = append(out, tv{vals[i].t, elapsed(vals[i-1].t, vals[i].t, unit)})
		}
	}
	return out
}

func subtract(a, b any) any {
	if x, ok := a.(int64); ok {
		if y, ok := b.(int64); ok {
			return x - y
		}
	}
	if x, ok := a.(uint64); ok {
		if y, ok := b.(uint64); ok {
			return int64(x - y)
		}
	}
	fa, _ := anyFloat(a)
	fb, _ := anyFloat(b)
	return fa - fb
}

func add(a, b any) any {
	if x, ok := a.(int64); ok {
		if y, ok := b.(int64); ok {
			return x + y
		}
	}
	if x, ok := a.(uint64); ok {
		if y, ok := b.(uint64); ok {
			return x + y
		}
	}
	fa, _ := anyFloat(a)
	fb, _ := anyFloat(b)
	return fa + fb
}

// elapsed is the time from a to b in whole units, saturated where the
// span does not fit int64 nanoseconds.
func elapsed(a, b, unit int64) int64 {
	if b < a {
		return -elapsed(b, a, unit)
	}
	n := uint64(b-a) / uint64(unit)
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}
