package hh

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/strata-db/strata/internal/durable"
)

const (
	// positionFile holds the read position of a queue.
	positionFile = "position"
	// positionSize is the position file's length: segment id, offset, CRC.
	positionSize = 20
	// maxSpareBuffer is the largest group buffer kept for the next group.
	maxSpareBuffer = 64 << 20
	// maxSpares is how many group buffers are kept: one for the group
	// being flushed and one for the group filling meanwhile.
	maxSpares = 2
)

// segment is one segment file of a queue.
type segment struct {
	id   uint64
	size int64 // sealed: file size; active: bytes durable (committed)
}

// group is a batch of records written with one write call and one fsync.
type group struct {
	buf  []byte
	recs int64
	done bool
	err  error
}

// Queue is the durable queue of batches for one destination node: segment
// files of checksummed records in its own directory, appended to with
// group commit, read from a position kept in its own file.
//
// Append may be called concurrently. The reading methods (peek, skip,
// savePosition, purge) belong to a single replay goroutine.
type Queue struct {
	dir         string
	segmentSize int64
	maxSize     int64
	logger      *slog.Logger
	stats       *queueStats

	mu   sync.Mutex // protects the fields below
	cond *sync.Cond // signalled when a group is done
	// closed refuses appends; err is a write failure the queue could not
	// undo, refusing appends until it is reopened.
	closed   bool
	err      error
	flushing bool
	cur      *group    // records waiting for the next flush
	spares   [][]byte  // buffers of finished groups, for the next ones
	file     *os.File  // active segment, opened for append
	segs     []segment // every segment, ascending; the last is active
	// activeLen counts the active segment's durable, in-flight and
	// waiting bytes, to decide when to seal it.
	activeLen int64

	// notify receives a token after each durable group, for replay.
	notify chan struct{}

	// Read side, owned by the replay goroutine.
	rd      segmentReader
	rdFile  *os.File
	rdSeg   uint64 // segment of the read position
	rdOff   int64  // offset of the read position
	saved   [2]int64
	posPath string
}

// openQueue opens (creating) the queue in dir: segments listed, consumed
// ones removed, the active segment's torn tail truncated, the position
// read and the unread records counted.
func openQueue(dir string, segmentSize, maxSize int64, logger *slog.Logger, stats *queueStats) (*Queue, error) {
	q := &Queue{dir: dir, segmentSize: segmentSize, maxSize: maxSize, logger: logger, stats: stats,
		notify: make(chan struct{}, 1), posPath: filepath.Join(dir, positionFile)}
	q.cond = sync.NewCond(&q.mu)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create queue dir: %w", err)
	}
	if err := q.open(); err != nil {
		q.closeFiles()
		return nil, fmt.Errorf("open queue %s: %w", dir, err)
	}
	return q, nil
}

func (q *Queue) open() error {
	ids, err := listSegments(q.dir)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		if err := q.createSegment(1); err != nil {
			return err
		}
		ids = []uint64{1}
	}
	seg, off, err := q.readPosition()
	if err != nil {
		q.logger.Warn("hinted-handoff position unreadable; replaying the queue from its start", "dir", q.dir, "err", err)
		seg, off = 0, 0
	}
	last := ids[len(ids)-1]
	switch {
	case seg < ids[0]:
		seg, off = ids[0], segmentHeaderSize
	case seg > last:
		seg, off = last, -1 // past everything: start at the repaired end
	}
	if !slices.Contains(ids, seg) {
		// The position's segment is gone (removed before a crash lost the
		// position's rename): resume at the next one.
		i, _ := slices.BinarySearch(ids, seg)
		seg, off = ids[i], segmentHeaderSize
	}
	for _, id := range ids {
		if id >= seg {
			break
		}
		if err := os.Remove(segmentPath(q.dir, id)); err != nil {
			return fmt.Errorf("remove consumed segment: %w", err)
		}
	}
	for _, id := range ids {
		if id < seg || id == last {
			continue
		}
		fi, err := os.Stat(segmentPath(q.dir, id))
		if err != nil {
			return fmt.Errorf("stat segment: %w", err)
		}
		q.segs = append(q.segs, segment{id: id, size: fi.Size()})
	}
	size, err := q.repairActive(last)
	if err != nil {
		return err
	}
	q.segs = append(q.segs, segment{id: last, size: size})
	q.activeLen = size
	if off < 0 || seg == last && off > size {
		off = size
	}
	q.rdSeg, q.rdOff = seg, max(off, segmentHeaderSize)
	q.saved = [2]int64{int64(q.rdSeg), q.rdOff}
	q.countUnread()
	return nil
}

