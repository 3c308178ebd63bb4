package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-db/strata/internal/disktest"
)

// replayed returns the records w replays.
func replayed(t *testing.T, w *WAL) []string {
	t.Helper()
	var got []string
	if err := w.Replay(func(_ uint64, rec []byte) error {
		got = append(got, string(rec))
		return nil
	}); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return got
}

// replayAll returns the records a fresh WAL on dir replays.
func replayAll(t *testing.T, dir string) []string {
	t.Helper()
	w := openInternal(t, dir)
	defer w.Close()
	return replayed(t, w)
}

// TestOpenOnFullDisk: a WAL opens on a disk with no room for a new segment
// and replays what it holds (so a node can start and serve reads); a write
// fails with ENOSPC and leaves no file behind; once space is freed, writes
// succeed without reopening and survive a reopen. (Open used to create the
// active segment itself and failed, so the node could not start.)
func TestOpenOnFullDisk(t *testing.T) {
	mnt := disktest.MountTmpfsOrSkip(t, 256<<10)
	dir := filepath.Join(mnt, "wal")
	w := openInternal(t, dir)
	if _, err := w.Write([]byte("before")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	filler := disktest.Fill(t, mnt)

	w = openInternal(t, dir)
	got := replayed(t, w)
	if fmt.Sprint(got) != fmt.Sprint([]string{"before"}) {
		t.Errorf("replayed %q on a full disk; want [before]", got)
	}
	_, err := w.Write([]byte("while full"))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Write on a full disk: got %v; want ENOSPC", err)
	}
	if !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("Write error %q does not name the full disk", err)
	}
	if _, err := w.Write([]byte("still full")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("second Write on a full disk: got %v; want ENOSPC", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("WAL dir holds %d files after failed writes; want only the recovered segment", len(entries))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("after")); err != nil {
		t.Fatalf("Write once space is freed: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got = replayAll(t, dir)
	if fmt.Sprint(got) != fmt.Sprint([]string{"before", "after"}) {
		t.Errorf("replayed %q after reopening; want [before after]", got)
	}
}

// TestRotateBeforeFirstWrite: with nothing written since Open there is no
// active segment file; Rotate returns the newest recovered segment, which
// RemoveThrough may then delete, and later writes still go through.
func TestRotateBeforeFirstWrite(t *testing.T) {
	dir := t.TempDir()
	w := openInternal(t, dir)
	if _, err := w.Write([]byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openInternal(t, dir)
	sealed, err := w.Rotate()
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if sealed != 1 {
		t.Errorf("Rotate before any write sealed %d; want the recovered segment 1", sealed)
	}
	if err := w.RemoveThrough(sealed); err != nil {
		t.Fatalf("RemoveThrough(%d): %v", sealed, err)
	}
	if _, err := w.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := replayAll(t, dir); fmt.Sprint(got) != fmt.Sprint([]string{"new"}) {
		t.Errorf("replayed %q; want [new]", got)
	}
}
