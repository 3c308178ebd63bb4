package query

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/models"
)

// callFunc answers one aggregate call for window w: its value, the time
// of the selected point (selectors) and whether the window had data.
type callFunc func(c *influxql.Call, w int) (any, int64, bool)

// fieldOf returns the plan field index an aggregate call reads.
func fieldOf(c *influxql.Call) int {
	arg := c.Args[0]
	if inner, ok := arg.(*influxql.Call); ok { // count(distinct(f))
		arg = inner.Args[0]
	}
	if r, ok := arg.(*influxql.VarRef); ok {
		if i, _, ok := parseRef(r.Val); ok {
			return i
		}
	}
	return -1
}

// groupPoints returns, per plan field, the points of every series of g
// that pass the condition, sorted by time (stable in series order).
func (p *plan) groupPoints(g *group) [][]Point {
	out := make([][]Point, len(p.fields))
	if !p.needsPts || p.filtered {
		for _, s := range g.series {
			for i, c := range s.cols {
				out[i] = append(out[i], c...)
			}
		}
	} else {
		v := &pointValuer{}
		ev := influxql.ValuerEval{Valuer: mathValuer{v}, IntegerFloatDivision: true}
		for _, s := range g.series {
			v.tags = s.tags
			align(s.cols, func(t int64, vals []models.Value) {
				v.vals = vals
				if !ev.EvalBool(p.cond) {
					return
				}
				for i, x := range vals {
					if x.Type != models.FieldTypeUnknown {
						out[i] = append(out[i], Point{Time: t, Value: x})
					}
				}
			})
		}
	}
	if len(g.series) > 1 {
		for i := range out {
			sort.SliceStable(out[i], func(a, b int) bool { return out[i][a].Time < out[i][b].Time })
		}
	}
	return out
}

// aggRows computes an aggregate query for one group from raw points.
func (p *plan) aggRows(g *group, limit int64) ([][]any, error) {
	pts := p.groupPoints(g)
	// A group makes a series only with points of a selected field: the
	// rows that match a condition on another field but lack every
	// selected one make none (InfluxDB 1.8 iterates the selected fields'
	// points only).
	lo, found := int64(0), false
	for _, f := range pts[:p.selected] {
		if len(f) > 0 && (!found || f[0].Time < lo) {
			lo, found = f[0].Time, true
		}
	}
	if !found {
		return nil, nil
	}
	starts, err := p.windowStarts(lo, limit, func() []int64 {
		var times []int64
		for _, f := range pts[:p.selected] {
			for _, pt := range f {
				times = append(times, pt.Time)
			}
		}
		return p.startsOf(times)
	})
	if err != nil {
		return nil, err
	}
	// bounds[f][w] is the index of the first point of field f in window w.
	bounds := make([][]int, len(pts))
	for f, list := range pts {
		b := make([]int, len(starts)+1)
		j := 0
		for w := range starts {
			if p.interval > 0 {
				for j < len(list) && list[j].Time < starts[w] {
					j++
				}
			}
			b[w] = j
		}
		b[len(starts)] = len(list)
		bounds[f] = b
	}
	winPts := func(f, w int) []Point { return pts[f][bounds[f][w]:bounds[f][w+1]] }
	calls := func(c *influxql.Call, w int) (any, int64, bool) {
		f := fieldOf(c)
		if f < 0 {
			return nil, 0, false
		}
		wp := winPts(f, w)
		if starts[w] < p.lower && !p.inputs[c] {
			// Read from the window before for a transformation only.
			wp = wp[sort.Search(len(wp), func(i int) bool { return wp[i].Time >= p.lower }):]
		}
		if c.Name == "integral" && p.interval > 0 {
			return integralWindow(c, pts[f], bounds[f][w], bounds[f][w+1], starts[w], p.windowEnd(starts[w]))
		}
		if inner, ok := c.Args[0].(*influxql.Call); ok && c.Name == "count" {
			if len(wp) == 0 {
				return nil, 0, false
			}
			return int64(len(multiAggregate(inner, wp, 0))), 0, true
		}
		return aggregate(c, wp)
	}
	return p.buildRows(starts, calls, pts, winPts), nil
}

