package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// MetaState gives the cached cluster state. *meta.Client implements it.
type MetaState interface {
	// Data returns the current immutable state, or nil before the first
	// fetch.
	Data() *meta.Data
}

// MetaClient is what the PointsWriter needs from meta. *meta.Client
// implements it.
type MetaClient interface {
	MetaState
	// CreateShardGroup returns the group of db/rp covering t, creating it
	// if needed. It is idempotent.
	CreateShardGroup(ctx context.Context, db, rp string, t time.Time) (*meta.ShardGroupInfo, error)
}

// TSDBStore writes points to a shard of the local storage engine.
//
// Contract: points and every byte slice in them are valid only during the
// call (the store copies what it keeps); it is called concurrently. A
// missing shard is reported with an error wrapping ErrShardNotFound, and a
// batch stored except for some rejected points (field type conflicts) with
// an error implementing PartialWriter. The data node adapts tsdb.Store to
// this (creating shards it owns on first write, as InfluxDB does).
type TSDBStore interface {
	WriteToShard(shardID uint64, points []models.Point) error
}

// ShardWriter writes points to a shard on another data node. RPCClient
// implements it. It must honour ctx, report a missing shard with an error
// wrapping ErrShardNotFound and dropped points with a PartialWriter, and
// not use points after it returns.
type ShardWriter interface {
	WriteShard(ctx context.Context, nodeID, shardID uint64, points []models.Point) error
}

// HintedHandoff is the per-node durable queue of writes a peer did not
// take. The hh package implements it; it is optional (nil).
//
// WriteShardBatch durably queues batch, shardID's points encoded by
// AppendPoints (the RPC's own encoding, so replay sends it as is), for
// node nodeID. It must return only once the batch is durable (a nil error
// is counted as an acknowledgement for ConsistencyLevelAny) and must not
// keep batch after it returns. A full queue returns an error.
//
// Pending reports whether the queue for nodeID is not empty. While it is,
// the PointsWriter sends that node's new writes to the queue too instead of
// to the node, so replay, which is in order, never lets an older value
// overwrite a newer one. It is called once per owner per write, so it
// must be cheap (an atomic load).
type HintedHandoff interface {
	WriteShardBatch(nodeID, shardID uint64, batch []byte) error
	Pending(nodeID uint64) bool
}

// PointsWriter routes points to shards and replicates them to the shards'
// owners, answering per consistency level. It is safe for concurrent use
// and starts no goroutine that outlives a WritePoints call.
type PointsWriter struct {
	cfg     Config
	nodeID  func() uint64
	meta    MetaClient
	local   TSDBStore
	remote  ShardWriter
	hh      HintedHandoff
	logger  *slog.Logger
	metrics *writerMetrics
	scratch sync.Pool // of *mapping
}

// NewPointsWriter returns a PointsWriter. nodeID returns this data node's
// id (0 while unknown, or when nodeID is nil: then every owner is treated
// as remote). remote may be nil only when this node owns every shard. hh may be
// nil (no hinted handoff: a failed replica write is only counted, and
// ConsistencyLevelAny behaves as ConsistencyLevelOne). A nil logger
// discards; a nil reg registers nothing.
func NewPointsWriter(cfg Config, nodeID func() uint64, mc MetaClient, local TSDBStore, remote ShardWriter,
	hh HintedHandoff, logger *slog.Logger, reg prometheus.Registerer) *PointsWriter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if nodeID == nil {
		nodeID = func() uint64 { return 0 }
	}
	return &PointsWriter{
		cfg:     cfg,
		nodeID:  nodeID,
		meta:    mc,
		local:   local,
		remote:  remote,
		hh:      hh,
		logger:  logger,
		metrics: newWriterMetrics(reg),
		scratch: sync.Pool{New: func() any { return new(mapping) }},
	}
}

// ownerResult is what one owner's write came to.
type ownerResult struct {
	acked   bool   // the owner stored the batch (maybe minus dropped points)
	hh      bool   // hinted handoff took the batch
	dropped int    // points the owner rejected
	reason  string // why they were rejected
	err     error  // why the owner did not acknowledge (nil when acked)
}

