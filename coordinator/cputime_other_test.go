//go:build !linux

package coordinator_test

import "time"

var cpuStart = time.Now()

// threadCPU stands in for the thread's CPU time where Linux's
// RUSAGE_THREAD is missing: wall time.
func threadCPU() time.Duration { return time.Since(cpuStart) }
