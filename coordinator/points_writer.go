package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/internal/freelist"
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
// an error implementing PartialWriter. A store whose memory is full may
// make the write wait for room until ctx ends. The data node adapts tsdb.Store to
// this (creating shards it owns on first write, as InfluxDB does).
type TSDBStore interface {
	WriteToShard(ctx context.Context, shardID uint64, points []models.Point) error
}

// ReplicaStore is a TSDBStore that can order a replica copy after the
// deletes issued before its write was accepted. The RPC handler uses it
// when its store implements it.
type ReplicaStore interface {
	TSDBStore
	// WriteReplicaToShard writes points as WriteToShard does, less the
	// values a tombstone created after accepted (ns since the epoch, the
	// accepting coordinator's clock; 0: unknown) covers.
	WriteReplicaToShard(ctx context.Context, shardID uint64, points []models.Point, accepted int64) error
}

// ShardWriter writes an encoded point batch to a shard on another data
// node. RPCClient implements it.
//
// WriteShardBatch writes batch (AppendPoints' encoding) to shard shardID on
// node nodeID. It must honour ctx, report a missing shard with an error
// wrapping ErrShardNotFound and dropped points with a PartialWriter, and
// not use batch after it returns. It is called concurrently.
type ShardWriter interface {
	WriteShardBatch(ctx context.Context, nodeID, shardID uint64, batch []byte) error
}

// HintedHandoff is the per-node durable queue of writes a peer did not
// take. The hh package implements it; it is optional (nil).
//
// WriteShardBatch durably queues batch (AppendPoints' encoding) for shard
// shardID on node nodeID. It returns only after fsync (a nil error is
// counted as an acknowledgement for ConsistencyLevelAny), does not retain
// batch after it returns, and fails when the queue is full.
//
// Pending reports whether the queue for nodeID is not empty. While it is,
// the PointsWriter sends that node's new writes to the queue too instead of
// to the node, so replay, which is in order, never lets an older value
// overwrite a newer one, and a hung node costs one write timeout rather
// than one per write. It is called once per owner per write, so it must be
// cheap (an atomic load).
//
// Both are called concurrently.
type HintedHandoff interface {
	WriteShardBatch(nodeID, shardID uint64, batch []byte) error
	Pending(nodeID uint64) bool
}

// PointsWriter routes points to shards and replicates them to the shards'
// owners, answering per consistency level as soon as the level is met or
// can no longer be met. Remote owner writes still in flight then finish in
// the background, bounded by the write timeout, on an encoded copy of the
// points. It is safe for concurrent use; Close stops and waits for the
// background writes.
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
	encoded freelist.List[encodedBatch]

	bg   context.Context // parent of every remote owner write; Close cancels it
	stop context.CancelFunc

	mu       sync.Mutex // protects closed and inFlight, and orders wg.Add before Close's wg.Wait
	closed   bool
	inFlight map[uint64]int64 // bytes of remote writes in flight, by owner
	wg       sync.WaitGroup   // WritePoints calls and the owner writes they leave running
	replicas replicaWrites    // remote owner writes running, by shard, for deletes to wait for
}

// NewPointsWriter returns a PointsWriter. nodeID returns this data node's
// id (0 while unknown, or when nodeID is nil: then every owner is treated
// as remote). remote may be nil only when this node owns every shard. hh may be
// nil (no hinted handoff: a failed replica write is only counted, and
// ConsistencyLevelAny behaves as ConsistencyLevelOne). A nil logger
// discards; a nil reg registers nothing. Call Close when done.
func NewPointsWriter(cfg Config, nodeID func() uint64, mc MetaClient, local TSDBStore, remote ShardWriter,
	hh HintedHandoff, logger *slog.Logger, reg prometheus.Registerer) *PointsWriter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if nodeID == nil {
		nodeID = func() uint64 { return 0 }
	}
	bg, stop := context.WithCancel(context.Background())
	return &PointsWriter{
		cfg:      cfg,
		nodeID:   nodeID,
		meta:     mc,
		local:    local,
		remote:   remote,
		hh:       hh,
		logger:   logger,
		metrics:  newWriterMetrics(reg),
		scratch:  sync.Pool{New: func() any { return new(mapping) }},
		encoded:  freelist.New[encodedBatch](),
		bg:       bg,
		stop:     stop,
		inFlight: make(map[uint64]int64),
	}
}

