package query

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/influxdata/influxql"
)

// RowSink receives the rows of a SELECT as they are produced (see
// ExecutionOptions.Sink). Consecutive calls for the same series (same
// name and tags) continue it.
type RowSink interface {
	// WriteRow receives the next values of one series; the row is the
	// sink's after the call.
	WriteRow(row *Row) error
}

// sliceValues is how many values a streamed raw query reads per time
// slice: what the executor holds of it at once.
var sliceValues = 1 << 18

// heldSliceValues is how many values a raw query reads in one slice when
// its sink holds the whole answer anyway (a RowCollector without limit: a
// non-chunked answer without max-row-limit): slicing would not bound the
// memory held, and every slice decodes again the blocks it cuts (TSBS's
// high-cpu-all decoded its data about four times over).
var heldSliceValues = 1 << 23

// errSLimitReached stops a streamed SELECT once SLIMIT series are out;
// errRowLimitReached once a RowCollector is full.
var (
	errSLimitReached   = errors.New("slimit reached")
	errRowLimitReached = errors.New("row limit reached")
)

// RowCollector is a RowSink keeping one statement's rows as
// Result.Series holds them, up to limit values (0: no limit), the way
// InfluxDB's max-row-limit cuts a non-chunked answer: a series cut at
// the limit is marked partial, and the statement stops there instead of
// reading what would be dropped.
type RowCollector struct {
	limit, n int
	rows     []*Row
}

// NewRowCollector returns a RowCollector keeping at most limit values.
func NewRowCollector(limit int) *RowCollector { return &RowCollector{limit: limit} }

// WriteRow implements RowSink.
func (c *RowCollector) WriteRow(r *Row) error {
	var last *Row
	if len(c.rows) > 0 && sameSeries(c.rows[len(c.rows)-1], r) {
		last = c.rows[len(c.rows)-1]
	}
	vals, cut := r.Values, false
	if c.limit > 0 && len(vals) > c.limit-c.n {
		vals, cut = vals[:c.limit-c.n], true
	}
	if c.limit > 0 && c.n == c.limit && last == nil {
		return errRowLimitReached // a later series: dropped whole
	}
	if last == nil {
		// The row is the sink's: its values are kept, not copied (clipped,
		// so that a later part of the series is appended to a copy).
		row := *r
		row.Values = nil
		if len(vals) > 0 {
			row.Values = slices.Clip(vals)
		}
		c.rows = append(c.rows, &row)
		last = &row
	} else {
		last.Values = append(last.Values, vals...)
	}
	last.Partial = last.Partial || r.Partial || cut
	c.n += len(vals)
	if cut {
		return errRowLimitReached
	}
	return nil
}

// Rows returns the rows collected.
func (c *RowCollector) Rows() []*Row { return c.rows }

// seriesGate applies SLIMIT and SOFFSET to series as they are streamed.
type seriesGate struct {
	sink            RowSink
	slimit, soffset int
	n               int // series begun
}

// begin starts the next series: keep is false for a series SOFFSET
// skips; errSLimitReached when SLIMIT series are out.
func (g *seriesGate) begin() (keep bool, err error) {
	g.n++
	if g.slimit > 0 && g.n > g.soffset+g.slimit {
		return false, errSLimitReached
	}
	return g.n > g.soffset, nil
}

