package wal

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus metrics of WALs. One Metrics may be shared by
// any number of WALs (one per shard): counters and the histogram sum over them
// and the segments gauge counts the segments of all open WALs.
//
// Many WALs live in one process with one registry, so registration must not
// fail the second time: NewMetrics registers each collector and, when the
// registry already holds an identical one, uses that one instead. Calling
// NewMetrics once per WAL with the same registry is therefore safe, and
// passing one Metrics to every Open through WithMetrics avoids even the
// repeated registration attempts. (promauto.With panics on a duplicate, which
// is why collectors are registered by hand here.)
type Metrics struct {
	fsyncDuration   prometheus.Histogram
	writes          prometheus.Counter
	bytes           prometheus.Counter
	tailTruncations prometheus.Counter
	corruptSegments prometheus.Counter
	segments        prometheus.Gauge
}

// NewMetrics creates the WAL metrics and registers them with reg. A nil reg
// gives working but unregistered metrics. It fails only if reg holds a
// different collector under one of the names.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{}
	var err error
	if m.fsyncDuration, err = register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "strata_wal_fsync_duration_seconds",
		Help:    "Duration of WAL fsyncs; one per group commit.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})); err != nil {
		return nil, err
	}
	if m.writes, err = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "strata_wal_writes_total",
		Help: "Records written to the WAL and fsynced.",
	})); err != nil {
		return nil, err
	}
	if m.bytes, err = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "strata_wal_bytes_total",
		Help: "Bytes written to WAL segments, record headers included.",
	})); err != nil {
		return nil, err
	}
	if m.tailTruncations, err = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "strata_wal_corrupt_tail_truncations_total",
		Help: "Torn or corrupt tails of the newest segment truncated on open.",
	})); err != nil {
		return nil, err
	}
	if m.corruptSegments, err = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "strata_wal_corrupt_segments_total",
		Help: "Older segments whose replay stopped early at corrupt bytes.",
	})); err != nil {
		return nil, err
	}
	if m.segments, err = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "strata_wal_segments",
		Help: "Segment files of all open WALs.",
	})); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c with reg, or returns the identical collector reg
// already holds.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register wal metric: %w", err)
}

// Option changes how Open builds a WAL.
type Option func(*options)

type options struct {
	metrics *Metrics
}

// WithMetrics makes the WAL report to m (shared with other WALs) instead of
// building its own Metrics from Open's registerer.
func WithMetrics(m *Metrics) Option {
	return func(o *options) { o.metrics = m }
}