// Close cancels the remote owner writes still in flight (each goes to its
// owner's hinted-handoff queue, which must stay open until Close returns)
// and waits for them and for running WritePoints calls to end. Later
// WritePoints calls fail with ErrClosed. It is safe to call twice.
func (w *PointsWriter) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.stop()
	w.wg.Wait()
	return nil
}

// enter counts a WritePoints call in w.wg, or reports that w is closed.
// Owner writes the call starts are added while it is counted, so no Add
// races with Close's Wait.
func (w *PointsWriter) enter() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.wg.Add(1)
	return true
}

// goFunc runs f in a goroutine counted in w.wg. The caller must hold a
// count in w.wg itself (a WritePoints call, or an owner write it started).
func (w *PointsWriter) goFunc(f func()) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		f()
	}()
}

// ownerResult is what one owner's write came to.
type ownerResult struct {
	done    bool   // the write answered before WritePoints did
	acked   bool   // the owner stored the batch (maybe minus dropped points)
	hh      bool   // hinted handoff took the batch
	dropped int    // points the owner rejected
	reason  string // why they were rejected
	err     error  // why the owner did not acknowledge (nil when acked)
}

// ownerDone is an owner write's answer to its WritePoints call.
type ownerDone struct {
	batch, slot int // index into mapping.batches and mapping.results
	res         ownerResult
}

// shardState tracks one shard batch's owner writes against the level.
type shardState struct {
	acked, queued, open int
	decided             bool // the level was met or can no longer be met
	expired             bool // still open when the call's context ended
}

// errInFlight is the OwnerError of an owner whose write had not answered
// when WritePoints did.
var errInFlight = errors.New("no answer yet (hinted handoff takes the write if it fails)")

