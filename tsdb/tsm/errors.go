package tsm

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt is wrapped by every error that reports a malformed file or
	// block: bad magic, version, footer, index or block checksum, or bounds
	// that do not fit the file. Check it with errors.Is.
	ErrCorrupt = errors.New("tsm: corrupt data")

	// ErrKeyOrder is returned by Writer.WriteBlock when a key arrives that
	// sorts before the previous one.
	ErrKeyOrder = errors.New("tsm: keys out of order")

	// ErrBlockOrder is returned by Writer.WriteBlock and Writer.WriteValues
	// when a block overlaps or precedes the previous block of the same key,
	// or when values are not in strictly ascending time order.
	ErrBlockOrder = errors.New("tsm: blocks out of time order")

	// ErrTypeMismatch is returned when the values of one key, or of two
	// arrays being merged, have different field types.
	ErrTypeMismatch = errors.New("tsm: field type mismatch")

	// ErrInvalidBlock is returned by Writer.WriteBlock for a block whose
	// metadata is unusable (no values, MinTime > MaxTime, unknown type or
	// empty bytes), and by EncodeBlock for an inconsistent Array.
	ErrInvalidBlock = errors.New("tsm: invalid block")

	// ErrClosed is returned by the methods of a closed Writer or Reader.
	ErrClosed = errors.New("tsm: closed")
)

// CorruptError reports where a file is malformed. It wraps ErrCorrupt and,
// when a block codec rejected the bytes, the codec's error as well.
type CorruptError struct {
	Path   string // file path, empty for in-memory data
	Offset int64  // byte offset in the file where the problem was found
	Reason string // what is wrong
	Err    error  // underlying error, may be nil
}

// Error implements error.
func (e *CorruptError) Error() string {
	s := fmt.Sprintf("tsm: corrupt file %q at offset %d: %s", e.Path, e.Offset, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrCorrupt and the underlying error, if any.
func (e *CorruptError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrCorrupt, e.Err}
	}
	return []error{ErrCorrupt}
}
