package data

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// httpMetrics are the client API's metrics.
type httpMetrics struct {
	requests      *prometheus.CounterVec
	pointsWritten prometheus.Counter
	pointsDropped prometheus.Counter
	bodyBytes     prometheus.Counter
	writeDuration prometheus.Histogram
	authFailures  *prometheus.CounterVec
	// writesThrottled counts writes refused by the write limits.
	writesThrottled prometheus.Counter
	// writesActive and writesQueued are the writes holding a slot of
	// max-concurrent-write-limit and those waiting for one.
	writesActive, writesQueued prometheus.Gauge
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	f := promauto.With(reg)
	return &httpMetrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "http", Name: "requests_total",
			Help: "Client API requests by endpoint and HTTP status.",
		}, []string{"endpoint", "status"}),
		pointsWritten: f.NewCounter(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "http", Name: "points_written_total",
			Help: "Points accepted by /write.",
		}),
		pointsDropped: f.NewCounter(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "http", Name: "points_dropped_total",
			Help: "Lines /write rejected as unparseable.",
		}),
		bodyBytes: f.NewCounter(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "http", Name: "write_body_bytes_total",
			Help: "Decoded /write body bytes.",
		}),
		writeDuration: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: "strata", Subsystem: "http", Name: "write_duration_seconds",
			Help:    "Time to serve a successful /write, replication included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		authFailures: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "http", Name: "auth_failures_total",
			Help: "Client requests refused by authentication or authorization, by reason.",
		}, []string{"reason"}),
		writesThrottled: f.NewCounter(prometheus.CounterOpts{
			Namespace: "strata", Subsystem: "http", Name: "writes_throttled_total",
			Help: "Writes refused with 503 by max-concurrent-write-limit and max-enqueued-write-limit.",
		}),
		writesActive: f.NewGauge(prometheus.GaugeOpts{
			Namespace: "strata", Subsystem: "http", Name: "writes_active",
			Help: "Writes holding a slot of max-concurrent-write-limit (0 when it is 0: no limit).",
		}),
		writesQueued: f.NewGauge(prometheus.GaugeOpts{
			Namespace: "strata", Subsystem: "http", Name: "writes_queued",
			Help: "Writes waiting for a slot of max-concurrent-write-limit (at most max-enqueued-write-limit).",
		}),
	}
}
