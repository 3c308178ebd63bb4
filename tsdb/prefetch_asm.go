//go:build amd64 || arm64

package tsdb

import "unsafe"

// prefetch asks the processor to load the cache line at p into its
// caches without waiting for it (a hint: it never faults, and locked
// instructions such as a mutex's unlock do not wait for it).
//
//go:noescape
func prefetch(p unsafe.Pointer)
