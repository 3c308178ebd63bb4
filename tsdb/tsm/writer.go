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
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"unsafe"

	"github.com/strata-db/strata/internal/durable"

	"github.com/strata-db/strata/tsdb/models"
)

// Writer creates one file. Keys must arrive in ascending (series, field)
// order and the blocks of one key in ascending, non-overlapping time order.
// The data goes to path+".tmp"; Close writes the index and footer, fsyncs
// and renames the file to path, so a file at path is always complete.
// Remove abandons the file. The index is built in memory up to
// indexSpillSize, then spilled to path+".index.tmp" by a goroutine of
// the Writer's, so a file of a million series does not hold its hundreds
// of MB of index in memory (issue 17). When the blocks are a small part
// of the file (sparse series keep theirs in their entries), the spill
// file leaves room for them in front and Close copies the blocks there
// and makes it the file, so the index is written once; otherwise Close
// copies the spilled index behind the blocks. A Writer is not safe for
// concurrent use.
type Writer struct {
	path, tmpPath string
	f             *os.File
	bw            *bufio.Writer
	off           int64 // bytes written so far
	err           error // sticky error; the file is unusable once set
	closed        bool

	index         []byte        // index chunk being filled (finished series records)
	indexChunks   [][]byte      // full index chunks before index, not spilled yet
	indexHeld     int           // bytes in indexChunks and index
	indexSpill    *os.File      // finished series records spilled, nil until needed
	indexSpilled  int64         // bytes handed to spillLoop for indexSpill
	spillAt       int64         // offset of the spilled records in indexSpill
	spillQ        chan [][]byte // full index chunks for spillLoop, nil when it is not running
	spillDone     chan struct{} // closed when spillLoop has ended
	spillErr      error         // spillLoop's first error; read after spillDone
	indexCRC      uint32        // CRC32-C of the spilled bytes (spillLoop's until spillDone)
	seriesOffsets []uint32      // start of each series record in the index
	seriesBody    []byte        // field records of the current series, the current key's last (see openKey)
	fieldCount    int           // finished field records in seriesBody
	keyStart      int           // offset in seriesBody of the current key's record
	keyHead       []byte        // scratch for a record head longer than keyHeadRoom
	blockCount    int           // entries in the current key's record
	oneValue      bool          // the current key's record is a one-value record (writeOneValue)
	keyMinTime    int64         // MinTime of the current key's first block
	prevMaxTime   int64         // MaxTime of the current key's last block
	state         entryState    // index encoding state of the current key
	series, field []byte        // current key (owned, the caller's if stableKeys, or field the dictionary's)
	restartKey    []byte        // series key of the last restart record (version 6), the caller's if stableKeys
	restartBuf    []byte        // owned copy of restartKey unless stableKeys
	fieldBuf      []byte        // owned copy of a field key
	stableKeys    bool          // keys stay unchanged until Close (StableKeys)
	typ           models.FieldType
	hasKey        bool
	keyCount      int
	blockTotal    int   // blocks written, all keys
	valueTotal    int64 // values in them
	minTime       int64
	maxTime       int64
	footer        footer // what Close wrote, for OpenReader
	version       byte   // file format version written (Version; 1 in tests)

	// The field dictionary (version 4): fieldDefs in number order,
	// fieldIDs maps field key + type byte to the number, and fieldNext
	// holds for each number the one that last followed it in a series
	// (noField if none), which is the next one again when series list
	// the same fields; it sorts after it, so a key of that field needs
	// no order check.
	fieldIDs    map[string]uint32
	fieldDefs   []fieldDef
	fieldNext   []uint32
	fieldNum    uint32 // number of the current key's field
	seriesFirst uint32 // number of the previous series' first field, noField first
	fieldKey    []byte // field key + type byte, for fieldIDs

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
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create tsm file: %w", err)
	}
	w := &Writer{
		path: path, tmpPath: tmp, f: f,
		bw:      bufio.NewWriterSize(f, 1<<20),
		minTime: math.MaxInt64, maxTime: math.MinInt64,
		version: version, seriesFirst: noField,
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
	return w.off + w.indexSpilled + int64(w.indexHeld+len(w.seriesBody))
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

// StableKeys tells w that every series and field key passed to it stays
// unchanged, and its bytes readable, until Close or Remove, and that keys
// at the same address and of the same length are the same key (a
// snapshot passes the cache's immutable keys, one per series, for each of
// its fields, and one slice per field name). w then keeps the caller's
// series key instead of copying it and takes the next field of the series
// without comparing the ~165 bytes of its key again (at a million series
// of ten fields the comparison was a sixth of the Writer's CPU, issue
// 17), and knows a field key it has compared once by its address.
func (w *Writer) StableKeys() { w.stableKeys = true }

// sameSlice reports whether a and b are the same bytes of memory.
func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && unsafe.SliceData(a) == unsafe.SliceData(b)
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
		c := 0
		if !w.stableKeys || !sameSlice(series, w.series) {
			c = bytes.Compare(series, w.series)
		}
		sameSeries = c == 0
		if sameSeries {
			if w.nextField(field, typ) {
				return nil
			}
			c = bytes.Compare(field, w.field)
		}
		switch {
		case c < 0:
			return fmt.Errorf("%w: %q/%q after %q/%q", ErrKeyOrder, series, field, w.series, w.field)
		case c == 0:
			if typ != w.typ {
				return fmt.Errorf("%w: %q/%q is %s, block is %s", ErrTypeMismatch, series, field, w.typ, typ)
			}
			if meta.MinTime <= w.prevMaxTime {
				return fmt.Errorf("%w: %q/%q block starting %d after block ending %d",
					ErrBlockOrder, series, field, meta.MinTime, w.prevMaxTime)
			}
			return nil
		}
		w.finishKey(!sameSeries)
	}
	switch {
	case sameSeries:
		// The next field of a series (ten in a row for TSBS) keeps the
		// key: a series key is ~200 bytes, a field key ~10.
	case w.stableKeys:
		w.series = series
	default:
		w.series = append(w.series[:0], series...)
	}
	if w.stableKeys {
		w.field = field
	} else {
		w.fieldBuf = append(w.fieldBuf[:0], field...)
		w.field = w.fieldBuf
	}
	w.typ = typ
	w.hasKey = true
	if w.version >= dictVersion {
		w.numberField(sameSeries)
	}
	w.openKey()
	return nil
}

