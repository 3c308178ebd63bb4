package index_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time used by the whole test process (all
// threads, the garbage collector included). On a shared, noisy machine it is
// a steadier measure than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