// WritePoints writes points to database db, retention policy rp ("" for
// the default policy), at consistency level level, within
// Config.WriteTimeout.
//
// Each point goes to the shard group covering its time (created through
// meta when missing) and to the shard its series key hashes to; each
// shard's points go to all of the shard's owners in parallel: this node's
// store, and every remote owner the shard's points encoded once. Points
// older than the policy's retention are dropped.
//
// WritePoints answers as soon as every shard met its level or one can no
// longer meet it, after the local store writes ended (they are not
// interruptible), or at the deadline. Remote owner writes still in flight
// then go on in the background until the deadline, and one that fails or
// times out is handed to that owner's hinted-handoff queue. Nothing uses
// points after WritePoints returns. At the deadline, the writes of
// shards still undecided are waited for (they share the deadline), so a
// queued write counts for ConsistencyLevelAny.
//
// It returns nil; a *PartialWriteError (some points dropped, the rest
// written at the level); an error joining one *WriteError per shard that
// did not meet the level (wrapping ErrTimeout or ErrConsistency); or an
// error wrapping ErrDatabaseNotFound, ErrRetentionPolicyNotFound,
// ErrMetaNotReady, ErrClosed or a meta failure, in which case nothing was
// written. Points already written or queued stay either way.
func (w *PointsWriter) WritePoints(ctx context.Context, db, rp string, level ConsistencyLevel, points []models.Point) error {
	if !w.enter() {
		return fmt.Errorf("write points: %w", ErrClosed)
	}
	defer w.wg.Done()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout.D())
	defer cancel()

	m := w.scratch.Get().(*mapping)
	defer w.putMapping(m)

	err := w.mapShards(ctx, m, db, rp, points, start)
	if err == nil {
		err = w.writeShards(ctx, m, level, start.UnixNano())
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

// remoteCall is what the remote owner writes of one WritePoints call
// share; it outlives the call while they run.
type remoteCall struct {
	ctx    context.Context // w.bg with the call's deadline
	cancel context.CancelFunc
	done   chan<- ownerDone
	refs   atomic.Int32 // remote owner writes not yet ended; the last cancels ctx
}

func (c *remoteCall) release() {
	if c.refs.Add(-1) == 0 {
		c.cancel()
	}
}

// encodedBatch is one shard's points encoded once for all its remote
// owners, as one batch or, when that would pass Config.RPCMaxBodySize, as
// consecutive batches (ends holds each batch's end offset in buf); the last
// owner write to end puts it back on the free list.
type encodedBatch struct {
	buf  []byte
	ends []int
	refs atomic.Int32
}

func (w *PointsWriter) releaseBatch(e *encodedBatch) {
	if e.refs.Add(-1) == 0 {
		if cap(e.buf) > maxIdleRPCBuffer {
			e.buf = nil
		}
		w.encoded.Put(e)
	}
}

// writeShards fans every shard batch of m out to the shard's owners and
// collects their answers until each shard is decided (or the deadline),
// then evaluates the consistency level per shard.
//
// Local owner writes run on the caller's points: all but the last in
// goroutines, the last on this goroutine, so an RF 1 write to one shard
// starts no goroutine. A shard with remote owners gets one goroutine that
// encodes its points (then lets go of them) and sends the bytes to each
// remote owner, in goroutines of their own for all but the last; those are
// counted in w.wg and may outlive the call. Every write answers on a
// channel sized to the number of writes, so none ever blocks on it.
// accepted is the time the write was accepted, recorded in the remote
// owners' batches.
func (w *PointsWriter) writeShards(ctx context.Context, m *mapping, level ConsistencyLevel, accepted int64) error {
	self := w.nodeID()
	jobs, remotes := 0, 0
	for i := range m.batches {
		if len(m.batches[i].points) == 0 {
			continue
		}
		for _, owner := range m.batches[i].shard.Owners {
			jobs++
			if owner != self {
				remotes++
			}
		}
	}
	m.results = growResults(m.results, jobs)
	m.states = growStates(m.states, len(m.batches))
	if cap(m.done) < jobs {
		m.done = make(chan ownerDone, jobs)
	}
	done := m.done

	deadline, _ := ctx.Deadline()
	var rc *remoteCall
	if remotes > 0 {
		rc = &remoteCall{done: done}
		rc.ctx, rc.cancel = context.WithDeadline(w.bg, deadline)
		rc.refs.Store(int32(remotes))
	}

	var reading sync.WaitGroup // goroutines reading the caller's points
	var inline func()
	undecided, j := 0, 0
	for i := range m.batches {
		b := &m.batches[i]
		if len(b.points) == 0 {
			continue
		}
		st := &m.states[i]
		st.open = len(b.shard.Owners)
		if st.open == 0 {
			st.decided = true
			continue
		}
		undecided++
		first := j
		j += len(b.shard.Owners)
		shardID, pts := b.shard.ID, b.points
		for k, owner := range b.shard.Owners {
			if owner != self {
				continue
			}
			if inline != nil {
				reading.Add(1)
				go func(run func()) {
					defer reading.Done()
					run()
				}(inline)
			}
			batch, slot := i, first+k
			inline = func() { done <- ownerDone{batch: batch, slot: slot, res: w.writeLocal(ctx, owner, shardID, pts)} }
		}
		if shard := b.shard; len(shard.Owners) > 1 || shard.Owners[0] != self {
			reading.Add(1)
			cohort := w.replicas.begin(shard.ID, remoteOwners(shard, self))
			w.goFunc(func() { w.replicate(rc, &reading, cohort, i, first, self, shard, pts, accepted) })
		}
	}
	if inline != nil {
		inline()
	}

	answered := 0
	collect := func(d ownerDone) {
		answered++
		r := d.res
		r.done = true
		m.results[d.slot] = r
		st := &m.states[d.batch]
		st.open--
		switch {
		case r.acked:
			st.acked++
		case r.hh:
			st.queued++
		}
		if st.decided {
			return
		}
		got, required := st.acked, level.required(len(m.batches[d.batch].shard.Owners))
		if level == ConsistencyLevelAny {
			got += st.queued
		}
		if got >= required || got+st.open < required {
			st.decided = true
			// A remote write's context shares the deadline but has its own
			// timer, so its timeout can arrive before ctx.Done.
			st.expired = got < required && !time.Now().Before(deadline)
			undecided--
		}
	}
wait:
	for undecided > 0 {
		select {
		case d := <-done:
			collect(d)
		case <-ctx.Done():
			for i := range m.states {
				st := &m.states[i]
				st.expired = !st.decided && st.open > 0
			}
			break wait
		}
	}
	if undecided > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The open writes share the deadline, so they are ending now, the
		// failed ones in hinted handoff: wait for those of undecided shards.
		for undecided > 0 {
			collect(<-done)
		}
	}
	reading.Wait()
	for answered < jobs {
		// Take the answers already there (every local one is), so the
		// evaluation sees them.
		select {
		case d := <-done:
			collect(d)
			continue
		default:
		}
		break
	}
	if answered < jobs {
		m.done = nil // writes still running will answer on it
	}
	return w.evaluate(ctx, m, level)
}

