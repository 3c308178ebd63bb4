package wal

import (
	"fmt"
	"os"
	"time"
)

// Write appends rec as one record and returns once it is durable (fsynced,
// unless Config.NoSync), together with the id of the segment that holds it.
// rec is copied; the caller may reuse it when Write returns. Concurrent calls
// are grouped: one write system call and one fsync per group.
//
// A record over Config.MaxRecordSize fails with ErrRecordTooLarge, a closed
// WAL with ErrClosed. A failed write or fsync is returned to every writer of
// the group and to every later call: the WAL must be reopened.
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
	return segment, nil
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
	buf  []byte
	recs int
	upTo uint64 // pendingSeq covered
	file *os.File
	seg  uint64
}

// takeGroupLocked moves the pending records into a group.
func (w *WAL) takeGroupLocked() group {
	g := group{buf: w.pending, recs: w.pendingRecs, upTo: w.pendingSeq, file: w.file, seg: w.active}
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

// writeGroup writes a group with one write call and makes it durable with
// one fsync. It touches no field guarded by mu.
func (w *WAL) writeGroup(g group) error {
	if _, err := g.file.Write(g.buf); err != nil {
		return fmt.Errorf("write segment %d: %w", g.seg, err)
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
	if err != nil {
		if w.err == nil {
			w.err = err
			w.logger.Error("wal write failed; refusing further writes until reopened",
				"segment", g.seg, "err", err)
		}
	} else {
		w.syncedSeq = g.upTo
	}
	w.cond.Broadcast()
}

// Rotate seals the active segment, after making its pending records durable,
// and starts a new one; it returns the id of the sealed segment. Records
// written after Rotate returns go to the new segment, so once everything
// Write returned before the call is in the engine's files,
// RemoveThrough(sealed) may delete it.
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
	w.file, w.active, w.activeLen = f, next, segmentHeaderSize
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
	n := len(w.sealed) + 1
	w.segClosed = true
	w.segMu.Unlock()
	w.metrics.segments.Sub(float64(n))
	if err := w.file.Close(); err != nil {
		return fmt.Errorf("close segment %d: %w", w.active, err)
	}
	w.logger.Info("wal closed", "dir", w.dir)
	return nil
}
