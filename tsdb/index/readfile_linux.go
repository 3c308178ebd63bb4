//go:build linux

package index

import (
	"fmt"
	"os"
	"syscall"
)

// readSnapshotFile returns the bytes of the snapshot at path and a release
// that must be called once nothing refers to them. The file is mapped
// (pages populated up front) rather than read: at a million series the
// copy into a fresh buffer and its page faults were a quarter of the
// restart's CPU. The load copies whatever it keeps
// (TestSnapshotLoadKeepsNoBytesOfTheFile).
func readSnapshotFile(path string) ([]byte, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := fi.Size()
	if size == 0 || int64(int(size)) != size {
		b, err := os.ReadFile(path)
		return b, func() {}, err
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return nil, nil, fmt.Errorf("map %s: %w", path, err)
	}
	return b, func() { _ = syscall.Munmap(b) }, nil
}
