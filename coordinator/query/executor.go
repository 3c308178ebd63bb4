package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/influxdata/influxql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/internal/clock"
)

// Result is the answer to one statement.
type Result struct {
	// StatementID is the statement's index in the query.
	StatementID int
	// Series are the rows of the answer, one Row per series.
	Series []*Row
	// Messages are informational notes.
	Messages []*Message
	// Err is the statement's error; errors.Is(Err, ErrNotHandled) means
	// the caller must run the statement itself.
	Err error
}

// Message is an informational note attached to a Result.
type Message struct {
	Level string `json:"level"`
	Text  string `json:"text"`
}

// Row is one series of a Result. Time values (the first column of a
// SELECT, or any row whose first column is "time") are int64 ns since the
// epoch; the formatter renders them.
type Row struct {
	Name    string
	Tags    map[string]string
	Columns []string
	Values  [][]any
	Partial bool

	// loc renders times in the zone of a tz() clause.
	loc *time.Location
	// hasTime marks a SELECT's rows, whose first column is the time
	// whatever its name (SELECT time AS t, …).
	hasTime bool
}

// ExecutionOptions say where and when a query runs.
type ExecutionOptions struct {
	// Database is the request's db parameter, used by statements that
	// name none.
	Database string
	// RetentionPolicy is the request's rp parameter.
	RetentionPolicy string
	// DefaultRetentionPolicy resolves the default policy of db when
	// neither the statement nor the request names one. Its error becomes
	// the statement's error unchanged.
	DefaultRetentionPolicy func(db string) (string, error)
	// Now is the query's now(); zero means time.Now().
	Now time.Time
	// Sink, when set, receives the rows of every SELECT as they are
	// produced, and those statements' Result.Series stay empty: raw
	// queries without GROUP BY tags are read and sent one time slice at
	// a time, so a large answer streams instead of being held whole.
	// Other statements still answer in Result.Series.
	Sink RowSink
}

// Executor runs InfluxQL statements over a Storage.
type Executor struct {
	cfg     Config
	storage Storage
	logger  *slog.Logger
	metrics *metrics
	queries *registry
	into    IntoWriter
}

type metrics struct {
	queries  *prometheus.CounterVec
	duration prometheus.Histogram
	running  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "query", Name: "statements_total",
			Help: "InfluxQL statements executed, by result.",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "strata", Subsystem: "query", Name: "duration_seconds",
			Help:    "Time to execute one query.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "strata", Subsystem: "query", Name: "running",
			Help: "Queries running now.",
		}),
	}
	if reg != nil {
		m.queries = registerOrExisting(reg, m.queries)
		m.duration = registerOrExisting(reg, m.duration)
		m.running = registerOrExisting(reg, m.running)
	}
	return m
}

// registerOrExisting registers c, or returns the collector already
// registered under its name, so two executors can share a registry.
func registerOrExisting[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("BUG: register query metrics: " + err.Error())
	}
	return c
}

// NewExecutor returns an Executor reading from storage. logger and reg may
// be nil (discard, no registration).
func NewExecutor(cfg Config, storage Storage, logger *slog.Logger, reg prometheus.Registerer) *Executor {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Executor{
		cfg:     cfg,
		storage: storage,
		logger:  logger,
		metrics: newMetrics(reg),
		queries: newRegistry(),
	}
}

