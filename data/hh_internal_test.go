package data

import (
	"errors"
	"fmt"
	"testing"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/hh"
)

// TestRejectPermanent checks which replay answers hinted handoff skips for
// good (and under which reason) and which it retries.
func TestRejectPermanent(t *testing.T) {
	refused := errors.New("connection refused")
	for _, tc := range []struct {
		name   string
		err    error
		reason string // "" means retried (or nil: acknowledged)
		points int
	}{
		{"ok", nil, "", 0},
		{"transport", refused, "", 0},
		{"timeout", fmt.Errorf("write: %w", coordinator.ErrTimeout), "", 0},
		// A node not upgraded yet refuses a newer batch version: kept
		// until it is upgraded, never skipped as corrupt.
		{"older node", fmt.Errorf("write: %w", &coordinator.RPCError{StatusCode: 400, Code: "protocol_version",
			Message: "decode point batch: version 3, want 1 or 2: rpc protocol version mismatch: corrupt point batch"}), "", 0},
		{"shard gone", fmt.Errorf("write: %w", coordinator.ErrShardNotFound), "shard_not_found", 0},
		{"corrupt", fmt.Errorf("write: %w", coordinator.ErrCorruptBatch), "corrupt_batch", 0},
		{"too large", fmt.Errorf("write: %w", coordinator.ErrBodyTooLarge), "corrupt_batch", 0},
		{"type conflict", &coordinator.PartialWriteError{Reason: "field type conflict", Dropped: 3}, "type_conflict", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rejectPermanent(tc.err)
			var rej *hh.RejectError
			switch {
			case tc.reason == "" && errors.As(got, &rej):
				t.Errorf("rejectPermanent(%v) = %v; want it retried", tc.err, got)
			case tc.reason == "" && got != tc.err:
				t.Errorf("rejectPermanent(%v) = %v; want the error unchanged", tc.err, got)
			case tc.reason != "" && (!errors.As(got, &rej) || rej.Reason != tc.reason || rej.Points != tc.points):
				t.Errorf("rejectPermanent(%v) = %#v; want a RejectError %q of %d points", tc.err, got, tc.reason, tc.points)
			}
		})
	}
}