// transformInputs returns the aggregate calls that are the argument of a
// transformation that reads the window before the range (mean(f) in
// derivative(mean(f), 1s)); cumulative_sum does not read it.
func transformInputs(exprs []influxql.Expr) map[*influxql.Call]bool {
	inputs := make(map[*influxql.Call]bool)
	for _, e := range exprs {
		influxql.WalkFunc(e, func(n influxql.Node) {
			if c, ok := n.(*influxql.Call); ok && transforms[c.Name] && c.Name != "cumulative_sum" && len(c.Args) > 0 {
				if inner, ok := c.Args[0].(*influxql.Call); ok {
					inputs[inner] = true
				}
			}
		})
	}
	return inputs
}

// integralWindow is integral() over one GROUP BY time window, as
// InfluxDB computes it: the area under the line through the points, with
// the value at each window edge interpolated from the points around it,
// so consecutive windows add up to the integral over their union.
func integralWindow(c *influxql.Call, pts []Point, lo, hi int, start, end int64) (any, int64, bool) {
	if lo == hi {
		return nil, 0, false
	}
	unit := float64(durationArg(c, 1, time.Second))
	val := func(i int) float64 { f, _ := asFloat(pts[i].Value); return f }
	at := func(i int, t int64) float64 { // value at t between points i and i+1
		a, b := val(i), val(i+1)
		return a + (b-a)*nsBetween(pts[i].Time, t)/nsBetween(pts[i].Time, pts[i+1].Time)
	}
	area := 0.0
	if lo > 0 && pts[lo].Time > start {
		v := at(lo-1, start)
		area += (v + val(lo)) / 2 * nsBetween(start, pts[lo].Time)
	}
	for i := lo + 1; i < hi; i++ {
		area += (val(i-1) + val(i)) / 2 * nsBetween(pts[i-1].Time, pts[i].Time)
	}
	if hi < len(pts) && pts[hi-1].Time < end {
		v := at(hi-1, end)
		area += (val(hi-1) + v) / 2 * nsBetween(pts[hi-1].Time, end)
	}
	return area / unit, 0, true
}

// buildRows evaluates every select expression into a column and joins
// them into filled rows. pts and winPts give raw points; they are nil for
// pushed-down queries, which have neither raw transformations nor
// top/bottom/distinct.
func (p *plan) buildRows(starts []int64, calls callFunc, pts [][]Point, winPts func(f, w int) []Point) [][]any {
	if p.interval > 0 && p.stmt.Fill == influxql.NumberFill {
		calls = numberFilled(calls, p.stmt.FillValue)
	}
	if p.shown > influxql.MinTime {
		// The windows before shown were read for a transformation's
		// input only.
		all := calls
		calls = func(c *influxql.Call, w int) (any, int64, bool) {
			if starts[w] < p.shown && !p.inputs[c] {
				return nil, 0, false
			}
			return all(c, w)
		}
	}
	cols := make([][]tv, len(p.exprs))
	fillable := make([]bool, len(p.exprs))
	for i, e := range p.exprs {
		if nestsSeries(e) {
			cols[i] = p.seriesColumn(e, starts, calls, pts, winPts).col
			continue
		}
		cols[i] = p.exprColumn(e, starts, calls)
		fillable[i] = true
	}
	rows := join(cols)
	for len(rows) > 0 && rows[0][0].(int64) < p.shown {
		rows = rows[1:]
	}
	return nanToNull(p.fill(rows, fillable))
}

// nanToNull answers NaN values (stddev of one point, arithmetic over
// it) as null once the fill is done: a NaN is a value to the fill, which
// leaves it and carries it forward as InfluxDB's fill iterator does.
func nanToNull(rows [][]any) [][]any {
	for _, r := range rows {
		for i, v := range r {
			if f, ok := v.(float64); ok && math.IsNaN(f) {
				r[i] = nil
			}
		}
	}
	return rows
}

// numberFilled answers fill(<number>)'s value for a call in a window
// without data: InfluxDB 1.8 fills each call's iterator before the
// arithmetic and transformations over it (query/select.go,
// buildCallIterator wraps every aggregate in NewFillIterator), so
// sum(f) + 1 is 1 in an empty window.
func numberFilled(calls callFunc, value any) callFunc {
	return func(c *influxql.Call, w int) (any, int64, bool) {
		if v, t, ok := calls(c, w); ok {
			return v, t, true
		}
		return value, 0, true
	}
}

// nestsSeries reports whether e holds a transformation or a multi-value
// function, which make a series of their own instead of one value per
// window.
func nestsSeries(e influxql.Expr) bool {
	found := false
	influxql.WalkFunc(e, func(n influxql.Node) {
		if c, ok := n.(*influxql.Call); ok && (transforms[c.Name] || isMulti(c.Name)) {
			found = true
		}
	})
	return found
}

