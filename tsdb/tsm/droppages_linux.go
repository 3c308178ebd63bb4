package tsm

import "syscall"

// dropPages releases the process's resident pages of a mapping made by
// mapFile; the file's contents stay in the page cache and fault back in
// when read again.
func dropPages(b []byte) error { return syscall.Madvise(b, syscall.MADV_DONTNEED) }
