package cputime_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/cputime"
)

// TestThreadCountsWork checks that busy work on the calling thread shows
// in Thread and Process (on Linux, where they are measured).
func TestThreadCountsWork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU time is read on Linux only")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, p0 := cputime.Thread(), cputime.Process()
	x := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		x++
	}
	if t1, p1 := cputime.Thread(), cputime.Process(); t1 <= t0 || p1 <= p0 {
		t.Fatalf("after %d iterations of busy work: thread CPU %v → %v, process CPU %v → %v; want both to grow", x, t0, t1, p0, p1)
	}
}
