package tsm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/strata-db/strata/internal/durable"

	"github.com/strata-db/strata/tsdb/models"
)

// Writer creates one file. Keys must arrive in ascending (series, field)
// order and the blocks of one key in ascending, non-overlapping time order.
// The data goes to path+".tmp"; Close writes the index and footer, fsyncs
// and renames the file to path, so a file at path is always complete.
// Remove abandons the file. The index is built in memory up to
// indexSpillSize, then spilled to path+".index.tmp" and copied behind the
// blocks by Close, so a file of a million series does not hold its
// hundreds of MB of index in memory (issue 17). A Writer is not safe for
// concurrent use.
type Writer struct {
	path, tmpPath string
	f             *os.File
	bw            *bufio.Writer
	off           int64 // bytes written so far
	err           error // sticky error; the file is unusable once set
	closed        bool

	index         []byte     // finished series records not spilled yet
	indexSpill    *os.File   // finished series records spilled, nil until needed
	indexSpilled  int64      // bytes in indexSpill
	indexCRC      uint32     // CRC32-C of the spilled bytes
	seriesOffsets []uint32   // start of each series record in the index
	seriesBody    []byte     // finished field records of the current series
	fieldCount    int        // field records in seriesBody
	entries       []byte     // entries of the current key
	blockCount    int        // entries in entries
	keyMinTime    int64      // MinTime of the current key's first block
	prev          BlockMeta  // last block of the current key
	state         entryState // index encoding state of the current key
	series, field []byte     // current key (owned copies)
	typ           models.FieldType
	hasKey        bool
	keyCount      int
	blockTotal    int   // blocks written, all keys
	valueTotal    int64 // values in them
	minTime       int64
	maxTime       int64
	footer        footer // what Close wrote, for OpenReader
	version       byte   // file format version written (Version; 1 in tests)

	scratch []byte // block bytes for WriteValues
	hdr     [crcSize]byte
}

// NewWriter creates path+".tmp" (truncating any leftover) and returns a
// Writer for it.
func NewWriter(path string) (*Writer, error) { return newWriter(path, Version) }

// newWriter returns a Writer of a file in format version (tests write
// older versions).
func newWriter(path string, version byte) (*Writer, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create tsm file: %w", err)
	}
	w := &Writer{
		path: path, tmpPath: tmp, f: f,
		bw:      bufio.NewWriterSize(f, 1<<20),
		minTime: math.MaxInt64, maxTime: math.MinInt64,
		version: version,
	}
	w.write(appendHeader(nil, w.version))
	if w.err != nil {
		_ = w.Remove()
		return nil, w.err
	}
	return w, nil
}

// Path returns the final path of the file.
func (w *Writer) Path() string { return w.path }

// Size returns the number of bytes the file holds so far: header, blocks
// and the index records of the keys written (Close adds the series offset
// table and the footer). Blocks kept in their index entries (see
// WriteBlock) count through their records.
func (w *Writer) Size() int64 {
	if w.closed {
		return w.off
	}
	return w.off + w.indexSpilled + int64(len(w.index)+len(w.seriesBody)+len(w.entries))
}

// KeyCount returns the number of keys written so far.
func (w *Writer) KeyCount() int {
	if w.hasKey {
		return w.keyCount + 1
	}
	return 0
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.bw.Write(b)
	w.off += int64(n)
	if err != nil {
		w.err = fmt.Errorf("write tsm file %s: %w", w.tmpPath, err)
	}
}

