package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/influxdata/influxql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/meta"
)

// DefaultShardReadConcurrency is how many shards ClusterStorage reads at
// once for one call. Reads of remote shards mostly wait on the network, so
// it is larger than the core count of a small node.
const DefaultShardReadConcurrency = 8

// ErrShardUnavailable means no owner of a shard could serve a read, or
// some owner could not apply a delete. A *ShardOwnersError wrapping it
// says which owners failed and why.
var ErrShardUnavailable = errors.New("shard unavailable")

// ShardOwnersError reports a shard whose read failed on every owner, or
// whose delete failed on some owners. It unwraps to ErrShardUnavailable
// and to one *OwnerError per failed owner.
type ShardOwnersError struct {
	// Op is what failed ("scan", "metadata", "delete").
	Op string
	// ShardID is the shard.
	ShardID uint64
	// Errs holds an *OwnerError per failed owner, in the order tried.
	Errs []error
}

// Error implements error.
func (e *ShardOwnersError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s shard %d: %d owner(s) failed", e.Op, e.ShardID, len(e.Errs))
	for _, err := range e.Errs {
		b.WriteString("; ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns ErrShardUnavailable followed by the owner errors.
func (e *ShardOwnersError) Unwrap() []error {
	return append([]error{ErrShardUnavailable}, e.Errs...)
}

// ClusterStorage is the cluster's query.Storage: it maps a call's
// database, retention policy and time range onto shard groups and shards
// through the meta state, reads each shard from one owner (this node
// first, else the remote owners in a per-shard rotation) and, when an
// owner fails, from the next one. Shards are read in parallel by at most
// DefaultShardReadConcurrency goroutines per call; the caller's callback
// is never called concurrently. It also sends deletes to every owner of
// the affected shards. It is safe for concurrent use and starts no
// goroutine that outlives a call.
type ClusterStorage struct {
	cfg         Config
	meta        MetaState
	nodeID      func() uint64
	local       ShardReader
	remote      RemoteShardReader
	logger      *slog.Logger
	metrics     *storageMetrics
	concurrency int
	replicas    ReplicaWaiter // nil: deletes do not wait for replica writes
}

var _ query.Storage = (*ClusterStorage)(nil)

type storageMetrics struct {
	reads   *prometheus.CounterVec
	retries prometheus.Counter
}

// NewClusterStorage returns a ClusterStorage. nodeID returns this node's
// id (nil, or 0, makes every owner remote). local reads this node's
// shards; remote reads other nodes' (nil when this node owns every shard).
// A nil logger discards; a nil reg registers nothing.
func NewClusterStorage(cfg Config, state MetaState, nodeID func() uint64, local ShardReader, remote RemoteShardReader,
	logger *slog.Logger, reg prometheus.Registerer) *ClusterStorage {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if nodeID == nil {
		nodeID = func() uint64 { return 0 }
	}
	f := promauto.With(reg)
	return &ClusterStorage{
		cfg:    cfg,
		meta:   state,
		nodeID: nodeID,
		local:  local,
		remote: remote,
		logger: logger,
		metrics: &storageMetrics{
			reads: f.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
				Name: "shard_reads_total",
				Help: "Shard reads (scans and metadata) by owner, by source (local, remote) and result (ok, error)."},
				[]string{"source", "result"}),
			retries: f.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
				Name: "shard_read_retries_total",
				Help: "Shard reads moved to another owner after an owner failed."}),
		},
		concurrency: DefaultShardReadConcurrency,
	}
}

// fnError carries an error of the caller's callback through the owner
// retry loop, which must return it as is rather than try another owner.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }
func (e *fnError) Unwrap() error { return e.err }

// Scan implements query.Storage.
func (s *ClusterStorage) Scan(ctx context.Context, req query.ScanRequest, fn func(*query.SeriesBatch) error) error {
	shards, err := s.shardsFor(req.Database, req.RetentionPolicy, req.Min, req.Max)
	if err != nil {
		return err
	}
	var mu sync.Mutex // serializes fn
	deliver := func(b *query.SeriesBatch) error {
		mu.Lock()
		defer mu.Unlock()
		if err := fn(b); err != nil {
			return &fnError{err}
		}
		return nil
	}
	err = s.forEachShard(ctx, shards, func(ctx context.Context, sh meta.ShardInfo) error {
		// A retry after a failure mid-stream skips the series the failed
		// owner already delivered: each comes whole in one batch.
		delivered := make(map[string]struct{})
		return s.tryOwners(ctx, "scan", sh, func(ctx context.Context, owner uint64, local bool) error {
			each := func(b *query.SeriesBatch) error {
				if _, dup := delivered[b.Key]; dup {
					return nil
				}
				delivered[b.Key] = struct{}{}
				return deliver(b)
			}
			if local {
				return s.local.ScanShard(ctx, sh.ID, &req, each)
			}
			return s.remote.ScanShard(ctx, owner, sh.ID, &req, each)
		})
	})
	if fe, ok := errors.AsType[*fnError](err); ok {
		return fe.err
	}
	return err
}

