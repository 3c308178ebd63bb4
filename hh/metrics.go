package hh

import (
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons under which strata_hh_points_dropped_total counts points that
// hinted handoff gave up on. A Sender's RejectError adds its own.
const (
	// DropMaxAge: the record waited past max-age and was purged.
	DropMaxAge = "max_age"
	// DropQueueFull: the enqueue would have passed max-size.
	DropQueueFull = "queue_full"
	// DropPurged: an operator purged the queue.
	DropPurged = "purged"
)

// queueStats are one queue's counters and gauges, read by the collector
// at scrape time (so the hot paths only touch atomics).
type queueStats struct {
	bytes atomic.Int64 // unread bytes, including records in flight
	// records counts unread records; exact but for corrupt stretches,
	// which it may over- or under-count until replay catches up.
	records atomic.Int64
	oldest  atomic.Int64 // enqueue time of the oldest unread record (unix ns), 0 if none

	enqueued       atomic.Uint64 // points
	replayed       atomic.Uint64 // points
	replayErrors   atomic.Uint64
	corruptRecords atomic.Uint64
	tornTails      atomic.Uint64
	backoff        atomic.Int64 // current back-off (ns), 0 when not backing off

	mu        sync.Mutex // protects dropped, lastErr, lastErrAt
	dropped   map[string]uint64
	lastErr   string
	lastErrAt time.Time
}

func (s *queueStats) drop(reason string, points int) {
	s.mu.Lock()
	if s.dropped == nil {
		s.dropped = make(map[string]uint64)
	}
	s.dropped[reason] += uint64(points)
	s.mu.Unlock()
}

func (s *queueStats) setErr(err error, now time.Time) {
	s.mu.Lock()
	s.lastErr, s.lastErrAt = err.Error(), now
	s.mu.Unlock()
}

// collector exports every queue's stats, labelled by destination node.
type collector struct {
	svc *Service

	bytes, records, oldest, enqueued, replayed, dropped,
	replayErrors, corrupt, torn, backoff *prometheus.Desc
}

func newCollector(svc *Service) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("strata_hh_"+name, help, append([]string{"node"}, labels...), nil)
	}
	return &collector{
		svc:          svc,
		bytes:        d("queue_bytes", "Bytes of unreplayed records in the queue towards the node."),
		records:      d("queue_records", "Unreplayed records (point batches) in the queue towards the node."),
		oldest:       d("queue_oldest_seconds", "Age of the oldest unreplayed record, 0 when the queue is empty."),
		enqueued:     d("points_enqueued_total", "Points queued for the node."),
		replayed:     d("points_replayed_total", "Points the node acknowledged on replay."),
		dropped:      d("points_dropped_total", "Points given up on, by reason (max_age, queue_full, purged, or the node's rejection).", "reason"),
		replayErrors: d("replay_errors_total", "Replay attempts that failed and were retried after a back-off."),
		corrupt:      d("corrupt_records_total", "Corrupt records or segment headers skipped by replay."),
		torn:         d("torn_tails_total", "Torn segment tails truncated on open."),
		backoff:      d("backoff_seconds", "Current replay back-off, 0 when replaying or idle."),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.bytes, c.records, c.oldest, c.enqueued, c.replayed, c.dropped,
		c.replayErrors, c.corrupt, c.torn, c.backoff} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, nq := range c.svc.snapshot() {
		node := strconv.FormatUint(nq.nodeID, 10)
		s := nq.stats
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, node)
		}
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), node)
		}
		gauge(c.bytes, float64(s.bytes.Load()))
		gauge(c.records, float64(max(s.records.Load(), 0)))
		gauge(c.oldest, oldestAge(s, now).Seconds())
		gauge(c.backoff, time.Duration(s.backoff.Load()).Seconds())
		counter(c.enqueued, s.enqueued.Load())
		counter(c.replayed, s.replayed.Load())
		counter(c.replayErrors, s.replayErrors.Load())
		counter(c.corrupt, s.corruptRecords.Load())
		counter(c.torn, s.tornTails.Load())
		s.mu.Lock()
		dropped := maps.Clone(s.dropped)
		s.mu.Unlock()
		for _, reason := range slices.Sorted(maps.Keys(dropped)) {
			ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(dropped[reason]), node, reason)
		}
	}
}

// oldestAge is the age of the queue's oldest unread record, 0 if none.
func oldestAge(s *queueStats, now time.Time) time.Duration {
	if t := s.oldest.Load(); t != 0 && s.bytes.Load() > 0 {
		return max(now.Sub(time.Unix(0, t)), 0)
	}
	return 0
}
