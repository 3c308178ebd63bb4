package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/strata-db/strata/internal/durable"
)

// File names inside the index directory.
const (
	logFileName      = "index.log"
	snapshotFileName = "index.snap"
	tmpSuffix        = ".tmp"
)

// logMagic heads the log: 8 bytes, the last one the format version.
var logMagic = []byte("STRXILG1")

// logFile is the open, append-only index log.
//
// Changes are queued to it in the order they are made in memory, under
// Index.mu, and written and fsynced by sync, which a batch of new series
// calls after it released Index.mu (see createSlow), so that the other
// writers need not wait for the disk. Whoever syncs writes everything
// queued so far, one write and one fsync for all the batches waiting
// (group commit); the others wait for it.
type logFile struct {
	f *os.File
	// size is the log's length once every record queued is written
	// (guarded by Index.mu).
	size int64
	// durable is the series id below which every series is durable.
	durable atomic.Uint32

	mu   sync.Mutex // guards the fields below
	cond sync.Cond  // signalled when a write ends
	// pending holds the records queued and not yet being written; queued
	// is the log's length after them and queuedID the next series id when
	// they were queued.
	pending  []byte
	queued   int64
	queuedID uint32
	spare    []byte // a buffer for pending while a write uses the other
	synced   int64  // the length written and fsynced
	writing  bool
	// failed is the first failed write or fsync: the log's content after
	// the last good record is then unknown, so no later record may follow
	// it.
	failed error
}

// newLogFile returns the log of f, whose length is size, holding every
// series below nextID.
func newLogFile(f *os.File, size int64, nextID uint32) *logFile {
	l := &logFile{f: f, size: size, queued: size, synced: size}
	l.cond.L = &l.mu
	l.durable.Store(nextID)
	return l
}

// append writes b, the records of changes made with series ids below
// nextID, and fsyncs it. The caller holds Index.mu for writing.
func (l *logFile) append(b []byte, nextID uint32) error {
	return l.sync(l.queue(b, nextID))
}

// queue copies b, the records of changes made with series ids below nextID,
// to the pending records, and returns the log's length after them, for
// sync. The caller holds Index.mu for writing.
func (l *logFile) queue(b []byte, nextID uint32) int64 {
	l.size += int64(len(b))
	l.mu.Lock()
	l.pending = append(l.pending, b...)
	l.queued, l.queuedID = l.size, nextID
	l.mu.Unlock()
	return l.size
}

// sync returns once the log is written and fsynced up to length end, or
// with the failure that keeps it from being so.
func (l *logFile) sync(end int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.synced < end {
		switch {
		case l.failed != nil:
			return fmt.Errorf("index log failed earlier: %w", l.failed)
		case l.writing:
			l.cond.Wait()
		default:
			l.writePending()
		}
	}
	return nil
}

// syncID returns once every series below id+1 is durable (see sync); it
// was in memory when the caller last held Index.mu, so it is queued.
func (l *logFile) syncID(id uint32) error {
	if id < l.durable.Load() {
		return nil
	}
	l.mu.Lock()
	end := l.queued
	l.mu.Unlock()
	return l.sync(end)
}

// writePending writes and fsyncs the pending records, releasing mu
// meanwhile. The caller holds mu.
func (l *logFile) writePending() {
	buf, end, id := l.pending, l.queued, l.queuedID
	l.pending = l.spare[:0]
	l.writing = true
	l.mu.Unlock()
	_, err := l.f.Write(buf)
	if err != nil {
		err = fmt.Errorf("write index log: %w", err)
	} else if err = l.f.Sync(); err != nil {
		err = fmt.Errorf("sync index log: %w", err)
	}
	l.mu.Lock()
	l.spare = buf[:0]
	l.writing = false
	if err != nil {
		l.failed = err
	} else {
		l.synced = end
		l.durable.Store(id)
	}
	l.cond.Broadcast()
}

