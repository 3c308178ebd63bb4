package query

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/influxdata/influxql"
)

// source is one measurement a statement reads, with where it lives.
type source struct {
	target
	name string
}

// metaCondition splits a SHOW statement's WHERE into its tag condition
// and time range (the whole range when none is given).
func metaCondition(cond influxql.Expr, opts ExecutionOptions) (influxql.Expr, int64, int64, error) {
	expr, tr, err := influxql.ConditionExpr(cond, &influxql.NowValuer{Now: opts.Now})
	if err != nil {
		return nil, 0, 0, invalidf("%s", err.Error())
	}
	return expr, tr.MinTimeNano(), tr.MaxTimeNano(), nil
}

// sources resolves the FROM clause of a statement to measurements. Empty
// sources mean every measurement of the statement's database.
func (e *Executor) sources(ctx context.Context, st Storage, stmtDB string, srcs influxql.Sources, opts ExecutionOptions, cond influxql.Expr, min, max int64) ([]source, error) {
	if len(srcs) == 0 {
		t, err := resolve(stmtDB, nil, opts)
		if err != nil {
			return nil, err
		}
		names, err := st.MeasurementNames(ctx, t.db, t.rp, cond, min, max)
		if err != nil {
			return nil, fmt.Errorf("list measurements: %w", err)
		}
		out := make([]source, len(names))
		for i, n := range names {
			out[i] = source{target: t, name: n}
		}
		return out, nil
	}
	var out []source
	seen := make(map[source]bool)
	for _, s := range srcs {
		m, ok := s.(*influxql.Measurement)
		if !ok {
			return nil, fmt.Errorf("source %s: %w", s.String(), ErrUnsupported)
		}
		t, err := resolve(stmtDB, m, opts)
		if err != nil {
			return nil, err
		}
		var names []string
		if m.Regex != nil {
			all, err := st.MeasurementNames(ctx, t.db, t.rp, cond, min, max)
			if err != nil {
				return nil, fmt.Errorf("list measurements: %w", err)
			}
			for _, n := range all {
				if m.Regex.Val.MatchString(n) {
					names = append(names, n)
				}
			}
		} else {
			names = []string{m.Name}
		}
		for _, n := range names {
			src := source{target: t, name: n}
			if !seen[src] {
				seen[src] = true
				out = append(out, src)
			}
		}
	}
	return out, nil
}

// window applies OFFSET and LIMIT (0 = none) to n items.
func window(n, limit, offset int) (lo, hi int) {
	lo = min(offset, n)
	hi = n
	if limit > 0 && lo+limit < hi {
		hi = lo + limit
	}
	return lo, hi
}

func (e *Executor) showMeasurements(ctx context.Context, s *influxql.ShowMeasurementsStatement, opts ExecutionOptions) ([]*Row, error) {
	cond, min, max, err := metaCondition(s.Condition, opts)
	if err != nil {
		return nil, err
	}
	t, err := resolve(s.Database, nil, opts)
	if err != nil {
		return nil, err
	}
	names, err := e.storage.MeasurementNames(ctx, t.db, t.rp, cond, min, max)
	if err != nil {
		return nil, fmt.Errorf("list measurements: %w", err)
	}
	if m, ok := s.Source.(*influxql.Measurement); ok && m != nil {
		names = slices.DeleteFunc(names, func(n string) bool {
			if m.Regex != nil {
				return !m.Regex.Val.MatchString(n)
			}
			return n != m.Name
		})
	}
	lo, hi := window(len(names), s.Limit, s.Offset)
	if lo == hi {
		return nil, nil
	}
	row := &Row{Name: "measurements", Columns: []string{"name"}}
	for _, n := range names[lo:hi] {
		row.Values = append(row.Values, []any{n})
	}
	return []*Row{row}, nil
}

func (e *Executor) showTagKeys(ctx context.Context, s *influxql.ShowTagKeysStatement, opts ExecutionOptions) ([]*Row, error) {
	cond, min, max, err := metaCondition(s.Condition, opts)
	if err != nil {
		return nil, err
	}
	srcs, err := e.sources(ctx, e.storage, s.Database, s.Sources, opts, cond, min, max)
	if err != nil {
		return nil, err
	}
	var rows []*Row
	for _, src := range srcs {
		keys, err := e.storage.TagKeys(ctx, src.db, src.rp, src.name, cond, min, max)
		if err != nil {
			return nil, fmt.Errorf("list tag keys of %q: %w", src.name, err)
		}
		lo, hi := window(len(keys), s.Limit, s.Offset)
		if lo == hi {
			continue
		}
		row := &Row{Name: src.name, Columns: []string{"tagKey"}}
		for _, k := range keys[lo:hi] {
			row.Values = append(row.Values, []any{k})
		}
		rows = append(rows, row)
	}
	lo, hi := window(len(rows), s.SLimit, s.SOffset)
	return rows[lo:hi], nil
}

