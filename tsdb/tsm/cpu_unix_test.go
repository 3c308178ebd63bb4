//go:build unix

package tsm_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) the process has used:
// the machine the benchmarks run on is shared, so CPU time per key is
// steadier than elapsed time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
