package wal

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/strata-db/strata/internal/durable"
)

// Replay calls fn for every record of the segments that existed when the WAL
// was opened, in write order, with the id of the segment holding it. rec is
// only valid during the call. The first error from fn stops the replay and is
// returned (wrapped).
//
// A segment older than the newest (whose tail Open already repaired) should
// end cleanly; if it holds corrupt bytes instead, its replay stops there, the
// corruption is logged and counted in strata_wal_corrupt_segments_total, and
// the replay goes on with the next segment.
//
// Replay does not see records written through this WAL. Call it once, before
// the first Write, and not concurrently with RemoveThrough.
func (w *WAL) Replay(fn func(segment uint64, rec []byte) error) error {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	var ids []uint64
	w.segMu.Lock()
	for _, s := range w.sealed {
		if s.id <= w.recovered {
			ids = append(ids, s.id)
		}
	}
	w.segMu.Unlock()
	r := newSegmentReader(w.cfg.MaxRecordSize)
	for _, id := range ids {
		if err := w.replaySegment(r, id, fn); err != nil {
			return err
		}
	}
	return nil
}

// replaySegment replays one segment with r.
func (w *WAL) replaySegment(r *segmentReader, id uint64, fn func(uint64, []byte) error) (err error) {
	f, err := os.Open(segmentPath(w.dir, id))
	if err != nil {
		return fmt.Errorf("replay segment %d: %w", id, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close segment %d: %w", id, cerr)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("replay segment %d: %w", id, err)
	}
	r.reset(f, fi.Size())
	err = r.readHeader()
	for err == nil {
		var rec []byte
		if rec, err = r.next(); err == nil {
			if ferr := fn(id, rec); ferr != nil {
				return fmt.Errorf("replay segment %d: %w", id, ferr)
			}
		}
	}
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.Is(err, ErrCorrupt):
		cerr := &CorruptionError{Dir: w.dir, Segment: id, Offset: r.off, Err: err}
		w.logger.Warn("wal segment corrupt; skipping the rest of it", "segment", id, "offset", r.off,
			"dropped_bytes", fi.Size()-r.off, "err", cerr)
		w.metrics.corruptSegments.Inc()
		return nil
	default:
		return fmt.Errorf("replay segment %d: %w", id, err)
	}
}

// RemoveThrough deletes the sealed segments with ids up to and including
// segment, once their records are in the engine's files. Asking to remove
// the active segment fails with ErrActiveSegment and removes nothing.
func (w *WAL) RemoveThrough(segment uint64) error {
	w.mu.Lock()
	closed, active := w.closed, w.active
	w.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if segment >= active {
		return fmt.Errorf("remove segments through %d (active %d): %w", segment, active, ErrActiveSegment)
	}
	w.segMu.Lock()
	defer w.segMu.Unlock()
	if w.segClosed {
		return ErrClosed
	}
	removed := 0
	var err error
	for _, s := range w.sealed {
		if s.id > segment {
			break
		}
		if rerr := os.Remove(segmentPath(w.dir, s.id)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = fmt.Errorf("remove segment %d: %w", s.id, rerr)
			break
		}
		removed++
	}
	if removed == 0 {
		return err
	}
	w.sealed = append(w.sealed[:0], w.sealed[removed:]...)
	w.metrics.segments.Sub(float64(removed))
	if !w.cfg.NoSync {
		if serr := durable.SyncDir(w.dir); err == nil {
			err = serr
		}
	}
	return err
}

// Segments returns the ids of the segment files, ascending; the last is the
// active segment.
func (w *WAL) Segments() []uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.segMu.Lock()
	defer w.segMu.Unlock()
	ids := make([]uint64, 0, len(w.sealed)+1)
	for _, s := range w.sealed {
		ids = append(ids, s.id)
	}
	return append(ids, w.active)
}

// Size returns the bytes in the segment files, counting the records of Write
// calls still in progress.
func (w *WAL) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.segMu.Lock()
	defer w.segMu.Unlock()
	n := w.activeLen
	for _, s := range w.sealed {
		n += s.size
	}
	return n
}