// WriteBlock appends one encoded block (as produced by EncodeBlock or
// returned by Reader.ReadBlock) for the key (series, field) of type typ.
// meta must give the block's MinTime, MaxTime, Count and Stats; its Offset
// and Size are ignored and set by the Writer. The Writer prefixes the block
// with its CRC32-C. A block of at most two values of any type but string
// is kept in the index entry instead (format version 3): its values are
// taken from meta.Stats (First, and Last for two), and block is ignored
// and may be nil. Errors: ErrKeyOrder, ErrBlockOrder, ErrTypeMismatch,
// ErrInvalidBlock, ErrClosed, or an I/O error (after which only Remove is
// useful).
func (w *Writer) WriteBlock(series, field []byte, typ models.FieldType, meta BlockMeta, block []byte) error {
	inline := inlineEntry(typ, meta.Count, w.version)
	if len(block) == 0 && !inline {
		return fmt.Errorf("%w: empty block", ErrInvalidBlock)
	}
	if err := w.startBlock(series, field, typ, &meta); err != nil {
		return err
	}
	if inline {
		meta.Offset, meta.Size, meta.inline = 0, 0, typ
		w.addEntry(&meta)
		return nil
	}
	meta.inline = models.FieldTypeUnknown
	binary.LittleEndian.PutUint32(w.hdr[:], crc32.Checksum(block, castagnoli))
	meta.Offset = w.off
	meta.Size = int64(crcSize + len(block))
	w.write(w.hdr[:])
	w.write(block)
	if w.err != nil {
		return w.err
	}
	w.addEntry(&meta)
	return nil
}

// startBlock validates a block's key and metadata and switches to its key.
func (w *Writer) startBlock(series, field []byte, typ models.FieldType, meta *BlockMeta) error {
	switch {
	case w.closed:
		return ErrClosed
	case w.err != nil:
		return w.err
	case !validType(typ):
		return fmt.Errorf("%w: unknown field type %d", ErrInvalidBlock, typ)
	case meta.Count <= 0 || meta.Count > MaxBlockValues:
		return fmt.Errorf("%w: count %d out of range", ErrInvalidBlock, meta.Count)
	case meta.MinTime > meta.MaxTime:
		return fmt.Errorf("%w: min time %d after max time %d", ErrInvalidBlock, meta.MinTime, meta.MaxTime)
	}
	sameSeries := false
	if w.hasKey {
		c := bytes.Compare(series, w.series)
		sameSeries = c == 0
		if sameSeries {
			c = bytes.Compare(field, w.field)
		}
		switch {
		case c < 0:
			return fmt.Errorf("%w: %q/%q after %q/%q", ErrKeyOrder, series, field, w.series, w.field)
		case c == 0:
			if typ != w.typ {
				return fmt.Errorf("%w: %q/%q is %s, block is %s", ErrTypeMismatch, series, field, w.typ, typ)
			}
			if meta.MinTime <= w.prev.MaxTime {
				return fmt.Errorf("%w: %q/%q block starting %d after block ending %d",
					ErrBlockOrder, series, field, meta.MinTime, w.prev.MaxTime)
			}
			return nil
		}
		w.finishKey(!sameSeries)
	}
	if !sameSeries {
		// The next field of a series (ten in a row for TSBS) keeps the
		// copy: a series key is ~200 bytes, a field key ~10.
		w.series = append(w.series[:0], series...)
	}
	w.field = append(w.field[:0], field...)
	w.typ = typ
	w.hasKey = true
	return nil
}

// addEntry records meta in the current key's index entries.
func (w *Writer) addEntry(meta *BlockMeta) {
	if w.blockCount == 0 {
		w.keyMinTime = meta.MinTime
	}
	w.entries = appendEntry(w.entries, w.typ, meta, &w.state, w.version)
	w.blockCount++
	w.blockTotal++
	w.valueTotal += int64(meta.Count)
	w.prev = *meta
	w.minTime = min(w.minTime, meta.MinTime)
	w.maxTime = max(w.maxTime, meta.MaxTime)
}

// finishKey moves the current key's entries into the series record and, if
// endSeries, the series record into the index.
func (w *Writer) finishKey(endSeries bool) {
	b := w.seriesBody
	b = binary.AppendUvarint(b, uint64(len(w.field)))
	b = append(b, w.field...)
	b = append(b, byte(w.typ))
	b = binary.AppendUvarint(b, uint64(w.blockCount))
	b = binary.AppendUvarint(b, uint64(len(w.entries)))
	w.seriesBody = append(b, w.entries...)
	w.fieldCount++
	w.keyCount++
	w.entries, w.blockCount, w.prev, w.state = w.entries[:0], 0, BlockMeta{}, entryState{}
	if !endSeries {
		if w.version >= inlineVersion {
			w.state = keyState(w.keyMinTime)
		}
		return
	}
	w.reserveIndex(uvarintLen(len(w.series)) + len(w.series) + uvarintLen(w.fieldCount) + len(w.seriesBody))
	w.seriesOffsets = append(w.seriesOffsets, uint32(w.indexSpilled+int64(len(w.index))))
	w.index = binary.AppendUvarint(w.index, uint64(len(w.series)))
	w.index = append(w.index, w.series...)
	w.index = binary.AppendUvarint(w.index, uint64(w.fieldCount))
	w.index = append(w.index, w.seriesBody...)
	w.seriesBody, w.fieldCount = w.seriesBody[:0], 0
}

