package data

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/internal/clock"
	"github.com/strata-db/strata/internal/gcpace"
	"github.com/strata-db/strata/meta"
)

// maxQueryBytes bounds the q parameter of /query.
const maxQueryBytes = 1 << 20

// queryRunner is what /query needs for data statements: the InfluxQL
// executor (SELECT and SHOW over the data) and the deletes it leaves to the
// caller.
type queryRunner interface {
	ExecuteQuery(ctx context.Context, q *influxql.Query, opts query.ExecutionOptions) ([]*query.Result, error)
}

// deleter runs DROP MEASUREMENT, DROP SERIES and DELETE on every owner.
type deleter interface {
	DropMeasurement(ctx context.Context, db, name string) error
	DropSeries(ctx context.Context, db, measurement string, cond influxql.Expr) error
	DeleteSeries(ctx context.Context, db, measurement string, cond influxql.Expr, min, max int64) error
}

// metaDDL is what /query needs from the meta client for cluster-state
// statements.
type metaDDL interface {
	CreateDatabase(ctx context.Context, name string, spec *meta.RetentionPolicySpec) (*meta.DatabaseInfo, error)
	DropDatabase(ctx context.Context, name string) error
	CreateRetentionPolicy(ctx context.Context, db string, spec meta.RetentionPolicySpec, makeDefault bool) (*meta.RetentionPolicyInfo, error)
	UpdateRetentionPolicy(ctx context.Context, db, name string, upd meta.RetentionPolicyUpdate, makeDefault bool) error
	DropRetentionPolicy(ctx context.Context, db, name string) error
	cqDDL
}

// serveQuery answers /query as InfluxDB 1.x does: every statement gets a
// result (errors per statement, HTTP 200); after a failed statement the
// rest are not executed. Cluster-state statements go to meta; SELECT and
// SHOW over the data go to the executor; deletes go to every owner.
func (h *handler) serveQuery(w http.ResponseWriter, r *http.Request) {
	user, aerr := h.authenticate(r)
	if aerr != nil {
		h.refuse(w, r, aerr)
		return
	}
	if !readQueryForm(w, r) {
		return
	}
	qs := r.FormValue("q")
	if qs == "" {
		httpError(w, http.StatusBadRequest, `missing required parameter "q"`)
		return
	}
	format := query.FormatOptions{Epoch: r.FormValue("epoch"), Pretty: r.FormValue("pretty") == "true"}
	if err := format.Validate(); err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	var err error
	chunkSize := 0
	if r.FormValue("chunked") == "true" {
		chunkSize = 10000
		if v := r.FormValue("chunk_size"); v != "" {
			if chunkSize, err = strconv.Atoi(v); err != nil || chunkSize <= 0 {
				httpError(w, http.StatusBadRequest, fmt.Sprintf("invalid chunk_size %q", v))
				return
			}
		}
	}
	var params map[string]any
	if raw := r.FormValue("params"); raw != "" {
		if params, err = queryParams(raw); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	q, err := parseQuery(qs, params)
	if err != nil {
		httpError(w, http.StatusBadRequest, "error parsing query: "+err.Error())
		return
	}
	if aerr := h.authorizeQuery(user, q, r.FormValue("db")); aerr != nil {
		h.refuse(w, r, aerr)
		return
	}
	opts := query.ExecutionOptions{
		Database:        r.FormValue("db"),
		RetentionPolicy: r.FormValue("rp"),
		DefaultRetentionPolicy: func(db string) (string, error) {
			d := h.meta.Data()
			if d == nil {
				return "", fmt.Errorf("no cluster state from the meta nodes yet")
			}
			di := d.Database(db)
			if di == nil {
				// Created through another node a moment ago?
				if fresh, err := h.meta.Refresh(r.Context()); err == nil {
					di = fresh.Database(db)
				}
			}
			if di == nil {
				return "", fmt.Errorf("%w: %s", meta.ErrDatabaseNotFound, db)
			}
			return di.DefaultPolicy()
		},
		Now: clock.Now(),
	}
	csv := strings.Contains(r.Header.Get("Accept"), "application/csv")
	var chunks *query.ChunkWriter
	if chunkSize > 0 && !csv {
		// Chunked JSON streams: rows go out as the executor makes them.
		w.Header().Set("Content-Type", "application/json")
		if chunks, err = query.NewChunkWriter(w, format, chunkSize); err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		opts.Sink = chunks
	}
	results := make([]*query.Result, 0, len(q.Statements))
	failed := false
	rows, limit := 0, 0 // values so far, max-row-limit
	if chunkSize == 0 {
		limit = h.cfg.HTTP.MaxRowLimit
	}
	for i, stmt := range q.Statements {
		res := &query.Result{StatementID: i}
		var kept *query.RowCollector
		if chunks != nil {
			chunks.Start(i)
		} else {
			// Rows past max-row-limit are not even read (at least one is,
			// for InfluxDB's partial mark).
			kept = query.NewRowCollector(0)
			if limit > 0 {
				kept = query.NewRowCollector(max(limit-rows, 1))
			}
			opts.Sink = kept
		}
		switch {
		case failed:
			res.Err = query.ErrNotExecuted
		default:
			h.executeStatement(r, user, stmt, opts, res)
			failed = res.Err != nil
		}
		res.StatementID = i
		if chunks != nil {
			if err := chunks.End(res); err != nil {
				return // the client went away
			}
			continue
		}
		if res.Err == nil {
			res.Series = append(kept.Rows(), res.Series...)
		}
		for _, s := range res.Series {
			rows += len(s.Values)
		}
		results = append(results, res)
	}
	if chunks != nil {
		return
	}
	query.LimitRows(results, limit)
	if csv {
		w.Header().Set("Content-Type", "text/csv")
		_ = query.WriteCSV(w, results, format)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = query.WriteJSON(w, results, format)
}

// queryReaders recycles the parser's read buffers: influxql's scanner
// reads through a *bufio.Reader of 4 KB, and takes one it is given instead
// of allocating its own (a tenth of the bytes a small query allocated).
var queryReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// parseQuery parses qs with the bound parameters params (nil for none).
func parseQuery(qs string, params map[string]any) (*influxql.Query, error) {
	br := queryReaders.Get().(*bufio.Reader)
	defer queryReaders.Put(br)
	br.Reset(strings.NewReader(qs))
	defer br.Reset(nil)
	parser := influxql.NewParser(br)
	if params != nil {
		parser.SetParams(params)
	}
	return parser.ParseQuery()
}

// pacedQueries counts each request to next as a query while it runs, for
// the collector's target (query-gc-percent, internal/gcpace).
func pacedQueries(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer gcpace.Begin()()
		next.ServeHTTP(w, r)
	})
}