// replicate encodes a shard's points for its remote owners, lets go of the
// points (reading.Done), and writes the bytes to every remote owner,
// answering each on rc.done and counting its end in cohort.
func (w *PointsWriter) replicate(rc *remoteCall, reading *sync.WaitGroup, cohort *replicaCohort, batch, first int, self uint64, shard *meta.ShardInfo, pts []models.Point, accepted int64) {
	e := w.encoded.Get()
	e.buf, e.ends = appendBatches(e.buf[:0], e.ends[:0], pts, w.cfg.RPCMaxBodySize, accepted)
	reading.Done()
	var last func()
	for k, owner := range shard.Owners {
		if owner == self {
			continue
		}
		e.refs.Add(1)
		if last != nil {
			w.goFunc(last)
		}
		slot := first + k
		last = func() {
			r := w.writeRemoteBatches(rc.ctx, owner, shard.ID, e)
			rc.done <- ownerDone{batch: batch, slot: slot, res: r}
			w.releaseBatch(e)
			rc.release()
			w.replicas.end(shard.ID, cohort)
		}
	}
	last()
}

// evaluate judges each shard of m against level from the owners' answers
// collected so far, counts the outcome, and returns WritePoints' answer.
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
		st := &m.states[i]
		owners := len(b.shard.Owners)
		results := m.results[j : j+owners]
		j += owners
		maxDropped := 0
		var reason string
		var errs []error
		for k, r := range results {
			if r.acked {
				if r.dropped > maxDropped {
					maxDropped, reason = r.dropped, r.reason
				}
				continue
			}
			err := r.err
			switch {
			case !r.done && ctx.Err() != nil:
				err = fmt.Errorf("%w: %w", errInFlight, ctx.Err())
			case !r.done:
				err = errInFlight
			case r.hh && r.err != nil:
				err = fmt.Errorf("%w after: %w", ErrQueued, r.err)
			case r.hh:
				err = ErrQueued
			}
			errs = append(errs, &OwnerError{OwnerID: b.shard.Owners[k], Err: err})
		}
		required := level.required(owners)
		got := st.acked
		if level == ConsistencyLevelAny {
			got += st.queued
		}
		if owners == 0 || got < required {
			timeout = timeout || st.expired
			if owners == 0 {
				errs = append(errs, fmt.Errorf("shard %d has no owners: %w", b.shard.ID, ErrConsistency))
				required = 1
			}
			failures = append(failures, &WriteError{Level: level, ShardID: b.shard.ID, Required: required,
				Acked: got, Owners: owners, Timeout: st.expired, Errs: errs})
			continue
		}
		usedHH = usedHH || st.queued > 0
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

// writeLocal writes one shard's points to this node's store, which may
// wait (backpressure from a full cache) until ctx, the write timeout, ends.
// A failure is not handed off: hinted handoff is for peers.
func (w *PointsWriter) writeLocal(ctx context.Context, self, shardID uint64, pts []models.Point) ownerResult {
	r := classify(w.local.WriteToShard(ctx, shardID, pts))
	if !r.acked {
		w.replicaFailed(self, shardID, r.err)
	}
	return r
}