// uvarintLen returns the length of n's uvarint encoding.
func uvarintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}

// reserveIndex makes room for n more bytes of series records in the
// in-memory index: it spills the index first when they would take it past
// indexSpillSize, and grows it straight to indexSpillSize once it passes
// a quarter of that (growing by doubling copied and cleared a buffer ten
// times per file: 0.7 CPU-s of a million-series load, issue 17).
func (w *Writer) reserveIndex(n int) {
	if len(w.index)+n <= cap(w.index) {
		return
	}
	if w.index == nil {
		if w.index = takeIndexBuf(); n <= cap(w.index) {
			return
		}
	}
	if len(w.index) > 0 && len(w.index)+n > indexSpillSize {
		w.spillIndex()
		if len(w.index)+n <= cap(w.index) {
			return
		}
	}
	c := max(2*cap(w.index), len(w.index)+n, 4<<10)
	if c > indexSpillSize/4 {
		c = max(c, indexSpillSize)
	}
	b := make([]byte, len(w.index), c)
	copy(b, w.index)
	w.index = b
}

// indexSpillSize is the in-memory index size past which the Writer moves
// finished series records to its spill file (a variable for tests).
var indexSpillSize = 4 << 20

// indexBufs recycles the in-memory index buffers of Writers that grew one
// to indexSpillSize: each file of a million series grew a fresh one by
// doubling, ~1 GB of allocations and 0.8 CPU-s of copying and clearing
// over a million-series load (issue 17). It holds *[]byte.
var indexBufs sync.Pool

// takeIndexBuf returns a recycled index buffer (empty), or nil.
func takeIndexBuf() []byte {
	if b, ok := indexBufs.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return nil
}

// releaseIndex hands the index buffer to indexBufs if it grew to the
// spill size (smaller ones are not worth keeping). The Writer no longer
// needs it: Close has written it, or Remove abandoned it.
func (w *Writer) releaseIndex() {
	if b := w.index; cap(b) >= indexSpillSize {
		indexBufs.Put(&b)
	}
	w.index = nil
}

// spillIndex appends the in-memory series records to the spill file.
func (w *Writer) spillIndex() {
	if w.err != nil {
		return
	}
	if w.indexSpill == nil {
		f, err := os.OpenFile(w.path+".index.tmp", os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
		if err != nil {
			w.err = fmt.Errorf("create tsm index spill file: %w", err)
			return
		}
		w.indexSpill = f
	}
	if _, err := w.indexSpill.Write(w.index); err != nil {
		w.err = fmt.Errorf("write tsm index spill file %s: %w", w.indexSpill.Name(), err)
		return
	}
	w.indexCRC = crc32.Update(w.indexCRC, castagnoli, w.index)
	w.indexSpilled += int64(len(w.index))
	w.index = w.index[:0]
}

// copySpilledIndex writes the spill file's records behind the blocks.
func (w *Writer) copySpilledIndex() {
	if w.indexSpill == nil || w.err != nil {
		return
	}
	if _, err := w.indexSpill.Seek(0, io.SeekStart); err != nil {
		w.err = fmt.Errorf("rewind tsm index spill file: %w", err)
		return
	}
	n, err := io.Copy(w.bw, w.indexSpill)
	w.off += n
	switch {
	case err != nil:
		w.err = fmt.Errorf("copy tsm index spill file into %s: %w", w.tmpPath, err)
	case n != w.indexSpilled:
		w.err = fmt.Errorf("copy tsm index spill file into %s: %d bytes, want %d", w.tmpPath, n, w.indexSpilled)
	}
}

// removeSpill closes and deletes the index spill file, if any.
func (w *Writer) removeSpill() {
	if w.indexSpill == nil {
		return
	}
	_ = w.indexSpill.Close()
	_ = os.Remove(w.indexSpill.Name())
	w.indexSpill = nil
}

// Close writes the index and footer, fsyncs, and renames the file to its
// final path. After an error the temporary file is removed. Close is
// idempotent; later calls return nil.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	err := w.finish()
	w.closed = true
	w.removeSpill()
	w.releaseIndex()
	if err != nil {
		_ = w.f.Close()
		_ = os.Remove(w.tmpPath)
		return err
	}
	return nil
}