// createSegment creates segment id with its header, durably, and makes it
// the active segment.
func (q *Queue) createSegment(id uint64) error {
	path := segmentPath(q.dir, id)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	if _, err := f.Write(appendSegmentHeader(nil)); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = durable.SyncDir(q.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("create segment %d: %w", id, err)
	}
	q.file = f
	return nil
}

// repairActive opens the last segment for appending after truncating it
// past its last whole, valid record (a torn tail), and returns its size.
func (q *Queue) repairActive(id uint64) (int64, error) {
	path := segmentPath(q.dir, id)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("open active segment: %w", err)
	}
	q.file = f
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat active segment: %w", err)
	}
	good := int64(segmentHeaderSize)
	var hdr [segmentHeaderSize]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil || checkSegmentHeader(hdr[:]) != nil {
		// A segment whose header is torn holds no record yet.
		good = 0
	} else {
		q.rd.reset(f, fi.Size(), segmentHeaderSize)
		for {
			_, err := q.rd.next()
			if err == nil {
				good = q.rd.off
				continue
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if !errors.Is(err, ErrCorrupt) {
				return 0, fmt.Errorf("scan active segment: %w", err)
			}
			break
		}
	}
	if good == fi.Size() {
		_, err = f.Seek(good, io.SeekStart)
		return good, err
	}
	q.logger.Warn("hinted-handoff segment has a torn tail; truncating it", "segment", id, "offset", good,
		"dropped_bytes", fi.Size()-good)
	q.stats.tornTails.Add(1)
	if err := f.Truncate(good); err != nil {
		return 0, fmt.Errorf("truncate torn tail: %w", err)
	}
	if good == 0 {
		if _, err := f.WriteAt(appendSegmentHeader(nil), 0); err != nil {
			return 0, fmt.Errorf("rewrite segment header: %w", err)
		}
		good = segmentHeaderSize
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sync repaired segment: %w", err)
	}
	_, err = f.Seek(good, io.SeekStart)
	return good, err
}

// countUnread sets the queue's byte and record counts and its oldest
// record's time from the read position on, reading record headers only
// (a corrupt stretch stops the count for its segment: replay skips it).
func (q *Queue) countUnread() {
	var bytes, recs int64
	oldest := int64(0)
	var r segmentReader
	for _, s := range q.segs {
		if s.id < q.rdSeg {
			continue
		}
		off := int64(segmentHeaderSize)
		if s.id == q.rdSeg {
			off = q.rdOff
		}
		bytes += max(s.size-off, 0)
		f, err := os.Open(segmentPath(q.dir, s.id))
		if err != nil {
			continue
		}
		r.reset(f, s.size, off)
		ahead := readChunk
		for off+recordHeaderSize <= s.size {
			b, err := r.windowAhead(off, recordHeaderSize, ahead)
			if err != nil {
				break
			}
			h, err := parseRecordHeader(b)
			if err != nil || int64(h.size) > s.size-off-recordHeaderSize {
				break
			}
			if oldest == 0 {
				oldest = h.enqueued
			}
			recs++
			off += recordHeaderSize + int64(h.size)
			ahead = recordHeaderSize
			if h.size < readChunk/4 {
				ahead = readChunk
			}
		}
		f.Close()
	}
	q.stats.bytes.Store(bytes)
	q.stats.records.Store(recs)
	q.stats.oldest.Store(oldest)
}

// readPosition reads the position file; a missing file is the start.
func (q *Queue) readPosition() (uint64, int64, error) {
	b, err := os.ReadFile(q.posPath)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read position: %w", err)
	}
	if len(b) != positionSize || crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return 0, 0, fmt.Errorf("%w: position file of %d bytes fails its check", ErrCorrupt, len(b))
	}
	off := int64(binary.LittleEndian.Uint64(b[8:]))
	if off < segmentHeaderSize {
		return 0, 0, fmt.Errorf("%w: position offset %d inside the segment header", ErrCorrupt, off)
	}
	return binary.LittleEndian.Uint64(b[:8]), off, nil
}

