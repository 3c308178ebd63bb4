package antientropy

import (
	"context"
	"io"

	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// Shard is what anti-entropy needs of one local shard replica; *tsdb.Shard
// has every method but SeriesKeys, which data's adapter adds from the
// index. Implementations must be safe for concurrent use.
type Shard interface {
	// Digests returns the digest of every non-empty bucket, rehashing only
	// buckets changed since the previous call.
	Digests(ctx context.Context) (tsdb.DigestSet, error)
	// BucketPoints streams the live values of one bucket as single-field
	// points in (series, field, time) order.
	BucketPoints(bucket tsdb.BucketID, fn func(models.Point) error) error
	// SeriesPoints streams the live values of one series with
	// min <= time <= max, in (field, time) order.
	SeriesPoints(seriesKey []byte, min, max int64, fn func(models.Point) error) error
	// SeriesKeys returns the key of every series of the shard.
	SeriesKeys() [][]byte
	// StreamTarget: its tombstones, and writes of repaired values.
	StreamTarget
}

// StreamTarget is what ReadShardStream fills: every Shard is one, and so is
// a restore that writes a backed-up shard through the write path.
// Implementations must be safe for concurrent use.
type StreamTarget interface {
	// Tombstones returns the target's tombstones, applied ones included.
	Tombstones() []tsdb.Tombstone
	// ApplyTombstones records another replica's tombstones, keeping their
	// Created times, and deletes what they cover.
	ApplyTombstones(ts []tsdb.Tombstone) error
	// WritePoints writes points durably, waiting for room while the
	// shard's cache is full until ctx ends; a *tsdb.PartialWriteError
	// reports values dropped for a field type conflict.
	WritePoints(ctx context.Context, points []models.Point) error
}

// Store is the local shard store.
type Store interface {
	// Shard returns shard id, or nil when this node does not hold it.
	Shard(id uint64) Shard
	// CreateShard creates shard id (a no-op when it exists).
	CreateShard(id uint64) error
}

// MetaView is the cluster state: which shards this node owns, their other
// owners and their RPC addresses. *meta.Client implements it.
type MetaView interface {
	Data() *meta.Data
}

// Peers carries requests to the anti-entropy service of other data nodes.
// HTTPPeers is the implementation over the internode listener.
type Peers interface {
	// Post sends body to path on node and returns the answer's body, which
	// the caller closes; an answer other than 2xx is an error (a *PeerError,
	// wrapping ErrShardNotFound for a shard the node does not hold).
	Post(ctx context.Context, node uint64, path string, body io.Reader) (io.ReadCloser, error)
}

// Hints is what anti-entropy needs from hinted handoff: whether writes for
// a node still wait in its queue (the exchange with that node waits too,
// since replay will deliver them in order), and the shard time ranges
// whose queued writes for a node were dropped (past max-age or max-size,
// or purged), which are checked with that node first and cleared once an
// exchange covered them.
type Hints interface {
	Pending(nodeID uint64) bool
	PurgedRanges() []PurgedRange
	ClearPurged(r PurgedRange) error
}

// PurgedRange is a shard's time range, [Min, Max] in ns, that node Node may
// lack because hinted handoff dropped writes for it.
type PurgedRange struct {
	Node, Shard uint64
	Min, Max    int64
}

// NoHints is the Hints of a node without hinted handoff: nothing is pending
// and nothing was purged.
type NoHints struct{}

// Pending implements Hints.
func (NoHints) Pending(uint64) bool { return false }

// PurgedRanges implements Hints.
func (NoHints) PurgedRanges() []PurgedRange { return nil }

// ClearPurged implements Hints.
func (NoHints) ClearPurged(PurgedRange) error { return nil }
