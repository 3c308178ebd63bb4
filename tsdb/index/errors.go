package index

import (
	"errors"
	"fmt"

	"github.com/strata-db/strata/tsdb/models"
)

var (
	// ErrClosed is returned by calls on a closed Index.
	ErrClosed = errors.New("index is closed")
	// ErrCorrupt wraps every failure to decode the index log or snapshot.
	ErrCorrupt = errors.New("corrupt index file")
	// errChecksum is a record whose checksum does not match its bytes.
	errChecksum = fmt.Errorf("checksum mismatch: %w", ErrCorrupt)
	// ErrIndexFull means the shard ran out of series ids (2^32-2 series).
	ErrIndexFull = errors.New("index full: series ids exhausted")
	// ErrIDsTooShort is returned by CreateSeriesAndFields when ids is shorter
	// than points.
	ErrIDsTooShort = errors.New("ids shorter than points")
)

// FieldConflictError reports a field whose type in a write differs from the
// type the field already has in the shard.
type FieldConflictError struct {
	Measurement, Field string
	Existing, Got      models.FieldType
}

// Error uses InfluxDB's wording: `field type conflict: input field "usage" on
// measurement "cpu" is type integer, already exists as type float`.
func (e *FieldConflictError) Error() string {
	return fmt.Sprintf("field type conflict: input field %q on measurement %q is type %s, already exists as type %s",
		e.Field, e.Measurement, e.Got, e.Existing)
}

// PointError is the rejection of one point of a batch: Index is the point's
// position in the batch, Err is a *FieldConflictError, a limit error
// wrapping ErrLimitExceeded, or wraps ErrInvalidPoint.
type PointError struct {
	Index int
	Err   error
}

// Error implements error.
func (e PointError) Error() string { return fmt.Sprintf("point %d: %s", e.Index, e.Err.Error()) }

// Unwrap returns the reason.
func (e PointError) Unwrap() error { return e.Err }

// ErrInvalidPoint wraps the rejection of a point that cannot be indexed
// (one the line-protocol parser never produces).
var ErrInvalidPoint = errors.New("invalid point")