// tagKeyMatcher turns SHOW TAG VALUES' WITH KEY clause into a predicate.
func tagKeyMatcher(op influxql.Token, lit influxql.Literal) (func(string) bool, error) {
	switch op {
	case influxql.EQ, influxql.NEQ:
		s, ok := lit.(*influxql.StringLiteral)
		if !ok {
			return nil, invalidf("invalid tag key expression: %s", lit.String())
		}
		if op == influxql.EQ {
			return func(k string) bool { return k == s.Val }, nil
		}
		return func(k string) bool { return k != s.Val }, nil
	case influxql.EQREGEX, influxql.NEQREGEX:
		r, ok := lit.(*influxql.RegexLiteral)
		if !ok {
			return nil, invalidf("invalid tag key expression: %s", lit.String())
		}
		re := r.Val
		neg := op == influxql.NEQREGEX
		return func(k string) bool { return matchRegex(re, k) != neg }, nil
	case influxql.IN:
		l, ok := lit.(*influxql.ListLiteral)
		if !ok {
			return nil, invalidf("invalid tag key expression: %s", lit.String())
		}
		return func(k string) bool { return slices.Contains(l.Vals, k) }, nil
	default:
		return nil, invalidf("invalid tag key operator: %s", op.String())
	}
}

func matchRegex(re *regexp.Regexp, s string) bool { return re.MatchString(s) }

func (e *Executor) showTagValues(ctx context.Context, s *influxql.ShowTagValuesStatement, opts ExecutionOptions) ([]*Row, error) {
	match, err := tagKeyMatcher(s.Op, s.TagKeyExpr)
	if err != nil {
		return nil, err
	}
	cond, min, max, err := metaCondition(s.Condition, opts)
	if err != nil {
		return nil, err
	}
	srcs, err := e.sources(ctx, e.storage, s.Database, s.Sources, opts, cond, min, max)
	if err != nil {
		return nil, err
	}
	var rows []*Row
	for _, src := range srcs {
		keys, err := e.storage.TagKeys(ctx, src.db, src.rp, src.name, cond, min, max)
		if err != nil {
			return nil, fmt.Errorf("list tag keys of %q: %w", src.name, err)
		}
		var values [][]any
		for _, k := range keys {
			if !match(k) {
				continue
			}
			vals, err := e.storage.TagValues(ctx, src.db, src.rp, src.name, k, cond, min, max)
			if err != nil {
				return nil, fmt.Errorf("list tag values of %q in %q: %w", k, src.name, err)
			}
			for _, v := range vals {
				values = append(values, []any{k, v})
			}
		}
		lo, hi := window(len(values), s.Limit, s.Offset)
		if lo == hi {
			continue
		}
		rows = append(rows, &Row{Name: src.name, Columns: []string{"key", "value"}, Values: values[lo:hi]})
	}
	return rows, nil
}

