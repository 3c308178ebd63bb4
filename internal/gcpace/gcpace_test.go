package gcpace

import (
	"runtime/debug"
	"sync"
	"testing"
)

// gcPercent reads the collector's target.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestTargetRaisedWhileQueriesRun checks that the target is the raised one
// from the first query's start to the last one's end, and the base one
// before and after, across overlapping queries.
func TestTargetRaisedWhileQueriesRun(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	Configure(30, 150)
	if got := gcPercent(); got != 30 {
		t.Fatalf("after Configure(30, 150): target %d, want 30", got)
	}
	end1 := Begin()
	if got := gcPercent(); got != 150 {
		t.Fatalf("one query running: target %d, want 150", got)
	}
	end2 := Begin()
	end1()
	if got := gcPercent(); got != 150 {
		t.Fatalf("second query still running: target %d, want 150", got)
	}
	end2()
	if got := gcPercent(); got != 30 {
		t.Fatalf("no query running: target %d, want 30", got)
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				Begin()()
			}
		})
	}
	wg.Wait()
	if got := gcPercent(); got != 30 {
		t.Fatalf("after concurrent queries: target %d, want 30", got)
	}
}

// TestPacingOffKeepsBase checks that raised 0 keeps the base target while
// queries run.
func TestPacingOffKeepsBase(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	Configure(30, 0)
	end := Begin()
	if got := gcPercent(); got != 30 {
		t.Fatalf("pacing off, query running: target %d, want 30", got)
	}
	end()
	if got := gcPercent(); got != 30 {
		t.Fatalf("pacing off, after the query: target %d, want 30", got)
	}
}