// queryParams decodes /query's params (bound parameters, $name in q) as
// InfluxDB 1.8 does (services/httpd/handler.go): a JSON object whose
// numbers with a '.' are floats and the others integers.
func queryParams(raw string) (map[string]any, error) {
	var params map[string]any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		return nil, fmt.Errorf("error parsing query parameters: %w", err)
	}
	for k, v := range params {
		n, ok := v.(json.Number)
		if !ok {
			continue
		}
		var err error
		if strings.Contains(string(n), ".") {
			params[k], err = n.Float64()
		} else {
			params[k], err = n.Int64()
		}
		if err != nil {
			return nil, fmt.Errorf("error parsing json value: %w", err)
		}
	}
	return params, nil
}

// executeStatement runs one statement into res.
func (h *handler) executeStatement(r *http.Request, user *meta.UserInfo, stmt influxql.Statement, opts query.ExecutionOptions, res *query.Result) {
	handled, err := h.executeUserStatement(r.Context(), stmt, res)
	if !handled {
		handled, err = h.executeClusterStatement(r.Context(), user, stmt, opts, res)
	}
	if handled {
		res.Err = err
		if err == nil && r.Method != http.MethodPost {
			res.Messages = append(res.Messages, readOnlyWarning(stmt)...)
		}
		return
	}
	if h.queries == nil {
		res.Err = fmt.Errorf("%w: %s", query.ErrUnsupported, statementKind(stmt))
		return
	}
	out, err := h.queries.ExecuteQuery(r.Context(), &influxql.Query{Statements: influxql.Statements{stmt}}, opts)
	switch {
	case err != nil:
		res.Err = err
	case len(out) == 1:
		*res = *out[0]
		if errors.Is(res.Err, query.ErrNotHandled) {
			res.Err = fmt.Errorf("%w: %s", query.ErrUnsupported, statementKind(stmt))
		}
	}
}

// readOnlyWarning is InfluxDB 1.8's note on a statement that changes the
// database but came by GET: it runs, and the answer carries this warning
// (coordinator/statement_executor.go, query.ReadOnlyWarning). DELETE and
// KILL QUERY get none there, so none here either.
func readOnlyWarning(stmt influxql.Statement) []*query.Message {
	switch stmt.(type) {
	case *influxql.DeleteSeriesStatement, *influxql.KillQueryStatement:
		return nil
	}
	if !isWrite(stmt) {
		return nil
	}
	return []*query.Message{{
		Level: "warning",
		Text:  fmt.Sprintf("deprecated use of '%s' in a read only context, please use a POST request instead", stmt.String()),
	}}
}

// isWrite reports whether stmt changes anything.
func isWrite(stmt influxql.Statement) bool {
	switch stmt.(type) {
	case *influxql.SelectStatement, *influxql.ShowDatabasesStatement, *influxql.ShowRetentionPoliciesStatement,
		*influxql.ShowMeasurementsStatement, *influxql.ShowTagKeysStatement, *influxql.ShowTagValuesStatement,
		*influxql.ShowFieldKeysStatement, *influxql.ShowSeriesStatement, *influxql.ShowShardsStatement,
		*influxql.ShowShardGroupsStatement, *influxql.ShowQueriesStatement, *influxql.ShowMeasurementCardinalityStatement,
		*influxql.ShowSeriesCardinalityStatement, *influxql.ShowTagKeyCardinalityStatement, *influxql.ShowTagValuesCardinalityStatement,
		*influxql.ShowFieldKeyCardinalityStatement, *influxql.ShowUsersStatement, *influxql.ShowGrantsForUserStatement,
		*influxql.ShowDiagnosticsStatement, *influxql.ShowStatsStatement, *influxql.ExplainStatement,
		*influxql.ShowContinuousQueriesStatement:
		return false
	}
	return true
}

// statementKind is the first words of a statement, for messages.
func statementKind(stmt influxql.Statement) string {
	words := strings.Fields(stmt.String())
	if len(words) > 3 {
		words = words[:3]
	}
	return strings.Join(words, " ")
}
