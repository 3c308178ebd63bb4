package data

import (
	"context"
	"errors"
	"fmt"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/meta"
)

// createContinuousQuery stores a continuous query in meta the way
// InfluxDB 1.8 does: every measurement of the statement is qualified with
// its database and retention policy (the request's db, else the query's
// ON database; the request's rp, else the database's default), each named
// policy must exist, and the stored text is the statement's String().
func (h *handler) createContinuousQuery(ctx context.Context, s *influxql.CreateContinuousQueryStatement, opts query.ExecutionOptions) error {
	d, err := h.state()
	if err != nil {
		return err
	}
	if d.Database(s.Database) == nil {
		return fmt.Errorf("database not found: %s", s.Database)
	}
	defaultDB := opts.Database
	if defaultDB == "" {
		defaultDB = s.Database
	}
	parsed, err := influxql.ParseStatement(s.String()) // a copy to qualify
	if err != nil {
		return fmt.Errorf("continuous query: %w", err)
	}
	stmt := parsed.(*influxql.CreateContinuousQueryStatement)
	influxql.WalkFunc(stmt, func(n influxql.Node) {
		m, ok := n.(*influxql.Measurement)
		if !ok || err != nil {
			return
		}
		if m.Database == "" {
			m.Database = defaultDB
		}
		di := d.Database(m.Database)
		if di == nil {
			err = fmt.Errorf("database not found: %s", m.Database)
			return
		}
		if m.RetentionPolicy == "" {
			m.RetentionPolicy = opts.RetentionPolicy
		}
		if m.RetentionPolicy == "" {
			m.RetentionPolicy = di.DefaultRetentionPolicy
		}
		if d.RetentionPolicy(m.Database, m.RetentionPolicy) == nil {
			err = fmt.Errorf("retention policy not found: %s.%s", m.Database, m.RetentionPolicy)
		}
	})
	if err != nil {
		return err
	}
	err = h.ddl.CreateContinuousQuery(ctx, s.Database, s.Name, stmt.String())
	if errors.Is(err, meta.ErrContinuousQueryExists) {
		return meta.ErrContinuousQueryExists // InfluxDB's message alone
	}
	return err
}

// showContinuousQueries answers SHOW CONTINUOUS QUERIES as InfluxDB 1.8
// does: one series per database (named after it, even without queries),
// columns name and query.
func (h *handler) showContinuousQueries(res *query.Result) error {
	d, err := h.state()
	if err != nil {
		return err
	}
	for _, db := range d.Databases {
		row := &query.Row{Name: db.Name, Columns: []string{"name", "query"}}
		for _, cq := range db.ContinuousQueries {
			row.Values = append(row.Values, []any{cq.Name, cq.Query})
		}
		res.Series = append(res.Series, row)
	}
	return nil
}

// cqDDL is what the continuous query statements need from meta.
type cqDDL interface {
	CreateContinuousQuery(ctx context.Context, db, name, query string) error
	DropContinuousQuery(ctx context.Context, db, name string) error
}

var _ cqDDL = (*meta.Client)(nil)
