//go:build !linux

package encoding_test

import "time"

// processCPU is not implemented on this platform.
func processCPU() (time.Duration, bool) { return 0, false }
