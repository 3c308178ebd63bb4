package tsdb

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the engine metrics of a Store, summed over its shards.
type metrics struct {
	writes          prometheus.Counter
	valuesWritten   prometheus.Counter
	pointsDropped   prometheus.Counter
	cacheFull       prometheus.Counter
	cacheBytes      prometheus.Gauge
	snapshots       prometheus.Counter
	snapshotErrors  prometheus.Counter
	compactions     *prometheus.CounterVec
	compactionError prometheus.Counter
	files           prometheus.Gauge
	shards          prometheus.Gauge
	replayErrors    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		writes: f.NewCounter(prometheus.CounterOpts{
			Name: "strata_tsdb_writes_total", Help: "Point batches written to shards."}),
		valuesWritten: f.NewCounter(prometheus.CounterOpts{
			Name: "strata_tsdb_values_written_total", Help: "Field values written to shards."}),
		pointsDropped: f.NewCounter(prometheus.CounterOpts{
			Name: "strata_tsdb_points_dropped_total", Help: "Points rejected by field type conflicts."}),
		cacheFull: f.NewCounter(prometheus.CounterOpts{
			Name: "strata_tsdb_cache_full_total", Help: "Writes rejected because the cache hard limit was reached."}),
		cacheBytes: f.NewGauge(prometheus.GaugeOpts{
			Name: "strata_tsdb_cache_bytes", Help: "Bytes held by shard caches, live and snapshotting."}),
		snapshots: f.NewCounter(prometheus.CounterOpts{
			Name: "strata_tsdb_snapshots_total", Help: "Cache snapshots written to level-1 files."}),
		snapshotErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "strata_tsdb_snapshot_errors_total", Help: "Cache snapshots that failed and will be retried."}),
		compactions: f.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_tsdb_compactions_total", Help: "Compactions completed, by output level."}, []string{"level"}),
		compactionError: f.NewCounter(prometheus.CounterOpts{
			Name: "strata_tsdb_compaction_errors_total", Help: "Compactions that failed."}),
		files: f.NewGauge(prometheus.GaugeOpts{
			Name: "strata_tsdb_files", Help: "Data files of all open shards."}),
		shards: f.NewGauge(prometheus.GaugeOpts{
			Name: "strata_tsdb_shards", Help: "Open shards."}),
		replayErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "strata_tsdb_wal_replay_errors_total", Help: "WAL records skipped on replay because they did not decode."}),
	}
}
