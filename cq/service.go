// Package cq runs continuous queries. Every data node runs a Service; the
// one holding the continuous-query lease in meta runs each query's due
// intervals as SELECT … INTO through the query executor, oldest first, and
// records each completed run in meta, so the node that takes over after a
// failure runs what was missed (within max-catch-up) and nothing twice
// with different results: a rerun overwrites the same points.
//
// An interval runs settle-delay after it ends, not at once. The run reads
// each shard from one owner (this node's copy first), and a write
// acknowledged at consistency one is on one owner when it is acknowledged
// while its other owners get it in the background, within the
// coordinator's write-timeout, or through hinted handoff when that fails.
// Run at once, an interval could miss points a later direct SELECT of the
// same aggregate sees, and being recorded as done it would never be run
// again. With settle-delay at least write-timeout every acknowledged write
// has reached each owner by then unless one failed; what an owner gets
// later through hinted handoff is only in the roll-up when RESAMPLE FOR
// covers it.
package cq

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/influxdata/influxql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/internal/clock"
	"github.com/strata-db/strata/meta"
)

// Meta is what the runner needs from the meta client.
type Meta interface {
	Data() *meta.Data
	AcquireCQLease(ctx context.Context, node uint64, dur time.Duration) (meta.CQLease, error)
	RecordContinuousQueryRun(ctx context.Context, db, name string, runTime time.Time, node uint64) error
}

// Executor runs the SELECT … INTO of each run.
type Executor interface {
	ExecuteQuery(ctx context.Context, q *influxql.Query, opts query.ExecutionOptions) ([]*query.Result, error)
}

// Service is one data node's continuous query runner.
type Service struct {
	cfg    Config
	node   func() uint64
	meta   Meta
	exec   Executor
	logger *slog.Logger
	m      *metrics
	clock  func() time.Time // clock.Now; tests replace it

	parsed map[string]*influxql.CreateContinuousQueryStatement // by query text; loop goroutine only

	stopCh    chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

type metrics struct {
	runs, failures, points, skipped *prometheus.CounterVec
	lag                             *prometheus.GaugeVec
	leaseHeld                       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	labels := []string{"database", "name"}
	counter := func(name, help string) *prometheus.CounterVec {
		return f.NewCounterVec(prometheus.CounterOpts{Namespace: "strata", Subsystem: "cq", Name: name, Help: help}, labels)
	}
	return &metrics{
		runs:     counter("runs_total", "Continuous query runs completed on this node."),
		failures: counter("run_failures_total", "Continuous query runs that failed on this node (retried on the next tick)."),
		points:   counter("points_written_total", "Points continuous queries wrote from this node."),
		skipped:  counter("skipped_intervals_total", "Missed runs older than max-catch-up, never run."),
		lag: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: "strata", Subsystem: "cq", Name: "lag_seconds",
			Help: "On the lease holder: seconds each query's last completed run is behind the newest run due (0 when up to date)."}, labels),
		leaseHeld: f.NewGauge(prometheus.GaugeOpts{Namespace: "strata", Subsystem: "cq", Name: "lease_held",
			Help: "1 while this node holds the continuous query lease and runs the queries."}),
	}
}

// New returns a runner; node is this node's id (0 until registered).
// logger and reg may be nil.
func New(cfg Config, node func() uint64, m Meta, exec Executor, logger *slog.Logger, reg prometheus.Registerer) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &Service{cfg: cfg, node: node, meta: m, exec: exec, logger: logger, m: newMetrics(reg),
		clock:  clock.Now,
		parsed: make(map[string]*influxql.CreateContinuousQueryStatement), stopCh: make(chan struct{})}
}

// Open starts the runner loop when the config enables it.
func (s *Service) Open() {
	if !s.cfg.Enabled {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.loop()
	}()
}

// Close stops the loop, waiting for a run in progress to end (its context
// is cancelled). Idempotent.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		close(s.stopCh)
		s.wg.Wait()
	})
}

func (s *Service) loop() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-s.stopCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	tick := time.NewTicker(s.cfg.RunInterval.D())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.tick(ctx)
		}
	}
}

// tick renews or takes the lease when due and, while this node holds it,
// runs every query's due intervals.
func (s *Service) tick(ctx context.Context) {
	now := s.clock()
	node := s.node()
	d := s.meta.Data()
	if node == 0 || d == nil {
		return
	}
	lease := s.lease(ctx, node, d.CQLease, now)
	if !s.holds(lease, node, now) {
		s.m.leaseHeld.Set(0)
		s.m.lag.Reset()
		return
	}
	s.m.leaseHeld.Set(1)
	for _, db := range d.Databases {
		for _, cq := range db.ContinuousQueries {
			if !s.holds(lease, node, s.clock()) || ctx.Err() != nil {
				return
			}
			s.runDue(ctx, d, db.Name, cq, now, node)
		}
	}
}