func (e *Executor) showFieldKeys(ctx context.Context, s *influxql.ShowFieldKeysStatement, opts ExecutionOptions) ([]*Row, error) {
	min, max := influxql.MinTime, influxql.MaxTime
	srcs, err := e.sources(ctx, e.storage, s.Database, s.Sources, opts, nil, min, max)
	if err != nil {
		return nil, err
	}
	var rows []*Row
	for _, src := range srcs {
		keys, err := e.storage.FieldKeys(ctx, src.db, src.rp, src.name, min, max)
		if err != nil {
			return nil, fmt.Errorf("list field keys of %q: %w", src.name, err)
		}
		lo, hi := window(len(keys), s.Limit, s.Offset)
		if lo == hi {
			continue
		}
		row := &Row{Name: src.name, Columns: []string{"fieldKey", "fieldType"}}
		for _, k := range keys[lo:hi] {
			row.Values = append(row.Values, []any{k.Name, k.Type.String()})
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (e *Executor) seriesKeys(ctx context.Context, stmtDB string, srcs influxql.Sources, where influxql.Expr, opts ExecutionOptions) (map[string][]string, []source, error) {
	cond, min, max, err := metaCondition(where, opts)
	if err != nil {
		return nil, nil, err
	}
	list, err := e.sources(ctx, e.storage, stmtDB, srcs, opts, cond, min, max)
	if err != nil {
		return nil, nil, err
	}
	keys := make(map[string][]string, len(list))
	for _, src := range list {
		k, err := e.storage.SeriesKeys(ctx, src.db, src.rp, src.name, cond, min, max)
		if err != nil {
			return nil, nil, fmt.Errorf("list series of %q: %w", src.name, err)
		}
		keys[src.name] = k
	}
	return keys, list, nil
}

func (e *Executor) showSeries(ctx context.Context, s *influxql.ShowSeriesStatement, opts ExecutionOptions) ([]*Row, error) {
	byName, _, err := e.seriesKeys(ctx, s.Database, s.Sources, s.Condition, opts)
	if err != nil {
		return nil, err
	}
	var all []string
	for _, k := range byName {
		all = append(all, k...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	lo, hi := window(len(all), s.Limit, s.Offset)
	if lo == hi {
		return nil, nil
	}
	row := &Row{Columns: []string{"key"}}
	for _, k := range all[lo:hi] {
		row.Values = append(row.Values, []any{k})
	}
	return []*Row{row}, nil
}

// InfluxDB 1.8 answers SHOW SERIES / MEASUREMENT CARDINALITY without
// FROM, WHERE, GROUP BY, LIMIT and OFFSET from the index
// (coordinator/statement_executor.go): one unnamed row, column
// "cardinality estimation" (0 for an empty database). Every other
// cardinality statement is rewritten into a SELECT with OmitTime
// (query/statement_rewriter.go), so it answers like one: measurements as
// count(distinct(_name)) with StripName, one unnamed row "count"; series,
// tag keys, tag values and field keys as count(_seriesKey),
// count(distinct(_tagKey|_tagValue|_fieldKey)), a row "count" named
// after each measurement with a match; nothing when nothing matches; and
// LIMIT/OFFSET apply to the one row of each series, so OFFSET > 0 leaves
// nothing. Strata's estimates are exact counts.

// cardinalityEstimated reports whether a SHOW SERIES / MEASUREMENT
// CARDINALITY statement gets InfluxDB's estimate shape.
func cardinalityEstimated(exact bool, srcs influxql.Sources, cond influxql.Expr, dims influxql.Dimensions, limit, offset int) bool {
	return !exact && srcs == nil && cond == nil && dims == nil && limit == 0 && offset == 0
}

func estimateRows(n int) []*Row {
	return []*Row{{Columns: []string{"cardinality estimation"}, Values: [][]any{{int64(n)}}}}
}

// countRow is the one row of a rewritten cardinality SELECT, or nothing
// when the count is 0 or OFFSET skips it.
func countRow(name string, n, offset int) *Row {
	if n == 0 || offset > 0 {
		return nil
	}
	return &Row{Name: name, Columns: []string{"count"}, Values: [][]any{{int64(n)}}}
}

// matchingSources resolves a cardinality statement's FROM clause to the
// measurements that have a series matching cond in [min, max], sorted by
// name (a named measurement that does not exist counts for nothing, as
// the rewritten SELECT reads nothing from it).
func (e *Executor) matchingSources(ctx context.Context, stmtDB string, srcs influxql.Sources, opts ExecutionOptions, cond influxql.Expr, min, max int64) ([]source, error) {
	list, err := e.sources(ctx, e.storage, stmtDB, srcs, opts, cond, min, max)
	if err != nil {
		return nil, err
	}
	if len(srcs) > 0 {
		exists := make(map[target]map[string]bool)
		list = slices.DeleteFunc(list, func(src source) bool {
			names, ok := exists[src.target]
			if !ok {
				all, lerr := e.storage.MeasurementNames(ctx, src.db, src.rp, cond, min, max)
				if lerr != nil {
					err = fmt.Errorf("list measurements: %w", lerr)
				}
				names = make(map[string]bool, len(all))
				for _, n := range all {
					names[n] = true
				}
				exists[src.target] = names
			}
			return !names[src.name]
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(list, func(a, b source) int { return strings.Compare(a.name, b.name) })
	return list, nil
}

func (e *Executor) showMeasurementCardinality(ctx context.Context, s *influxql.ShowMeasurementCardinalityStatement, opts ExecutionOptions) ([]*Row, error) {
	if len(s.Dimensions) > 0 {
		return nil, fmt.Errorf("SHOW MEASUREMENT CARDINALITY with GROUP BY: %w", ErrUnsupported)
	}
	cond, min, max, err := metaCondition(s.Condition, opts)
	if err != nil {
		return nil, err
	}
	srcs, err := e.matchingSources(ctx, s.Database, s.Sources, opts, cond, min, max)
	if err != nil {
		return nil, err
	}
	if cardinalityEstimated(s.Exact, s.Sources, s.Condition, s.Dimensions, s.Limit, s.Offset) {
		return estimateRows(len(srcs)), nil
	}
	names := make(map[string]bool, len(srcs))
	for _, src := range srcs {
		names[src.name] = true
	}
	if r := countRow("", len(names), s.Offset); r != nil {
		return []*Row{r}, nil
	}
	return nil, nil
}

func (e *Executor) showSeriesCardinality(ctx context.Context, s *influxql.ShowSeriesCardinalityStatement, opts ExecutionOptions) ([]*Row, error) {
	if len(s.Dimensions) > 0 {
		return nil, fmt.Errorf("SHOW SERIES CARDINALITY with GROUP BY: %w", ErrUnsupported)
	}
	estimate := cardinalityEstimated(s.Exact, s.Sources, s.Condition, s.Dimensions, s.Limit, s.Offset)
	return e.countPerMeasurement(ctx, s.Database, s.Sources, s.Condition, s.Dimensions, s.Offset, opts, estimate,
		func(src source, cond influxql.Expr, min, max int64) (int, error) {
			keys, err := e.storage.SeriesKeys(ctx, src.db, src.rp, src.name, cond, min, max)
			if err != nil {
				return 0, fmt.Errorf("list series of %q: %w", src.name, err)
			}
			return len(keys), nil
		})
}

// countPerMeasurement answers the per-measurement cardinality statements
// (see above): a row "count" per measurement with a match, or with
// estimate the sum in one "cardinality estimation" row.
func (e *Executor) countPerMeasurement(ctx context.Context, stmtDB string, srcs influxql.Sources, where influxql.Expr, dims influxql.Dimensions, offset int, opts ExecutionOptions, estimate bool, count func(src source, cond influxql.Expr, min, max int64) (int, error)) ([]*Row, error) {
	if len(dims) > 0 {
		return nil, fmt.Errorf("cardinality with GROUP BY: %w", ErrUnsupported)
	}
	cond, min, max, err := metaCondition(where, opts)
	if err != nil {
		return nil, err
	}
	list, err := e.matchingSources(ctx, stmtDB, srcs, opts, cond, min, max)
	if err != nil {
		return nil, err
	}
	var rows []*Row
	total := 0
	for _, src := range list {
		n, err := count(src, cond, min, max)
		if err != nil {
			return nil, err
		}
		total += n
		if r := countRow(src.name, n, offset); r != nil {
			rows = append(rows, r)
		}
	}
	if estimate {
		return estimateRows(total), nil
	}
	return rows, nil
}

func (e *Executor) showTagKeyCardinality(ctx context.Context, s *influxql.ShowTagKeyCardinalityStatement, opts ExecutionOptions) ([]*Row, error) {
	return e.countPerMeasurement(ctx, s.Database, s.Sources, s.Condition, s.Dimensions, s.Offset, opts, false,
		func(src source, cond influxql.Expr, min, max int64) (int, error) {
			keys, err := e.storage.TagKeys(ctx, src.db, src.rp, src.name, cond, min, max)
			if err != nil {
				return 0, fmt.Errorf("list tag keys of %q: %w", src.name, err)
			}
			return len(keys), nil
		})
}

func (e *Executor) showTagValuesCardinality(ctx context.Context, s *influxql.ShowTagValuesCardinalityStatement, opts ExecutionOptions) ([]*Row, error) {
	match, err := tagKeyMatcher(s.Op, s.TagKeyExpr)
	if err != nil {
		return nil, err
	}
	return e.countPerMeasurement(ctx, s.Database, s.Sources, s.Condition, s.Dimensions, s.Offset, opts, false,
		func(src source, cond influxql.Expr, min, max int64) (int, error) {
			keys, err := e.storage.TagKeys(ctx, src.db, src.rp, src.name, cond, min, max)
			if err != nil {
				return 0, fmt.Errorf("list tag keys of %q: %w", src.name, err)
			}
			// count(distinct(_tagValue)): a value two keys share counts once.
			distinct := make(map[string]bool)
			for _, k := range keys {
				if !match(k) {
					continue
				}
				vals, err := e.storage.TagValues(ctx, src.db, src.rp, src.name, k, cond, min, max)
				if err != nil {
					return 0, fmt.Errorf("list tag values of %q in %q: %w", k, src.name, err)
				}
				for _, v := range vals {
					distinct[v] = true
				}
			}
			return len(distinct), nil
		})
}

func (e *Executor) showFieldKeyCardinality(ctx context.Context, s *influxql.ShowFieldKeyCardinalityStatement, opts ExecutionOptions) ([]*Row, error) {
	return e.countPerMeasurement(ctx, s.Database, s.Sources, s.Condition, s.Dimensions, s.Offset, opts, false,
		func(src source, _ influxql.Expr, min, max int64) (int, error) {
			keys, err := e.storage.FieldKeys(ctx, src.db, src.rp, src.name, min, max)
			if err != nil {
				return 0, fmt.Errorf("list field keys of %q: %w", src.name, err)
			}
			names := make(map[string]bool, len(keys))
			for _, k := range keys {
				names[k.Name] = true
			}
			return len(names), nil
		})
}