// ExecuteQuery runs every statement of q and returns one Result per
// statement. The returned error is for the query as a whole (the
// concurrency limit); statement failures are in Result.Err. After a
// failed statement, the rest answer ErrNotExecuted, as InfluxDB does;
// statements answering ErrNotHandled do not stop the others.
func (e *Executor) ExecuteQuery(ctx context.Context, q *influxql.Query, opts ExecutionOptions) ([]*Result, error) {
	if q == nil {
		return nil, nil
	}
	if opts.Now.IsZero() {
		opts.Now = clock.Now().UTC()
	}
	task, err := e.queries.attach(ctx, q, opts.Database, e.cfg.MaxConcurrentQueries)
	if err != nil {
		return nil, err
	}
	defer task.detach()
	e.metrics.running.Inc()
	defer e.metrics.running.Dec()
	start := time.Now()
	defer func() { e.metrics.duration.Observe(time.Since(start).Seconds()) }()

	ctx = task.ctx
	if d := e.cfg.QueryTimeout.D(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, ErrQueryTimeout)
		defer cancel()
	}

	results := make([]*Result, 0, len(q.Statements))
	failed := false
	for i, stmt := range q.Statements {
		res := &Result{StatementID: i}
		results = append(results, res)
		if failed {
			res.Err = ErrNotExecuted
			continue
		}
		series, err := e.executeStatement(ctx, stmt, opts)
		if err == nil {
			err = contextErr(ctx)
		}
		switch {
		case err == nil:
			res.Series = series
			e.metrics.queries.WithLabelValues("ok").Inc()
		case errors.Is(err, ErrNotHandled):
			res.Err = err
			e.metrics.queries.WithLabelValues("not_handled").Inc()
		default:
			res.Err = contextErrOr(ctx, err)
			failed = true
			e.metrics.queries.WithLabelValues("error").Inc()
			e.logger.Debug("statement failed", "statement", stmt.String(), "error", res.Err)
		}
	}
	return results, nil
}

// contextErr returns the cause of ctx's end, or nil while it runs.
func contextErr(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return context.Cause(ctx)
}

// contextErrOr prefers the context's cause (timeout, kill) to err, which
// is then usually a consequence of it.
func contextErrOr(ctx context.Context, err error) error {
	if c := contextErr(ctx); c != nil {
		return c
	}
	return err
}

func (e *Executor) executeStatement(ctx context.Context, stmt influxql.Statement, opts ExecutionOptions) ([]*Row, error) {
	switch s := stmt.(type) {
	case *influxql.SelectStatement:
		if s.Target != nil {
			return e.executeInto(ctx, s, opts)
		}
		return e.executeSelect(ctx, s, opts)
	case *influxql.ShowMeasurementsStatement:
		return e.showMeasurements(ctx, s, opts)
	case *influxql.ShowTagKeysStatement:
		return e.showTagKeys(ctx, s, opts)
	case *influxql.ShowTagValuesStatement:
		return e.showTagValues(ctx, s, opts)
	case *influxql.ShowFieldKeysStatement:
		return e.showFieldKeys(ctx, s, opts)
	case *influxql.ShowSeriesStatement:
		return e.showSeries(ctx, s, opts)
	case *influxql.ShowMeasurementCardinalityStatement:
		return e.showMeasurementCardinality(ctx, s, opts)
	case *influxql.ShowSeriesCardinalityStatement:
		return e.showSeriesCardinality(ctx, s, opts)
	case *influxql.ShowTagKeyCardinalityStatement:
		return e.showTagKeyCardinality(ctx, s, opts)
	case *influxql.ShowTagValuesCardinalityStatement:
		return e.showTagValuesCardinality(ctx, s, opts)
	case *influxql.ShowFieldKeyCardinalityStatement:
		return e.showFieldKeyCardinality(ctx, s, opts)
	case *influxql.ShowQueriesStatement:
		return e.queries.show(), nil
	case *influxql.KillQueryStatement:
		return nil, e.queries.kill(s.QueryID)
	default:
		return nil, fmt.Errorf("%s: %w", stmt.String(), ErrNotHandled)
	}
}

// target is a resolved database and retention policy.
type target struct{ db, rp string }

// resolve picks the database and retention policy for a statement: the
// measurement's own, else the statement's, else the request's.
func resolve(stmtDB string, m *influxql.Measurement, opts ExecutionOptions) (target, error) {
	t := target{db: opts.Database, rp: opts.RetentionPolicy}
	if stmtDB != "" {
		t.db = stmtDB
	}
	if m != nil {
		if m.Database != "" {
			t.db = m.Database
			t.rp = ""
		}
		if m.RetentionPolicy != "" {
			t.rp = m.RetentionPolicy
		}
	}
	if t.db == "" {
		return t, ErrDatabaseRequired
	}
	if t.rp == "" {
		if opts.DefaultRetentionPolicy == nil {
			return t, fmt.Errorf("resolve retention policy of %q: no default policy resolver", t.db)
		}
		rp, err := opts.DefaultRetentionPolicy(t.db)
		if err != nil {
			// Unchanged: the hook words it for the client, as InfluxDB
			// does ("database not found: x").
			return t, err
		}
		t.rp = rp
	}
	return t, nil
}