// keyHeadRoom is the room openKey leaves for a field record's head: the
// dictionary number, block count and entry bytes of a key of fewer than
// 128 of each, one byte each.
const keyHeadRoom = 3

// openKey starts the record of a new current key at the end of
// seriesBody, leaving keyHeadRoom bytes for its head, which finishKey
// fills in once the entries that follow are known: the entries are
// encoded in place rather than in a buffer of their own copied after the
// head, the copy a sixth of a one-value key's cost in the Writer (issue
// 17).
func (w *Writer) openKey() {
	w.keyStart = len(w.seriesBody)
	w.seriesBody = append(w.seriesBody, 0, 0, 0)
}

// nextField switches to the key of field and typ in the current series if
// they are the field that followed the current one in an earlier series
// (fieldNext), which sorts after it: the series of a measurement list the
// same fields, and at a million series of one value per key the order
// check and the dictionary lookup were a fifth of the Writer's CPU (issue
// 17). It reports whether it did.
func (w *Writer) nextField(field []byte, typ models.FieldType) bool {
	if w.version < dictVersion {
		return false
	}
	id := w.fieldNext[w.fieldNum]
	if id == noField || !w.isField(id, field, typ) {
		return false
	}
	w.finishKey(false)
	// The dictionary's copy of the key: nothing writes through w.field.
	w.field = unsafe.Slice(unsafe.StringData(w.fieldDefs[id].name), len(field))
	w.typ = typ
	w.fieldNum = id
	w.openKey()
	return true
}

// nextStableField is nextField for a block of series known to be the
// current series by its address (StableKeys), without startBlock's
// checks of the block, which its caller has made.
func (w *Writer) nextStableField(series, field []byte, typ models.FieldType) bool {
	return w.stableKeys && w.hasKey && w.err == nil && !w.closed && sameSlice(series, w.series) && w.nextField(field, typ)
}

