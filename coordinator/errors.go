package coordinator

import (
	"errors"
	"fmt"
	"strings"

	"github.com/strata-db/strata/meta"
)

// Sentinel errors. Every error this package returns wraps one of them, so
// callers decide with errors.Is; the typed errors below carry the details.
var (
	// ErrDatabaseNotFound is meta.ErrDatabaseNotFound itself, so errors.Is
	// matches either name (HTTP 404 "database not found").
	ErrDatabaseNotFound = meta.ErrDatabaseNotFound
	// ErrRetentionPolicyNotFound is meta.ErrRetentionPolicyNotFound itself.
	ErrRetentionPolicyNotFound = meta.ErrRetentionPolicyNotFound
	// ErrMetaNotReady means the meta client has no state yet.
	ErrMetaNotReady = errors.New("meta state not loaded")
	// ErrConsistency means a shard's write did not reach enough owners for
	// its consistency level. A *WriteError wrapping it says which and why.
	ErrConsistency = errors.New("consistency level not met")
	// ErrTimeout means a write did not meet its consistency level before
	// the write timeout. A *WriteError wrapping it says which shard.
	ErrTimeout = errors.New("timeout")
	// ErrQueued is the OwnerError of an owner whose write went to its
	// hinted-handoff queue instead (it counts only for ConsistencyLevelAny).
	ErrQueued = errors.New("queued in hinted handoff")
	// ErrPartialWrite means some points were not written: beyond the
	// retention policy, or rejected by an owner (field type conflict).
	// A *PartialWriteError wrapping it carries the count.
	ErrPartialWrite = errors.New("partial write")
	// ErrInvalidConsistencyLevel is returned by ParseConsistencyLevel.
	ErrInvalidConsistencyLevel = errors.New("invalid consistency level")
	// ErrShardNotFound means the target node does not hold the shard (it is
	// not an owner, or the shard was dropped). Such a write can never
	// succeed, so it is not handed off.
	ErrShardNotFound = errors.New("shard not found")
	// ErrNodeNotFound means no data node has the owner's id.
	ErrNodeNotFound = errors.New("data node not found")
	// ErrProtocolVersion means the peer speaks another RPC protocol version.
	ErrProtocolVersion = errors.New("rpc protocol version mismatch")
	// ErrBodyTooLarge means an RPC body exceeded Config.RPCMaxBodySize.
	ErrBodyTooLarge = errors.New("rpc body too large")
	// ErrCorruptBatch wraps every failure to decode a point batch.
	ErrCorruptBatch = errors.New("corrupt point batch")
	// ErrClosed means the PointsWriter was closed.
	ErrClosed = errors.New("points writer closed")
	// ErrInFlightLimit means a remote owner had Config.MaxInFlightBytesPerNode
	// of writes in flight already, so its write went to hinted handoff (or
	// failed without it) instead of piling up behind a slow node.
	ErrInFlightLimit = errors.New("too many writes in flight to the node")
	// ErrInvalidConfig wraps every Config.Validate problem.
	ErrInvalidConfig = errors.New("invalid coordinator config")
)

// PartialWriter is implemented by errors meaning "the owner accepted the
// batch but rejected some of its points" (field type conflicts). The
// local TSDBStore and a remote owner report drops this way; the writer
// counts such an owner as having acknowledged the write. *PartialWriteError
// implements it.
type PartialWriter interface {
	error
	// PartialWrite returns how many points were dropped.
	PartialWrite() (dropped int)
}

// PartialWriteError reports that a write stored some points and dropped
// others. It wraps ErrPartialWrite. The HTTP layer answers it with 400
// "partial write: <reason> dropped=N", as InfluxDB does.
type PartialWriteError struct {
	// Reason says why points were dropped.
	Reason string
	// Dropped is the number of points not written.
	Dropped int
}

// Error implements error.
func (e *PartialWriteError) Error() string {
	return fmt.Sprintf("partial write: %s dropped=%d", e.Reason, e.Dropped)
}

// Unwrap returns ErrPartialWrite.
func (e *PartialWriteError) Unwrap() error { return ErrPartialWrite }

// PartialWrite implements PartialWriter.
func (e *PartialWriteError) PartialWrite() int { return e.Dropped }

// OwnerError is one owner's failed write of one shard.
type OwnerError struct {
	// OwnerID is the data node id of the owner.
	OwnerID uint64
	// Err is why the write failed.
	Err error
}

// Error implements error.
func (e *OwnerError) Error() string { return fmt.Sprintf("owner %d: %v", e.OwnerID, e.Err) }

// Unwrap returns Err.
func (e *OwnerError) Unwrap() error { return e.Err }

// WriteError reports a shard whose write did not meet the consistency
// level. It wraps ErrTimeout when the write timeout (or the caller's
// context) cut it short, ErrConsistency otherwise, and every owner error,
// so errors.Is sees both. Points already written or queued stay.
type WriteError struct {
	// Level is the consistency level that was asked for.
	Level ConsistencyLevel
	// ShardID is the shard that failed.
	ShardID uint64
	// Required and Acked count the acknowledgements needed and received
	// (owners; for ConsistencyLevelAny, owners and hinted handoff).
	Required, Acked int
	// Owners is the number of owners of the shard.
	Owners int
	// Timeout is true when the deadline was reached.
	Timeout bool
	// Errs holds one *OwnerError per owner that did not acknowledge
	// (wrapping ErrQueued when hinted handoff took its write).
	Errs []error
}

// Error implements error, saying which level failed and why, e.g.
// "write failed: consistency level quorum not met for shard 7: 1 of 3
// owners acknowledged, 2 required: owner 2: ...".
func (e *WriteError) Error() string {
	var b strings.Builder
	b.WriteString("write failed: ")
	if e.Timeout {
		b.WriteString("timeout: ")
	}
	fmt.Fprintf(&b, "consistency level %s not met for shard %d: %d of %d owners acknowledged, %d required",
		e.Level, e.ShardID, e.Acked, e.Owners, e.Required)
	for _, err := range e.Errs {
		b.WriteString("; ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns ErrTimeout or ErrConsistency followed by the owner errors.
func (e *WriteError) Unwrap() []error {
	first := ErrConsistency
	if e.Timeout {
		first = ErrTimeout
	}
	return append([]error{first}, e.Errs...)
}
