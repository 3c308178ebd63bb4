package data

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/meta"
)

// errNoState answers statements that need the cluster state before the
// node has it.
var errNoState = errors.New("no cluster state from the meta nodes yet")

// executeClusterStatement runs the statements that change or show the
// cluster's state through meta, and the deletes through every owner. It
// reports whether stmt was one of them.
func (h *handler) executeClusterStatement(ctx context.Context, user *meta.UserInfo, stmt influxql.Statement, opts query.ExecutionOptions, res *query.Result) (bool, error) {
	switch s := stmt.(type) {
	case *influxql.CreateDatabaseStatement:
		return true, h.createDatabase(ctx, s)
	case *influxql.DropDatabaseStatement:
		return true, h.ddl.DropDatabase(ctx, s.Name)
	case *influxql.CreateRetentionPolicyStatement:
		rf := s.Replication
		spec := meta.RetentionPolicySpec{Name: s.Name, Duration: s.Duration, ShardGroupDuration: s.ShardGroupDuration, ReplicaN: &rf}
		_, err := h.ddl.CreateRetentionPolicy(ctx, s.Database, spec, s.Default)
		return true, err
	case *influxql.AlterRetentionPolicyStatement:
		upd := meta.RetentionPolicyUpdate{Duration: s.Duration, ReplicaN: s.Replication}
		if s.ShardGroupDuration != nil {
			upd.ShardGroupDuration = s.ShardGroupDuration
		}
		return true, h.ddl.UpdateRetentionPolicy(ctx, s.Database, s.Name, upd, s.Default)
	case *influxql.DropRetentionPolicyStatement:
		return true, h.ddl.DropRetentionPolicy(ctx, s.Database, s.Name)
	case *influxql.ShowDatabasesStatement:
		return true, h.showDatabases(user, res)
	case *influxql.ShowRetentionPoliciesStatement:
		return true, h.showRetentionPolicies(s, opts, res)
	case *influxql.ShowShardsStatement:
		return true, h.showShards(res)
	case *influxql.ShowStatsStatement:
		h.showStats(s, res)
		return true, nil
	case *influxql.ShowDiagnosticsStatement:
		h.showDiagnostics(res)
		return true, nil
	case *influxql.ShowShardGroupsStatement:
		return true, h.showShardGroups(res)
	case *influxql.CreateContinuousQueryStatement:
		return true, h.createContinuousQuery(ctx, s, opts)
	case *influxql.DropContinuousQueryStatement:
		return true, h.ddl.DropContinuousQuery(ctx, s.Database, s.Name)
	case *influxql.ShowContinuousQueriesStatement:
		return true, h.showContinuousQueries(res)
	case *influxql.DropMeasurementStatement, *influxql.DropSeriesStatement, *influxql.DeleteSeriesStatement:
		return true, h.delete(ctx, stmt, opts)
	}
	return false, nil
}

func (h *handler) createDatabase(ctx context.Context, s *influxql.CreateDatabaseStatement) error {
	if d := h.meta.Data(); !s.RetentionPolicyCreate && d != nil && d.Database(s.Name) != nil {
		return nil // InfluxDB: creating an existing database is a no-op
	}
	// Without a replication factor meta gives the cluster's default.
	var spec *meta.RetentionPolicySpec
	if s.RetentionPolicyCreate {
		spec = &meta.RetentionPolicySpec{Name: s.RetentionPolicyName, ShardGroupDuration: s.RetentionPolicyShardGroupDuration, ReplicaN: s.RetentionPolicyReplication}
		if s.RetentionPolicyDuration != nil {
			spec.Duration = *s.RetentionPolicyDuration
		}
	}
	_, err := h.meta.CreateDatabase(ctx, s.Name, spec)
	return err
}

func (h *handler) state() (*meta.Data, error) {
	d := h.meta.Data()
	if d == nil {
		return nil, errNoState
	}
	return d, nil
}

// showDatabases lists the databases user may read or write (all with auth
// off or for an admin), as InfluxDB does.
func (h *handler) showDatabases(user *meta.UserInfo, res *query.Result) error {
	d, err := h.state()
	if err != nil {
		return err
	}
	row := &query.Row{Name: "databases", Columns: []string{"name"}}
	for _, db := range d.Databases {
		if authorized(user, db.Name, meta.PrivilegeRead) || authorized(user, db.Name, meta.PrivilegeWrite) {
			row.Values = append(row.Values, []any{db.Name})
		}
	}
	res.Series = []*query.Row{row}
	return nil
}