// seriesCol is a column, or a constant when scalar.
type seriesCol struct {
	col     []tv
	scalar  any
	isConst bool
}

// seriesColumn evaluates an expression made of transformations,
// multi-value functions, aggregates, literals and arithmetic into one
// column; arithmetic pairs values of equal time (non_negative_derivative
// (mean(x), 1s) * 8).
func (p *plan) seriesColumn(e influxql.Expr, starts []int64, calls callFunc, pts [][]Point, winPts func(f, w int) []Point) seriesCol {
	switch x := e.(type) {
	case *influxql.ParenExpr:
		return p.seriesColumn(x.Expr, starts, calls, pts, winPts)
	case *influxql.Call:
		switch {
		case transforms[x.Name]:
			return seriesCol{col: p.transformColumn(x, starts, calls, pts)}
		case isMath(x.Name) && nestsSeries(x):
			args := make([]seriesCol, len(x.Args))
			for i, arg := range x.Args {
				args[i] = p.seriesColumn(arg, starts, calls, pts, winPts)
			}
			return applyMath(x.Name, args)
		case isMulti(x.Name):
			f := fieldOf(x)
			var col []tv
			if f >= 0 && winPts != nil {
				for w, s := range starts {
					col = append(col, multiAggregate(x, winPts(f, w), s)...)
				}
			}
			return seriesCol{col: col}
		}
		var col []tv
		for _, v := range p.exprColumn(x, starts, calls) {
			if v.v != nil {
				col = append(col, v)
			}
		}
		return seriesCol{col: col}
	case *influxql.BinaryExpr:
		l := p.seriesColumn(x.LHS, starts, calls, pts, winPts)
		r := p.seriesColumn(x.RHS, starts, calls, pts, winPts)
		return combine(x.Op, l, r)
	}
	ev := influxql.ValuerEval{Valuer: influxql.MapValuer{}}
	return seriesCol{scalar: ev.Eval(e), isConst: true}
}

// applyMath applies a math function to columns (values of equal time)
// and constants.
func applyMath(name string, args []seriesCol) seriesCol {
	if len(args) == 1 {
		a := args[0]
		if a.isConst {
			return seriesCol{scalar: evalMath(name, []any{a.scalar}), isConst: true}
		}
		out := make([]tv, 0, len(a.col))
		for _, x := range a.col {
			out = append(out, tv{x.t, evalMath(name, []any{x.v})})
		}
		return seriesCol{col: out}
	}
	if len(args) != 2 {
		return seriesCol{}
	}
	// Pair the arguments by time, as arithmetic does.
	l, r := args[0], args[1]
	var out []tv
	at := func(c seriesCol, t int64) (any, bool) {
		if c.isConst {
			return c.scalar, true
		}
		i := sort.Search(len(c.col), func(i int) bool { return c.col[i].t >= t })
		if i < len(c.col) && c.col[i].t == t {
			return c.col[i].v, true
		}
		return nil, false
	}
	times := l.col
	if l.isConst {
		times = r.col
	}
	for _, x := range times {
		a, okA := at(l, x.t)
		b, okB := at(r, x.t)
		if okA && okB {
			out = append(out, tv{x.t, evalMath(name, []any{a, b})})
		}
	}
	if l.isConst && r.isConst {
		return seriesCol{scalar: evalMath(name, []any{l.scalar, r.scalar}), isConst: true}
	}
	return seriesCol{col: out}
}

// combine applies a binary operator to two columns (values of equal
// time), a column and a constant, or two constants.
func combine(op influxql.Token, l, r seriesCol) seriesCol {
	expr := &influxql.BinaryExpr{Op: op, LHS: &influxql.VarRef{Val: "l"}, RHS: &influxql.VarRef{Val: "r"}}
	vals := influxql.MapValuer{}
	ev := influxql.ValuerEval{Valuer: vals, IntegerFloatDivision: true}
	apply := func(a, b any) any {
		vals["l"], vals["r"] = a, b
		v := ev.Eval(expr)
		if f, ok := v.(float64); ok {
			return finite(f)
		}
		return v
	}
	switch {
	case l.isConst && r.isConst:
		return seriesCol{scalar: apply(l.scalar, r.scalar), isConst: true}
	case r.isConst:
		out := make([]tv, 0, len(l.col))
		for _, x := range l.col {
			out = append(out, tv{x.t, apply(x.v, r.scalar)})
		}
		return seriesCol{col: out}
	case l.isConst:
		out := make([]tv, 0, len(r.col))
		for _, x := range r.col {
			out = append(out, tv{x.t, apply(l.scalar, x.v)})
		}
		return seriesCol{col: out}
	}
	var out []tv
	for i, j := 0, 0; i < len(l.col) && j < len(r.col); {
		switch {
		case l.col[i].t < r.col[j].t:
			i++
		case l.col[i].t > r.col[j].t:
			j++
		default:
			out = append(out, tv{l.col[i].t, apply(l.col[i].v, r.col[j].v)})
			i++
			j++
		}
	}
	return seriesCol{col: out}
}

