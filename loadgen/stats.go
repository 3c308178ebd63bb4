package loadgen

import (
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// stats accumulates the outcome of a run; every method is safe for
// concurrent use.
type stats struct {
	batchesOK     atomic.Int64
	batchesFailed atomic.Int64
	lines         atomic.Int64
	values        atomic.Int64
	wireBytes     atomic.Int64
	rawBytes      atomic.Int64
	retries       atomic.Int64
	latency       histogram

	mu       sync.Mutex    // protects byStatus and firstErr
	byStatus map[int]int64 // failed batches by HTTP status; 0 = no answer
	firstErr string
}

func newStats() *stats {
	return &stats{byStatus: make(map[int]int64)}
}

func (s *stats) ok(b *Batch, d time.Duration) {
	s.latency.Record(d)
	s.lines.Add(int64(b.Lines))
	s.values.Add(int64(b.Values))
	s.wireBytes.Add(int64(len(b.Body)))
	s.rawBytes.Add(int64(b.RawBytes))
	s.batchesOK.Add(1)
}

// fail counts a failed batch and reports whether it was the first.
func (s *stats) fail(err error) bool {
	status := 0
	var he *HTTPError
	if errors.As(err, &he) {
		status = he.StatusCode
	}
	s.batchesFailed.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byStatus[status]++
	if s.firstErr == "" {
		s.firstErr = err.Error()
		return true
	}
	return false
}

// summary turns the counters into a Summary.
func (s *stats) summary(cfg Config, w *Workload, elapsed time.Duration) *Summary {
	var c histCounts
	s.latency.Snapshot(&c)
	sum := &Summary{
		URL:           cfg.URL,
		Database:      cfg.Database,
		Consistency:   cfg.Consistency,
		Workers:       cfg.Workers,
		BatchSize:     cfg.BatchSize,
		Gzip:          w.Gzipped,
		Batches:       s.batchesOK.Load(),
		BatchesFailed: s.batchesFailed.Load(),
		Lines:         s.lines.Load(),
		Values:        s.values.Load(),
		WireBytes:     s.wireBytes.Load(),
		RawBytes:      s.rawBytes.Load(),
		Retries:       s.retries.Load(),
		WorkloadLines: w.Lines,
		Elapsed:       elapsed,
	}
	// A bucket's middle may lie above the largest value recorded in it.
	maxLat := time.Duration(s.latency.maxUs.Load()) * time.Microsecond
	sum.Latency = Latency{
		P50: min(c.quantile(nil, 0.50), maxLat),
		P90: min(c.quantile(nil, 0.90), maxLat),
		P99: min(c.quantile(nil, 0.99), maxLat),
		Max: maxLat,
	}
	if sum.Batches > 0 {
		sum.Latency.Mean = time.Duration(s.latency.sumUs.Load()/uint64(sum.Batches)) * time.Microsecond
	}
	if secs := elapsed.Seconds(); secs > 0 {
		sum.ValuesPerSec = float64(sum.Values) / secs
		sum.LinesPerSec = float64(sum.Lines) / secs
		sum.WireMBPerSec = float64(sum.WireBytes) / secs / 1e6
	}
	sum.Interrupted = sum.Batches+sum.BatchesFailed < int64(len(w.Batches))
	s.mu.Lock()
	for status, n := range s.byStatus {
		sum.Errors = append(sum.Errors, StatusCount{Status: status, Batches: n})
	}
	sum.FirstError = s.firstErr
	s.mu.Unlock()
	sort.Slice(sum.Errors, func(i, j int) bool { return sum.Errors[i].Status < sum.Errors[j].Status })
	return sum
}