func (w *Writer) finish() error {
	if w.err != nil {
		return w.err
	}
	if w.hasKey {
		w.finishKey(true)
	}
	if size := w.indexSpilled + int64(len(w.index)); size > math.MaxUint32 || w.keyCount > math.MaxUint32 {
		return fmt.Errorf("write tsm index: %d bytes, %d keys: %w", size, w.keyCount, errIndexTooLarge)
	}
	ft := footer{
		indexOffset: w.off,
		seriesCount: uint32(len(w.seriesOffsets)),
		keyCount:    uint32(w.keyCount),
		version:     w.version,
		minTime:     w.minTime,
		maxTime:     w.maxTime,
	}
	if w.keyCount == 0 {
		ft.minTime, ft.maxTime = 0, 0
	}
	idx := w.index
	for _, o := range w.seriesOffsets {
		idx = binary.LittleEndian.AppendUint32(idx, o)
	}
	w.index = idx
	ft.indexSize = w.indexSpilled + int64(len(idx))
	ft.indexCRC = crc32.Update(w.indexCRC, castagnoli, idx)
	w.copySpilledIndex()
	w.write(idx)
	w.write(appendFooter(nil, ft))
	w.footer = ft
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("flush tsm file %s: %w", w.tmpPath, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync tsm file %s: %w", w.tmpPath, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("close tsm file %s: %w", w.tmpPath, err)
	}
	if err := os.Rename(w.tmpPath, w.path); err != nil {
		return fmt.Errorf("rename tsm file %s: %w", w.tmpPath, err)
	}
	return durable.SyncDir(filepath.Dir(w.path))
}

// OpenReader maps the file a successful Close wrote and returns a Reader
// for it without the index checksum and walk that Open does: this Writer
// built the index in order from checked blocks and fsynced it, so the walk
// would only re-derive the counts and time range the Writer already has.
// At a million series the walk was a tenth of the CPU of writing a file,
// and it brought every index page into the process's resident memory
// (issue 17). The header and footer are still checked.
func (w *Writer) OpenReader() (*Reader, error) {
	if !w.closed || w.footer.indexOffset == 0 {
		return nil, fmt.Errorf("open tsm file %s: %w", w.path, errNotWritten)
	}
	return mapReader(w.path, func(data []byte) (*Reader, error) {
		r, ft, err := layout(w.path, data)
		if err != nil {
			return nil, err
		}
		if ft != w.footer {
			return nil, &CorruptError{Path: w.path, Offset: r.Size() - footerSize, Reason: "footer differs from the one written"}
		}
		r.nKeys, r.nBlocks, r.nValues = w.keyCount, w.blockTotal, w.valueTotal
		r.minTime, r.maxTime = ft.minTime, ft.maxTime
		return r, nil
	})
}

// errNotWritten reports OpenReader on a Writer whose Close did not succeed.
var errNotWritten = errors.New("tsm: writer did not finish the file")

// errIndexTooLarge reports an index past the format's 4 GiB limit.
var errIndexTooLarge = errors.New("tsm: index exceeds 4 GiB")

// Remove abandons the file: it closes and deletes the temporary file. It is
// a no-op after a successful Close and safe to call more than once.
func (w *Writer) Remove() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.removeSpill()
	w.releaseIndex()
	_ = w.f.Close()
	if err := os.Remove(w.tmpPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove tsm file %s: %w", w.tmpPath, err)
	}
	return nil
}
