package data

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/meta"
)

// maxQueryBytes bounds the q parameter of /query.
const maxQueryBytes = 1 << 20

// queryResult is one statement's part of InfluxDB's /query answer.
type queryResult struct {
	StatementID int           `json:"statement_id"`
	Series      []querySeries `json:"series,omitempty"`
	Err         string        `json:"error,omitempty"`
}

// querySeries is one series of a statement's result.
type querySeries struct {
	Name    string   `json:"name,omitempty"`
	Columns []string `json:"columns"`
	Values  [][]any  `json:"values,omitempty"`
}

// serveQuery answers /query. The data node executes the statements loaders
// and client libraries send before they write (CREATE DATABASE, SHOW
// DATABASES); the rest of InfluxQL answers a per-statement error until the
// query path exists.
func (h *handler) serveQuery(w http.ResponseWriter, r *http.Request) {
	user, err := h.authenticate(r)
	if err != nil {
		httpError(w, http.StatusUnauthorized, err.Error())
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxQueryBytes)
	q := r.FormValue("q")
	if q == "" {
		httpError(w, http.StatusBadRequest, `missing required parameter "q"`)
		return
	}
	stmts, err := influxql.ParseQuery(q)
	if err != nil {
		httpError(w, http.StatusBadRequest, "error parsing query: "+err.Error())
		return
	}
	results := make([]queryResult, 0, len(stmts.Statements))
	for i, stmt := range stmts.Statements {
		res := queryResult{StatementID: i}
		if err := h.executeStatement(r, user, stmt, &res); err != nil {
			res.Err = err.Error()
		}
		results = append(results, res)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	if r.FormValue("pretty") == "true" {
		enc.SetIndent("", "    ")
	}
	_ = enc.Encode(map[string]any{"results": results})
}

func (h *handler) executeStatement(r *http.Request, user *meta.UserInfo, stmt influxql.Statement, res *queryResult) error {
	switch s := stmt.(type) {
	case *influxql.CreateDatabaseStatement:
		if r.Method != http.MethodPost {
			return fmt.Errorf("%s is a write: send it with POST", s.String())
		}
		if user != nil && !user.Admin {
			return fmt.Errorf("%q user is not authorized to execute CREATE DATABASE", user.Name)
		}
		if d := h.meta.Data(); !s.RetentionPolicyCreate && d != nil && d.Database(s.Name) != nil {
			return nil // InfluxDB: creating an existing database is a no-op
		}
		spec := &meta.RetentionPolicySpec{ReplicaN: &h.cfg.DefaultReplication}
		if s.RetentionPolicyCreate {
			spec.Name, spec.ShardGroupDuration = s.RetentionPolicyName, s.RetentionPolicyShardGroupDuration
			if s.RetentionPolicyReplication != nil {
				spec.ReplicaN = s.RetentionPolicyReplication
			}
			if s.RetentionPolicyDuration != nil {
				spec.Duration = *s.RetentionPolicyDuration
			}
		}
		if _, err := h.meta.CreateDatabase(r.Context(), s.Name, spec); err != nil {
			return err
		}
		return nil
	case *influxql.ShowDatabasesStatement:
		d := h.meta.Data()
		if d == nil {
			return fmt.Errorf("no cluster state from the meta nodes yet")
		}
		series := querySeries{Name: "databases", Columns: []string{"name"}}
		for _, db := range d.Databases {
			if authorized(user, db.Name, meta.PrivilegeRead) {
				series.Values = append(series.Values, []any{db.Name})
			}
		}
		res.Series = []querySeries{series}
		return nil
	default:
		return fmt.Errorf("statement not supported by this version of Strata yet: %s", strings.SplitN(stmt.String(), " ", 3)[0])
	}
}