// addEntry records meta in the current key's index entries.
func (w *Writer) addEntry(meta *BlockMeta) {
	if w.oneValueEntry(meta.Count, meta.Inline()) {
		var value [binary.MaxVarintLen64]byte
		w.writeOneValue(meta, appendSmallStats(value[:0], w.typ, 1, &meta.Stats))
		return
	}
	w.expandOneValue()
	w.seriesBody = appendEntry(w.seriesBody, w.typ, meta, &w.state, w.version)
	w.noteEntry(meta)
}

// noteEntry counts the block of meta, whose entry the current key's
// entries end in, and makes it the key's previous block.
func (w *Writer) noteEntry(meta *BlockMeta) {
	if w.blockCount == 0 {
		w.keyMinTime = meta.MinTime
	}
	w.blockCount++
	w.blockTotal++
	w.valueTotal += int64(meta.Count)
	w.prevMaxTime = meta.MaxTime
	w.minTime = min(w.minTime, meta.MinTime)
	w.maxTime = max(w.maxTime, meta.MaxTime)
}

// finishKey writes the head of the current key's record (see openKey)
// and, if endSeries, moves the series record into the index.
func (w *Writer) finishKey(endSeries bool) {
	b, k := w.seriesBody, w.keyStart
	n := len(b) - k - keyHeadRoom // entry bytes
	if w.oneValue {
		w.oneValue = false // the record is whole
	} else if head := w.recordHead(); w.version >= dictVersion && head < 0x80 && w.blockCount < 0x80 && n < 0x80 {
		b[k], b[k+1], b[k+2] = byte(head), byte(w.blockCount), byte(n) // their uvarints
	} else {
		h := w.keyHead[:0]
		if w.version >= dictVersion {
			h = binary.AppendUvarint(h, head)
		} else {
			h = binary.AppendUvarint(h, uint64(len(w.field)))
			h = append(h, w.field...)
			h = append(h, byte(w.typ))
		}
		h = binary.AppendUvarint(h, uint64(w.blockCount))
		h = binary.AppendUvarint(h, uint64(n))
		grow := len(h) - keyHeadRoom // ≥ 0: each of the three takes a byte at least
		b = slices.Grow(b, grow)[:len(b)+grow]
		copy(b[k+len(h):], b[k+keyHeadRoom:len(b)-grow])
		copy(b[k:], h)
		w.keyHead = h
	}
	w.seriesBody = b
	w.fieldCount++
	w.keyCount++
	w.blockCount = 0
	if !endSeries && w.version >= inlineVersion {
		w.state = keyState(w.keyMinTime)
	} else {
		w.state = entryState{}
	}
	if !endSeries {
		return
	}
	if w.seriesOffsets == nil {
		w.seriesOffsets = takeSeriesOffsets()
	}
	w.seriesOffsets = append(w.seriesOffsets, uint32(w.indexSpilled+int64(w.indexHeld)))
	w.appendSeriesKey()
	var hdr [binary.MaxVarintLen64]byte
	w.appendIndex(binary.AppendUvarint(hdr[:0], uint64(w.fieldCount)))
	w.appendIndex(w.seriesBody)
	w.seriesBody, w.fieldCount = w.seriesBody[:0], 0
}

// appendSeriesKey appends the current series key to the index, where its
// series record starts: its length and bytes, or from version 6 the
// length of the prefix it shares with the key of its restart record
// (the last one; a restart record's own key shares nothing) and the
// length and bytes of the rest. At a million new series, neighbouring
// keys share ~50 of their ~165 bytes (up to the host name), which every
// snapshot file wrote again for each series (issue 17); a lookup still
// finds any key from two records (Reader.seriesAt).
func (w *Writer) appendSeriesKey() {
	var hdr [2 * binary.MaxVarintLen64]byte
	key := w.series
	if w.version < prefixVersion {
		w.appendIndex(binary.AppendUvarint(hdr[:0], uint64(len(key))))
		w.appendIndex(key)
		return
	}
	shared := 0
	switch {
	case (len(w.seriesOffsets)-1)%restartInterval != 0:
		shared = commonPrefixLen(w.restartKey, key)
	case w.stableKeys:
		w.restartKey = key
	default:
		w.restartBuf = append(w.restartBuf[:0], key...)
		w.restartKey = w.restartBuf
	}
	h := binary.AppendUvarint(hdr[:0], uint64(shared))
	w.appendIndex(binary.AppendUvarint(h, uint64(len(key)-shared)))
	w.appendIndex(key[shared:])
}

