package query

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/models"
)

// series is the data of one series gathered from every shard.
type series struct {
	key  string
	tags models.Tags
	cols [][]Point  // per plan field
	wins [][]Window // per plan field, windowed scans
}

// group is the series sharing one GROUP BY tag set.
type group struct {
	key    string
	tags   map[string]string
	series []*series
}

func (e *Executor) executeSelect(ctx context.Context, s *influxql.SelectStatement, opts ExecutionOptions) ([]*Row, error) {
	return e.selectFrom(ctx, e.storage, s, opts)
}

// selectFrom runs a SELECT over st (the cluster, or a subquery's rows).
func (e *Executor) selectFrom(ctx context.Context, st Storage, s *influxql.SelectStatement, opts ExecutionOptions) ([]*Row, error) {
	if sub, ok := subquery(s); ok {
		sub, err := withOuterTimeRange(sub, s, opts)
		if err != nil {
			return nil, err
		}
		innerOpts := opts
		innerOpts.Sink = nil
		inner, err := e.selectFrom(ctx, st, sub, innerOpts)
		if err != nil {
			return nil, err
		}
		outer := s.Clone()
		outer.Sources = influxql.Sources{&influxql.Measurement{Regex: &influxql.RegexLiteral{Val: matchAll}}}
		return e.selectFrom(ctx, newRowStorage(inner), outer, ExecutionOptions{
			Database: rowStorageDB, RetentionPolicy: rowStorageDB, Now: opts.Now, Sink: opts.Sink,
		})
	}
	// "SELECT time, x" names the implicit time column (maybe with an
	// alias); it is not a field or tag. Only such a statement is copied
	// to drop it: nothing below changes s.
	if namesTime(s.Fields) {
		s = s.Clone()
		s.RewriteTimeFields()
	}
	if len(s.Fields) == 0 {
		return nil, invalidf("at least 1 non-time field must be queried")
	}
	cond, tr, err := influxql.ConditionExpr(s.Condition, &influxql.NowValuer{Now: opts.Now, Location: s.Location})
	if err != nil {
		return nil, invalidf("%s", err.Error())
	}
	interval, err := s.GroupByInterval()
	if err != nil {
		return nil, invalidf("%s", err.Error())
	}
	if interval < 0 || (interval == 0 && hasTimeDim(s)) {
		// time(-207ns) parses; InfluxDB's words.
		return nil, invalidf("time dimension must have positive duration")
	}
	offset, err := s.GroupByOffset()
	if err != nil {
		return nil, invalidf("%s", err.Error())
	}
	min, max := tr.MinTimeNano(), tr.MaxTimeNano()
	if interval > 0 && tr.Max.IsZero() {
		max = opts.Now.UnixNano()
	}
	if min > max {
		return nil, nil
	}
	srcs, err := e.sourcesOf(ctx, st, s, opts, min, max)
	if err != nil {
		return nil, err
	}
	win := newWindowing(s.Location, int64(interval), int64(offset), min, max)
	var union *resolver
	if len(srcs) > 1 {
		if union, err = e.unionResolver(ctx, st, s, srcs, min, max); err != nil {
			return nil, err
		}
	}
	var rows []*Row
	seriesN := 0
	// Under ORDER BY time DESC InfluxDB 1.8 orders the series (measurement,
	// then tags) descending too, after SLIMIT picked them in ascending order
	// (query/iterator.gen.go, the sorted merge heap's Less): several series
	// are collected, then sent reversed.
	sink := opts.Sink
	reverse := !s.TimeAscending() && (len(srcs) > 1 || len(s.Dimensions) > 0)
	if reverse {
		sink = nil
	}
	gate := &seriesGate{sink: sink, slimit: s.SLimit, soffset: s.SOffset}
	var pointN int64
	for _, src := range srcs {
		p, err := e.newPlan(ctx, st, s, src, cond, min, max, win, union)
		if err != nil {
			return nil, err
		}
		if p == nil {
			continue
		}
		p.pointN = &pointN
		var r []*Row
		var n int
		if sink != nil && p.streamable() {
			n, err = e.stream(ctx, st, p, seriesN, gate)
		} else if r, n, err = e.run(ctx, st, p, seriesN); err == nil && sink != nil {
			err = gate.writeRows(r)
		}
		if errors.Is(err, errSLimitReached) || errors.Is(err, errRowLimitReached) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		seriesN += n
		if sink == nil {
			rows = append(rows, r...)
		}
	}
	lo, hi := window(len(rows), s.SLimit, s.SOffset)
	rows = rows[lo:hi]
	if reverse {
		slices.Reverse(rows)
	}
	if reverse && opts.Sink != nil {
		if err := (&seriesGate{sink: opts.Sink}).writeRows(rows); err != nil && !errors.Is(err, errRowLimitReached) {
			return nil, err
		}
		return nil, nil
	}
	return rows, nil
}

