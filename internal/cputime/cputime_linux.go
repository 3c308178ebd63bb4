// Package cputime reads the CPU time of the calling thread or of the whole
// process: on a shared, noisy machine a far steadier measure of work than
// wall time.
package cputime

import (
	"syscall"
	"time"
)

// rusageThread is Linux's RUSAGE_THREAD: the calling thread only.
const rusageThread = 1

// Thread returns the user+system CPU time of the calling OS thread (the
// caller holds runtime.LockOSThread), or 0 when it cannot be read.
func Thread() time.Duration {
	return rusage(rusageThread)
}

// Process returns the user+system CPU time of the whole process, or 0 when
// it cannot be read.
func Process() time.Duration {
	return rusage(syscall.RUSAGE_SELF)
}

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
