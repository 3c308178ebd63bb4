package tsdb

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine metrics of a Store, summed over its shards.
type metrics struct {
	writes          prometheus.Counter
	valuesWritten   prometheus.Counter
	pointsDropped   prometheus.Counter
	cacheFull       prometheus.Counter
	cacheWaits      prometheus.Counter
	cacheWaitSecs   prometheus.Counter
	cacheBytes      prometheus.Gauge
	snapshots       prometheus.Counter
	snapshotErrors  prometheus.Counter
	compactions     *prometheus.CounterVec
	compactionError prometheus.Counter
	files           prometheus.Gauge
	shards          prometheus.Gauge
	replayErrors    prometheus.Counter
	digestDecoded   prometheus.Counter
}

// newMetrics builds the metrics and registers them with reg (nil: not
// registered). When reg already holds an identical collector (a second
// Store in the same process and registry) that one is shared rather than
// panicking as promauto would.
func newMetrics(reg prometheus.Registerer) *metrics {
	counter := func(name, help string) prometheus.Counter {
		return register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
	}
	gauge := func(name, help string) prometheus.Gauge {
		return register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help}))
	}
	return &metrics{
		writes:         counter("strata_tsdb_writes_total", "Point batches written to shards."),
		valuesWritten:  counter("strata_tsdb_values_written_total", "Field values written to shards."),
		pointsDropped:  counter("strata_tsdb_points_dropped_total", "Points rejected by field type conflicts or invalid values."),
		cacheFull:      counter("strata_tsdb_cache_full_total", "Writes rejected because the cache stayed at its hard limit until their deadline."),
		cacheWaits:     counter("strata_tsdb_cache_full_waits_total", "Writes that found the cache at its hard limit and waited for a snapshot."),
		cacheWaitSecs:  counter("strata_tsdb_cache_full_wait_seconds_total", "Time writes spent waiting for a snapshot to free cache room."),
		cacheBytes:     gauge("strata_tsdb_cache_bytes", "Bytes held by shard caches, live and snapshotting."),
		snapshots:      counter("strata_tsdb_snapshots_total", "Cache snapshots written to level-1 files."),
		snapshotErrors: counter("strata_tsdb_snapshot_errors_total", "Cache snapshots that failed and will be retried."),
		compactions: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_tsdb_compactions_total", Help: "Compactions completed, by output level."}, []string{"level"})),
		compactionError: counter("strata_tsdb_compaction_errors_total", "Compactions that failed."),
		files:           gauge("strata_tsdb_files", "Data files of all open shards."),
		shards:          gauge("strata_tsdb_shards", "Open shards."),
		replayErrors:    counter("strata_tsdb_wal_replay_errors_total", "WAL records skipped on replay because they did not decode."),
		digestDecoded: counter("strata_tsdb_digest_decoded_windows_total",
			"Anti-entropy digest contributions (one key in one window) hashed from decoded values instead of combined from digest files."),
	}
}

// register registers c with reg, or returns the identical collector reg
// already holds. A conflicting foreign collector leaves c unregistered
// (the engine still works; the metric is just not exported).
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if err != nil && errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	return c
}