// namesTime reports whether the select list has a bare "time", which
// influxql's RewriteTimeFields takes out of it.
func namesTime(fields influxql.Fields) bool {
	for _, f := range fields {
		if ref, ok := f.Expr.(*influxql.VarRef); ok && ref.Val == "time" {
			return true
		}
	}
	return false
}

// withOuterTimeRange adds the outer statement's time range to a
// subquery's condition, as InfluxDB does, so the inner query reads (and
// windows) only what the outer one can use.
func withOuterTimeRange(inner, outer *influxql.SelectStatement, opts ExecutionOptions) (*influxql.SelectStatement, error) {
	_, tr, err := influxql.ConditionExpr(outer.Condition, &influxql.NowValuer{Now: opts.Now, Location: outer.Location})
	if err != nil {
		return nil, invalidf("%s", err.Error())
	}
	if tr.IsZero() {
		return inner, nil
	}
	out := inner.Clone()
	var bounds influxql.Expr
	add := func(op influxql.Token, t time.Time) {
		e := &influxql.BinaryExpr{Op: op, LHS: &influxql.VarRef{Val: "time"}, RHS: &influxql.IntegerLiteral{Val: t.UnixNano()}}
		if bounds == nil {
			bounds = e
		} else {
			bounds = &influxql.BinaryExpr{Op: influxql.AND, LHS: bounds, RHS: e}
		}
	}
	if !tr.Min.IsZero() {
		add(influxql.GTE, tr.Min)
	}
	if !tr.Max.IsZero() {
		add(influxql.LTE, tr.Max)
	}
	if out.Condition == nil {
		out.Condition = bounds
	} else {
		out.Condition = &influxql.BinaryExpr{Op: influxql.AND, LHS: &influxql.ParenExpr{Expr: out.Condition}, RHS: bounds}
	}
	return out, nil
}

// sourcesOf resolves a SELECT's FROM clause against st.
func (e *Executor) sourcesOf(ctx context.Context, st Storage, s *influxql.SelectStatement, opts ExecutionOptions, min, max int64) ([]source, error) {
	srcs, err := e.sources(ctx, st, "", s.Sources, opts, nil, min, max)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(srcs, func(a, b source) int { return strings.Compare(a.name, b.name) })
	return srcs, nil
}

// unionResolver knows the fields and tags of every source: InfluxDB 1.8
// expands a statement's wildcards once, over all its measurements
// (query/compile.go, FieldMapper.FieldDimensions of the sources), so every
// measurement answers with the union's columns, null where it lacks one.
func (e *Executor) unionResolver(ctx context.Context, st Storage, s *influxql.SelectStatement, srcs []source, min, max int64) (*resolver, error) {
	r := &resolver{types: make(map[string]models.FieldType)}
	for _, src := range srcs {
		keys, err := st.FieldKeys(ctx, src.db, src.rp, src.name, min, max)
		if err != nil {
			return nil, fmt.Errorf("list field keys of %q: %w", src.name, err)
		}
		for _, k := range keys {
			r.addField(k)
		}
		if s.HasWildcard() || hasWildcardDim(s) {
			tags, err := st.TagKeys(ctx, src.db, src.rp, src.name, nil, min, max)
			if err != nil {
				return nil, fmt.Errorf("list tag keys of %q: %w", src.name, err)
			}
			r.tags = append(r.tags, tags...)
		}
	}
	slices.Sort(r.tags)
	r.tags = slices.Compact(r.tags)
	for t := range slices.Values(r.tags) {
		delete(r.types, t) // a key that is a tag somewhere stays a tag
	}
	return r, nil
}

