package hh

import (
	"errors"
	"fmt"
)

// Sentinel errors; check them with errors.Is.
var (
	// ErrQueueFull means an enqueue would take a queue past max-size. The
	// write it carried failed for that replica.
	ErrQueueFull = errors.New("hinted-handoff queue full")
	// ErrClosed means the Service or queue is closed.
	ErrClosed = errors.New("hinted handoff closed")
	// ErrCorrupt wraps every failure to decode a segment or position file.
	ErrCorrupt = errors.New("corrupt hinted-handoff data")
	// ErrRecordTooLarge means a batch does not fit a record (4 GiB).
	ErrRecordTooLarge = errors.New("batch too large for a hinted-handoff record")
)

// RejectError is what a Sender returns for a batch the destination can
// never accept, or accepted only in part: the shard is gone, the batch is
// corrupt, or some points conflict with a field's type. Replay counts the
// rejected points as dropped under Reason and moves on; it never retries
// such a record.
type RejectError struct {
	// Reason labels the drop in metrics: a short snake_case word such as
	// "shard_not_found", "type_conflict" or "corrupt_batch".
	Reason string
	// Points is how many of the record's points were rejected; 0 means
	// all of them.
	Points int
	// Err is the destination's answer.
	Err error
}

// Error implements error.
func (e *RejectError) Error() string {
	return fmt.Sprintf("batch rejected (%s): %v", e.Reason, e.Err)
}

// Unwrap returns Err.
func (e *RejectError) Unwrap() error { return e.Err }
