package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestMoveRunnerReportsInterruptedMoves checks the plain progress lines: a
// move the operator's interrupt stopped following is reported as left
// running on its destination, not as failed; a real failure still is.
func TestMoveRunnerReportsInterruptedMoves(t *testing.T) {
	var out bytes.Buffer
	r := &moveRunner{o: &ctlOptions{}, out: &out, active: map[uint64]string{}}
	m := shardMove{Shard: 7, Source: 1, Dest: 3, Remove: 1}
	stopped := fmt.Errorf("copy to node 3: stopped following the copy of shard 7 (it keeps running): %w", context.Canceled)
	r.finish(m, time.Now(), stopped, true, nil, 2)
	if got := out.String(); strings.Contains(got, "FAILED") || !strings.Contains(got, "interrupted; its copy keeps running on node 3") {
		t.Errorf("interrupted move: got %q, want it reported as interrupted with its copy running on node 3", got)
	}
	out.Reset()
	r.finish(m, time.Now(), errors.New("copy to node 3 failed: roots differ"), false, nil, 2)
	if got := out.String(); !strings.Contains(got, "FAILED") {
		t.Errorf("failed move: got %q, want FAILED", got)
	}
}