// writeRemoteBatches writes the batches of e, in order, to a remote owner
// with writeRemote and combines their results: acknowledged when every
// batch was, handed off when every batch was acknowledged or handed off,
// failed otherwise. A batch over Config.RPCMaxBodySize (a single point too
// large for it) is not sent, since the owner would refuse it: it fails with
// ErrBodyTooLarge.
func (w *PointsWriter) writeRemoteBatches(ctx context.Context, owner, shardID uint64, e *encodedBatch) ownerResult {
	res := ownerResult{acked: true}
	failed := false
	start := 0
	for _, end := range e.ends {
		batch := e.buf[start:end]
		start = end
		var r ownerResult
		if int64(len(batch)) > w.cfg.RPCMaxBodySize {
			err := fmt.Errorf("write shard %d to node %d: a point encodes to %d bytes, over rpc-max-body-size %d: %w",
				shardID, owner, len(batch), w.cfg.RPCMaxBodySize, ErrBodyTooLarge)
			w.replicaFailed(owner, shardID, err)
			r = ownerResult{err: err}
		} else {
			r = w.writeRemote(ctx, owner, shardID, batch)
		}
		if len(e.ends) == 1 {
			return r
		}
		res.dropped += r.dropped
		if res.reason == "" {
			res.reason = r.reason
		}
		res.err = errors.Join(res.err, r.err)
		switch {
		case r.acked:
		case r.hh:
			res.acked, res.hh = false, true
		default:
			failed = true
		}
	}
	if failed {
		res.acked, res.hh = false, false
	}
	return res
}

// writeRemote writes one shard's encoded batch to a remote owner: to the
// owner's hinted-handoff queue while it is not empty or while too many
// bytes are in flight to the owner, else through the shard writer, handing
// a failed write to hinted handoff.
func (w *PointsWriter) writeRemote(ctx context.Context, owner, shardID uint64, batch []byte) ownerResult {
	if w.hh != nil && w.hh.Pending(owner) {
		return w.handOff(owner, shardID, batch, nil)
	}
	if w.remote == nil {
		err := fmt.Errorf("write shard %d to node %d: no shard writer configured: %w", shardID, owner, ErrNodeNotFound)
		w.replicaFailed(owner, shardID, err)
		return ownerResult{err: err}
	}
	size := int64(len(batch)) + inFlightOverhead
	if !w.reserve(owner, size) {
		err := fmt.Errorf("write shard %d to node %d: %d bytes of writes to it in flight already: %w",
			shardID, owner, w.cfg.MaxInFlightBytesPerNode, ErrInFlightLimit)
		w.replicaFailed(owner, shardID, err)
		if w.hh == nil {
			return ownerResult{err: err}
		}
		return w.handOff(owner, shardID, batch, err)
	}
	r := classify(w.remote.WriteShardBatch(ctx, owner, shardID, batch))
	w.unreserve(owner, size)
	if r.acked {
		return r
	}
	w.replicaFailed(owner, shardID, r.err)
	if w.hh == nil || errors.Is(r.err, ErrShardNotFound) || errors.Is(r.err, ErrCorruptBatch) || errors.Is(r.err, ErrBodyTooLarge) {
		// No queue, or an answer a replay would get again.
		return r
	}
	return w.handOff(owner, shardID, batch, r.err)
}

// inFlightOverhead is what one remote write costs besides its batch (its
// goroutine, request and scratch), counted against
// Config.MaxInFlightBytesPerNode so that many tiny writes are bounded too.
const inFlightOverhead = 4 << 10

// reserve adds size to owner's bytes in flight unless that would pass
// Config.MaxInFlightBytesPerNode; one write is always let through.
func (w *PointsWriter) reserve(owner uint64, size int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := w.inFlight[owner]
	if cur > 0 && cur+size > w.cfg.MaxInFlightBytesPerNode {
		return false
	}
	w.inFlight[owner] = cur + size
	w.metrics.inFlightBytes.WithLabelValues(nodeLabel(owner)).Set(float64(cur + size))
	return true
}

func (w *PointsWriter) unreserve(owner uint64, size int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := w.inFlight[owner] - size
	if cur == 0 {
		delete(w.inFlight, owner)
	} else {
		w.inFlight[owner] = cur
	}
	w.metrics.inFlightBytes.WithLabelValues(nodeLabel(owner)).Set(float64(cur))
}

// handOff queues batch for owner in hinted handoff; cause is the failed
// remote write that led here (nil when the queue was already pending).
func (w *PointsWriter) handOff(owner, shardID uint64, batch []byte, cause error) ownerResult {
	if err := w.hh.WriteShardBatch(owner, shardID, batch); err != nil {
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

func growStates(s []shardState, n int) []shardState {
	if cap(s) < n {
		return make([]shardState, n)
	}
	s = s[:n]
	clear(s)
	return s
}