// close writes what is queued and closes the file. The caller holds
// Index.mu for writing.
func (l *logFile) close() error {
	err := l.sync(l.size)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// load reads the snapshot and the log into memory and opens the log for
// appending. Called once, by Open.
func (ix *Index) load() error {
	if err := os.MkdirAll(ix.dir, 0o755); err != nil {
		return fmt.Errorf("create index dir: %w", err)
	}
	ix.loading = true
	// A leftover temporary file is an interrupted snapshot; the previous
	// snapshot and log are still complete.
	for _, name := range []string{snapshotFileName + tmpSuffix, logFileName + tmpSuffix} {
		if err := os.Remove(filepath.Join(ix.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	snapPath := filepath.Join(ix.dir, snapshotFileName)
	snap, release, err := readSnapshotFile(snapPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read snapshot: %w", err)
	default:
		err := ix.replaySnapshot(snap)
		release()
		if err != nil {
			return fmt.Errorf("replay %s: %w", snapPath, err)
		}
		ix.snapBytes = int64(len(snap))
	}

	logPath := filepath.Join(ix.dir, logFileName)
	f, err := os.OpenFile(logPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open index log: %w", err)
	}
	good, err := ix.replayLog(f, logPath)
	if err != nil {
		f.Close()
		return err
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("seek index log: %w", err)
	}
	ix.log = newLogFile(f, good, ix.nextID)
	ix.buildPostings()
	ix.loading = false
	if good > ix.compactBytes {
		if err := ix.compactNow(); err != nil {
			ix.log.close()
			return err
		}
	}
	return nil
}

// replayLog applies the log's records and returns the offset after the last
// good record. A torn tail (see tornTail) is truncated there and logged: it
// was never acknowledged. Any other bad record fails the replay with
// ErrCorrupt and changes nothing: a record in the middle of the log (or a
// complete one at its end) that does not decode or apply is damage, and
// truncating there would silently drop every later record.
func (ix *Index) replayLog(f *os.File, path string) (int64, error) {
	data, err := readAll(f)
	if err != nil {
		return 0, fmt.Errorf("read index log: %w", err)
	}
	if len(data) < len(logMagic) || !bytes.Equal(data[:len(logMagic)], logMagic) {
		if len(data) >= len(logMagic) || !bytes.HasPrefix(logMagic, data) {
			return 0, fmt.Errorf("index log %s: bad header %q: %w", path, data[:min(len(data), len(logMagic))], ErrCorrupt)
		}
		// Empty, or torn while writing the header: start afresh.
		if err := writeHeader(f, logMagic); err != nil {
			return 0, err
		}
		return int64(len(logMagic)), nil
	}
	off := len(logMagic)
	n := 0
	for off < len(data) {
		r, size, err := decodeRecord(data[off:], maxRecordSize)
		if err != nil && tornTail(data[off:], err) {
			ix.logger.Warn("truncating torn index log tail", "path", path, "offset", off,
				"dropped_bytes", len(data)-off, "records", n, "err", err)
			if err := f.Truncate(int64(off)); err != nil {
				return 0, fmt.Errorf("truncate index log: %w", err)
			}
			if err := f.Sync(); err != nil {
				return 0, fmt.Errorf("sync index log: %w", err)
			}
			break
		}
		if err == nil {
			err = ix.applyRecord(&r)
		}
		if err != nil {
			return 0, fmt.Errorf("index log %s: record %d at offset %d, %d bytes before the end: %w "+
				"(not a torn tail, so the records after it are kept and the shard is not opened; restore it from a replica)",
				path, n+1, off, len(data)-off, errors.Join(err, ErrCorrupt))
		}
		off += size
		n++
	}
	return int64(off), nil
}

// tornTail reports whether rest, the log from a record that failed to
// decode with err to its end, is what a crash during an append leaves: a
// record cut short, zeros where the file grew but the data never landed,
// or a last record whose checksum fails. A complete record followed by
// more bytes, or one whose checksum holds, is not.
func tornTail(rest []byte, err error) bool {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case bytes.Count(rest, []byte{0}) == len(rest):
		return true
	case errors.Is(err, errChecksum):
		return recHeaderSize+int64(binary.LittleEndian.Uint32(rest)) == int64(len(rest))
	}
	return false
}

func writeHeader(f *os.File, magic []byte) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate index log: %w", err)
	}
	if _, err := f.WriteAt(magic, 0); err != nil {
		return fmt.Errorf("write index log header: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync index log: %w", err)
	}
	return nil
}

// applyRecord applies one decoded record to memory.
func (ix *Index) applyRecord(r *record) error {
	switch r.typ {
	case recSeriesCreated:
		// Ids are handed out in order, so a record never names an id past
		// the next one; refusing that also bounds the id table's growth.
		if r.id > uint64(ix.nextID) {
			return fmt.Errorf("series record id %d beyond next id %d: %w", r.id, ix.nextID, ErrCorrupt)
		}
		return ix.applySeries(uint32(r.id), r.key)
	case recFieldCreated:
		ix.applyField(r.measurement, r.field, r.fieldType)
	case recSeriesDropped:
		if r.id != 0 && r.id <= maxSeriesID {
			ix.applyDropSeries([]uint32{uint32(r.id)})
		}
	case recMeasurementDropped:
		ix.applyDropMeasurement(r.measurement)
	case recNextID:
		if r.id > maxSeriesID+1 {
			return fmt.Errorf("next id %d: %w", r.id, ErrCorrupt)
		}
		if uint32(r.id) > ix.nextID {
			ix.nextID = uint32(r.id)
		}
	default:
		return fmt.Errorf("unexpected record type %d: %w", r.typ, ErrCorrupt)
	}
	return nil
}

// maybeCompact starts folding the log into a snapshot in the background
// (compact) when the log has grown past compactBytes, or past the last
// snapshot's size when that is larger. The caller holds ix.mu; the writer
// whose batch pushed the log over the limit does not wait for the snapshot.
func (ix *Index) maybeCompact() {
	if ix.closed || ix.err != nil || ix.compacting || ix.log.size <= max(ix.compactBytes, snapshotGrowth*ix.snapBytes) {
		return
	}
	ix.compacting = true
	ix.compactions.Add(1)
	go ix.compact()
}

// compact writes a snapshot and hands the log over to a new one (see
// switchLog). It encodes the fields and the postings under the read locks
// and the series records, most of the snapshot, under no index lock (see
// snapshotCut), so writes of new series go on meanwhile (at a million new
// series both writers waited for the encoding); it holds snapMu
// throughout, so drops wait. It writes and fsyncs the file without the
// locks. Until the hand-over the log holds every change, so a crash at
// any point loses nothing.
func (ix *Index) compact() {
	defer ix.compactions.Done()
	tmp := filepath.Join(ix.dir, snapshotFileName+tmpSuffix)
	ix.snapMu.Lock()
	ix.rlockPostings()
	var (
		f    *os.File
		buf  *snapshotBuf
		cut  *snapshotCut
		size int64
		off  int64
		err  = ErrClosed
	)
	if !ix.closed {
		if f, err = createSnapshot(tmp); err == nil {
			buf, cut = ix.encodeHead(f)
			off = ix.log.size
		}
	}
	ix.runlockPostings()
	if err == nil {
		encodeSeries(buf, cut)
		ix.rlockPostings()
		ix.encodePostings(buf, cut)
		ix.runlockPostings()
		size, err = snapshotWritten(f, buf)
	}
	ix.snapMu.Unlock()
	if err == nil {
		err = syncClose(f)
	}

	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.compacting = false
	if err == nil && ix.err != nil {
		err = fmt.Errorf("index log failed during the snapshot: %w", ix.err)
	}
	if err == nil {
		if err = ix.switchLog(off); err != nil {
			// Which log file the name points at is now uncertain: refuse
			// changes until a reopen replays whatever is on disk.
			ix.err = err
			ix.logger.Error("index snapshot failed; refusing changes until reopened", "dir", ix.dir, "err", err)
			return
		}
		ix.snapBytes = size
		ix.logger.Info("index snapshot written", "dir", ix.dir, "series", ix.series.live, "bytes", ix.snapBytes)
		return
	}
	os.Remove(tmp)
	if !errors.Is(err, ErrClosed) {
		ix.logger.Error("index snapshot failed", "dir", ix.dir, "err", err)
	}
}

// compactNow writes a snapshot synchronously; for Open, before the index
// is shared.
func (ix *Index) compactNow() error {
	f, size, err := ix.writeSnapshot(filepath.Join(ix.dir, snapshotFileName+tmpSuffix))
	if err == nil {
		err = syncClose(f)
	}
	if err != nil {
		return err
	}
	if err := ix.switchLog(ix.log.size); err != nil {
		return err
	}
	ix.snapBytes = size
	return nil
}

// switchLog installs the snapshot written to its temporary file and starts
// a new log holding the records appended to the old log since offset off
// (when the snapshot was encoded). The caller holds ix.mu. Crash safety:
// the new log is complete and synced before either rename; after the
// snapshot's rename and before the log's, the directory holds the new
// snapshot and the whole old log, and replaying that is idempotent.
func (ix *Index) switchLog(off int64) error {
	// Batches of new series may still be writing their records (see
	// createSlow).
	if err := ix.log.sync(ix.log.size); err != nil {
		return err
	}
	tail := make([]byte, len(logMagic)+int(ix.log.size-off))
	copy(tail, logMagic)
	if _, err := ix.log.f.ReadAt(tail[len(logMagic):], off); err != nil {
		return fmt.Errorf("read index log tail: %w", err)
	}
	if err := durable.WriteFile(filepath.Join(ix.dir, logFileName+tmpSuffix), tail); err != nil {
		return fmt.Errorf("write new index log: %w", err)
	}
	for _, name := range []string{snapshotFileName, logFileName} {
		if err := os.Rename(filepath.Join(ix.dir, name+tmpSuffix), filepath.Join(ix.dir, name)); err != nil {
			return fmt.Errorf("install %s: %w", name, err)
		}
	}
	if err := durable.SyncDir(ix.dir); err != nil {
		return fmt.Errorf("sync index dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(ix.dir, logFileName), os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("open index log: %w", err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return fmt.Errorf("seek index log: %w", err)
	}
	ix.log.close()
	ix.log = newLogFile(f, int64(len(tail)), ix.nextID)
	return nil
}

// readAll reads an open file whole into a buffer of its exact size.
func readAll(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, err
	}
	return data, nil
}