// append durably queues payload (a batch of points for shardID) and
// returns once it is fsynced. Concurrent calls share one write and one
// fsync (group commit).
func (q *Queue) append(shardID uint64, points int, payload []byte, now time.Time) error {
	if int64(len(payload)) > maxRecordSize {
		return fmt.Errorf("queue %d-byte batch: %w", len(payload), ErrRecordTooLarge)
	}
	h := recordHeader{size: uint32(len(payload)), shardID: shardID, enqueued: now.UnixNano(),
		points: uint32(min(uint64(points), 1<<32-1)), crc: crcOf(payload)}
	size := int64(recordHeaderSize + len(payload))

	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.closed {
			return ErrClosed
		}
		if q.err != nil {
			return q.err
		}
		if q.stats.bytes.Load()+size > q.maxSize {
			return fmt.Errorf("queue %d bytes on top of %d (max-size %d): %w", size, q.stats.bytes.Load(), q.maxSize, ErrQueueFull)
		}
		if q.activeLen == segmentHeaderSize || q.activeLen+size <= q.segmentSize {
			break
		}
		if q.flushing {
			q.cond.Wait()
			continue
		}
		if err := q.rollLocked(); err != nil {
			return err
		}
	}
	g := q.cur
	if g == nil {
		g = &group{}
		if n := len(q.spares); n > 0 {
			g.buf, q.spares = q.spares[n-1], q.spares[:n-1]
		}
		q.cur = g
	}
	g.buf = appendRecord(g.buf, h, payload)
	g.recs++
	q.activeLen += size
	q.stats.bytes.Add(size)
	if q.stats.records.Add(1) == 1 {
		q.stats.oldest.Store(h.enqueued)
	}
	for !g.done {
		if q.flushing {
			q.cond.Wait()
			continue
		}
		q.flushLocked()
	}
	return g.err
}

// waitDurable returns once every record appended before the call is
// durable (or its write failed).
func (q *Queue) waitDurable() {
	q.mu.Lock()
	defer q.mu.Unlock()
	g := q.cur
	for q.flushing || g != nil && !g.done {
		q.cond.Wait()
	}
}

// flushLocked writes and syncs the waiting group with mu released, so
// other appends fill the next group meanwhile.
func (q *Queue) flushLocked() {
	g, f := q.cur, q.file
	q.cur, q.flushing = nil, true
	q.mu.Unlock()
	err := writeGroup(f, g.buf)
	q.mu.Lock()
	q.flushing = false
	q.finishLocked(g, err)
}

// writeGroup writes buf to f with one write call and one fsync.
func writeGroup(f *os.File, buf []byte) error {
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("write segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync segment: %w", err)
	}
	return nil
}

// finishLocked records the outcome of group g and wakes its appenders. A
// failed group is cut off the segment again, and its records uncounted,
// so a later group can succeed; if that fails too, the queue refuses
// appends until reopened.
func (q *Queue) finishLocked(g *group, err error) {
	g.done, g.err = true, err
	active := &q.segs[len(q.segs)-1]
	n := int64(len(g.buf))
	if cap(g.buf) <= maxSpareBuffer && len(q.spares) < maxSpares {
		q.spares = append(q.spares, g.buf[:0])
	}
	g.buf = nil
	defer q.cond.Broadcast()
	if err == nil {
		active.size += n
		select {
		case q.notify <- struct{}{}:
		default:
		}
		return
	}
	q.logger.Error("hinted-handoff append failed", "dir", q.dir, "segment", active.id, "err", err)
	q.activeLen -= n
	q.stats.bytes.Add(-n)
	q.stats.records.Add(-g.recs)
	if terr := q.file.Truncate(active.size); terr != nil {
		q.err = fmt.Errorf("undo failed append (%w): %w", err, terr)
		return
	}
	if _, serr := q.file.Seek(active.size, io.SeekStart); serr != nil {
		q.err = fmt.Errorf("undo failed append (%w): %w", err, serr)
	}
}

// rollLocked seals the active segment, after making its waiting records
// durable, and starts the next one, all with mu held (it is rare). No
// flush may be in flight.
func (q *Queue) rollLocked() error {
	if g := q.cur; g != nil {
		q.cur = nil
		q.finishLocked(g, writeGroup(q.file, g.buf))
		if g.err != nil {
			return g.err
		}
	}
	old := q.file
	next := q.segs[len(q.segs)-1].id + 1
	if err := q.createSegment(next); err != nil {
		q.file = old
		return err
	}
	old.Close()
	q.segs = append(q.segs, segment{id: next, size: segmentHeaderSize})
	q.activeLen = segmentHeaderSize
	return nil
}

// limit returns how many bytes of segment id may be read and whether it is
// the active segment; ok is false when the segment is gone.
func (q *Queue) limit(id uint64) (size int64, active, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, s := range q.segs {
		if s.id == id {
			return s.size, i == len(q.segs)-1, true
		}
	}
	return 0, false, false
}

// nextSegment returns the id of the segment after id.
func (q *Queue) nextSegment(id uint64) (uint64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, s := range q.segs {
		if s.id > id {
			return s.id, true
		}
	}
	return 0, false
}

