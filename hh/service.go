package hh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/internal/clock"
)

// nodeQueue is one destination node's queue and its replay goroutine.
type nodeQueue struct {
	nodeID uint64
	q      *Queue
	stats  *queueStats
	proc   *processor
	cancel context.CancelFunc
	done   chan struct{}
}

// Service keeps one durable queue per destination node, in
// <dir>/<node id>/, with a goroutine per queue replaying it to its node.
// It implements the coordinator's HintedHandoff interface. Its methods are
// safe for concurrent use; build it with NewService, then Open and Close.
type Service struct {
	cfg    Config
	sender Sender
	codec  BatchCodec
	logger *slog.Logger

	// queues is an immutable map, replaced whole under mu, so the write
	// path reads it with one atomic load.
	queues atomic.Pointer[map[uint64]*nodeQueue]
	purged *purgedSet

	mu     sync.Mutex // protects opened, closed and replacing queues
	opened bool
	closed bool
	stopCh chan struct{}
	wg     sync.WaitGroup
}

// NewService returns a Service replaying through sender. codec may be nil
// (no point counts, and purged records are recorded for all time). A nil
// logger discards; a nil reg registers nothing.
func NewService(cfg Config, sender Sender, codec BatchCodec, logger *slog.Logger, reg prometheus.Registerer) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, sender: sender, codec: codec, logger: logger, stopCh: make(chan struct{})}
	s.queues.Store(&map[uint64]*nodeQueue{})
	if reg != nil {
		reg.MustRegister(newCollector(s))
	}
	return s
}

// Open opens every queue found in the directory and starts replaying them.
func (s *Service) Open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened || s.closed {
		return nil
	}
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("create hinted-handoff dir: %w", err)
	}
	var err error
	if s.purged, err = loadPurged(filepath.Join(s.cfg.Dir, purgedFile)); err != nil {
		return err
	}
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("list hinted-handoff queues: %w", err)
	}
	for _, e := range entries {
		id, err := strconv.ParseUint(e.Name(), 10, 64)
		if !e.IsDir() || err != nil || id == 0 {
			continue
		}
		if _, err := s.openLocked(id); err != nil {
			s.closeLocked()
			return err
		}
	}
	s.goFunc(s.saveLoop)
	s.opened = true
	return nil
}

func (s *Service) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// openLocked opens node id's queue and starts its replay.
func (s *Service) openLocked(id uint64) (*nodeQueue, error) {
	stats := &queueStats{}
	logger := s.logger.With("node_id", id)
	q, err := openQueue(filepath.Join(s.cfg.Dir, strconv.FormatUint(id, 10)), s.cfg.SegmentSize, s.cfg.MaxSize, logger, stats)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	nq := &nodeQueue{nodeID: id, q: q, stats: stats, cancel: cancel, done: make(chan struct{})}
	nq.proc = &processor{nodeID: id, q: q, stats: stats, sender: s.sender, codec: s.codec, purged: s.purged,
		cfg: s.cfg, logger: logger, lim: limiter{rate: s.cfg.RetryRateLimit}, purgeCh: make(chan purgeRequest)}
	s.goFunc(func() {
		defer close(nq.done)
		nq.proc.run(ctx)
	})
	m := maps.Clone(*s.queues.Load())
	m[id] = nq
	s.queues.Store(&m)
	if n := stats.records.Load(); n > 0 {
		logger.Info("hinted-handoff queue opened", "records", n, "bytes", stats.bytes.Load())
	}
	return nq, nil
}

// saveLoop persists the purged ranges that refused enqueues added, every
// purge-interval.
func (s *Service) saveLoop() {
	tick := time.NewTicker(s.cfg.PurgeInterval.D())
	defer tick.Stop()
	for {
		select {
		case <-s.stopCh:
			return
		case <-tick.C:
			if err := s.purged.save(); err != nil {
				s.logger.Error("hinted-handoff purged ranges not saved", "err", err)
			}
		}
	}
}

// Close stops every replay and closes the queues; appends then fail with
// ErrClosed.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.closeLocked()
}

func (s *Service) closeLocked() error {
	qs := *s.queues.Load()
	for _, nq := range qs {
		nq.cancel()
	}
	select {
	case <-s.stopCh:
	default:
		close(s.stopCh)
	}
	s.wg.Wait()
	for _, nq := range qs {
		nq.q.close()
	}
	s.queues.Store(&map[uint64]*nodeQueue{})
	if s.purged != nil {
		return s.purged.save()
	}
	return nil
}

