package coordinator

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

const (
	metricsNamespace = "strata"
	metricsSubsystem = "coordinator"
)

// Outcomes of one WritePoints call, the values of the result label.
const (
	resultOK      = iota // every shard met its level, every owner acked
	resultPartial        // met, but points were dropped
	resultTimeout        // a shard missed its level by the deadline
	resultFailed         // a shard missed its level
	resultHH             // met, with some replicas queued in hinted handoff
	resultCount
)

var resultNames = [resultCount]string{"ok", "partial", "timeout", "failed", "hh"}

// writerMetrics are a PointsWriter's Prometheus series.
type writerMetrics struct {
	writes          [resultCount]prometheus.Counter
	pointsWritten   prometheus.Counter
	replicaFailures *prometheus.CounterVec
	hhWrites        *prometheus.CounterVec
	inFlightBytes   *prometheus.GaugeVec
	duration        prometheus.Histogram
}

func newWriterMetrics(reg prometheus.Registerer) *writerMetrics {
	f := promauto.With(reg)
	writes := f.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "writes_total",
		Help: "WritePoints calls by outcome: ok, partial (points dropped), timeout, failed (consistency not met, or no shard could be found), hh (met with replicas queued in hinted handoff)."},
		[]string{"result"})
	m := &writerMetrics{
		pointsWritten: f.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
			Name: "points_written_total",
			Help: "Points of shards that met their consistency level, minus dropped points."}),
		replicaFailures: f.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
			Name: "replica_write_failures_total",
			Help: "Shard writes an owner did not acknowledge, by owner node id (whether or not hinted handoff then took them)."},
			[]string{"node"}),
		hhWrites: f.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
			Name: "hinted_handoff_writes_total",
			Help: "Shard writes queued in hinted handoff, by owner node id."},
			[]string{"node"}),
		inFlightBytes: f.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
			Name: "remote_write_in_flight_bytes",
			Help: "Encoded bytes (plus a per-write overhead) of shard writes in flight to a remote owner, by owner node id; bounded by max-in-flight-bytes-per-node."},
			[]string{"node"}),
		duration: f.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
			Name:    "write_duration_seconds",
			Help:    "Duration of WritePoints calls.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
	}
	for i, name := range resultNames {
		m.writes[i] = writes.WithLabelValues(name)
	}
	return m
}

func nodeLabel(id uint64) string { return strconv.FormatUint(id, 10) }
