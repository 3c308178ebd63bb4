package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Write appends rec as one record and returns once it is durable (fsynced,
// unless Config.NoSync), together with the id of the segment that holds it.
// rec is copied; the caller may reuse it when Write returns. Concurrent calls
// are grouped: one write system call and one fsync per group.
//
// A record over Config.MaxRecordSize fails with ErrRecordTooLarge, a closed
// WAL with ErrClosed. A failed write (a full disk) is returned to every
// writer of the group; its partial bytes are cut off the segment and later
// calls go on. A failed fsync, or a failed write that cannot be cut off, is
// returned to every writer of the group and to every later call: the WAL
// must be reopened.
func (w *WAL) Write(rec []byte) (segment uint64, err error) {
	one := [1][]byte{rec}
	return w.write(one[:])
}

// WriteMulti is Write for several records that go, in order, into the same
// segment and the same group; they are all durable on return.
func (w *WAL) WriteMulti(recs ...[]byte) (segment uint64, err error) {
	return w.write(recs)
}

func (w *WAL) write(recs [][]byte) (uint64, error) {
	var size int64
	for _, rec := range recs {
		if len(rec) > w.cfg.MaxRecordSize {
			return 0, fmt.Errorf("write %d-byte record (max-record-size %d): %w", len(rec), w.cfg.MaxRecordSize, ErrRecordTooLarge)
		}
		size += recordHeaderSize + int64(len(rec))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		if err := w.usableLocked(); err != nil {
			return 0, err
		}
		if len(recs) == 0 {
			return w.active, nil
		}
		if err := w.createActiveLocked(); err != nil {
			return 0, err
		}
		if w.activeLen == segmentHeaderSize || w.activeLen+size <= w.cfg.SegmentSize {
			break
		}
		// The records do not fit: seal the active segment once its
		// in-flight group is durable.
		if w.flushing {
			w.cond.Wait()
			continue
		}
		if err := w.rotateLocked(); err != nil {
			return 0, err
		}
	}
	for _, rec := range recs {
		w.pending = appendRecord(w.pending, rec)
	}
	w.pendingRecs += len(recs)
	w.activeLen += size
	w.pendingSeq++
	seq, segment := w.pendingSeq, w.active
	for w.syncedSeq < seq {
		if w.err != nil {
			return 0, w.err
		}
		if w.flushing {
			w.cond.Wait()
			continue
		}
		w.flushGroupLocked()
	}
	if err := w.takeFailureLocked(seq); err != nil {
		return 0, err
	}
	return segment, nil
}

// failedCalls are the Write calls numbered from..to whose group failed;
// left counts those that have not yet collected err.
type failedCalls struct {
	from, to uint64
	left     int
	err      error
}

// takeFailureLocked returns the error of call seq's group if it failed.
func (w *WAL) takeFailureLocked(seq uint64) error {
	for i := range w.failed {
		f := &w.failed[i]
		if seq < f.from || seq > f.to {
			continue
		}
		err := f.err
		if f.left--; f.left == 0 {
			w.failed = append(w.failed[:i], w.failed[i+1:]...)
		}
		return err
	}
	return nil
}

// usableLocked reports why no record may be written, if so.
func (w *WAL) usableLocked() error {
	if w.closed {
		return ErrClosed
	}
	return w.err
}

// group is a batch of framed records on its way to the active segment.
type group struct {
	buf      []byte
	recs     int
	from     uint64 // first Write call covered
	upTo     uint64 // pendingSeq covered
	file     *os.File
	seg      uint64
	startLen int64 // the segment's length before the group
}

// takeGroupLocked moves the pending records into a group.
func (w *WAL) takeGroupLocked() group {
	g := group{buf: w.pending, recs: w.pendingRecs, from: w.takenSeq + 1, upTo: w.pendingSeq, file: w.file, seg: w.active,
		startLen: w.writtenLen}
	w.takenSeq = w.pendingSeq
	w.pending, w.spare, w.pendingRecs = w.spare[:0], nil, 0
	return g
}

// flushGroupLocked writes and syncs the pending records as one group with mu
// released, so that other writers can fill the next group meanwhile.
func (w *WAL) flushGroupLocked() {
	w.flushing = true
	g := w.takeGroupLocked()
	w.mu.Unlock()
	err := w.writeGroup(g)
	w.mu.Lock()
	w.finishGroupLocked(g, err)
}

// cutBackError is a failed write of a group whose bytes were cut off the
// segment again: the segment is as before the group.
type cutBackError struct{ err error }

func (e *cutBackError) Error() string { return e.err.Error() }
func (e *cutBackError) Unwrap() error { return e.err }

// writeGroup writes a group with one write call and makes it durable with
// one fsync. It touches no field guarded by mu. A failed write is cut off
// the segment (a *cutBackError) when truncating it back works.
func (w *WAL) writeGroup(g group) error {
	if _, err := w.writeFile(g.file, g.buf); err != nil {
		err = fmt.Errorf("write segment %d: %w", g.seg, err)
		if terr := g.file.Truncate(g.startLen); terr != nil {
			return err
		}
		if _, serr := g.file.Seek(g.startLen, io.SeekStart); serr != nil {
			return err
		}
		return &cutBackError{err}
	}
	if !w.cfg.NoSync {
		start := time.Now()
		err := w.sync(g.file)
		w.metrics.fsyncDuration.Observe(time.Since(start).Seconds())
		if err != nil {
			return fmt.Errorf("fsync segment %d: %w", g.seg, err)
		}
	}
	w.metrics.writes.Add(float64(g.recs))
	w.metrics.bytes.Add(float64(len(g.buf)))
	return nil
}

// finishGroupLocked records the outcome of a group and wakes its writers.
func (w *WAL) finishGroupLocked(g group, err error) {
	w.flushing = false
	switch c := cap(g.buf); {
	case c <= maxRetainedBuffer:
		w.spare = g.buf[:0]
	case c <= 2*len(g.buf):
		w.spare, w.underused = g.buf[:0], 0
	case w.underused < maxUnderusedFlushes:
		w.spare = g.buf[:0]
		w.underused++
	default:
		w.underused = 0 // drop the big buffer
	}
	if err == nil {
		w.syncedSeq = g.upTo
		w.writtenLen += int64(len(g.buf))
	} else {
		w.groupFailedLocked(g, err)
	}
	w.cond.Broadcast()
}

// groupFailedLocked records a failed group. Cut off the segment, it fails
// its writers alone and the next group may succeed (once the disk has room
// again); otherwise the WAL is broken.
func (w *WAL) groupFailedLocked(g group, err error) {
	var cut *cutBackError
	if errors.As(err, &cut) {
		w.activeLen -= int64(len(g.buf))
		w.failed = append(w.failed, failedCalls{from: g.from, to: g.upTo, left: int(g.upTo - g.from + 1), err: cut.err})
		w.syncedSeq = g.upTo
		w.logger.Warn("wal write failed; the group was cut off the segment and later writes are accepted",
			"segment", g.seg, "records", g.recs, "err", cut.err)
		return
	}
	if w.err == nil {
		w.err = err
		w.logger.Error("wal write failed; refusing further writes until reopened",
			"segment", g.seg, "err", err)
	}
}

// Rotate seals the active segment, after making its pending records durable,
// and starts a new one; it returns the id of the sealed segment. Records
// written after Rotate returns go to the new segment, so once everything
// Write returned before the call is in the engine's files,
// RemoveThrough(sealed) may delete it. If nothing was written since Open,
// the active segment has no file yet; Rotate then seals nothing and returns
// the newest older segment (0 if none), which holds every record so far.
func (w *WAL) Rotate() (sealed uint64, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		if err := w.usableLocked(); err != nil {
			return 0, err
		}
		if !w.flushing {
			break
		}
		w.cond.Wait()
	}
	if w.file == nil {
		// Nothing was written since Open: every record is in an older
		// segment, and the active one is still to be created.
		return w.active - 1, nil
	}
	sealed = w.active
	if err := w.rotateLocked(); err != nil {
		return 0, err
	}
	return sealed, nil
}