// commonPrefixLen returns the number of leading bytes a and b share,
// comparing 8 bytes at a time.
func commonPrefixLen(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// recordHead returns the number that starts the current key's field
// record of blocks in version 4 and later: its field number, from
// version 5 with the record kind (recordBlocks) in its low bits.
func (w *Writer) recordHead() uint64 {
	if w.version >= oneValueVersion {
		return uint64(w.fieldNum)<<recordKindBits | recordBlocks
	}
	return uint64(w.fieldNum)
}

// oneValueFields bounds the field numbers whose one-value records
// (version 5) the Writer writes: their head, the number and the record
// kind, takes one byte.
const oneValueFields = 1 << (7 - recordKindBits)

// oneValueEntry reports whether the current key's next block, of count
// values and kept in its entry (inline), is to be written as a
// one-value record (writeOneValue): the key's first block, of one value.
func (w *Writer) oneValueEntry(count int, inline bool) bool {
	return inline && count == 1 && w.blockCount == 0 && w.version >= oneValueVersion && w.fieldNum < oneValueFields
}

// writeOneValue writes the record of the current key, whose first block
// m is one value kept in its entry, as a one-value record in place of
// the head room openKey left: the head (field number and kind), the time
// gap from the key's base unless it is 0, and the value's bytes (as
// appendSmallStats encodes one value). At a million new series, where nearly every key is such
// a block at the time of the series' previous key, that is 2–3 bytes
// where version 4's record took 7–8 (issue 17). A second block of the
// key turns it back into a record of blocks (expandOneValue).
func (w *Writer) writeOneValue(m *BlockMeta, value []byte) {
	gap := uint64(m.MinTime) - uint64(w.state.maxTime)
	head := byte(w.fieldNum << recordKindBits)
	w.seriesBody = append(appendOneValueHead(w.seriesBody[:w.keyStart], head, gap), value...)
	w.state.next(m, gap, true)
	w.oneValue = true
	w.noteEntry(m)
}

// expandOneValue turns the current key's one-value record, if it is
// one, back into a record of blocks (head room and entry) before another
// block of the key is added: the entry is its one inline value encoded
// against the key's base, whose state w.state already follows.
func (w *Writer) expandOneValue() {
	if !w.oneValue {
		return
	}
	b, k := w.seriesBody, w.keyStart
	d := newDecoder(b[k+1:])
	var gap int64
	if b[k]&(1<<recordKindBits-1) == recordOneWithGap {
		gap = d.varint()
	}
	w.keyHead = append(w.keyHead[:0], d.b[d.off:]...) // the value
	b = binary.AppendVarint(append(b[:k], 0, 0, 0), gap)
	b = append(b, zigzag(0), zigzag(1)) // span 0, count 1 against a key's first state
	w.seriesBody = append(b, w.keyHead...)
	w.oneValue = false
}

// isField reports whether field and typ are those of dictionary number
// id. With StableKeys, a field key equal to the number's is remembered by
// its address, which the next keys of the field then match without
// reading their bytes.
func (w *Writer) isField(id uint32, field []byte, typ models.FieldType) bool {
	def := &w.fieldDefs[id]
	switch {
	case def.typ != typ:
		return false
	case len(def.seen) > 0 && sameSlice(field, def.seen):
		return true
	case !sameFieldKey(def.name, field):
		return false
	}
	if w.stableKeys {
		def.seen = field
	}
	return true
}

// sameFieldKey reports whether name and field are the same bytes. A key
// of 8 to 16 bytes, most field keys, is compared as two overlapping
// 8-byte words without a call: every key of a million-series snapshot
// compares its field with the dictionary's (issue 17).
func sameFieldKey(name string, field []byte) bool {
	n := len(name)
	switch {
	case n != len(field):
		return false
	case n >= 8 && n <= 16:
		return binary.LittleEndian.Uint64([]byte(name[:8])) == binary.LittleEndian.Uint64(field) &&
			binary.LittleEndian.Uint64([]byte(name[n-8:])) == binary.LittleEndian.Uint64(field[n-8:])
	}
	return name == string(field)
}

// fieldDef is a field key and type of the field dictionary.
type fieldDef struct {
	name string
	typ  models.FieldType
	seen []byte // a caller's stable slice holding name (see isField)
}

// noField is the number of no field in the dictionary.
const noField = math.MaxUint32

// numberField sets fieldNum to the dictionary number of the new current
// key's field key and type, adding them to the dictionary if new, and
// links it as the field that follows the previous key's (sameSeries) or
// as the first field of a series. A field record then names its field in
// one byte instead of the ~12 of its key and type, a third of a one-value
// key's index bytes (issue 17).
func (w *Writer) numberField(sameSeries bool) {
	id := w.fieldID()
	if sameSeries {
		w.fieldNext[w.fieldNum] = id
	} else {
		w.seriesFirst = id
	}
	w.fieldNum = id
}

// fieldID returns the dictionary number of the current key's field key
// and type, adding them to the dictionary if new. The series of a
// measurement list the same fields, so the previous series' first field
// is tried before the map for a series' first key (nextField takes the
// others).
func (w *Writer) fieldID() uint32 {
	if id := w.seriesFirst; id != noField && w.isField(id, w.field, w.typ) {
		return id
	}
	w.fieldKey = append(append(w.fieldKey[:0], w.field...), byte(w.typ))
	id, ok := w.fieldIDs[string(w.fieldKey)]
	if !ok {
		if w.fieldIDs == nil {
			w.fieldIDs = make(map[string]uint32)
		}
		id = uint32(len(w.fieldDefs))
		w.fieldIDs[string(w.fieldKey)] = id
		w.fieldDefs = append(w.fieldDefs, fieldDef{name: string(w.field), typ: w.typ})
		w.fieldNext = append(w.fieldNext, noField)
	}
	return id
}

// appendFieldDict appends the field dictionary and its length (version
// 4): the number of fields, each field key and type, and a u32 of the
// bytes before it.
func (w *Writer) appendFieldDict() {
	b := binary.AppendUvarint(nil, uint64(len(w.fieldDefs)))
	for _, f := range w.fieldDefs {
		b = binary.AppendUvarint(b, uint64(len(f.name)))
		b = append(b, f.name...)
		b = append(b, byte(f.typ))
	}
	w.appendIndex(binary.LittleEndian.AppendUint32(b, uint32(len(b))))
}

// appendIndex appends b to the index bytes held in memory: to the chunk
// being filled, then to fresh chunks. When the chunks held reach
// indexSpillSize they move to the spill file first.
func (w *Writer) appendIndex(b []byte) {
	for len(b) > 0 {
		if len(w.index) == cap(w.index) {
			if len(w.index) > 0 {
				w.indexChunks = append(w.indexChunks, w.index)
			}
			if w.indexHeld >= indexSpillSize {
				w.spillIndex()
			}
			w.index = takeIndexChunk()
		}
		n := copy(w.index[len(w.index):cap(w.index)], b)
		w.index = w.index[:len(w.index)+n]
		w.indexHeld += n
		b = b[n:]
	}
}

// indexSpillSize is the most index bytes a Writer holds in memory: past
// it the full chunks move to the spill file (a variable for tests).
var indexSpillSize = 4 << 20

// indexChunkSize is the size of the chunks a Writer holds its index in
// (a variable for tests). Chunks, unlike one growing buffer, are never
// copied to grow, and Writers pass them on through indexChunks.
var indexChunkSize = 1 << 20

// indexChunks recycles the index chunks of closed Writers: each file of
// a million series would otherwise allocate and clear tens of MB (issue
// 17). It holds *[]byte.
var indexChunks sync.Pool

// takeIndexChunk returns an empty chunk of indexChunkSize bytes' capacity.
func takeIndexChunk() []byte {
	if b, ok := indexChunks.Get().(*[]byte); ok && cap(*b) == indexChunkSize {
		return (*b)[:0]
	}
	return make([]byte, 0, indexChunkSize)
}

// seriesOffsetTables recycles the series offset tables of closed
// Writers: a file of 40,000 series grew one of 160 kB from nothing, a
// twentieth of the Writer's CPU at a million series (issue 17). It holds
// *[]uint32.
var seriesOffsetTables sync.Pool

// takeSeriesOffsets returns an empty series offset table.
func takeSeriesOffsets() []uint32 {
	if b, ok := seriesOffsetTables.Get().(*[]uint32); ok {
		return (*b)[:0]
	}
	return make([]uint32, 0, 1024)
}

// releaseIndex hands the Writer's index chunks to indexChunks and its
// series offset table to seriesOffsetTables. The Writer no longer needs
// them: Close has written them, or Remove abandoned them.
func (w *Writer) releaseIndex() {
	if b := w.seriesOffsets; cap(b) > 0 {
		seriesOffsetTables.Put(&b)
	}
	w.seriesOffsets = nil
	for _, b := range w.indexChunks {
		indexChunks.Put(&b)
	}
	if b := w.index; cap(b) > 0 {
		indexChunks.Put(&b)
	}
	w.indexChunks, w.index, w.indexHeld = nil, nil, 0
}

// spillIndex hands the full index chunks to spillLoop, which appends
// them to the spill file and releases them, starting it first if need be.
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
		if 16*w.off <= int64(w.indexHeld) {
			// The blocks take a small part of the file (a million new
			// series: they live in their entries). Reserve room for
			// them in front of the records so that Close can make this
			// file the data file (adoptSpill) instead of copying the
			// records behind the blocks: the index is written once.
			w.spillAt = (16*w.off + 64<<10 + 4095) &^ 4095
			if _, err := f.Seek(w.spillAt, io.SeekStart); err != nil {
				w.err = fmt.Errorf("seek tsm index spill file: %w", err)
				return
			}
		}
		w.spillQ, w.spillDone = make(chan [][]byte, spillQueue), make(chan struct{})
		go w.spillLoop(f)
	}
	for _, b := range w.indexChunks {
		w.indexSpilled += int64(len(b))
		w.indexHeld -= len(b)
	}
	w.spillQ <- w.indexChunks
	w.indexChunks = nil
}

