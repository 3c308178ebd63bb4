//go:build !linux

package index

// newSlab returns a zeroed key slab of n bytes.
func newSlab(n int) []byte { return make([]byte, n) }

// newSlots returns a zeroed hash table of n slots.
func newSlots(n int) []uint64 { return make([]uint64, n) }