// writeRows streams rows built whole, one series each.
func (g *seriesGate) writeRows(rows []*Row) error {
	for _, r := range rows {
		keep, err := g.begin()
		if err != nil {
			return err
		}
		if keep {
			if err := g.sink.WriteRow(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// streamable reports whether p's rows can be built one time slice at a
// time: a raw query that does not take LIMIT 1's first/last shortcut.
func (p *plan) streamable() bool {
	return !p.agg && p.edgePushdown() == 0
}

// stream sends the rows of a streamable plan to g one time slice at a
// time, so memory holds about sliceValues values whatever the range.
// Two cheap passes over Storage's window aggregates come first: the
// first and last time and the count of the values per GROUP BY group
// (one window over all time), then, per group, their count per cell of
// a histogramCells-cell grid over its extent; the slices are runs of
// cells holding about sliceValues values, a denser cell cut evenly.
// Groups go one after the other, in order, each read with its tag values
// added to the condition. It returns the number of series read.
func (e *Executor) stream(ctx context.Context, st Storage, p *plan, seriesN int, g *seriesGate) (int, error) {
	groups, n, err := e.extent(ctx, st, p, seriesN)
	if err != nil {
		return n, err
	}
	for _, gr := range groups {
		gp := *p
		gp.tagCond = withTagValues(p.tagCond, p.dims, gr.tags)
		if err := e.streamGroup(ctx, st, &gp, gr, seriesN, g); err != nil {
			return n, err
		}
	}
	return n, nil
}

// withTagValues adds tag = value for each of dims to cond.
func withTagValues(cond influxql.Expr, dims []string, tags map[string]string) influxql.Expr {
	for _, d := range dims {
		eq := &influxql.BinaryExpr{Op: influxql.EQ, LHS: &influxql.VarRef{Val: d, Type: influxql.Tag}, RHS: &influxql.StringLiteral{Val: tags[d]}}
		if cond == nil {
			cond = eq
		} else {
			cond = &influxql.BinaryExpr{Op: influxql.AND, LHS: &influxql.ParenExpr{Expr: cond}, RHS: eq}
		}
	}
	return cond
}

// streamGroup streams one group. A group of at most sliceValues values
// (heldSliceValues into a sink holding everything) is read in one slice,
// without the histogram pass: that pass decodes every block it cuts, as
// dear as reading the values themselves.
func (e *Executor) streamGroup(ctx context.Context, st Storage, p *plan, gr *groupExtent, seriesN int, g *seriesGate) error {
	first, last := gr.first, gr.last
	spans := [][2]int64{{first, last}}
	budget := sliceValues
	if c, ok := g.sink.(*RowCollector); ok && c.limit == 0 {
		budget = max(budget, heldSliceValues)
	}
	if gr.count > int64(budget) {
		cell := int64(uint64(last-first)/histogramCells + 1)
		hist, err := e.histogram(ctx, st, p, first, last, cell)
		if err != nil {
			return err
		}
		spans = timeSlices(first, last, cell, hist, int64(sliceValues))
	}
	// Each slice is planned with the statement's LIMIT and OFFSET off:
	// they apply to the series as a whole, below.
	stmt := *p.stmt
	stmt.Limit, stmt.Offset = 0, 0
	sp := *p
	sp.stmt = &stmt
	asc := p.stmt.TimeAscending()
	skip, left := p.stmt.Offset, p.stmt.Limit
	begun := false
	for i := range spans {
		if !asc {
			i = len(spans) - 1 - i
		}
		sp.min, sp.max = spans[i][0], spans[i][1]
		rows, _, err := e.run(ctx, st, &sp, seriesN)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			continue
		}
		vals := rows[0].Values
		d := min(skip, len(vals))
		vals, skip = vals[d:], skip-d
		if left > 0 && len(vals) > left {
			vals = vals[:left]
		}
		if len(vals) == 0 {
			continue
		}
		if !begun {
			begun = true
			if keep, err := g.begin(); err != nil || !keep {
				return err
			}
		}
		row := *rows[0]
		row.Values = vals
		if err := g.sink.WriteRow(&row); err != nil {
			return err
		}
		if left > 0 {
			if left -= len(vals); left == 0 {
				return nil
			}
		}
	}
	return nil
}

// groupExtent is where the values of one GROUP BY group lie, and how
// many there are.
type groupExtent struct {
	key         string
	tags        map[string]string
	first, last int64
	count       int64
}

// histogramCells is the resolution of the density pass of a streamed
// query.
const histogramCells = 256

// extent returns the groups of p's series holding values, sorted as
// groupSeries sorts them, with the first and last time of their values,
// and the number of series, checking max-select-series.
func (e *Executor) extent(ctx context.Context, st Storage, p *plan, seriesN int) ([]*groupExtent, int, error) {
	seen := make(map[string]struct{})
	byKey := make(map[string]*groupExtent)
	limit := e.cfg.MaxSelectSeriesN
	err := e.scanWindows(ctx, st, p, p.min, p.max, math.MaxInt64, 0, func(b *SeriesBatch) error {
		if _, ok := seen[b.Key]; !ok {
			seen[b.Key] = struct{}{}
			if limit > 0 && seriesN+len(seen) > limit {
				return &MaxSeriesError{N: seriesN + len(seen), Limit: limit}
			}
		}
		k := groupKey(b.Tags, p.dims)
		gr := byKey[k]
		for _, c := range b.Fields {
			for _, w := range c.Windows {
				if w.Count == 0 {
					continue
				}
				if gr == nil {
					gr = &groupExtent{key: k, tags: groupTags(b.Tags, p.dims), first: math.MaxInt64, last: math.MinInt64}
					byKey[k] = gr
				}
				gr.first, gr.last = min(gr.first, w.FirstTime), max(gr.last, w.LastTime)
				gr.count += w.Count
			}
		}
		return nil
	})
	if err != nil {
		return nil, len(seen), err
	}
	groups := slices.Collect(maps.Values(byKey))
	slices.SortFunc(groups, func(a, b *groupExtent) int { return strings.Compare(a.key, b.key) })
	for _, gr := range groups {
		gr.first, gr.last = max(gr.first, p.min), min(gr.last, p.max)
	}
	return groups, len(seen), nil
}

// histogram counts the values p reads in [first, last] per cell of
// width cell starting at first.
func (e *Executor) histogram(ctx context.Context, st Storage, p *plan, first, last, cell int64) ([]int64, error) {
	hist := make([]int64, histogramCells)
	err := e.scanWindows(ctx, st, p, first, last, cell, first, func(b *SeriesBatch) error {
		for _, c := range b.Fields {
			for _, w := range c.Windows {
				if k := uint64(w.Start-first) / uint64(cell); w.Start >= first && k < histogramCells {
					hist[k] += w.Count
				}
			}
		}
		return nil
	})
	return hist, err
}

// scanWindows scans the count and the first and last time of p's fields
// per window of [min, max].
func (e *Executor) scanWindows(ctx context.Context, st Storage, p *plan, min, max, every, offset int64, fn func(*SeriesBatch) error) error {
	req := ScanRequest{
		Database: p.src.db, RetentionPolicy: p.src.rp, Measurement: p.src.name,
		Condition: p.tagCond, Fields: p.fields, Min: min, Max: max,
		Window: &WindowRequest{Every: every, Offset: offset, Aggregates: AggregateCount | AggregateTimes},
	}
	err := st.Scan(ctx, req, func(b *SeriesBatch) error {
		if err := fn(b); err != nil {
			return err
		}
		return ctx.Err()
	})
	if err != nil {
		return contextErrOr(ctx, fmt.Errorf("scan %q: %w", p.src.name, err))
	}
	return nil
}

// timeSlices cuts [first, last] into inclusive [lo, hi] ranges in time
// order holding about budget values each, from hist, the count of values
// per cell of width cell starting at first: runs of cells, a cell over
// budget cut into even parts.
func timeSlices(first, last, cell int64, hist []int64, budget int64) [][2]int64 {
	// start(i) is cell i's first time; past last for cells after it.
	start := func(i int) (int64, bool) {
		off := uint64(i) * uint64(cell)
		if off > uint64(last-first) {
			return last, false
		}
		return int64(uint64(first) + off), true
	}
	var out [][2]int64
	add := func(from, to int) { // cells [from, to)
		lo, ok := start(from)
		if !ok {
			return
		}
		hi, ok := start(to)
		if ok {
			hi--
		}
		out = append(out, [2]int64{lo, hi})
	}
	from, acc := 0, int64(0)
	for i, c := range hist {
		if c > budget {
			if i > from {
				add(from, i)
			}
			lo, ok := start(i)
			if !ok {
				break
			}
			hi, ok := start(i + 1)
			if ok {
				hi--
			}
			parts := (c + budget - 1) / budget
			w := max(int64(uint64(hi-lo)/uint64(parts)), 1)
			a := lo
			for ; hi-a >= w; a += w {
				out = append(out, [2]int64{a, a + w - 1})
			}
			out = append(out, [2]int64{a, hi})
			from, acc = i+1, 0
			continue
		}
		if acc+c > budget && i > from {
			add(from, i)
			from, acc = i, 0
		}
		acc += c
	}
	if from < len(hist) {
		add(from, len(hist))
	}
	return out
}

// sameSeries reports whether b continues a's series.
func sameSeries(a, b *Row) bool {
	return a.Name == b.Name && maps.Equal(a.Tags, b.Tags)
}
