package meta

import (
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are a Server's Prometheus series, registered on the injected
// Registerer.
type metrics struct {
	leaderChanges prometheus.Counter
	commandDur    *prometheus.HistogramVec
	commands      *prometheus.CounterVec
}

// newMetrics registers the Server's series. Gauges read live values from s
// at scrape time.
func newMetrics(reg prometheus.Registerer, s *Server) *metrics {
	f := promauto.With(reg)
	const ns, sub = "strata", "meta"
	f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "raft_state",
		Help: "Raft state of this node: 0 follower, 1 candidate, 2 leader, 3 shutdown."},
		func() float64 { return float64(s.raftState()) })
	f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "raft_term",
		Help: "Current raft term."},
		func() float64 { return float64(s.raftUint(func(r *raft.Raft) uint64 { return r.CurrentTerm() })) })
	f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "raft_applied_index",
		Help: "Last raft log index applied to the FSM."},
		func() float64 { return float64(s.raftUint(func(r *raft.Raft) uint64 { return r.AppliedIndex() })) })
	f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "raft_commit_index",
		Help: "Last raft log index known committed."},
		func() float64 { return float64(s.raftUint(func(r *raft.Raft) uint64 { return r.CommitIndex() })) })
	f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "fsm_state_size_bytes",
		Help: "Size of the meta state encoded as JSON."},
		func() float64 { return float64(s.fsm.stateSize()) })
	for _, state := range []string{DataNodeUp, DataNodeDown, DataNodeUnknown} {
		f.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "data_nodes",
			Help:        "On the leader: data nodes in each state by their heartbeats (up, down, unknown); 0 on followers.",
			ConstLabels: prometheus.Labels{"state": state}},
			func() float64 { return float64(s.dataNodesIn(state)) })
	}
	return &metrics{
		leaderChanges: f.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "leader_changes_total",
			Help: "Times this node observed the raft leader change."}),
		commandDur: f.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "command_duration_seconds",
			Help:    "Time from receiving a command on the leader to its result, by command type.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"type"}),
		commands: f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "commands_total",
			Help: "Commands applied by this node's FSM, by type and result (ok, error, duplicate)."}, []string{"type", "result"}),
	}
}