// WritePoints writes points to database db, retention policy rp ("" for
// the default policy), at consistency level level, within
// Config.WriteTimeout.
//
// Each point goes to the shard group covering its time (created through
// meta when missing) and to the shard its series key hashes to; each
// shard's points go to all of the shard's owners in parallel. Points older
// than the policy's retention are dropped. WritePoints waits until every
// owner has answered, failed, or been cut short by the deadline (a remote
// write cut short is handed to hinted handoff), so when it returns nothing
// uses points any longer and every owner either has the points or has them
// queued (or failed with no hinted handoff).
//
// It returns nil; a *PartialWriteError (some points dropped, the rest
// written at the level); an error joining one *WriteError per shard that
// did not meet the level (wrapping ErrTimeout or ErrConsistency); or an
// error wrapping ErrDatabaseNotFound, ErrRetentionPolicyNotFound,
// ErrMetaNotReady or a meta failure, in which case nothing was written.
// Points already written or queued stay either way.
func (w *PointsWriter) WritePoints(ctx context.Context, db, rp string, level ConsistencyLevel, points []models.Point) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout.D())
	defer cancel()

	m := w.scratch.Get().(*mapping)
	defer w.putMapping(m)

	err := w.mapShards(ctx, m, db, rp, points, start)
	if err == nil {
		err = w.writeShards(ctx, m, level)
	} else {
		w.metrics.writes[resultFailed].Inc()
	}
	w.metrics.duration.Observe(time.Since(start).Seconds())
	return err
}

func (w *PointsWriter) putMapping(m *mapping) {
	m.reset()
	w.scratch.Put(m)
}

// writeShards fans every shard batch of m out to the shard's owners, waits
// for them all, and evaluates the consistency level per shard.
func (w *PointsWriter) writeShards(ctx context.Context, m *mapping, level ConsistencyLevel) error {
	jobs := 0
	for i := range m.batches {
		if len(m.batches[i].points) > 0 {
			jobs += len(m.batches[i].shard.Owners)
		}
	}
	m.results = growResults(m.results, jobs)
	self := w.nodeID()

	// Run every owner write but the last in its own goroutine and the last
	// one here: with one owner of one shard (RF 1) no goroutine starts.
	var wg sync.WaitGroup
	var inline func()
	j := 0
	for i := range m.batches {
		b := &m.batches[i]
		if len(b.points) == 0 {
			continue
		}
		for _, owner := range b.shard.Owners {
			res := &m.results[j]
			j++
			shardID, pts := b.shard.ID, b.points
			run := func() { *res = w.writeOwner(ctx, self, owner, shardID, pts) }
			if j == jobs {
				inline = run
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				run()
			}()
		}
	}
	if inline != nil {
		inline()
	}
	wg.Wait()
	return w.evaluate(ctx, m, level)
}

// evaluate judges each shard of m against level from the owners' results,
// counts the outcome, and returns WritePoints' answer.
func (w *PointsWriter) evaluate(ctx context.Context, m *mapping, level ConsistencyLevel) error {
	var (
		failures         []error
		timeout          bool
		usedHH           bool
		written, dropped int
		reasons          []string
	)
	if m.dropped > 0 {
		dropped = m.dropped
		reasons = append(reasons, "points beyond retention policy")
	}
	j := 0
	for i := range m.batches {
		b := &m.batches[i]
		if len(b.points) == 0 {
			continue
		}
		owners := len(b.shard.Owners)
		results := m.results[j : j+owners]
		j += owners
		acked, queued, maxDropped := 0, 0, 0
		var reason string
		var errs []error
		for k, r := range results {
			switch {
			case r.acked:
				acked++
				if r.dropped > maxDropped {
					maxDropped, reason = r.dropped, r.reason
				}
			case r.hh:
				queued++
			}
			if !r.acked {
				err := r.err
				if r.hh {
					err = ErrQueued
					if r.err != nil {
						err = fmt.Errorf("%w after: %w", ErrQueued, r.err)
					}
				}
				errs = append(errs, &OwnerError{OwnerID: b.shard.Owners[k], Err: err})
			}
		}
		required := level.required(owners)
		got := acked
		if level == ConsistencyLevelAny {
			got += queued
		}
		if owners == 0 || got < required {
			isTimeout := ctx.Err() != nil
			timeout = timeout || isTimeout
			if owners == 0 {
				errs = append(errs, fmt.Errorf("shard %d has no owners: %w", b.shard.ID, ErrConsistency))
				required = 1
			}
			failures = append(failures, &WriteError{Level: level, ShardID: b.shard.ID, Required: required,
				Acked: got, Owners: owners, Timeout: isTimeout, Errs: errs})
			continue
		}
		usedHH = usedHH || queued > 0
		written += len(b.points) - maxDropped
		if maxDropped > 0 {
			dropped += maxDropped
			if !slices.Contains(reasons, reason) {
				reasons = append(reasons, reason)
			}
		}
	}
	w.metrics.pointsWritten.Add(float64(written))

	switch {
	case len(failures) > 0:
		if timeout {
			w.metrics.writes[resultTimeout].Inc()
		} else {
			w.metrics.writes[resultFailed].Inc()
		}
		if len(failures) == 1 {
			return failures[0]
		}
		return errors.Join(failures...)
	case dropped > 0:
		w.metrics.writes[resultPartial].Inc()
		return &PartialWriteError{Reason: strings.Join(reasons, "; "), Dropped: dropped}
	case usedHH:
		w.metrics.writes[resultHH].Inc()
	default:
		w.metrics.writes[resultOK].Inc()
	}
	return nil
}