// transformColumn applies a transformation to an aggregate per window or,
// without GROUP BY time, to a field's raw points.
func (p *plan) transformColumn(c *influxql.Call, starts []int64, calls callFunc, pts [][]Point) []tv {
	var in []tv
	switch a := c.Args[0].(type) {
	case *influxql.Call:
		// fill(previous) fills the aggregate before the transformation
		// over it: InfluxDB 1.8 wraps the aggregate's iterator in its
		// fill iterator and derives from that (query/select.go,
		// buildCallIterator), so a gap derives as 0.
		carry := p.interval > 0 && p.stmt.Fill == influxql.PreviousFill
		var prev any
		for w, s := range starts {
			v, _, ok := calls(a, w)
			if ok {
				prev = v
			} else if carry && prev != nil {
				v, ok = prev, true
			}
			if ok {
				in = append(in, tv{s, v})
			}
		}
	case *influxql.VarRef:
		if f, _, ok := parseRef(a.Val); ok {
			for _, pt := range pts[f] {
				in = append(in, tv{pt.Time, toAny(pt.Value)})
			}
		}
	}
	if p.stmt.TimeAscending() {
		return transform(c, in, timeDuration(p.interval), true)
	}
	// Under ORDER BY time DESC InfluxDB 1.8 runs a transformation over
	// the values in descending order: each against the later one, at
	// the earlier one's time (query/functions.go,
	// FloatDerivativeReducer.Emit negates the elapsed time when not
	// ascending).
	slices.Reverse(in)
	out := transform(c, in, timeDuration(p.interval), false)
	slices.Reverse(out)
	return out
}

// exprColumn evaluates a select expression made of aggregate calls for
// every window. A selector that is the only column, without GROUP BY
// time, takes its point's time.
func (p *plan) exprColumn(e influxql.Expr, starts []int64, calls callFunc) []tv {
	out := make([]tv, len(starts))
	if c, ok := e.(*influxql.Call); ok && isAggregate(c.Name) {
		selector := isSelector(c.Name) && p.interval == 0 && len(p.exprs) == 1
		for w, s := range starts {
			v, t, ok := calls(c, w)
			if !ok {
				v = nil
			}
			if selector && ok {
				s = t
			}
			out[w] = tv{s, v}
		}
		return out
	}
	// Replace each call by a reference to its value, then evaluate.
	var list []*influxql.Call
	expr := influxql.RewriteExpr(influxql.CloneExpr(e), func(x influxql.Expr) influxql.Expr {
		if c, ok := x.(*influxql.Call); ok && isAggregate(c.Name) {
			list = append(list, c)
			return &influxql.VarRef{Val: "\x00c" + strconv.Itoa(len(list)-1)}
		}
		return x
	})
	vals := make(influxql.MapValuer, len(list))
	ev := influxql.ValuerEval{Valuer: mathValuer{vals}, IntegerFloatDivision: true}
	for w, s := range starts {
		some := false
		for k, c := range list {
			v, _, ok := calls(c, w)
			if !ok {
				v = nil
			}
			some = some || ok
			vals["\x00c"+strconv.Itoa(k)] = v
		}
		var v any
		if some {
			v = ev.Eval(expr)
			if f, ok := v.(float64); ok && !math.IsNaN(f) {
				v = finite(f) // NaN stays until after the fill (nanToNull)
			}
		}
		out[w] = tv{s, v}
	}
	return out
}