// MeasurementNames implements query.Storage.
func (s *ClusterStorage) MeasurementNames(ctx context.Context, db, rp string, cond influxql.Expr, min, max int64) ([]string, error) {
	res, err := s.metadata(ctx, db, rp, min, max, &MetaRequest{Kind: MetaMeasurements, Condition: cond})
	return res.Values, err
}

// FieldKeys implements query.Storage.
func (s *ClusterStorage) FieldKeys(ctx context.Context, db, rp, measurement string, min, max int64) ([]query.FieldKey, error) {
	res, err := s.metadata(ctx, db, rp, min, max, &MetaRequest{Kind: MetaFieldKeys, Measurement: measurement})
	return res.Fields, err
}

// TagKeys implements query.Storage.
func (s *ClusterStorage) TagKeys(ctx context.Context, db, rp, measurement string, cond influxql.Expr, min, max int64) ([]string, error) {
	res, err := s.metadata(ctx, db, rp, min, max, &MetaRequest{Kind: MetaTagKeys, Measurement: measurement, Condition: cond})
	return res.Values, err
}

// TagValues implements query.Storage.
func (s *ClusterStorage) TagValues(ctx context.Context, db, rp, measurement, key string, cond influxql.Expr, min, max int64) ([]string, error) {
	res, err := s.metadata(ctx, db, rp, min, max, &MetaRequest{Kind: MetaTagValues, Measurement: measurement, TagKey: key, Condition: cond})
	return res.Values, err
}

// SeriesKeys implements query.Storage. An empty measurement means every
// measurement.
func (s *ClusterStorage) SeriesKeys(ctx context.Context, db, rp, measurement string, cond influxql.Expr, min, max int64) ([]string, error) {
	res, err := s.metadata(ctx, db, rp, min, max, &MetaRequest{Kind: MetaSeriesKeys, Measurement: measurement, Condition: cond})
	return res.Values, err
}

// metadata asks one owner of every shard and unions the answers: values
// sorted and de-duplicated, fields sorted by name and type, one per
// (name, type).
func (s *ClusterStorage) metadata(ctx context.Context, db, rp string, min, max int64, req *MetaRequest) (MetaResult, error) {
	shards, err := s.shardsFor(db, rp, min, max)
	if err != nil {
		return MetaResult{}, err
	}
	var (
		mu  sync.Mutex // protects all
		all MetaResult
	)
	err = s.forEachShard(ctx, shards, func(ctx context.Context, sh meta.ShardInfo) error {
		return s.tryOwners(ctx, "metadata", sh, func(ctx context.Context, owner uint64, local bool) error {
			var res MetaResult
			var err error
			if local {
				res, err = s.local.ShardMeta(ctx, sh.ID, req)
			} else {
				res, err = s.remote.ShardMeta(ctx, owner, sh.ID, req)
			}
			if err != nil {
				return err
			}
			mu.Lock()
			all.Values = append(all.Values, res.Values...)
			all.Fields = append(all.Fields, res.Fields...)
			mu.Unlock()
			return nil
		})
	})
	if err != nil {
		return MetaResult{}, err
	}
	slices.Sort(all.Values)
	all.Values = slices.Compact(all.Values)
	slices.SortFunc(all.Fields, func(a, b query.FieldKey) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return int(a.Type) - int(b.Type)
	})
	all.Fields = slices.Compact(all.Fields)
	return all, nil
}

// DropMeasurement drops measurement name from every shard of every
// retention policy of db, on every owner. It fails with a
// *ShardOwnersError naming each owner that could not apply it (the others
// have); an owner that does not hold the shard has nothing to drop.
func (s *ClusterStorage) DropMeasurement(ctx context.Context, db, name string) error {
	return s.deleteEverywhere(ctx, db, minTime, maxTime, &DeleteRequest{Kind: DeleteMeasurement, Measurement: name})
}