// writeOwner writes one shard's points to one owner: the local store when
// the owner is this node, the owner's hinted-handoff queue while it is not
// empty, and the remote shard writer otherwise, handing a failed remote
// write to hinted handoff.
func (w *PointsWriter) writeOwner(ctx context.Context, self, owner, shardID uint64, pts []models.Point) ownerResult {
	if owner == self {
		r := classify(w.local.WriteToShard(shardID, pts))
		if !r.acked {
			w.replicaFailed(owner, shardID, r.err)
		}
		return r
	}
	if w.hh != nil && w.hh.Pending(owner) {
		return w.handOff(owner, shardID, pts, nil)
	}
	if w.remote == nil {
		err := fmt.Errorf("write shard %d to node %d: no shard writer configured: %w", shardID, owner, ErrNodeNotFound)
		w.replicaFailed(owner, shardID, err)
		return ownerResult{err: err}
	}
	r := classify(w.remote.WriteShard(ctx, owner, shardID, pts))
	if r.acked {
		return r
	}
	w.replicaFailed(owner, shardID, r.err)
	if w.hh == nil || errors.Is(r.err, ErrShardNotFound) || errors.Is(r.err, ErrCorruptBatch) || errors.Is(r.err, ErrBodyTooLarge) {
		// No queue, or an answer a replay would get again.
		return r
	}
	return w.handOff(owner, shardID, pts, r.err)
}

// handOff queues points for owner in hinted handoff; cause is the failed
// remote write that led here (nil when the queue was already pending).
func (w *PointsWriter) handOff(owner, shardID uint64, pts []models.Point, cause error) ownerResult {
	if err := w.hh.WriteShardBatch(owner, shardID, AppendPoints(nil, pts)); err != nil {
		err = fmt.Errorf("hinted handoff for node %d: %w", owner, err)
		w.logger.Warn("hinted handoff write failed", "owner_id", owner, "shard_id", shardID, "err", err)
		return ownerResult{err: errors.Join(cause, err)}
	}
	w.metrics.hhWrites.WithLabelValues(nodeLabel(owner)).Inc()
	return ownerResult{hh: true, err: cause}
}

func (w *PointsWriter) replicaFailed(owner, shardID uint64, err error) {
	w.metrics.replicaFailures.WithLabelValues(nodeLabel(owner)).Inc()
	w.logger.Debug("replica write failed", "owner_id", owner, "shard_id", shardID, "err", err)
}

// classify turns an owner's answer into a result: nil and PartialWriter
// errors are acknowledgements.
func classify(err error) ownerResult {
	if err == nil {
		return ownerResult{acked: true}
	}
	var pw PartialWriter
	if errors.As(err, &pw) {
		return ownerResult{acked: true, dropped: pw.PartialWrite(), reason: partialReason(pw)}
	}
	return ownerResult{err: err}
}

// partialReason strips the "partial write: " prefix and " dropped=N"
// suffix that PartialWriteError-like messages carry, so the combined error
// reads as one InfluxDB partial-write message.
func partialReason(err error) string {
	s := strings.TrimPrefix(err.Error(), "partial write: ")
	if i := strings.LastIndex(s, " dropped="); i >= 0 {
		s = s[:i]
	}
	return s
}

func growResults(r []ownerResult, n int) []ownerResult {
	if cap(r) < n {
		return make([]ownerResult, n)
	}
	r = r[:n]
	clear(r)
	return r
}
