package query

import (
	"context"
	"regexp"
	"slices"
	"sort"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/models"
)

// rowStorageDB names the database and policy of a subquery's rows.
const rowStorageDB = "\x00subquery"

// matchAll selects every measurement of a subquery's rows.
var matchAll = regexp.MustCompile("")

// subquery returns the inner statement of SELECT … FROM (SELECT …).
func subquery(s *influxql.SelectStatement) (*influxql.SelectStatement, bool) {
	if len(s.Sources) != 1 {
		return nil, false
	}
	sq, ok := s.Sources[0].(*influxql.SubQuery)
	if !ok {
		return nil, false
	}
	return sq.Statement, true
}

// rowStorage serves the rows of an inner query as a Storage: each row is
// a series (its name and tags), each column after time a field.
type rowStorage struct {
	series []rowSeries
}

type rowSeries struct {
	name   string
	key    string
	tags   models.Tags
	fields []FieldColumn
}

func newRowStorage(rows []*Row) *rowStorage {
	st := &rowStorage{}
	for _, r := range rows {
		if !r.hasTime && (len(r.Columns) == 0 || r.Columns[0] != "time") {
			continue
		}
		s := rowSeries{name: r.Name}
		for k, v := range r.Tags {
			s.tags = append(s.tags, models.Tag{Key: []byte(k), Value: []byte(v)})
		}
		sort.Slice(s.tags, func(i, j int) bool { return string(s.tags[i].Key) < string(s.tags[j].Key) })
		s.key = string(models.AppendSeriesKey(nil, []byte(r.Name), s.tags))
		for c, name := range r.Columns[1:] {
			col := FieldColumn{Name: name}
			for _, vals := range r.Values {
				v, ok := fromAny(vals[c+1])
				t, isTime := vals[0].(int64)
				if !ok || !isTime {
					continue
				}
				if col.Type == models.FieldTypeUnknown {
					col.Type = v.Type
				}
				if v.Type == col.Type {
					col.Points = append(col.Points, Point{Time: t, Value: v})
				}
			}
			if len(col.Points) > 0 {
				slices.SortStableFunc(col.Points, cmpPointTime)
				s.fields = append(s.fields, col)
			}
		}
		st.series = append(st.series, s)
	}
	return st
}

// MeasurementNames implements Storage over the rows.
func (st *rowStorage) MeasurementNames(_ context.Context, _, _ string, cond influxql.Expr, _, _ int64) ([]string, error) {
	var names []string
	for _, s := range st.series {
		if MatchTags(cond, s.tags) {
			names = append(names, s.name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// FieldKeys implements Storage over the rows.
func (st *rowStorage) FieldKeys(_ context.Context, _, _, m string, _, _ int64) ([]FieldKey, error) {
	var keys []FieldKey
	for _, s := range st.series {
		if s.name != m {
			continue
		}
		for _, f := range s.fields {
			keys = append(keys, FieldKey{Name: f.Name, Type: f.Type})
		}
	}
	slices.SortFunc(keys, func(a, b FieldKey) int {
		if a.Name != b.Name {
			if a.Name < b.Name {
				return -1
			}
			return 1
		}
		return int(a.Type) - int(b.Type)
	})
	return slices.Compact(keys), nil
}

// TagKeys implements Storage over the rows.
func (st *rowStorage) TagKeys(_ context.Context, _, _, m string, cond influxql.Expr, _, _ int64) ([]string, error) {
	var keys []string
	for _, s := range st.series {
		if s.name == m && MatchTags(cond, s.tags) {
			for _, t := range s.tags {
				keys = append(keys, string(t.Key))
			}
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// TagValues implements Storage over the rows.
func (st *rowStorage) TagValues(_ context.Context, _, _, m, key string, cond influxql.Expr, _, _ int64) ([]string, error) {
	var vals []string
	for _, s := range st.series {
		if s.name == m && MatchTags(cond, s.tags) {
			if v := s.tags.Get([]byte(key)); v != nil {
				vals = append(vals, string(v))
			}
		}
	}
	slices.Sort(vals)
	return slices.Compact(vals), nil
}

// SeriesKeys implements Storage over the rows.
func (st *rowStorage) SeriesKeys(_ context.Context, _, _, m string, cond influxql.Expr, _, _ int64) ([]string, error) {
	var keys []string
	for _, s := range st.series {
		if s.name == m && MatchTags(cond, s.tags) {
			keys = append(keys, s.key)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// Scan implements Storage over the rows.
func (st *rowStorage) Scan(ctx context.Context, req ScanRequest, fn func(*SeriesBatch) error) error {
	for _, s := range st.series {
		if s.name != req.Measurement || !MatchTags(req.Condition, s.tags) {
			continue
		}
		b := &SeriesBatch{Key: s.key, Tags: s.tags}
		for _, f := range s.fields {
			if !slices.Contains(req.Fields, f.Name) {
				continue
			}
			lo := sort.Search(len(f.Points), func(i int) bool { return f.Points[i].Time >= req.Min })
			hi := sort.Search(len(f.Points), func(i int) bool { return f.Points[i].Time > req.Max })
			col := FieldColumn{Name: f.Name, Type: f.Type}
			if req.Window != nil {
				col.Windows = BuildWindows(nil, f.Points[lo:hi], req.Window)
			} else {
				col.Points = f.Points[lo:hi]
			}
			b.Fields = append(b.Fields, col)
		}
		if err := fn(b); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}
