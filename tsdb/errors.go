package tsdb

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrShardNotFound is returned for an operation on a shard id the Store
	// does not hold.
	ErrShardNotFound = errors.New("shard not found")
	// ErrCacheFull is returned when a write cannot fit in a shard's cache
	// under Config.CacheMaxSize: no snapshot freed room before the write's
	// deadline, or the batch alone is bigger than the limit. The write is
	// not applied and may be retried.
	ErrCacheFull = errors.New("cache-max-memory-size exceeded")
	// ErrEngineClosed is returned by operations on a closed shard or Store.
	ErrEngineClosed = errors.New("engine is closed")
	// ErrStoreClosed is returned by Store methods before Open or after Close.
	ErrStoreClosed = errors.New("store is closed")
	// ErrInvalidFieldType is reported (in a *PartialWriteError) for a point
	// with a field value of no known type; the point is dropped.
	ErrInvalidFieldType = errors.New("invalid field value type")
	// ErrCorruptRecord wraps every failure to decode a WAL record or a
	// tombstone record.
	ErrCorruptRecord = errors.New("corrupt record")
)

// PartialWriteError reports the points of a batch that were dropped (field
// type conflicts); the other points of the batch were written durably.
type PartialWriteError struct {
	// Reason summarises why points were dropped.
	Reason string
	// Dropped is the number of points dropped.
	Dropped int
	// Errs holds one error per dropped point (typically
	// *index.FieldConflictError).
	Errs []error
}

// Error implements error: "partial write: <reason> dropped=N".
func (e *PartialWriteError) Error() string {
	var b strings.Builder
	b.WriteString("partial write: ")
	b.WriteString(e.Reason)
	for i, err := range e.Errs {
		if i == 3 {
			fmt.Fprintf(&b, " (and %d more)", len(e.Errs)-i)
			break
		}
		b.WriteString("; ")
		b.WriteString(err.Error())
	}
	fmt.Fprintf(&b, " dropped=%d", e.Dropped)
	return b.String()
}

// Unwrap returns the per-point errors so errors.As finds them.
func (e *PartialWriteError) Unwrap() []error { return e.Errs }

// orNil returns e as an error, or a nil error when e is nil.
func (e *PartialWriteError) orNil() error {
	if e == nil {
		return nil
	}
	return e
}