// spillQueue is how many batches of full index chunks (indexSpillSize
// bytes each) may wait for spillLoop: it bounds the index a Writer holds
// in memory to (spillQueue + 2) × indexSpillSize.
const spillQueue = 2

// spillLoop appends the batches of index chunks from w.spillQ to f, the
// spill file, and releases them, until w.spillQ is closed. The write
// system calls cost the kernel per byte, most of a million-series
// snapshot's index time (issue 17); here they overlap the encoding of
// the next records on another core. After an error it only releases the
// chunks. It owns w.indexCRC and w.spillErr until it closes w.spillDone.
func (w *Writer) spillLoop(f *os.File) {
	defer close(w.spillDone)
	for batch := range w.spillQ {
		for _, b := range batch {
			if w.spillErr == nil {
				if _, err := f.Write(b); err != nil {
					w.spillErr = fmt.Errorf("write tsm index spill file %s: %w", f.Name(), err)
				}
				w.indexCRC = crc32.Update(w.indexCRC, castagnoli, b)
			}
			indexChunks.Put(&b)
		}
	}
}

// waitSpill stops spillLoop, if running, after it has written what it
// was given, and takes its error.
func (w *Writer) waitSpill() {
	if w.spillQ == nil {
		return
	}
	close(w.spillQ)
	<-w.spillDone
	w.spillQ = nil
	if w.spillErr != nil && w.err == nil {
		w.err = w.spillErr
	}
}

