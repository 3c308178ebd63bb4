package wal

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/strata-db/strata/internal/durable"

	"github.com/prometheus/client_golang/prometheus"
)

// Group buffers up to maxRetainedBuffer are always kept for reuse after a
// flush. A larger one is dropped once maxUnderusedFlushes groups in a row
// filled less than half of it: sustained heavy load, whose group sizes
// vary, does not reallocate, while a shard that saw one burst (or one
// oversize record) does not pin the memory.
const (
	maxRetainedBuffer   = 16 << 20
	maxUnderusedFlushes = 64
)

// WAL is a write-ahead log in one directory. Write, WriteMulti, Rotate,
// RemoveThrough, Segments, Size and Close are safe for concurrent use. Replay
// is meant to run once after Open, before the first Write, and must not run
// concurrently with RemoveThrough.
type WAL struct {
	dir     string
	cfg     Config
	logger  *slog.Logger
	metrics *Metrics
	// sync makes a group's written bytes durable; (*os.File).Sync except in
	// tests that need to hold a group commit open. A new segment's header is
	// synced directly.
	sync func(*os.File) error
	// write writes a group to a segment; (*os.File).Write except in tests
	// that inject a full disk.
	writeFile func(*os.File, []byte) (int, error)
	// recovered is the newest segment that existed before Open; Replay reads
	// the segments up to it.
	recovered uint64

	// mu protects the fields below up to segMu. cond (on mu) is broadcast
	// whenever a flush ends.
	mu   sync.Mutex
	cond sync.Cond
	// closed is set by Close; no record is accepted after it.
	closed bool
	// err is the first failure that leaves the segment's tail unknown: a
	// failed fsync (it may have dropped dirty pages), or a failed write
	// whose partial bytes could not be cut off. It is sticky: nothing more
	// is written until the WAL is reopened and the tail is checked.
	err error
	// failed lists Write calls whose group failed to write but was cut
	// back off the segment (a full disk): they get the error, later calls
	// go on.
	failed []failedCalls
	// file is the active segment, active its id, activeLen its length
	// counting bytes written, in flight and pending, and writtenLen its
	// length counting only the groups written successfully. file is nil
	// (and both lengths 0) until the first write after Open creates it.
	file       *os.File
	active     uint64
	activeLen  int64
	writtenLen int64
	// pending holds framed records waiting for the next flush; pendingRecs
	// counts them. spare is the buffer of the last flush, reused next.
	pending     []byte
	pendingRecs int
	spare       []byte
	// underused counts flushes in a row that used under half of a group
	// buffer larger than maxRetainedBuffer.
	underused int
	// pendingSeq numbers Write calls; syncedSeq is the highest number whose
	// group's flush ended: its record is durable unless failed names the
	// call. A flush covers every call numbered up to pendingSeq when it
	// starts; takenSeq is the highest number a flush has taken.
	pendingSeq uint64
	syncedSeq  uint64
	takenSeq   uint64
	// flushing is true while a writer has a group in flight with mu released.
	flushing bool

	// segMu protects sealed and segClosed. Lock order: mu, then segMu.
	segMu sync.Mutex
	// sealed lists the segments no longer written, ascending by id.
	sealed []segmentInfo
	// segClosed is set by Close, so that RemoveThrough, which does not take
	// mu while it works, stops touching files and metrics after Close.
	segClosed bool
}

// segmentInfo describes a sealed segment.
type segmentInfo struct {
	id   uint64
	size int64
}

// Open opens (creating it if needed) the WAL in dir. It checks the newest
// segment and truncates a torn or corrupt tail (logged, counted in
// strata_wal_corrupt_tail_truncations_total); the older segments are
// checked by Replay. Records go to a new active segment, whose file the
// first Write creates, so Open itself writes nothing and succeeds on a full
// disk (a Write then fails until there is room). A nil logger discards;
// a nil reg leaves the metrics unregistered (see Metrics for sharing a
// registry among many WALs).
func Open(dir string, cfg Config, logger *slog.Logger, reg prometheus.Registerer, opts ...Option) (*WAL, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if o.metrics == nil {
		m, err := NewMetrics(reg)
		if err != nil {
			return nil, err
		}
		o.metrics = m
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create wal dir: %w", err)
	}
	w := &WAL{
		dir:       dir,
		cfg:       cfg,
		logger:    logger,
		metrics:   o.metrics,
		sync:      (*os.File).Sync,
		writeFile: (*os.File).Write,
	}
	w.cond.L = &w.mu

	ids, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	next := uint64(1)
	if len(ids) > 0 {
		last := ids[len(ids)-1]
		keep, err := w.repairLast(last)
		if err != nil {
			return nil, err
		}
		if keep {
			next = last + 1
		} else {
			// The newest segment held no record and is gone; reuse its id.
			ids = ids[:len(ids)-1]
			next = last
		}
	}
	for _, id := range ids {
		fi, err := os.Stat(segmentPath(dir, id))
		if err != nil {
			return nil, fmt.Errorf("stat segment %d: %w", id, err)
		}
		w.sealed = append(w.sealed, segmentInfo{id: id, size: fi.Size()})
		w.recovered = id
	}
	// The active segment's file is created by the first write: Open writes
	// nothing, so a shard on a full disk still opens and serves reads.
	w.active = next
	w.metrics.segments.Add(float64(len(w.sealed)))
	logger.Info("wal opened", "dir", dir, "segments", len(w.sealed), "active_segment", next)
	return w, nil
}

