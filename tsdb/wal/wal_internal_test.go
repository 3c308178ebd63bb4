package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// blockingSync is a sync hook that holds the first fsync until released.
type blockingSync struct {
	mu      sync.Mutex
	calls   int
	started chan struct{} // closed when the first fsync begins
	release chan struct{} // closed to let it finish
	fail    error         // returned by every fsync if set
}

func newBlockingSync() *blockingSync {
	return &blockingSync{started: make(chan struct{}), release: make(chan struct{})}
}

func (b *blockingSync) sync(f *os.File) error {
	b.mu.Lock()
	b.calls++
	first := b.calls == 1
	b.mu.Unlock()
	if first {
		close(b.started)
		<-b.release
	}
	if b.fail != nil {
		return b.fail
	}
	return f.Sync()
}

func (b *blockingSync) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// waitStarted waits until the first fsync is being held.
func waitStarted(t *testing.T, hook *blockingSync) {
	t.Helper()
	select {
	case <-hook.started:
	case <-time.After(10 * time.Second):
		t.Fatalf("no fsync began within 10s of a Write")
	}
}

// waitPending waits until n records wait for the next group.
func waitPending(t *testing.T, w *WAL, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		got := w.pendingRecs
		w.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending records = %d; want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func openInternal(t *testing.T, dir string) *WAL {
	t.Helper()
	cfg := NewConfig()
	cfg.SegmentSize = 1 << 20
	w, err := Open(dir, cfg, nil, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return w
}

// startWrites starts n writers of distinct records and returns a channel of
// their results.
func startWrites(w *WAL, wg *sync.WaitGroup, first, n int) <-chan error {
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := w.Write(fmt.Appendf(nil, "record %d", first+i))
			errs <- err
		})
	}
	return errs
}

