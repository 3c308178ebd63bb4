package query

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/tsdb/models"
)

// intoBatch is how many points SELECT … INTO hands the writer at once.
const intoBatch = 5000

// IntoWriter takes the points of SELECT … INTO (the cluster's write path,
// at the configured consistency level).
type IntoWriter interface {
	WritePoints(ctx context.Context, db, rp string, points []models.Point) error
}

// SetIntoWriter makes SELECT … INTO write through w. Without one, SELECT …
// INTO answers ErrNotHandled. Call it before the first query.
func (e *Executor) SetIntoWriter(w IntoWriter) { e.into = w }

// executeInto runs the SELECT of a SELECT … INTO and writes its rows as
// points, as InfluxDB does: one point per row time, the GROUP BY tags as
// tags, every non-null column as a field (rows of nulls only are skipped),
// into db.rp.measurement of the target or, for :MEASUREMENT, the source's
// measurement name. It answers InfluxDB's single "result" row of the
// number of points written.
func (e *Executor) executeInto(ctx context.Context, s *influxql.SelectStatement, opts ExecutionOptions) ([]*Row, error) {
	if e.into == nil {
		return nil, fmt.Errorf("SELECT INTO: %w", ErrNotHandled)
	}
	tgt := s.Target.Measurement
	db, rp := tgt.Database, tgt.RetentionPolicy
	if db == "" {
		db = opts.Database
	}
	if db == "" {
		return nil, ErrDatabaseRequired
	}
	if rp == "" {
		if opts.DefaultRetentionPolicy == nil {
			return nil, fmt.Errorf("INTO %s: no retention policy named", db)
		}
		var err error
		if rp, err = opts.DefaultRetentionPolicy(db); err != nil {
			return nil, err
		}
	}
	sel := s.Clone()
	sel.Target = nil
	opts.Sink = nil // the rows are written, not sent
	rows, err := e.executeSelect(ctx, sel, opts)
	if err != nil {
		return nil, err
	}
	written := int64(0)
	batch := make([]models.Point, 0, intoBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := e.into.WritePoints(ctx, db, rp, batch); err != nil {
			return fmt.Errorf("write INTO %s.%s: %w", db, rp, err)
		}
		written += int64(len(batch))
		batch = batch[:0]
		return nil
	}
	for _, row := range rows {
		name := tgt.Name
		if name == "" { // INTO …:MEASUREMENT
			name = row.Name
		}
		tags := intoTags(row.Tags)
		for _, vals := range row.Values {
			p, ok := intoPoint(name, tags, row.Columns, vals)
			if !ok {
				continue
			}
			batch = append(batch, p)
			if len(batch) == intoBatch {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return []*Row{{Name: "result", Columns: []string{"time", "written"}, Values: [][]any{{int64(0), written}}, hasTime: true}}, nil
}

// intoTags turns a row's GROUP BY tags into a sorted tag set (empty values
// are absent tags in line protocol).
func intoTags(m map[string]string) models.Tags {
	tags := make(models.Tags, 0, len(m))
	for k, v := range m {
		if v != "" {
			tags = append(tags, models.Tag{Key: []byte(k), Value: []byte(v)})
		}
	}
	sort.Slice(tags, func(i, j int) bool { return string(tags[i].Key) < string(tags[j].Key) })
	return tags
}

// intoPoint builds the point of one row (time first); ok is false when no
// column has a value that can be stored.
func intoPoint(name string, tags models.Tags, cols []string, vals []any) (models.Point, bool) {
	t, ok := vals[0].(int64)
	if !ok {
		return models.Point{}, false
	}
	p := models.Point{Measurement: []byte(name), Tags: tags, Time: t}
	for i := 1; i < len(vals) && i < len(cols); i++ {
		v, ok := intoValue(vals[i])
		if ok {
			p.Fields = append(p.Fields, models.Field{Key: []byte(cols[i]), Value: v})
		}
	}
	return p, len(p.Fields) > 0
}

// intoValue converts a result value to a field value; nulls and floats
// line protocol cannot carry (NaN, ±Inf) have none.
func intoValue(v any) (models.Value, bool) {
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return models.Value{}, false
	}
	return fromAny(v)
}