// join merges columns sorted by time into rows: each row takes the next
// value of every column at the smallest pending time. The rows are cut
// from slabs sized for the longest column (at least that many rows), not
// allocated one by one.
func join(cols [][]tv) [][]any {
	pos := make([]int, len(cols))
	width, most := len(cols)+1, 0
	for _, c := range cols {
		most = max(most, len(c))
	}
	var rows [][]any // nil when there are none
	if most > 0 {
		rows = make([][]any, 0, most)
	}
	var slab []any
	for {
		t, found := int64(0), false
		for i, c := range cols {
			if pos[i] < len(c) && (!found || c[pos[i]].t < t) {
				t, found = c[pos[i]].t, true
			}
		}
		if !found {
			return rows
		}
		if len(slab) < width {
			slab = make([]any, width*max(most-len(rows), 1))
		}
		row := slab[:width:width]
		slab = slab[width:]
		row[0] = t
		for i, c := range cols {
			if pos[i] < len(c) && c[pos[i]].t == t {
				row[i+1] = c[pos[i]].v
				pos[i]++
			}
		}
		rows = append(rows, row)
	}
}

// fill applies the statement's fill option to the aggregate columns of
// GROUP BY time rows.
func (p *plan) fill(rows [][]any, fillable []bool) [][]any {
	if p.interval == 0 {
		return dropEmpty(rows)
	}
	opt := p.stmt.Fill
	if opt == influxql.NumberFill {
		// The calls were filled (numberFilled); every other value missing
		// in a row, of a transformation or of a field the series lacks
		// altogether, takes the number too: InfluxDB's row scanner
		// defaults a column without a point at the row's time to the
		// fill value (query/select.go, NewIteratorScanner(…,
		// opt.FillValue); query/cursor.go).
		for _, r := range rows {
			for col := 1; col < len(r); col++ {
				if r[col] == nil {
					r[col] = p.stmt.FillValue
				}
			}
		}
		return rows
	}
	for j, ok := range fillable {
		col := j + 1
		if !ok {
			if opt == influxql.PreviousFill {
				// InfluxDB's row scanner leaves a column without a point
				// at the row's time as the row before had it (SkipDefault,
				// query/iterator.gen.go.tmpl IteratorScanner), also a
				// transformation's.
				carryForward(rows, col)
			}
			continue
		}
		// InfluxDB fills each call on its own (one fill iterator per
		// call, query/select.go), and a fill iterator sees only the series
		// its call has points in: from the window of the lower bound, or,
		// without one, from the window of that call's first point
		// (iterator.gen.go.tmpl, FillIterator.Next). So a column stays
		// null in a group where it has no value, and before its first
		// value when the range has no lower bound.
		from := slices.IndexFunc(rows, func(r []any) bool { return r[col] != nil })
		if from < 0 {
			continue
		}
		if p.min != influxql.MinTime {
			from = 0
		}
		rows := rows[from:]
		switch opt {
		case influxql.NullFill:
			if c, ok := p.exprs[j].(*influxql.Call); ok && c.Name == "count" {
				for _, r := range rows {
					if r[col] == nil {
						r[col] = int64(0)
					}
				}
			}
		case influxql.PreviousFill:
			carryForward(rows, col)
		case influxql.LinearFill:
			linearFill(rows, col)
		}
	}
	if opt == influxql.NoFill {
		return dropEmpty(rows)
	}
	return rows
}

// carryForward fills the nulls of column col with the value above them.
func carryForward(rows [][]any, col int) {
	var prev any
	for _, r := range rows {
		if r[col] == nil {
			r[col] = prev
		} else {
			prev = r[col]
		}
	}
}

// dropEmpty removes rows whose values are all null.
func dropEmpty(rows [][]any) [][]any {
	out := rows[:0]
	for _, r := range rows {
		for _, v := range r[1:] {
			if v != nil {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// linearFill interpolates nulls between two numeric neighbours by time.
func linearFill(rows [][]any, col int) {
	prev := -1
	for i, r := range rows {
		if r[col] == nil {
			continue
		}
		if prev >= 0 && i-prev > 1 {
			a, okA := anyFloat(rows[prev][col])
			b, okB := anyFloat(r[col])
			_, ints := r[col].(int64)
			if okA && okB {
				t0, t1 := rows[prev][0].(int64), r[0].(int64)
				for k := prev + 1; k < i; k++ {
					tk := rows[k][0].(int64)
					v := a + (b-a)*nsBetween(t0, tk)/nsBetween(t0, t1)
					if ints {
						rows[k][col] = int64(v)
					} else {
						rows[k][col] = v
					}
				}
			}
		}
		prev = i
	}
}