func TestGroupCommitSharesFsync(t *testing.T) {
	dir := t.TempDir()
	w := openInternal(t, dir)
	hook := newBlockingSync()
	w.sync = hook.sync

	var wg sync.WaitGroup
	firstErr := startWrites(w, &wg, 0, 1)
	waitStarted(t, hook)
	// While the first group's fsync is held, five more writers queue up.
	const queued = 5
	restErr := startWrites(w, &wg, 1, queued)
	waitPending(t, w, queued)
	// No Write may return while the fsync of its record is held.
	select {
	case err := <-firstErr:
		t.Fatalf("first Write returned (error %v) before its fsync finished", err)
	case err := <-restErr:
		t.Fatalf("queued Write returned (error %v) before any fsync of its record", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(hook.release)
	wg.Wait()
	if err := <-firstErr; err != nil {
		t.Fatalf("first Write: %v", err)
	}
	for range queued {
		if err := <-restErr; err != nil {
			t.Fatalf("queued Write: %v", err)
		}
	}
	if n := hook.count(); n != 2 {
		t.Errorf("fsyncs for 1 + %d concurrent writes = %d; want 2 (one per group)", queued, n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openInternal(t, dir)
	defer w.Close()
	n := 0
	if err := w.Replay(func(uint64, []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1+queued {
		t.Errorf("replayed %d records; want %d", n, 1+queued)
	}
}

func TestCloseWaitsForInFlightWrites(t *testing.T) {
	dir := t.TempDir()
	w := openInternal(t, dir)
	hook := newBlockingSync()
	w.sync = hook.sync

	var wg sync.WaitGroup
	firstErr := startWrites(w, &wg, 0, 1)
	waitStarted(t, hook)
	restErr := startWrites(w, &wg, 1, 2)
	waitPending(t, w, 2)
	closed := make(chan error, 1)
	wg.Go(func() { closed <- w.Close() })
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a group was in flight; want it to wait", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(hook.release)
	wg.Wait()
	if err := <-closed; err != nil {
		t.Errorf("Close: got %v; want nil", err)
	}
	if err := <-firstErr; err != nil {
		t.Errorf("in-flight Write: got %v; want nil", err)
	}
	for range 2 {
		if err := <-restErr; err != nil {
			t.Errorf("queued Write during Close: got %v; want nil", err)
		}
	}
	w = openInternal(t, dir)
	defer w.Close()
	var got []string
	if err := w.Replay(func(_ uint64, rec []byte) error { got = append(got, string(rec)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Errorf("replayed %q; want 3 records", got)
	}
}

func TestFsyncFailureIsSticky(t *testing.T) {
	dir := t.TempDir()
	w := openInternal(t, dir)
	defer w.Close()
	hook := newBlockingSync()
	hook.fail = errors.New("injected EIO")
	w.sync = hook.sync

	var wg sync.WaitGroup
	firstErr := startWrites(w, &wg, 0, 1)
	waitStarted(t, hook)
	restErr := startWrites(w, &wg, 1, 3)
	waitPending(t, w, 3)
	close(hook.release)
	wg.Wait()
	if err := <-firstErr; !errors.Is(err, hook.fail) {
		t.Errorf("Write whose fsync failed: got %v; want the fsync error", err)
	}
	// The queued writers' group is never attempted: the WAL is broken.
	for range 3 {
		if err := <-restErr; !errors.Is(err, hook.fail) {
			t.Errorf("queued Write: got %v; want the fsync error", err)
		}
	}
	if _, err := w.Write([]byte("later")); !errors.Is(err, hook.fail) {
		t.Errorf("Write after a failed fsync: got %v; want the sticky fsync error", err)
	}
	if _, err := w.Rotate(); !errors.Is(err, hook.fail) {
		t.Errorf("Rotate after a failed fsync: got %v; want the sticky fsync error", err)
	}
	if n := hook.count(); n != 1 {
		t.Errorf("fsync calls = %d; want 1", n)
	}
}

func TestSteadyStateWriteAllocations(t *testing.T) {
	w := openInternal(t, t.TempDir())
	defer w.Close()
	w.cfg.NoSync = true
	rec := bytes.Repeat([]byte{7}, 4096)
	if _, err := w.Write(rec); err != nil { // grow the buffers once
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("allocations per Write = %v; want 0", allocs)
	}
}

func TestBigGroupBufferReleased(t *testing.T) {
	w := openInternal(t, t.TempDir())
	defer w.Close()
	w.cfg.NoSync = true
	big := make([]byte, 2*maxRetainedBuffer)
	if _, err := w.Write(big); err != nil {
		t.Fatal(err)
	}
	bufCaps := func() (int, int) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return cap(w.pending), cap(w.spare)
	}
	if _, spare := bufCaps(); spare < len(big) {
		t.Fatalf("spare buffer after a %d-byte group: cap %d; want it kept for reuse", len(big), spare)
	}
	// The two group buffers alternate, so the big one serves every other
	// group.
	small := []byte("small record")
	for range 2 * (maxUnderusedFlushes + 1) {
		if _, err := w.Write(small); err != nil {
			t.Fatal(err)
		}
	}
	if pending, spare := bufCaps(); pending > maxRetainedBuffer || spare > maxRetainedBuffer {
		t.Errorf("buffer caps after %d small groups = %d, %d; want both <= %d", 2*(maxUnderusedFlushes+1), pending, spare, maxRetainedBuffer)
	}
}

// fullDisk is a segment-write hook that, while full is set, writes half
// of the buffer and fails with ENOSPC, as a write to a file system that
// fills up midway does.
type fullDisk struct {
	mu   sync.Mutex
	full bool
}

func (d *fullDisk) set(full bool) {
	d.mu.Lock()
	d.full = full
	d.mu.Unlock()
}

func (d *fullDisk) write(f *os.File, b []byte) (int, error) {
	d.mu.Lock()
	full := d.full
	d.mu.Unlock()
	if !full {
		return f.Write(b)
	}
	n, err := f.Write(b[:len(b)/2])
	if err != nil {
		return n, err
	}
	return n, syscall.ENOSPC
}

// TestFullDiskIsNotSticky: writes that fail because the disk is full
// (part of their bytes written) fail alone, also when they share a group;
// once there is room again writes succeed without reopening, and a
// reopened WAL replays exactly the records whose Write succeeded (the
// half-written bytes, had they stayed, would be corruption inside the
// sealed segment).
func TestFullDiskIsNotSticky(t *testing.T) {
	dir := t.TempDir()
	w := openInternal(t, dir)
	disk := &fullDisk{}
	w.writeFile = disk.write
	hook := newBlockingSync()
	w.sync = hook.sync

	// "record 0" is written and its fsync held; three more queue up as one
	// group, and the disk fills before that group is written.
	var wg sync.WaitGroup
	firstErr := startWrites(w, &wg, 0, 1)
	waitStarted(t, hook)
	restErr := startWrites(w, &wg, 1, 3)
	waitPending(t, w, 3)
	disk.set(true)
	close(hook.release)
	wg.Wait()
	if err := <-firstErr; err != nil {
		t.Fatalf("Write before the disk filled: %v", err)
	}
	for range 3 {
		if err := <-restErr; !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Write of the group that hit the full disk: got %v; want ENOSPC", err)
		}
	}
	if _, err := w.Write([]byte("while full")); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Write while the disk is full: got %v; want ENOSPC", err)
	}
	disk.set(false)
	if _, err := w.Write([]byte("after")); err != nil {
		t.Fatalf("Write once the disk has room again: %v", err)
	}
	if _, err := w.Rotate(); err != nil {
		t.Fatalf("Rotate once the disk has room again: %v", err)
	}
	if _, err := w.Write([]byte("next segment")); err != nil {
		t.Fatalf("Write after the rotation: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	got := replayAll(t, dir)
	want := []string{"record 0", "after", "next segment"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("replayed %q; want %q", got, want)
	}
}