// newPlan resolves s against one measurement; nil when it has no fields.
// union, when not nil, names the fields and tags of all the statement's
// measurements, for the columns.
func (e *Executor) newPlan(ctx context.Context, st Storage, s *influxql.SelectStatement, src source, cond influxql.Expr, min, max int64, win windowing, union *resolver) (*plan, error) {
	keys, err := st.FieldKeys(ctx, src.db, src.rp, src.name, min, max)
	if err != nil {
		return nil, fmt.Errorf("list field keys of %q: %w", src.name, err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	r := &resolver{types: make(map[string]models.FieldType, len(keys))}
	for _, k := range keys {
		r.addField(k)
	}
	if s.HasWildcard() || hasWildcardDim(s) {
		r.tags, err = st.TagKeys(ctx, src.db, src.rp, src.name, nil, min, max)
		if err != nil {
			return nil, fmt.Errorf("list tag keys of %q: %w", src.name, err)
		}
	}
	if union != nil {
		r = union
	}
	p := &plan{stmt: s, src: src, min: min, max: max, shown: influxql.MinTime, lower: influxql.MinTime, windowing: win}
	p.dims = resolveDims(s, r.tags)
	fields, err := expandFields(s.Fields, r, p.dims)
	if err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return nil, nil
	}
	if p.agg, err = validate(s, fields, p.interval); err != nil {
		return nil, err
	}
	if err := checkArgTypes(fields, r); err != nil {
		return nil, err
	}
	p.aux = -1
	if p.agg && len(fields) > 1 {
		p.aux = auxSelector(fields)
	}
	named := *s // ColumnNames only reads
	named.Fields = fields
	p.columns = named.ColumnNames()
	idx := make(map[string]int)
	for _, f := range fields {
		p.exprs = append(p.exprs, p.rewrite(f.Expr, r, idx))
	}
	p.selected = len(p.fields)
	p.tagCond, p.needsPts = splitCondition(cond, r.isField)
	if p.needsPts {
		p.cond = p.rewrite(cond, r, idx)
	}
	if len(p.fields) == 0 {
		// Only tags selected: InfluxDB returns nothing.
		return nil, nil
	}
	if inputs := transformInputs(p.exprs); p.agg && p.interval > 0 && p.min != influxql.MinTime && s.TimeAscending() && len(inputs) > 0 {
		// A transformation over an aggregate starts from the window
		// before the range, read but not shown, as InfluxDB 1.8 does
		// (query/select.go, buildCallIterator moves opt.StartTime back
		// an interval for derivative and friends): the first window's
		// derivative is against the data just before it.
		p.shown, p.lower, p.inputs = p.windowStart(p.min), p.min, inputs
		if p.min > influxql.MinTime+p.interval {
			p.min -= p.interval
		}
	}
	return p, nil
}

// run scans the plan's measurement and builds its rows. seriesN is the
// number of series earlier measurements read (for the series limit).
func (e *Executor) run(ctx context.Context, st Storage, p *plan, seriesN int) ([]*Row, int, error) {
	req := ScanRequest{
		Database: p.src.db, RetentionPolicy: p.src.rp, Measurement: p.src.name,
		Condition: p.tagCond, Fields: p.fields, Min: p.min, Max: p.max,
	}
	pd := p.pushdown()
	if pd != 0 {
		every, offset := p.windowGrid()
		req.Window = &WindowRequest{Every: every, Offset: offset, Aggregates: pd}
	}
	edge := p.edgePushdown()
	if edge != 0 {
		// The edge point is all the rows need, not how many points there
		// are.
		req.Window = &WindowRequest{Every: math.MaxInt64, Aggregates: edge | AggregateCountAny}
	}
	keep := p.rawKeep()
	p.filtered = p.needsPts && req.Window == nil
	var filter *scanFilter
	if p.filtered {
		filter = newScanFilter(p)
		if filter.pred != nil {
			// The storage may leave out the rows that fail: most do in
			// a query such as TSBS's high-cpu.
			req.Filter = p.namedCondition()
		}
	}
	byKey := make(map[string]*series)
	var list []*series
	fieldIdx := make(map[string]int, len(p.fields))
	for i, f := range p.fields {
		fieldIdx[f] = i
	}
	limit := e.cfg.MaxSelectSeriesN
	var adopted [][]Window // owned windows, recycled once the rows are built
	err := st.Scan(ctx, req, func(b *SeriesBatch) error {
		s := byKey[b.Key]
		if s == nil {
			if limit > 0 && seriesN+len(list)+1 > limit {
				return &MaxSeriesError{N: seriesN + len(list) + 1, Limit: limit}
			}
			s = &series{key: b.Key, tags: cloneTags(b.Tags), cols: make([][]Point, len(p.fields))}
			if pd != 0 {
				s.wins = make([][]Window, len(p.fields))
			}
			byKey[b.Key] = s
			list = append(list, s)
		}
		if err := e.countPoints(p, b); err != nil {
			return err
		}
		for _, c := range b.Fields {
			i, ok := fieldIdx[c.Name]
			if !ok {
				continue
			}
			if c, ok = asType(c, p.types[i]); !ok {
				continue
			}
			switch {
			case pd != 0 && b.Owned && s.wins[i] == nil:
				s.wins[i] = c.Windows // the first batch of the series: kept as is
				adopted = append(adopted, c.Windows)
			case pd != 0:
				s.wins[i] = appendWindows(s.wins[i], c.Windows)
			case edge != 0:
				s.cols[i] = appendEdges(s.cols[i], c.Windows, edge)
			case filter != nil && !b.Filtered:
				filter.cols[i] = c.Points
			default:
				s.cols[i] = appendPoints(s.cols[i], edgePoints(c.Points, keep, p.stmt.TimeAscending()), p.min, p.max)
			}
		}
		if filter != nil && !b.Filtered {
			filter.apply(s)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, 0, contextErrOr(ctx, fmt.Errorf("scan %q: %w", p.src.name, err))
	}
	for _, s := range list {
		for i := range s.cols {
			if !slices.IsSortedFunc(s.cols[i], cmpPointTime) {
				slices.SortStableFunc(s.cols[i], cmpPointTime)
			}
			s.cols[i] = edgePoints(s.cols[i], keep, p.stmt.TimeAscending())
		}
		for i := range s.wins {
			if !slices.IsSortedFunc(s.wins[i], cmpWindowStart) {
				slices.SortStableFunc(s.wins[i], cmpWindowStart)
			}
		}
	}
	groups := groupSeries(list, p.dims)
	var rows []*Row
	for _, g := range groups {
		if err := ctx.Err(); err != nil {
			return nil, 0, contextErrOr(ctx, err)
		}
		var values [][]any
		var err error
		switch {
		case !p.agg:
			values = p.rawRows(g)
		case p.topTags() != nil:
			values, err = p.topTagRows(g, e.cfg.MaxSelectBucketsN)
		case p.aux >= 0:
			values, err = p.auxRows(g, e.cfg.MaxSelectBucketsN)
		case pd != 0:
			values, err = p.windowRows(g, e.cfg.MaxSelectBucketsN)
		default:
			values, err = p.aggRows(g, e.cfg.MaxSelectBucketsN)
		}
		if err != nil {
			return nil, 0, err
		}
		if len(values) == 0 {
			continue
		}
		if !p.stmt.TimeAscending() {
			slices.Reverse(values)
		}
		lo, hi := window(len(values), p.stmt.Limit, p.stmt.Offset)
		if lo == hi {
			continue
		}
		row := &Row{Name: p.src.name, Columns: p.columns, Values: values[lo:hi], loc: p.stmt.Location, hasTime: true}
		if len(p.dims) > 0 {
			row.Tags = g.tags
		}
		rows = append(rows, row)
	}
	// The rows hold copies of the windows' values (toAny), none of the
	// windows themselves.
	for _, ws := range adopted {
		recycleWindows(ws)
	}
	return rows, len(list), nil
}

// countPoints adds the values of b (points, or the points its windows
// aggregate) to the statement's count, checking max-select-point.
func (e *Executor) countPoints(p *plan, b *SeriesBatch) error {
	limit := e.cfg.MaxSelectPointN
	if limit <= 0 || p.pointN == nil {
		return nil
	}
	for _, c := range b.Fields {
		*p.pointN += int64(len(c.Points))
		for _, w := range c.Windows {
			*p.pointN += w.Count
		}
	}
	if *p.pointN > limit {
		return &MaxPointsError{N: *p.pointN, Limit: limit}
	}
	return nil
}

func cmpPointTime(a, b Point) int    { return cmpInt(a.Time, b.Time) }
func cmpWindowStart(a, b Window) int { return cmpInt(a.Start, b.Start) }

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendPoints copies the points of src within [min, max] to dst; the
// batch's memory is only valid during the Scan callback.
func appendPoints(dst, src []Point, min, max int64) []Point {
	dst = slices.Grow(dst, len(src))
	for _, p := range src {
		if p.Time < min || p.Time > max {
			continue
		}
		if p.Value.S != nil {
			p.Value.S = slices.Clone(p.Value.S)
		}
		dst = append(dst, p)
	}
	return dst
}

// asType reads a shard's column of a field as the statement's type of the
// field, as InfluxDB 1.8 does when a field has different types in
// different shards: the statement takes the type of highest precedence
// (float, integer, unsigned, string, boolean; see resolver), numeric
// columns of another numeric type are cast to it, and other columns are
// not read at all — so a bucket holding only a shard's strings of a float
// field is empty, not a mean of 0 (tsdb/engine/tsm1/engine.go,
// buildCursor). ok is false for a column to skip. It copies what it casts.
func asType(c FieldColumn, want models.FieldType) (FieldColumn, bool) {
	if c.Type == want || want == models.FieldTypeUnknown {
		return c, true
	}
	if !isNumeric(c.Type) || !isNumeric(want) {
		return c, false
	}
	out := FieldColumn{Name: c.Name, Type: want}
	if c.Points != nil {
		out.Points = make([]Point, len(c.Points))
		for i, p := range c.Points {
			out.Points[i] = Point{Time: p.Time, Value: castNumber(p.Value, want)}
		}
	}
	if c.Windows != nil {
		out.Windows = make([]Window, len(c.Windows))
		for i, w := range c.Windows {
			w.Sum, w.Min, w.Max = castNumber(w.Sum, want), castNumber(w.Min, want), castNumber(w.Max, want)
			w.First, w.Last = castNumber(w.First, want), castNumber(w.Last, want)
			out.Windows[i] = w
		}
	}
	return out, true
}

// castNumber converts a numeric value to the numeric type want (Go's
// conversions, as InfluxDB's cast cursors); other values are kept.
func castNumber(v models.Value, want models.FieldType) models.Value {
	if !isNumeric(v.Type) || v.Type == want {
		return v
	}
	switch want {
	case models.FieldTypeFloat:
		f, _ := asFloat(v)
		return models.FloatValue(f)
	case models.FieldTypeInteger:
		if v.Type == models.FieldTypeFloat {
			return models.IntegerValue(int64(v.Float()))
		}
		return models.IntegerValue(int64(v.Unsigned()))
	case models.FieldTypeUnsigned:
		if v.Type == models.FieldTypeFloat {
			return models.UnsignedValue(uint64(v.Float()))
		}
		return models.UnsignedValue(uint64(v.Integer()))
	}
	return v
}

func appendWindows(dst, src []Window) []Window {
	dst = slices.Grow(dst, len(src))
	for _, w := range src {
		if w.First.S != nil || w.Last.S != nil || w.Min.S != nil || w.Max.S != nil {
			w.First.S, w.Last.S = slices.Clone(w.First.S), slices.Clone(w.Last.S)
			w.Min.S, w.Max.S = slices.Clone(w.Min.S), slices.Clone(w.Max.S)
		}
		dst = append(dst, w)
	}
	return dst
}

// scanFilter evaluates a field condition on each batch during the scan,
// so only the values of passing rows are copied and kept.
type scanFilter struct {
	p    *plan
	cols [][]Point
	v    pointValuer
	ev   influxql.ValuerEval
	// pred is the condition compiled, when it compiles; else ev evaluates it.
	pred fieldPredicate
}

func newScanFilter(p *plan) *scanFilter {
	f := &scanFilter{p: p, cols: make([][]Point, len(p.fields))}
	f.ev = influxql.ValuerEval{Valuer: mathValuer{&f.v}, IntegerFloatDivision: true}
	f.pred, _ = compileFieldPredicate(p.cond)
	return f
}

// apply appends the rows of the pending batch columns that pass the
// condition to s, then clears the pending columns.
func (f *scanFilter) apply(s *series) {
	f.v.tags = s.tags
	align(f.cols, func(t int64, vals []models.Value) {
		if t < f.p.min || t > f.p.max {
			return
		}
		if f.pred != nil {
			if !f.pred(vals, f.v.tags) {
				return
			}
		} else if f.v.vals = vals; !f.ev.EvalBool(f.p.cond) {
			return
		}
		for i, x := range vals {
			if x.Type == models.FieldTypeUnknown {
				continue
			}
			if x.S != nil {
				x.S = slices.Clone(x.S)
			}
			s.cols[i] = append(s.cols[i], Point{Time: t, Value: x})
		}
	})
	clear(f.cols)
}

// edgePoints keeps the first (ascending) or last keep points of pts;
// keep 0 keeps everything.
func edgePoints(pts []Point, keep int, asc bool) []Point {
	if keep <= 0 || len(pts) <= keep {
		return pts
	}
	if asc {
		return pts[:keep]
	}
	return pts[len(pts)-keep:]
}

// appendEdges turns the first or last of each window into a point.
func appendEdges(dst []Point, ws []Window, edge AggregateSet) []Point {
	for _, w := range ws {
		if w.Count == 0 {
			continue
		}
		p := Point{Time: w.LastTime, Value: w.Last}
		if edge == AggregateFirst {
			p = Point{Time: w.FirstTime, Value: w.First}
		}
		if p.Value.S != nil {
			p.Value.S = slices.Clone(p.Value.S)
		}
		dst = append(dst, p)
	}
	return dst
}

// cloneTags copies a batch's tags, which are only valid during the call.
func cloneTags(tags models.Tags) models.Tags {
	n := 0
	for _, t := range tags {
		n += len(t.Key) + len(t.Value)
	}
	// One array for every key and value (a series of TSBS's cpu has ten
	// tags: 2 allocations instead of 21), each slice capped at its end.
	buf := make([]byte, 0, n)
	take := func(b []byte) []byte {
		buf = append(buf, b...)
		return buf[len(buf)-len(b) : len(buf) : len(buf)]
	}
	out := make(models.Tags, len(tags))
	for i, t := range tags {
		out[i] = models.Tag{Key: take(t.Key), Value: take(t.Value)}
	}
	return out
}

// groupSeries groups series by their values of dims, sorted by those.
func groupSeries(list []*series, dims []string) []*group {
	byKey := make(map[string]*group)
	var groups []*group
	for _, s := range list {
		k := groupKey(s.tags, dims)
		g := byKey[k]
		if g == nil {
			g = &group{key: k, tags: groupTags(s.tags, dims)}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.series = append(g.series, s)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].key < groups[j].key })
	for _, g := range groups {
		sort.Slice(g.series, func(i, j int) bool { return g.series[i].key < g.series[j].key })
	}
	return groups
}

// groupKey is the key of the group of a series with tags: its values of
// dims, each followed by a zero byte.
func groupKey(tags models.Tags, dims []string) string {
	var sb strings.Builder
	for _, d := range dims {
		sb.Write(tags.Get([]byte(d)))
		sb.WriteByte(0)
	}
	return sb.String()
}

// groupTags is the tags of the group of a series with tags (nil without
// dims).
func groupTags(tags models.Tags, dims []string) map[string]string {
	if len(dims) == 0 {
		return nil
	}
	out := make(map[string]string, len(dims))
	for _, d := range dims {
		out[d] = string(tags.Get([]byte(d)))
	}
	return out
}

// pointValuer evaluates encoded references against one aligned row.
type pointValuer struct {
	vals []models.Value
	tags models.Tags
}

// Value resolves an encoded field or tag reference.
func (v *pointValuer) Value(key string) (any, bool) {
	i, tag, isField := parseRef(key)
	if isField {
		if i < len(v.vals) {
			return toAny(v.vals[i]), true
		}
		return nil, true
	}
	if t := v.tags.Get([]byte(tag)); t != nil {
		return string(t), true
	}
	return "", true
}

// tagColumn answers a select expression that is a bare tag reference:
// the series' value, or null when the series lacks the tag (InfluxDB 1.8
// answers null; a condition still compares a missing tag as "").
func tagColumn(e influxql.Expr, tags models.Tags) (any, bool) {
	r, ok := e.(*influxql.VarRef)
	if !ok {
		return nil, false
	}
	if _, tag, isField := parseRef(r.Val); !isField {
		if v := tags.Get([]byte(tag)); v != nil {
			return string(v), true
		}
		return nil, true
	}
	return nil, false
}

// align calls fn for each timestamp of cols with the values of every field
// at that time (Type 0 when absent). vals is reused between calls.
func align(cols [][]Point, fn func(t int64, vals []models.Value)) {
	pos := make([]int, len(cols))
	vals := make([]models.Value, len(cols))
	for {
		t, any := int64(0), false
		for i, c := range cols {
			if pos[i] < len(c) && (!any || c[pos[i]].Time < t) {
				t, any = c[pos[i]].Time, true
			}
		}
		if !any {
			return
		}
		for i, c := range cols {
			if pos[i] < len(c) && c[pos[i]].Time == t {
				vals[i] = c[pos[i]].Value
				pos[i]++
			} else {
				vals[i] = models.Value{}
			}
		}
		fn(t, vals)
	}
}

// rawRows builds the rows of a raw (non-aggregate) query for one group.
func (p *plan) rawRows(g *group) [][]any {
	var out [][]any
	v := &pointValuer{}
	ev := influxql.ValuerEval{Valuer: mathValuer{v}, IntegerFloatDivision: true}
	// A time makes a row when a field some selected expression reads has
	// a value there, even if the expression comes out null (sqrt(-1),
	// a + b without b), as InfluxDB's iterators of the selected fields do.
	var selected []int
	direct := make([]int, len(p.exprs))  // field index of a bare field reference, or -1
	tagRef := make([]bool, len(p.exprs)) // a bare tag reference: one value per series
	tagVals := make([]any, len(p.exprs)) // those values, for the current series
	for i, e := range p.exprs {
		direct[i] = -1
		for _, r := range varRefs(e) {
			if fi, _, ok := parseRef(r.Val); ok && !slices.Contains(selected, fi) {
				selected = append(selected, fi)
			}
		}
		if r, ok := e.(*influxql.VarRef); ok {
			if fi, _, ok := parseRef(r.Val); ok {
				direct[i] = fi
			} else {
				tagRef[i] = true
			}
		}
	}
	var times []int64 // out's times
	var ends []int    // where each series' rows end in out
	var slab []any    // the next rows' backing, rowSlab rows at a time
	for _, s := range g.series {
		v.tags = s.tags
		for i, e := range p.exprs {
			if tagRef[i] {
				tagVals[i], _ = tagColumn(e, s.tags)
			}
		}
		rows := 1 // at least the longest column's length, up to rowSlab
		for _, c := range s.cols {
			rows = min(max(rows, len(c)), rowSlab)
		}
		align(s.cols, func(t int64, vals []models.Value) {
			some := false
			for _, fi := range selected {
				if vals[fi].Type != models.FieldTypeUnknown {
					some = true
					break
				}
			}
			if !some {
				return
			}
			v.vals = vals
			if p.needsPts && !p.filtered && !ev.EvalBool(p.cond) {
				return
			}
			w := len(p.exprs) + 1
			if len(slab) < w {
				slab = make([]any, w*rows)
			}
			row := slab[:w:w]
			slab = slab[w:]
			row[0] = t
			for i, e := range p.exprs {
				switch {
				case direct[i] >= 0:
					row[i+1] = toAny(vals[direct[i]])
				case tagRef[i]:
					row[i+1] = tagVals[i]
				default:
					row[i+1] = ev.Eval(e)
				}
			}
			out = append(out, row)
			times = append(times, t)
		})
		ends = append(ends, len(out))
	}
	return mergeRuns(out, times, ends)
}

// rowSlab is how many rows rawRows allocates at once at most (fewer for
// a series with fewer values): one object for many rows, less for the
// garbage collector to track.
const rowSlab = 256

// mergeRuns orders rows stably by their times, rows being consecutive
// runs already in time order (run i ends at ends[i]): neighbouring runs
// are merged pairwise until one is left, O(n log runs) with no
// comparison through the rows' boxed times.
func mergeRuns(rows [][]any, times []int64, ends []int) [][]any {
	if len(ends) <= 1 {
		return rows
	}
	bufRows, bufTimes := make([][]any, len(rows)), make([]int64, len(times))
	for len(ends) > 1 {
		next := ends[:0] // entry k/2 is written after entries k and k+1 are read
		start := 0
		for k := 0; k < len(ends); k += 2 {
			if k+1 == len(ends) {
				copy(bufRows[start:], rows[start:ends[k]])
				copy(bufTimes[start:], times[start:ends[k]])
				next = append(next, ends[k])
				break
			}
			mid, end := ends[k], ends[k+1]
			i, j, o := start, mid, start
			for i < mid && j < end {
				if times[j] < times[i] {
					bufRows[o], bufTimes[o] = rows[j], times[j]
					j++
				} else {
					bufRows[o], bufTimes[o] = rows[i], times[i]
					i++
				}
				o++
			}
			copy(bufTimes[o:], times[i:mid])
			o += copy(bufRows[o:], rows[i:mid])
			copy(bufRows[o:], rows[j:end])
			copy(bufTimes[o:], times[j:end])
			next = append(next, end)
			start = end
		}
		rows, bufRows = bufRows, rows
		times, bufTimes = bufTimes, times
		ends = next
	}
	return rows
}

// hardMaxBuckets bounds the windows of one series whatever the
// configuration says: windows are materialized, so an unbounded count
// (GROUP BY time(1ns) over years) would exhaust memory.
const hardMaxBuckets = 1 << 20

// windowStart returns the start of the window holding t.
func (p *plan) windowStart(t int64) int64 {
	if p.loc != nil {
		start, _ := zoneWindow(t, p.interval, p.offset, p.loc)
		return start
	}
	m := p.intoWindow(t)
	if t < math.MinInt64+m {
		return math.MinInt64 // the window starts before int64 time does
	}
	return t - m
}

// intoWindow is (t - offset) mod interval, taken non-negative, without
// computing t - offset, which overflows near either end of int64.
func (p *plan) intoWindow(t int64) int64 {
	return floorMod(floorMod(t, p.interval)-floorMod(p.offset, p.interval), p.interval)
}

// windowCount is the number of windows of width every from the one
// starting at first to the one starting at last (first <= last),
// computed without overflow (the two can lie 2^64-1 ns apart) and
// saturated at math.MaxInt64.
func windowCount(first, last, every int64) int64 {
	// last - first wraps in int64, but as uint64 it is exact.
	n := uint64(last-first) / uint64(every)
	if n >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n) + 1
}

// windowEnd returns the end (exclusive) of the window starting at start.
func (p *plan) windowEnd(start int64) int64 {
	if p.loc != nil {
		_, end := zoneWindow(start, p.interval, p.offset, p.loc)
		return end
	}
	// The next window's start, also after a first window cut at
	// math.MinInt64; saturated at math.MaxInt64.
	rest := p.interval - p.intoWindow(start)
	if start > math.MaxInt64-rest {
		return math.MaxInt64
	}
	return start + rest
}

// windowStarts lists the windows of the query's time range; lo is the
// earliest data time when the range has no lower bound. With fill(none)
// only the windows holding data matter: present lists their starts
// (sorted, unique), so a long range with sparse data needs no empty
// windows.
func (p *plan) windowStarts(lo int64, limit int64, present func() []int64) ([]int64, error) {
	if p.interval == 0 {
		return []int64{p.aggTime()}, nil
	}
	if limit <= 0 || limit > hardMaxBuckets {
		limit = hardMaxBuckets
	}
	if p.stmt.Fill == influxql.NoFill && present != nil {
		out := present()
		if n := int64(len(out)); n > limit {
			return nil, &MaxBucketsError{N: n, Limit: limit}
		}
		return out, nil
	}
	if p.min != influxql.MinTime {
		lo = p.min
	}
	first, last := p.windowStart(lo), p.windowStart(p.max)
	// InfluxDB's count (compile.go), also with tz(), where windows are
	// not all interval wide: then the list below is counted too.
	n := int64(1)
	if first < last {
		// first may be cut at math.MinInt64, off the grid: count from
		// the next window.
		n = min(windowCount(p.windowEnd(first), last, p.interval), math.MaxInt64-1) + 1
	}
	if n > limit {
		return nil, &MaxBucketsError{N: n, Limit: limit}
	}
	if p.loc != nil {
		out := make([]int64, 0, n+1)
		for t := first; t <= last; {
			if int64(len(out)) == limit {
				return nil, &MaxBucketsError{N: limit + 1, Limit: limit}
			}
			out = append(out, t)
			next := p.windowEnd(t)
			if next <= t {
				break
			}
			t = next
		}
		return out, nil
	}
	// Counted, not compared with last: t + interval past the last
	// window may wrap around int64.
	out := make([]int64, n)
	out[0] = first
	if n > 1 {
		next := p.windowEnd(first)
		for i := range out[1:] {
			out[i+1] = next + int64(i)*p.interval
		}
	}
	return out, nil
}

// startsOf returns the sorted, unique window starts of times.
func (p *plan) startsOf(times []int64) []int64 {
	if p.loc != nil {
		// Zone lookups cost more than arithmetic: one per window.
		slices.Sort(times)
		var out []int64
		end := int64(math.MinInt64)
		for _, t := range times {
			if len(out) > 0 && t < end {
				continue
			}
			start := p.windowStart(t)
			end = p.windowEnd(start)
			if end <= t { // cannot happen for a consistent zone; stay exact
				end = t + 1
			}
			if len(out) == 0 || out[len(out)-1] != start {
				out = append(out, start)
			}
		}
		return out
	}
	out := make([]int64, len(times))
	for i, t := range times {
		out[i] = p.windowStart(t)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// aggTime is the time of an aggregate without GROUP BY time: the start of
// the range, or the epoch when it has none.
func (p *plan) aggTime() int64 {
	if p.min == influxql.MinTime {
		return 0
	}
	return p.min
}
