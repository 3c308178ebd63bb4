package tsdb

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"unsafe"

	"github.com/strata-db/strata/tsdb/tsm"
)

// requestSnapshot asks the background goroutine for a snapshot of a full
// cache without waiting; the request lapses if the cache is no longer full
// when it is served (see snapshotDue).
func (s *Shard) requestSnapshot() {
	select {
	case s.snapCh <- struct{}{}:
	default:
	}
}

// forceSnapshot is requestSnapshot for a writer waiting for room: the
// snapshot runs whatever the live cache's size.
func (s *Shard) forceSnapshot() {
	s.snapForced.Store(true) // before the send, so the request that serves it sees it
	s.requestSnapshot()
}

// snapshotDue reports whether a requested snapshot is still due when the
// background goroutine serves it: the live cache is full, a failed
// snapshot awaits its retry, or a writer waiting for room forced it.
// Writers that find the cache full keep requesting until a snapshot swaps
// it out, so a request left pending by them asks for the fresh cache;
// serving it wrote every other snapshot of the 1-node load with a fifth
// of the values of the others (issue 17).
func (s *Shard) snapshotDue() bool {
	forced := s.snapForced.Swap(false)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return forced || s.snap != nil || s.cache.full(s.cfg.CacheSnapshotSize)
}

// Snapshot writes the cache to a new level-1 file and then removes the WAL
// segments the file covers. Writes continue into a fresh cache while the
// file is written. A snapshot that fails keeps its cache readable and is
// retried by the next call. Safe for concurrent use (snapshots serialize).
func (s *Shard) Snapshot() error {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if s.closed.Load() {
		return ErrEngineClosed
	}
	s.mu.Lock()
	if s.snap == nil {
		if s.cache.size.Load() == 0 {
			s.mu.Unlock()
			return nil
		}
		seg, err := s.wal.Rotate()
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("snapshot shard %d: %w", s.id, err)
		}
		s.snap = &snapState{c: s.cache, seq: s.nextSeq, walSeg: seg}
		s.nextSeq++
		s.cache = newCacheAfter(s.cache, s.cfg.CacheSnapshotSize)
	}
	snap := s.snap
	s.mu.Unlock()

	f, err := s.writeSnapshot(snap)
	if err != nil {
		return fmt.Errorf("snapshot shard %d: %w", s.id, err)
	}
	s.mu.Lock()
	s.files = append(s.files, f)
	slices.SortFunc(s.files, fileOrder)
	s.snap = nil
	s.cache.dropPrev()
	s.signalCacheFreed()
	s.mu.Unlock()
	s.metrics.cacheBytes.Sub(float64(snap.c.size.Load()))
	snap.c.release()
	s.metrics.files.Inc()
	s.metrics.snapshots.Inc()
	if err := s.wal.RemoveThrough(snap.walSeg); err != nil {
		// The data is safe in the file; the segments are replayed
		// harmlessly (same values) and removed by the next snapshot.
		s.logger.Warn("removing snapshotted wal segments failed", "segment", snap.walSeg, "err", err)
	}
	s.logger.Debug("cache snapshotted", "file", f.path, "bytes", f.size)
	return nil
}

// writeSnapshot writes a snapshotting cache to its level-1 file.
func (s *Shard) writeSnapshot(snap *snapState) (*dataFile, error) {
	id := fileID{minSeq: snap.seq, seq: snap.seq, level: 1}
	path := filepath.Join(s.dir, dataFileName(id.minSeq, id.seq, id.level))
	w, err := tsm.NewWriter(path)
	if err != nil {
		return nil, err
	}
	w.StableSeriesKeys() // the cache's keys, one string per series, outlive w
	dw := newDigestFileWriter(path, s.dig.window)
	err = snap.c.forEachSorted(func(series, field []byte, arr *tsm.Array) error {
		dw.addArray(arr)
		return w.WriteValues(series, field, arr)
	})
	if err != nil {
		dw.abort()
		_ = w.Remove()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		dw.abort()
		_ = w.Remove()
		return nil, fmt.Errorf("close %s: %w", path, err)
	}
	s.finishDigestFile(dw.finish())
	f, err := openWrittenFile(w, id)
	if err != nil {
		return nil, fmt.Errorf("reopen %s: %w", path, err)
	}
	return f, nil
}

// compareCompositeKeys orders composite keys as data files do: by series
// key, then field key.
func compareCompositeKeys(a, b string) int {
	// Read-only views of the strings: converting them would copy two keys
	// per comparison of every sort.
	as, af, _ := splitCompositeKey(unsafe.Slice(unsafe.StringData(a), len(a)))
	bs, bf, _ := splitCompositeKey(unsafe.Slice(unsafe.StringData(b), len(b)))
	if c := bytes.Compare(as, bs); c != 0 {
		return c
	}
	return bytes.Compare(af, bf)
}
