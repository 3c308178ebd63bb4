package antientropy

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	checks           *prometheus.CounterVec
	bucketsCompared  prometheus.Counter
	differingBuckets prometheus.Counter
	seriesRepaired   prometheus.Counter
	pointsRepaired   *prometheus.CounterVec
	bytes            *prometheus.CounterVec
	duration         prometheus.Histogram
	budgetSleep      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	const ns, sub = "strata", "ae"
	return &metrics{
		checks: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "checks_total",
			Help: "Shard exchanges this node started, by result (equal, repaired, streamed, deferred, error)."}, []string{"result"}),
		bucketsCompared: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "buckets_compared_total",
			Help: "Digest buckets (tree leaves) covered by the roots compared."}),
		differingBuckets: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "differing_buckets_total",
			Help: "Digest buckets found to differ from another owner's."}),
		seriesRepaired: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "series_repaired_total",
			Help: "Series whose values differed in some time slice and were merged."}),
		pointsRepaired: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "points_repaired_total",
			Help: "Values written by repairs: in = into this node, out = sent to another owner."}, []string{"direction"}),
		bytes: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "bytes_total",
			Help: "Anti-entropy RPC bytes of the exchanges this node started, by direction (sent, received)."}, []string{"direction"}),
		duration: f.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "exchange_duration_seconds",
			Help:    "Duration of one shard exchange with one other owner.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
		budgetSleep: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "budget_sleep_seconds_total",
			Help: "Time exchanges and the answers to other nodes' exchanges slept to stay within cpu-budget (shard copies' exchanges do not)."}),
	}
}
