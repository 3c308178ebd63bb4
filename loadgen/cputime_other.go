//go:build !linux

package loadgen

import "time"

// threadCPU is not measured outside Linux; 0 means unknown.
func threadCPU() time.Duration { return 0 }

// processCPU is not measured outside Linux; 0 means unknown.
func processCPU() time.Duration { return 0 }