// queue returns node id's queue, opening it on first use.
func (s *Service) queue(id uint64) (*nodeQueue, error) {
	if nq := (*s.queues.Load())[id]; nq != nil {
		return nq, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opened || s.closed {
		return nil, ErrClosed
	}
	if nq := (*s.queues.Load())[id]; nq != nil {
		return nq, nil
	}
	return s.openLocked(id)
}

// WriteShardBatch durably queues batch, a point batch for shard shardID
// encoded as the internode RPC sends it, for node nodeID, and returns once
// it is fsynced. It does not keep batch. A queue at max-size refuses it
// with ErrQueueFull, counting its points as dropped and its shard's time
// range as purged.
func (s *Service) WriteShardBatch(nodeID, shardID uint64, batch []byte) error {
	nq, err := s.queue(nodeID)
	if err != nil {
		return fmt.Errorf("queue for node %d: %w", nodeID, err)
	}
	points := 0
	if s.codec != nil {
		points = s.codec.PointCount(batch)
	}
	err = nq.q.append(shardID, points, batch, clock.Now())
	if errors.Is(err, ErrQueueFull) {
		nq.stats.drop(DropQueueFull, points)
		minT, maxT := batchTimeRange(s.codec, batch)
		s.purged.add(nodeID, shardID, minT, maxT)
	}
	if err != nil {
		return fmt.Errorf("queue for node %d: %w", nodeID, err)
	}
	nq.stats.enqueued.Add(uint64(points))
	return nil
}

// Pending reports whether node nodeID's queue holds bytes not yet
// replayed (including records being appended). It is one atomic load and
// a map lookup.
func (s *Service) Pending(nodeID uint64) bool {
	nq := (*s.queues.Load())[nodeID]
	return nq != nil && nq.stats.bytes.Load() > 0
}

// RemoveNodesExcept deletes the queue, files and purged ranges of every
// node keep says is no longer in the cluster.
func (s *Service) RemoveNodesExcept(keep func(nodeID uint64) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	var errs []error
	for id, nq := range *s.queues.Load() {
		if keep(id) {
			continue
		}
		m := maps.Clone(*s.queues.Load())
		delete(m, id)
		s.queues.Store(&m)
		nq.cancel()
		<-nq.done
		nq.q.close()
		if err := os.RemoveAll(nq.q.dir); err != nil {
			errs = append(errs, fmt.Errorf("delete queue of removed node %d: %w", id, err))
		}
		s.purged.filter(func(r PurgedRange) bool { return r.NodeID != id })
		s.logger.Info("hinted-handoff queue of removed node deleted", "node_id", id,
			"records", nq.stats.records.Load(), "bytes", nq.stats.bytes.Load())
	}
	if err := s.purged.save(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Purge drops every record queued for nodeID, counting its points as
// dropped ("purged") and recording its shards' time ranges for
// anti-entropy. It waits for records being written to be durable and for
// a replay send in flight; records queued meanwhile are dropped too. What
// it drops does not depend on the records' enqueue times, so a clock that
// stepped back since they were queued does not keep them.
func (s *Service) Purge(ctx context.Context, nodeID uint64) (PurgeResult, error) {
	nq := (*s.queues.Load())[nodeID]
	if nq == nil {
		return PurgeResult{}, nil
	}
	req := purgeRequest{cutoff: math.MaxInt64, reason: DropPurged, done: make(chan PurgeResult, 1)}
	nq.q.waitDurable()
	select {
	case nq.proc.purgeCh <- req:
	case <-nq.done:
		return PurgeResult{}, ErrClosed
	case <-ctx.Done():
		return PurgeResult{}, ctx.Err()
	}
	res := <-req.done
	return res, res.Err
}

// PurgedRanges lists the shard time ranges hinted handoff dropped writes
// for, by node and shard. Anti-entropy checks them first, then calls
// ForgetPurged.
func (s *Service) PurgedRanges() []PurgedRange {
	if s.purged == nil {
		return nil
	}
	return s.purged.list()
}

// ForgetPurged drops the purged ranges keep refuses, and persists the
// change: anti-entropy forgets a range it has checked (keep returns
// r != checked, so a range widened since it was listed stays), the data
// node the ranges of shards meta dropped.
func (s *Service) ForgetPurged(keep func(r PurgedRange) bool) error {
	if s.purged == nil {
		return ErrClosed
	}
	s.purged.filter(keep)
	return s.purged.save()
}

// QueueStatus is one queue's state, as `strata ctl hh status` shows it.
type QueueStatus struct {
	NodeID           uint64            `json:"node_id"`
	Bytes            int64             `json:"bytes"`
	Records          int64             `json:"records"`
	OldestAgeSeconds float64           `json:"oldest_age_seconds"`
	State            string            `json:"state"` // empty, replaying or backoff
	BackoffSeconds   float64           `json:"backoff_seconds,omitempty"`
	PointsEnqueued   uint64            `json:"points_enqueued"`
	PointsReplayed   uint64            `json:"points_replayed"`
	PointsDropped    map[string]uint64 `json:"points_dropped,omitempty"`
	LastError        string            `json:"last_error,omitempty"`
	LastErrorTime    time.Time         `json:"last_error_time,omitzero"`
}

// Queue states in QueueStatus.
const (
	StateEmpty     = "empty"
	StateReplaying = "replaying"
	StateBackoff   = "backoff"
)

// Status returns every queue's state, ordered by node id.
func (s *Service) Status() []QueueStatus {
	now := time.Now()
	qs := s.snapshot()
	out := make([]QueueStatus, 0, len(qs))
	for _, nq := range qs {
		st := nq.stats
		qs := QueueStatus{NodeID: nq.nodeID, Bytes: st.bytes.Load(), Records: max(st.records.Load(), 0),
			OldestAgeSeconds: oldestAge(st, now).Seconds(), PointsEnqueued: st.enqueued.Load(),
			PointsReplayed: st.replayed.Load(), BackoffSeconds: time.Duration(st.backoff.Load()).Seconds()}
		switch {
		case qs.BackoffSeconds > 0:
			qs.State = StateBackoff
		case qs.Bytes > 0:
			qs.State = StateReplaying
		default:
			qs.State = StateEmpty
		}
		st.mu.Lock()
		qs.PointsDropped = maps.Clone(st.dropped)
		qs.LastError, qs.LastErrorTime = st.lastErr, st.lastErrAt
		st.mu.Unlock()
		out = append(out, qs)
	}
	return out
}

// snapshot returns the queues ordered by node id.
func (s *Service) snapshot() []*nodeQueue {
	m := *s.queues.Load()
	out := make([]*nodeQueue, 0, len(m))
	for _, id := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[id])
	}
	return out
}