// DropSeries drops the series of measurement ("" for every measurement)
// that match cond from every shard of db, on every owner, as
// DropMeasurement does.
func (s *ClusterStorage) DropSeries(ctx context.Context, db, measurement string, cond influxql.Expr) error {
	return s.deleteEverywhere(ctx, db, minTime, maxTime, &DeleteRequest{Kind: DeleteSeries, Measurement: measurement, Condition: cond})
}

// DeleteSeries deletes the values with min <= time <= max of the series of
// measurement ("" for every measurement) that match cond, from every
// owner of every shard of db overlapping the range, as DropMeasurement
// does. The series stay in the index.
func (s *ClusterStorage) DeleteSeries(ctx context.Context, db, measurement string, cond influxql.Expr, min, max int64) error {
	return s.deleteEverywhere(ctx, db, min, max, &DeleteRequest{Kind: DeleteRange, Measurement: measurement, Condition: cond, Min: min, Max: max})
}

const (
	minTime = -1 << 63
	maxTime = 1<<63 - 1
)

func (s *ClusterStorage) deleteEverywhere(ctx context.Context, db string, min, max int64, req *DeleteRequest) error {
	if _, err := TagExprFromCondition(req.Condition); err != nil {
		return fmt.Errorf("delete in %q: %w", db, err)
	}
	data := s.meta.Data()
	if data == nil {
		return fmt.Errorf("delete in %q: %w", db, ErrMetaNotReady)
	}
	di := data.Database(db)
	if di == nil {
		return fmt.Errorf("delete in %q: %w", db, ErrDatabaseNotFound)
	}
	var shards []meta.ShardInfo
	for _, rpi := range di.RetentionPolicies {
		shards = appendShards(shards, data.ShardGroupsByTimeRange(db, rpi.Name, time.Unix(0, min), time.Unix(0, max)))
	}
	if s.replicas != nil {
		ids := make([]uint64, len(shards))
		for i, sh := range shards {
			ids[i] = sh.ID
		}
		if err := s.replicas.WaitReplicaWrites(ctx, ids); err != nil {
			return fmt.Errorf("delete in %q: wait for replica writes acknowledged before it: %w", db, err)
		}
	}
	return s.forEachShard(ctx, shards, func(ctx context.Context, sh meta.ShardInfo) error {
		var errs []error
		for _, owner := range sh.Owners {
			var err error
			if s.isLocal(owner) {
				err = s.local.DeleteFromShard(ctx, sh.ID, req)
			} else if s.remote == nil {
				err = fmt.Errorf("no remote shard reader: %w", ErrNodeNotFound)
			} else {
				err = s.remote.DeleteFromShard(ctx, owner, sh.ID, req)
			}
			if err != nil && !errors.Is(err, ErrShardNotFound) {
				s.logger.Warn("shard delete failed on owner", "shard_id", sh.ID, "owner_id", owner, "err", err)
				errs = append(errs, &OwnerError{OwnerID: owner, Err: err})
			}
		}
		if len(errs) > 0 {
			return &ShardOwnersError{Op: "delete", ShardID: sh.ID, Errs: errs}
		}
		return nil
	})
}

// shardsFor returns the shards of db/rp's live groups overlapping
// [min, max].
func (s *ClusterStorage) shardsFor(db, rp string, min, max int64) ([]meta.ShardInfo, error) {
	data := s.meta.Data()
	if data == nil {
		return nil, fmt.Errorf("map shards of %q.%q: %w", db, rp, ErrMetaNotReady)
	}
	if data.Database(db) == nil {
		return nil, fmt.Errorf("map shards of %q.%q: %w", db, rp, ErrDatabaseNotFound)
	}
	if data.RetentionPolicy(db, rp) == nil {
		return nil, fmt.Errorf("map shards of %q.%q: %w", db, rp, ErrRetentionPolicyNotFound)
	}
	if min > max {
		return nil, nil
	}
	return appendShards(nil, data.ShardGroupsByTimeRange(db, rp, time.Unix(0, min), time.Unix(0, max))), nil
}

func appendShards(dst []meta.ShardInfo, groups []meta.ShardGroupInfo) []meta.ShardInfo {
	for _, g := range groups {
		if g.Deleted() {
			continue
		}
		dst = append(dst, g.Shards...)
	}
	return dst
}

