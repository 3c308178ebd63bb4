//go:build !linux

// Package cputime reads the CPU time of the calling thread or of the whole
// process: on a shared, noisy machine a far steadier measure of work than
// wall time.
package cputime

import "time"

// Thread is not measured outside Linux; 0 means unknown.
func Thread() time.Duration { return 0 }

// Process is not measured outside Linux; 0 means unknown.
func Process() time.Duration { return 0 }
