package wal

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt is wrapped by every error that reports bytes on disk that are
	// not a valid segment header or record: a checksum mismatch, a length past
	// MaxRecordSize, a torn record. A torn record (one cut short by the end of
	// the file) also wraps io.ErrUnexpectedEOF.
	ErrCorrupt = errors.New("wal: corrupt record")
	// ErrClosed is returned by calls on a WAL after Close.
	ErrClosed = errors.New("wal: closed")
	// ErrRecordTooLarge is returned by Write for a record longer than
	// Config.MaxRecordSize; nothing is written.
	ErrRecordTooLarge = errors.New("wal: record too large")
	// ErrActiveSegment is returned by RemoveThrough when asked to remove the
	// segment that is still being written; call Rotate first.
	ErrActiveSegment = errors.New("wal: segment is active")
)

// CorruptionError locates invalid bytes in a segment file. Offset is where the
// first invalid segment header or record starts, so every byte before it is
// good. It wraps ErrCorrupt (and io.ErrUnexpectedEOF for a torn record).
type CorruptionError struct {
	// Dir is the WAL directory.
	Dir string
	// Segment is the id of the segment file.
	Segment uint64
	// Offset is the byte offset in the segment of the first bad byte range.
	Offset int64
	// Err says what is wrong.
	Err error
}

// Error describes the corruption and where it is.
func (e *CorruptionError) Error() string {
	return fmt.Sprintf("wal %s: segment %d at offset %d: %s", e.Dir, e.Segment, e.Offset, e.Err.Error())
}

// Unwrap returns the underlying cause.
func (e *CorruptionError) Unwrap() error { return e.Err }