// createActiveLocked creates the active segment's file if it does not exist
// yet (no record has been written since Open). On failure (a full disk) no
// file is left behind, and the next write tries again.
func (w *WAL) createActiveLocked() error {
	if w.file != nil {
		return nil
	}
	f, err := w.createSegment(w.active)
	if err != nil {
		return err
	}
	w.file, w.activeLen, w.writtenLen = f, segmentHeaderSize, segmentHeaderSize
	w.metrics.segments.Inc()
	return nil
}

// repairLast scans the newest segment and truncates it after its last valid
// record. It reports whether the segment still holds a record; if not, the
// file has been removed.
func (w *WAL) repairLast(id uint64) (keep bool, err error) {
	path := segmentPath(w.dir, id)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, fmt.Errorf("open segment %d: %w", id, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close segment %d: %w", id, cerr)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat segment %d: %w", id, err)
	}
	size := fi.Size()
	r := newSegmentReader(w.cfg.MaxRecordSize)
	r.reset(f, size)
	if err := r.readHeader(); err != nil {
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			// A complete header that is not ours (bad magic, newer version):
			// refuse rather than destroy what may be valid data.
			if errors.Is(err, ErrCorrupt) {
				return false, &CorruptionError{Dir: w.dir, Segment: id, Offset: 0, Err: err}
			}
			return false, fmt.Errorf("scan segment %d: %w", id, err)
		}
		// Torn header: the crash came right after the segment was created.
		if size > 0 {
			w.logger.Warn("wal removing segment with torn header", "segment", id, "size", size)
			w.metrics.tailTruncations.Inc()
		}
		return false, w.removeSegmentFile(id)
	}
	records := 0
	for {
		_, err := r.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				return false, fmt.Errorf("scan segment %d: %w", id, err)
			}
			cerr := &CorruptionError{Dir: w.dir, Segment: id, Offset: r.off, Err: err}
			w.logger.Warn("wal truncating corrupt tail", "segment", id, "offset", r.off,
				"dropped_bytes", size-r.off, "records_kept", records, "err", cerr)
			if err := f.Truncate(r.off); err != nil {
				return false, fmt.Errorf("truncate segment %d: %w", id, err)
			}
			if err := f.Sync(); err != nil {
				return false, fmt.Errorf("fsync segment %d: %w", id, err)
			}
			w.metrics.tailTruncations.Inc()
			break
		}
		records++
	}
	if records == 0 {
		return false, w.removeSegmentFile(id)
	}
	return true, nil
}

// createSegment creates segment id with its header, durably.
func (w *WAL) createSegment(id uint64) (*os.File, error) {
	path := segmentPath(w.dir, id)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment %d: %w", id, err)
	}
	fail := func(err error) (*os.File, error) {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	var hdr [segmentHeaderSize]byte
	if _, err := w.writeFile(f, appendSegmentHeader(hdr[:0])); err != nil {
		return fail(fmt.Errorf("write segment %d header: %w", id, err))
	}
	if !w.cfg.NoSync {
		if err := f.Sync(); err != nil {
			return fail(fmt.Errorf("fsync segment %d: %w", id, err))
		}
		if err := durable.SyncDir(w.dir); err != nil {
			return fail(err)
		}
	}
	return f, nil
}

// removeSegmentFile deletes segment id's file and makes that durable.
func (w *WAL) removeSegmentFile(id uint64) error {
	if err := os.Remove(segmentPath(w.dir, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove segment %d: %w", id, err)
	}
	if w.cfg.NoSync {
		return nil
	}
	return durable.SyncDir(w.dir)
}