// rotateLocked flushes the pending records and replaces the active segment
// by a new one, all with mu held (rotations are rare, and holding mu keeps
// new records from joining the old segment). No flush may be in flight.
func (w *WAL) rotateLocked() error {
	if w.flushing {
		panic("BUG: wal: rotate during a flush")
	}
	if len(w.pending) > 0 {
		g := w.takeGroupLocked()
		err := w.writeGroup(g)
		w.finishGroupLocked(g, err)
		if err != nil {
			var cut *cutBackError
			if errors.As(err, &cut) {
				return cut.err
			}
			return err
		}
	}
	next := w.active + 1
	f, err := w.createSegment(next)
	if err != nil {
		// The active segment is intact and stays active.
		return fmt.Errorf("rotate wal: %w", err)
	}
	old, oldID, oldLen := w.file, w.active, w.activeLen
	w.file, w.active, w.activeLen, w.writtenLen = f, next, segmentHeaderSize, segmentHeaderSize
	if err := old.Close(); err != nil {
		// Its bytes were fsynced by the groups; a close error cannot lose them.
		w.logger.Warn("wal closing sealed segment failed", "segment", oldID, "err", err)
	}
	w.segMu.Lock()
	w.sealed = append(w.sealed, segmentInfo{id: oldID, size: oldLen})
	w.segMu.Unlock()
	w.metrics.segments.Inc()
	w.logger.Debug("wal segment sealed", "segment", oldID, "size", oldLen, "active_segment", next)
	return nil
}

// Close makes the records of in-flight Write calls durable (those calls
// return normally), closes the active segment and rejects later calls with
// ErrClosed. It is idempotent.
func (w *WAL) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	for w.flushing || (len(w.pending) > 0 && w.err == nil) {
		if w.flushing {
			w.cond.Wait()
			continue
		}
		w.flushGroupLocked()
	}
	w.segMu.Lock()
	n := len(w.sealed)
	w.segClosed = true
	w.segMu.Unlock()
	if w.file == nil {
		w.metrics.segments.Sub(float64(n))
		w.logger.Info("wal closed", "dir", w.dir)
		return nil
	}
	w.metrics.segments.Sub(float64(n + 1))
	if err := w.file.Close(); err != nil {
		return fmt.Errorf("close segment %d: %w", w.active, err)
	}
	w.logger.Info("wal closed", "dir", w.dir)
	return nil
}
