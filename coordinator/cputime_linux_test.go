package coordinator_test

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time used by the calling OS thread (the caller
// must hold runtime.LockOSThread). On a shared, noisy machine CPU time is a
// far steadier measure than wall time.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
