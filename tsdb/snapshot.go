package tsdb

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
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

// Snapshot writes the cache to new level-1 files (one, or several of
// disjoint key ranges at once when the cache is big: see snapshotParts),
// installs them together and then removes the WAL segments they cover.
// Writes continue into a fresh cache while the files are written. A snapshot that fails keeps its cache readable and is
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
		parts := snapshotParts(s.cache.size.Load(), s.cfg.CacheSnapshotSize)
		if parts > 1 {
			// The cache outgrew the snapshot size while the last
			// snapshot was written: ingest outruns the snapshots, so
			// sparse runs wait (planLevel), as when writers find the
			// cache full. Splitting the snapshot lets writers wait less,
			// which must not let merges take the CPU it freed.
			s.lastBehind.Store(time.Now().UnixNano())
		}
		quick := !s.snapEnded.IsZero() && time.Since(s.snapEnded) < sparseBurstFill
		s.snap = &snapState{c: s.cache, seq: s.nextSeq, parts: parts, walSeg: seg, quick: quick}
		s.nextSeq += uint64(parts)
		s.cache = newCacheAfter(s.cache, s.cfg.CacheSnapshotSize)
	}
	snap := s.snap
	s.mu.Unlock()

	files, err := s.writeSnapshot(snap)
	if err != nil {
		return fmt.Errorf("snapshot shard %d: %w", s.id, err)
	}
	s.mu.Lock()
	s.files = append(s.files, files...)
	slices.SortFunc(s.files, fileOrder)
	s.snap = nil
	s.cache.dropPrev()
	s.signalCacheFreed()
	s.mu.Unlock()
	s.snapEnded = time.Now()
	if snap.quick && !slices.ContainsFunc(files, func(f *dataFile) bool { return !sparse(f) }) {
		// A burst of new series: its sparse runs wait (planLevel) even
		// when the snapshots keep up with it, which they did at a
		// million series until merging the first sparseLevelRun files
		// took 1 CPU-s from them during the load (issue 17).
		s.lastBurst.Store(s.snapEnded.UnixNano())
	}
	s.metrics.cacheBytes.Sub(float64(snap.c.size.Load()))
	snap.c.release()
	s.metrics.files.Add(float64(len(files)))
	s.metrics.snapshots.Inc()
	if err := s.wal.RemoveThrough(snap.walSeg); err != nil {
		// The data is safe in the files; the segments are replayed
		// harmlessly (same values) and removed by the next snapshot.
		s.logger.Warn("removing snapshotted wal segments failed", "segment", snap.walSeg, "err", err)
	}
	s.logger.Debug("cache snapshotted", "files", len(files), "first", files[0].path)
	return nil
}

// maxSnapshotParts bounds the files one snapshot is written as.
const maxSnapshotParts = 4

// snapshotParts returns how many files a cache of size bytes is written
// as, at once: one per CacheSnapshotSize it holds, up to the processors
// and maxSnapshotParts. A cache that grew past the snapshot size while
// the previous snapshot was written means ingest outruns one goroutine
// writing files, and writers then wait for room (backpressure) while the
// other processors idle (issue 17: at a million series one snapshot
// goroutine used one of two cores while writers waited 1.5 s). A cache
// of the snapshot size stays one file, so a steady load makes no more
// files than before.
func snapshotParts(size, snapshotSize int64) int {
	n := min(int64(min(runtime.GOMAXPROCS(0), maxSnapshotParts)), size/snapshotSize)
	return int(max(n, 1))
}

// writeSnapshot writes a snapshotting cache to its level-1 files: the
// cache's series in key order, cut into snap.parts consecutive ranges of
// as many series, each written to its file by a goroutine of its own, the
// first file taking snap.seq and each next one the next sequence. The
// files hold disjoint keys, so their order among themselves does not
// matter to newest-wins reads. On error every file written is removed.
func (s *Shard) writeSnapshot(snap *snapState) ([]*dataFile, error) {
	series := snap.c.sorted()
	defer series.release()
	n := len(series.order)
	parts := max(min(snap.parts, n), 1)
	files := make([]*dataFile, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		part := series.slice(n*i/parts, n*(i+1)/parts)
		wg.Go(func() { files[i], errs[i] = s.writeSnapshotFile(snap.seq+uint64(i), part) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, f := range files {
			if f != nil {
				f.obsolete.Store(true)
				f.release()
			}
		}
		return nil, err
	}
	return files, nil
}

// writeSnapshotFile writes series to the level-1 file of sequence seq.
func (s *Shard) writeSnapshotFile(seq uint64, series sortedSeries) (*dataFile, error) {
	id := fileID{minSeq: seq, seq: seq, level: 1}
	path := filepath.Join(s.dir, dataFileName(id.minSeq, id.seq, id.level))
	w, err := tsm.NewWriter(path)
	if err != nil {
		return nil, err
	}
	w.StableKeys() // the cache's keys, one string per series, outlive w
	dw := newDigestFileWriter(path, s.dig.window)
	err = series.walk(func(series, field []byte, arr *tsm.Array) error {
		dw.addArray(arr)
		return w.WriteValues(series, field, arr)
	}, func(series []byte, vals []tsm.OneValue) error {
		dw.addDerived(len(vals))
		return w.WriteOneValues(series, vals)
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