// flush writes the buffered bytes to the file.
func (w *Writer) flush() {
	if w.err != nil {
		return
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("flush tsm file %s: %w", w.tmpPath, err)
	}
}

// writeDirect writes b to the file past the buffer, which must be empty
// (flush): the index chunks are already whole writes.
func (w *Writer) writeDirect(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.f.Write(b)
	w.off += int64(n)
	if err != nil {
		w.err = fmt.Errorf("write tsm file %s: %w", w.tmpPath, err)
	}
}

// copySpilledIndex writes the spill file's records behind the blocks,
// past the buffer, which must be empty (flush): the file copies them
// without passing them through user space where it can (copy_file_range
// on Linux).
func (w *Writer) copySpilledIndex() {
	if w.indexSpill == nil || w.err != nil {
		return
	}
	if _, err := w.indexSpill.Seek(w.spillAt, io.SeekStart); err != nil {
		w.err = fmt.Errorf("rewind tsm index spill file: %w", err)
		return
	}
	n, err := w.f.ReadFrom(w.indexSpill)
	w.off += n
	switch {
	case err != nil:
		w.err = fmt.Errorf("copy tsm index spill file into %s: %w", w.tmpPath, err)
	case n != w.indexSpilled:
		w.err = fmt.Errorf("copy tsm index spill file into %s: %d bytes, want %d", w.tmpPath, n, w.indexSpilled)
	}
}

