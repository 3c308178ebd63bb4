// Package disktest gives tests a small file system they can fill up: a
// size-limited tmpfs (which needs root) and a helper that fills it, for
// the disk-full behaviour of the WAL, the store and the fault campaign.
package disktest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// MountTmpfs mounts a tmpfs of size bytes on a fresh temporary directory
// and unmounts it when the test ends (cleanups run last-registered first,
// so after whatever the test registers later, such as processes using it).
// The error says why mounting failed, typically missing root rights.
func MountTmpfs(t testing.TB, size int64) (string, error) {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("mount a %d-byte tmpfs: %w: %s", size, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir, nil
}

// MountTmpfsOrSkip is MountTmpfs for tests that need the tmpfs: it skips
// the test, saying so plainly, where mounting is not allowed.
func MountTmpfsOrSkip(t testing.TB, size int64) string {
	t.Helper()
	dir, err := MountTmpfs(t, size)
	if err != nil {
		t.Skipf("SKIPPED: cannot mount a tmpfs (needs root): %v", err)
	}
	return dir
}

// Fill writes a file named filler in dir until its file system answers
// ENOSPC, and returns the file's path (remove it to free the space).
func Fill(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return path
		}
	}
}