func (h *handler) showRetentionPolicies(s *influxql.ShowRetentionPoliciesStatement, opts query.ExecutionOptions, res *query.Result) error {
	d, err := h.state()
	if err != nil {
		return err
	}
	name := s.Database
	if name == "" {
		name = opts.Database
	}
	if name == "" {
		return query.ErrDatabaseRequired
	}
	db := d.Database(name)
	if db == nil {
		return fmt.Errorf("database not found: %s", name)
	}
	row := &query.Row{Columns: []string{"name", "duration", "shardGroupDuration", "replicaN", "default"}}
	for _, rp := range db.RetentionPolicies {
		row.Values = append(row.Values, []any{rp.Name, rp.Duration.String(), rp.ShardGroupDuration.String(), rp.ReplicaN, rp.Name == db.DefaultRetentionPolicy})
	}
	res.Series = []*query.Row{row}
	return nil
}

// expiry is when a group's data leaves its policy (its end plus the
// policy's duration; the end itself for infinite policies, as InfluxDB
// prints it).
func expiry(sg meta.ShardGroupInfo, rp meta.RetentionPolicyInfo) time.Time {
	return sg.EndTime.Add(rp.Duration)
}

func (h *handler) showShards(res *query.Result) error {
	d, err := h.state()
	if err != nil {
		return err
	}
	for _, db := range d.Databases {
		row := &query.Row{Name: db.Name, Columns: []string{"id", "database", "retention_policy", "shard_group", "start_time", "end_time", "expiry_time", "owners"}}
		for _, rp := range db.RetentionPolicies {
			for _, sg := range rp.ShardGroups {
				if sg.Deleted() {
					continue
				}
				for _, sh := range sg.Shards {
					row.Values = append(row.Values, []any{sh.ID, db.Name, rp.Name, sg.ID,
						sg.StartTime.UTC().Format(time.RFC3339), sg.EndTime.UTC().Format(time.RFC3339),
						expiry(sg, rp).UTC().Format(time.RFC3339), formatIDs(sh.Owners)})
				}
			}
		}
		res.Series = append(res.Series, row)
	}
	return nil
}

func (h *handler) showShardGroups(res *query.Result) error {
	d, err := h.state()
	if err != nil {
		return err
	}
	row := &query.Row{Name: "shard groups", Columns: []string{"id", "database", "retention_policy", "start_time", "end_time", "expiry_time"}}
	for _, db := range d.Databases {
		for _, rp := range db.RetentionPolicies {
			for _, sg := range rp.ShardGroups {
				if sg.Deleted() {
					continue
				}
				row.Values = append(row.Values, []any{sg.ID, db.Name, rp.Name, sg.StartTime.UTC().Format(time.RFC3339),
					sg.EndTime.UTC().Format(time.RFC3339), expiry(sg, rp).UTC().Format(time.RFC3339)})
			}
		}
	}
	res.Series = []*query.Row{row}
	return nil
}

func formatIDs(ids []uint64) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(id)
	}
	return s
}

// delete runs DROP MEASUREMENT, DROP SERIES and DELETE on every owner of
// the database's shards.
func (h *handler) delete(ctx context.Context, stmt influxql.Statement, opts query.ExecutionOptions) error {
	if h.deletes == nil {
		return fmt.Errorf("%w: %s", query.ErrUnsupported, statementKind(stmt))
	}
	db := opts.Database
	if db == "" {
		return query.ErrDatabaseRequired
	}
	d, err := h.state()
	if err != nil {
		return err
	}
	if d.Database(db) == nil {
		return fmt.Errorf("database not found: %s", db)
	}
	switch s := stmt.(type) {
	case *influxql.DropMeasurementStatement:
		return h.deletes.DropMeasurement(ctx, db, s.Name)
	case *influxql.DropSeriesStatement:
		return eachMeasurement(s.Sources, func(m string) error { return h.deletes.DropSeries(ctx, db, m, s.Condition) })
	case *influxql.DeleteSeriesStatement:
		cond, tr, err := influxql.ConditionExpr(s.Condition, nil)
		if err != nil {
			return err
		}
		min, max := tr.MinTimeNano(), tr.MaxTimeNano()
		return eachMeasurement(s.Sources, func(m string) error { return h.deletes.DeleteSeries(ctx, db, m, cond, min, max) })
	}
	return nil
}

// eachMeasurement calls fn for every named measurement of sources (regex
// sources are not supported by deletes yet).
func eachMeasurement(sources influxql.Sources, fn func(string) error) error {
	if len(sources) == 0 {
		return fmt.Errorf("%w: deletes without FROM", query.ErrUnsupported)
	}
	for _, src := range sources {
		m, ok := src.(*influxql.Measurement)
		if !ok || m.Regex != nil {
			return fmt.Errorf("%w: deletes from a regex or subquery", query.ErrUnsupported)
		}
		if err := fn(m.Name); err != nil {
			return err
		}
	}
	return nil
}