// lease asks meta for the lease when this node holds it and half of it
// has passed, or when it has ended (or its holder left the cluster); it
// returns the lease as best known.
func (s *Service) lease(ctx context.Context, node uint64, l meta.CQLease, now time.Time) meta.CQLease {
	dur := s.cfg.LeaseDuration.D()
	mine := l.Node == node && l.Until.Sub(now) > dur/2
	if mine || (l.Node != node && now.Before(l.Until) && s.meta.Data().DataNode(l.Node) != nil) {
		return l
	}
	actx, cancel := context.WithTimeout(ctx, s.cfg.RunInterval.D()+dur/2)
	defer cancel()
	got, err := s.meta.AcquireCQLease(actx, node, dur)
	if err != nil {
		s.logger.Warn("cannot renew or take the continuous query lease", "err", err)
		return l
	}
	if got.Node == node && l.Node != node {
		s.logger.Info("this node now runs the continuous queries", "until", got.Until, "previous_runner", l.Node)
	}
	return got
}

// holds reports whether node may run queries at now under l, keeping a
// margin of one run interval before the lease ends for clock skew.
func (s *Service) holds(l meta.CQLease, node uint64, now time.Time) bool {
	return l.Node == node && now.Add(s.cfg.RunInterval.D()).Before(l.Until)
}

// runDue runs the due intervals of one query, oldest first, recording each
// in meta; it stops at the first failure (retried on the next tick).
func (s *Service) runDue(ctx context.Context, d *meta.Data, db string, cq meta.ContinuousQueryInfo, now time.Time, node uint64) {
	stmt, err := s.statement(cq.Query)
	var sc schedule
	if err == nil {
		sc, err = newSchedule(stmt)
	}
	if err != nil {
		s.m.failures.WithLabelValues(db, cq.Name).Inc()
		s.logger.Warn("continuous query cannot run", "database", db, "name", cq.Name, "err", err)
		return
	}
	// An interval is due once it has ended and settled: a write
	// acknowledged for it may still be reaching the owner this run reads.
	settled := now.Add(-s.cfg.SettleDelay.D())
	last := sc.lastRun(cq)
	runs, skipped := sc.due(last, settled, s.cfg.MaxCatchUp.D())
	if skipped > 0 {
		s.m.skipped.WithLabelValues(db, cq.Name).Add(float64(skipped))
		s.logger.Warn("continuous query runs older than max-catch-up skipped", "database", db, "name", cq.Name,
			"skipped", skipped, "max_catch_up", s.cfg.MaxCatchUp.D(), "last_run", last)
	}
	for _, t := range runs {
		if ctx.Err() != nil {
			return
		}
		written, err := s.run(ctx, d, db, stmt, sc, t)
		if err == nil {
			rctx, cancel := context.WithTimeout(ctx, s.cfg.LeaseDuration.D())
			err = s.meta.RecordContinuousQueryRun(rctx, db, cq.Name, t, node)
			cancel()
		}
		if err != nil {
			s.m.failures.WithLabelValues(db, cq.Name).Inc()
			s.logger.Warn("continuous query run failed; retried on the next tick", "database", db, "name", cq.Name, "run_time", t, "err", err)
			break
		}
		cq.LastRun = t
		s.m.runs.WithLabelValues(db, cq.Name).Inc()
		s.m.points.WithLabelValues(db, cq.Name).Add(float64(written))
		s.logger.Debug("continuous query ran", "database", db, "name", cq.Name, "run_time", t, "written", written)
	}
	s.m.lag.WithLabelValues(db, cq.Name).Set(sc.lag(cq, settled).Seconds())
}

// statement parses (and caches) a stored CREATE CONTINUOUS QUERY.
func (s *Service) statement(text string) (*influxql.CreateContinuousQueryStatement, error) {
	if st, ok := s.parsed[text]; ok {
		return st, nil
	}
	st, err := parseStatement(text)
	if err != nil {
		return nil, err
	}
	if len(s.parsed) > 1000 {
		clear(s.parsed) // queries were dropped and created; start over
	}
	s.parsed[text] = st
	return st, nil
}

func parseStatement(text string) (*influxql.CreateContinuousQueryStatement, error) {
	parsed, err := influxql.ParseStatement(text)
	if err != nil {
		return nil, fmt.Errorf("parse stored query: %w", err)
	}
	st, ok := parsed.(*influxql.CreateContinuousQueryStatement)
	if !ok {
		return nil, fmt.Errorf("stored query is a %T, not CREATE CONTINUOUS QUERY", parsed)
	}
	return st, nil
}

// run executes the run at t and returns how many points it wrote.
func (s *Service) run(ctx context.Context, d *meta.Data, db string, stmt *influxql.CreateContinuousQueryStatement, sc schedule, t time.Time) (int64, error) {
	sel := sc.runStatement(stmt.Source, t)
	opts := query.ExecutionOptions{
		Database: db,
		Now:      t,
		DefaultRetentionPolicy: func(name string) (string, error) {
			di := d.Database(name)
			if di == nil {
				return "", fmt.Errorf("database not found: %s", name)
			}
			return di.DefaultRetentionPolicy, nil
		},
	}
	res, err := s.exec.ExecuteQuery(ctx, &influxql.Query{Statements: influxql.Statements{sel}}, opts)
	if err != nil {
		return 0, err
	}
	if len(res) != 1 {
		return 0, fmt.Errorf("%d results for one statement", len(res))
	}
	if res[0].Err != nil {
		return 0, res[0].Err
	}
	var written int64
	if len(res[0].Series) == 1 && len(res[0].Series[0].Values) == 1 && len(res[0].Series[0].Values[0]) == 2 {
		written, _ = res[0].Series[0].Values[0][1].(int64)
	}
	return written, nil
}