// peek returns the record at the read position without moving past it,
// or io.EOF when every durable record has been read. Its payload is valid
// until the next peek. Corrupt stretches of a segment are skipped, logged
// and counted on the way; a segment with a bad header is skipped whole.
func (q *Queue) peek() (record, error) {
	for {
		size, active, ok := q.limit(q.rdSeg)
		if !ok {
			return record{}, fmt.Errorf("read position in segment %d, which is gone", q.rdSeg)
		}
		if q.rdOff < size {
			if skipped, err := q.openReader(size); err != nil {
				return record{}, err
			} else if skipped {
				continue
			}
			rec, err := q.rd.next()
			if err == nil {
				q.stats.oldest.Store(rec.enqueued)
				return rec, nil
			}
			if !errors.Is(err, ErrCorrupt) {
				return record{}, err
			}
			skipped, rerr := q.rd.resync()
			q.logger.Warn("hinted-handoff record corrupt; skipping it", "segment", q.rdSeg, "offset", q.rdOff,
				"skipped_bytes", skipped, "err", err)
			q.stats.corruptRecords.Add(1)
			q.consume(q.rd.off, 1)
			if rerr != nil {
				return record{}, rerr
			}
			continue
		}
		if active {
			q.mu.Lock()
			if q.cur == nil && !q.flushing && q.rdOff == q.segs[len(q.segs)-1].size {
				// Caught up with nothing in flight: reset the counts, which
				// corrupt stretches may have thrown off.
				q.stats.bytes.Store(0)
				q.stats.records.Store(0)
				q.stats.oldest.Store(0)
			}
			q.mu.Unlock()
			return record{}, io.EOF
		}
		next, ok := q.nextSegment(q.rdSeg)
		if !ok {
			return record{}, io.EOF
		}
		q.closeReader()
		q.stats.bytes.Add(-(size - q.rdOff))
		q.rdSeg, q.rdOff = next, segmentHeaderSize
	}
}

// openReader points the reader at the read position of a segment of
// size readable bytes, opening its file and checking its header first. A
// segment with a bad header is skipped whole: skipped is then true.
func (q *Queue) openReader(size int64) (skipped bool, err error) {
	if q.rdFile == nil {
		f, err := os.Open(segmentPath(q.dir, q.rdSeg))
		if err != nil {
			return false, fmt.Errorf("open segment for replay: %w", err)
		}
		q.rdFile = f
		var hdr [segmentHeaderSize]byte
		if _, err := f.ReadAt(hdr[:], 0); err != nil || checkSegmentHeader(hdr[:]) != nil {
			q.logger.Warn("hinted-handoff segment header corrupt; skipping the segment", "segment", q.rdSeg)
			q.stats.corruptRecords.Add(1)
			q.consume(size, 0)
			return true, nil
		}
	}
	if q.rd.src != q.rdFile {
		q.rd.reset(q.rdFile, size, q.rdOff)
	}
	q.rd.size, q.rd.off = size, q.rdOff
	return false, nil
}

func (q *Queue) closeReader() {
	if q.rdFile != nil {
		q.rdFile.Close()
		q.rdFile = nil
		q.rd.src = nil
	}
}

// skip moves the read position past rec, which peek returned.
func (q *Queue) skip(rec record) { q.consume(rec.end(), 1) }

// consume moves the read position to off in its segment, uncounting recs
// records.
func (q *Queue) consume(off int64, recs int64) {
	q.stats.bytes.Add(-(off - q.rdOff))
	q.stats.records.Add(-recs)
	q.rdOff = off
}

// savePosition makes the read position durable (write, fsync, rename)
// and removes the segments before it.
func (q *Queue) savePosition() error {
	if q.saved == [2]int64{int64(q.rdSeg), q.rdOff} {
		return nil
	}
	b := binary.LittleEndian.AppendUint64(make([]byte, 0, positionSize), q.rdSeg)
	b = binary.LittleEndian.AppendUint64(b, uint64(q.rdOff))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	if err := durable.ReplaceFile(q.posPath, b); err != nil {
		return fmt.Errorf("save position: %w", err)
	}
	q.saved = [2]int64{int64(q.rdSeg), q.rdOff}
	q.mu.Lock()
	var drop []uint64
	for len(q.segs) > 1 && q.segs[0].id < q.rdSeg {
		drop = append(drop, q.segs[0].id)
		q.segs = q.segs[1:]
	}
	q.mu.Unlock()
	for _, id := range drop {
		if err := os.Remove(segmentPath(q.dir, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove replayed segment: %w", err)
		}
	}
	return nil
}

// close refuses further appends, waits for the group in flight and
// closes the files.
func (q *Queue) close() {
	q.mu.Lock()
	q.closed = true
	for q.flushing {
		q.cond.Wait()
	}
	if g := q.cur; g != nil {
		q.cur = nil
		q.finishLocked(g, writeGroup(q.file, g.buf))
	}
	q.mu.Unlock()
	q.closeFiles()
}

func (q *Queue) closeFiles() {
	if q.file != nil {
		q.file.Close()
	}
	q.closeReader()
}
