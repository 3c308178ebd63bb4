//go:build linux

package index

import (
	"syscall"
	"unsafe"
)

// hugePageSize is the transparent huge page size adviseHugePages assumes.
const hugePageSize = 2 << 20

// newSlab returns a zeroed key slab of n bytes (see adviseHugePages).
func newSlab(n int) []byte {
	b := make([]byte, n)
	adviseHugePages(b)
	return b
}

// newSlots returns a zeroed hash table of n slots (see adviseHugePages).
func newSlots(n int) []uint64 {
	s := make([]uint64, n)
	adviseHugePages(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), 8*n))
	return s
}

// adviseHugePages advises the kernel to back the huge-page-aligned part of
// fresh memory b by huge pages (with transparent huge pages on "madvise",
// the usual setting), when b spans at least two: the first write to a
// page of fresh memory costs a fault, ~15-25 µs of system time on the VMs
// we measure on, and a huge page takes one fault for 512 pages (about
// half the time in all: the kernel still zeroes 2 MiB). At a million
// series the keys take 130 MB and the key table 16 MB. Failure to advise
// (no transparent huge pages) leaves b as it is.
func adviseHugePages(b []byte) {
	if len(b) < 2*hugePageSize {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	from := (start+hugePageSize-1)&^(hugePageSize-1) - start
	to := (start+uintptr(len(b)))&^(hugePageSize-1) - start
	_ = syscall.Madvise(b[from:to], syscall.MADV_HUGEPAGE)
}