// isLocal reports whether owner is this node (and there is a local
// reader to read it with).
func (s *ClusterStorage) isLocal(owner uint64) bool {
	id := s.nodeID()
	return id != 0 && owner == id && s.local != nil
}

// ownerOrder returns the order in which sh's owners are tried: this node
// first, then the others rotated by the shard id, so that the shards of a
// query spread over the owners while each shard's order stays stable.
func (s *ClusterStorage) ownerOrder(sh meta.ShardInfo) []uint64 {
	out := make([]uint64, 0, len(sh.Owners))
	var remote []uint64
	for _, o := range sh.Owners {
		if s.isLocal(o) {
			out = append(out, o)
		} else {
			remote = append(remote, o)
		}
	}
	if n := len(remote); n > 0 {
		k := int(sh.ID % uint64(n))
		out = append(out, remote[k:]...)
		out = append(out, remote[:k]...)
	}
	return out
}

// tryOwners calls read with each owner of sh in ownerOrder until one
// succeeds. A callback error (*fnError) or the caller's context ending
// stops at once. When every owner answers that it does not hold the shard
// the shard has no data yet and the result is nil; otherwise, when every
// owner fails, a *ShardOwnersError.
func (s *ClusterStorage) tryOwners(ctx context.Context, op string, sh meta.ShardInfo,
	read func(ctx context.Context, owner uint64, local bool) error) error {
	owners := s.ownerOrder(sh)
	if len(owners) == 0 {
		return &ShardOwnersError{Op: op, ShardID: sh.ID}
	}
	var errs []error
	notFound := 0
	for i, owner := range owners {
		local := s.isLocal(owner)
		source := "remote"
		if local {
			source = "local"
		}
		var err error
		if !local && s.remote == nil {
			err = fmt.Errorf("no remote shard reader: %w", ErrNodeNotFound)
		} else {
			err = read(ctx, owner, local)
		}
		if err == nil {
			s.metrics.reads.WithLabelValues(source, "ok").Inc()
			return nil
		}
		if _, ok := errors.AsType[*fnError](err); ok {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%s shard %d: %w", op, sh.ID, cerr)
		}
		s.metrics.reads.WithLabelValues(source, "error").Inc()
		if errors.Is(err, ErrShardNotFound) {
			notFound++
		}
		errs = append(errs, &OwnerError{OwnerID: owner, Err: err})
		if i < len(owners)-1 {
			s.metrics.retries.Inc()
			s.logger.Warn("shard read failed, trying next owner", "op", op, "shard_id", sh.ID, "owner_id", owner, "err", err)
		}
	}
	if notFound == len(owners) {
		return nil
	}
	return &ShardOwnersError{Op: op, ShardID: sh.ID, Errs: errs}
}

// recoverShard runs work for one shard and turns a panic in it into an
// error for this query, logged with its stack: a bug reached by one query's
// input must not take the node and every other request down with it.
func (s *ClusterStorage) recoverShard(ctx context.Context, sh meta.ShardInfo, work func(context.Context, meta.ShardInfo) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.logger.Error("panic reading a shard; the query fails, the node goes on", "shard_id", sh.ID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("internal error reading shard %d: %v", sh.ID, p)
		}
	}()
	return work(ctx, sh)
}

// forEachShard runs work for every shard on at most s.concurrency
// goroutines, all ended before it returns. The first error cancels the
// others' context and is returned. A single shard is read on the caller's
// goroutine: a fresh goroutine would cost a small query (one shard) more
// than its read, in its start, its wake-up on another thread and the
// growth of its stack down to the block decoders.
func (s *ClusterStorage) forEachShard(ctx context.Context, shards []meta.ShardInfo, work func(context.Context, meta.ShardInfo) error) error {
	switch len(shards) {
	case 0:
		return ctx.Err()
	case 1:
		return s.recoverShard(ctx, shards[0], work)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex // protects firstErr, next
		firstErr error
		next     int
		wg       sync.WaitGroup
	)
	take := func() (meta.ShardInfo, bool) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil || next == len(shards) {
			return meta.ShardInfo{}, false
		}
		next++
		return shards[next-1], true
	}
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	for range min(s.concurrency, len(shards)) {
		wg.Go(func() {
			for {
				sh, ok := take()
				if !ok {
					return
				}
				if err := s.recoverShard(ctx, sh, work); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}