// adoptSpill makes the spill file the data file when its reserved room
// holds the header and blocks: it copies them to the spill file's start
// (copy_file_range on Linux), in front of the spilled records with a hole
// between (readers only reach blocks through the index), and leaves the
// old data file to removeSpill. The buffer must be empty (flush).
func (w *Writer) adoptSpill() {
	if w.err != nil {
		return
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		w.err = fmt.Errorf("rewind tsm file %s: %w", w.tmpPath, err)
		return
	}
	if _, err := w.indexSpill.Seek(0, io.SeekStart); err != nil {
		w.err = fmt.Errorf("rewind tsm index spill file: %w", err)
		return
	}
	n, err := w.indexSpill.ReadFrom(io.LimitReader(w.f, w.off))
	switch {
	case err != nil:
		w.err = fmt.Errorf("copy tsm blocks into %s: %w", w.indexSpill.Name(), err)
		return
	case n != w.off:
		w.err = fmt.Errorf("copy tsm blocks into %s: %d bytes, want %d", w.indexSpill.Name(), n, w.off)
		return
	}
	w.off = w.spillAt + w.indexSpilled
	if _, err := w.indexSpill.Seek(w.off, io.SeekStart); err != nil {
		w.err = fmt.Errorf("seek tsm index spill file: %w", err)
		return
	}
	w.f, w.indexSpill = w.indexSpill, w.f
	w.tmpPath = w.f.Name()
	w.bw.Reset(w.f)
}

// removeSpill closes and deletes the index spill file, if any.
func (w *Writer) removeSpill() {
	w.waitSpill()
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
	if w.version >= dictVersion {
		w.appendFieldDict()
	}
	if size := w.indexSpilled + int64(w.indexHeld); size > math.MaxUint32 || uint64(w.keyCount) > math.MaxUint32 {
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
	var tbl [1024]byte
	for o := w.seriesOffsets; len(o) > 0; {
		n := min(len(o), len(tbl)/4)
		for i, v := range o[:n] {
			binary.LittleEndian.PutUint32(tbl[4*i:], v)
		}
		w.appendIndex(tbl[:4*n])
		o = o[n:]
	}
	ft.indexSize = w.indexSpilled + int64(w.indexHeld)
	w.waitSpill()
	ft.indexCRC = w.indexCRC
	w.flush()
	if w.indexSpill != nil && w.off <= w.spillAt {
		ft.indexOffset = w.spillAt
		w.adoptSpill()
	} else {
		w.copySpilledIndex()
	}
	for _, b := range w.indexChunks {
		ft.indexCRC = crc32.Update(ft.indexCRC, castagnoli, b)
		w.writeDirect(b)
	}
	ft.indexCRC = crc32.Update(ft.indexCRC, castagnoli, w.index)
	w.write(w.index)
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
