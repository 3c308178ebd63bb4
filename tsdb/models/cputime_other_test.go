//go:build !linux

package models_test

import "time"

var cpuStart = time.Now()

// threadCPU falls back to wall time where per-thread CPU time is not
// available.
func threadCPU() time.Duration { return time.Since(cpuStart) }
