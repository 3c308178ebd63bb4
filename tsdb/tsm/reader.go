package tsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"iter"
	"math"
	"os"
	"sort"

	"github.com/strata-db/strata/tsdb/models"
)

// Reader gives read access to one finished file through a read-only memory
// mapping. Open validates the footer and the whole index, so lookups cannot
// fail afterwards; block contents are checked by their CRC when read.
//
// All methods are safe for concurrent use, except that Close must not run
// concurrently with, or before the end of the use of, any other method or
// any slice a method returned (block bytes and keys alias the mapping): the
// caller (the engine) reference-counts readers and closes a file only when
// no query or compaction holds it.
type Reader struct {
	path     string
	data     []byte      // whole file
	records  []byte      // series records of the index
	fields   []readField // field dictionary (version 4)
	offsets  []byte      // seriesCount little-endian uint32 offsets into records
	dataEnd  int64       // end of the block area (index offset)
	nSeries  int
	version  byte // file format version
	nKeys    int
	nBlocks  int
	nValues  int64
	minTime  int64
	maxTime  int64
	unmapped bool
}

// Open maps the file at path and validates it. A malformed file yields an
// error wrapping ErrCorrupt (a *CorruptError).
func Open(path string) (*Reader, error) {
	return mapReader(path, func(data []byte) (*Reader, error) { return newReader(path, data) })
}

// Validated is what validating a file established: its size and footer
// (which holds the index's CRC), and the block count found by the walk
// over the index (or known to the Writer that built it). See
// OpenValidated.
type Validated struct {
	Size   int64
	Footer [footerSize]byte
	Blocks int
}

// Validated returns what opening the file established, for a later
// OpenValidated of it.
func (r *Reader) Validated() Validated {
	v := Validated{Size: int64(len(r.data)), Blocks: r.nBlocks}
	copy(v.Footer[:], r.data[len(r.data)-footerSize:])
	return v
}

// OpenValidated opens a file that was validated before, v being what that
// reader's Validated returned: if the file still has v's size and footer,
// it checks the header, the footer and the index's CRC, so a torn or
// damaged file is refused as by Open, but does not walk the index again:
// the CRC proves the index bytes are those found well formed, and the
// footer holds their key count and time range. Otherwise it is Open. At a
// million series the walk was ~2.5 CPU-s of a shard's restart (issue 17).
func OpenValidated(path string, v Validated) (*Reader, error) {
	return mapReader(path, func(data []byte) (*Reader, error) {
		size := int64(len(data))
		if size != v.Size || !bytes.Equal(data[size-footerSize:], v.Footer[:]) {
			return newReader(path, data)
		}
		r, ft, err := layout(path, data)
		if err != nil {
			return nil, err
		}
		if err := r.checkIndexCRC(ft); err != nil {
			return nil, err
		}
		r.nKeys, r.nBlocks, r.nValues = int(ft.keyCount), v.Blocks, -1
		r.minTime, r.maxTime = ft.minTime, ft.maxTime
		return r, nil
	})
}

// checkIndexCRC checks the index bytes against the footer's CRC.
func (r *Reader) checkIndexCRC(ft footer) error {
	if crc32.Checksum(r.data[ft.indexOffset:ft.indexOffset+ft.indexSize], castagnoli) != ft.indexCRC {
		return &CorruptError{Path: r.path, Offset: ft.indexOffset, Reason: "index checksum mismatch"}
	}
	return nil
}

// mapReader maps the file at path and returns what build makes of its
// bytes; the file is unmapped again when build fails.
func mapReader(path string, build func(data []byte) (*Reader, error)) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open tsm file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat tsm file: %w", err)
	}
	size := st.Size()
	if size < headerSize+footerSize {
		return nil, &CorruptError{Path: path, Offset: size, Reason: "file too short"}
	}
	if size > math.MaxInt {
		return nil, &CorruptError{Path: path, Offset: size, Reason: "file too large to map"}
	}
	data, err := mapFile(f, int(size))
	if err != nil {
		return nil, fmt.Errorf("map tsm file %s: %w", path, err)
	}
	r, err := build(data)
	if err != nil {
		_ = unmapFile(data)
		return nil, err
	}
	return r, nil
}

// newReader validates data, the complete contents of a file.
func newReader(path string, data []byte) (*Reader, error) {
	r, ft, err := layout(path, data)
	if err != nil {
		return nil, err
	}
	bad := func(off int64, reason string) error {
		return &CorruptError{Path: path, Offset: off, Reason: reason}
	}
	if err := r.checkIndexCRC(ft); err != nil {
		return nil, err
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	size := r.Size()
	if uint64(r.nKeys) != uint64(ft.keyCount) {
		return nil, bad(size-footerSize, "key count does not match index")
	}
	if r.nKeys == 0 {
		r.minTime, r.maxTime = 0, 0
	}
	if r.minTime != ft.minTime || r.maxTime != ft.maxTime {
		return nil, bad(size-footerSize, "time range does not match index")
	}
	return r, nil
}

// layout checks the header and footer of data, the complete contents of a
// file, and returns a Reader over it (index not validated) and the footer.
func layout(path string, data []byte) (*Reader, footer, error) {
	bad := func(off int64, reason string) error {
		return &CorruptError{Path: path, Offset: off, Reason: reason}
	}
	size := int64(len(data))
	if size < headerSize+footerSize {
		return nil, footer{}, bad(size, "file too short")
	}
	if [4]byte(data[:4]) != magic {
		return nil, footer{}, bad(0, "bad header magic")
	}
	if !knownVersion(data[4]) {
		return nil, footer{}, bad(4, "unsupported version")
	}
	if data[5]|data[6]|data[7] != 0 {
		return nil, footer{}, bad(5, "reserved header bytes not zero")
	}
	ft, reason := parseFooter(data[size-footerSize:])
	if reason != "" {
		return nil, footer{}, bad(size-footerSize, reason)
	}
	if ft.version != data[4] {
		return nil, footer{}, bad(size-footerSize, "footer version differs from header version")
	}
	if ft.indexOffset < headerSize || ft.indexSize < 0 || ft.indexOffset > size-footerSize ||
		ft.indexSize != size-footerSize-ft.indexOffset {
		return nil, footer{}, bad(size-footerSize, "index bounds do not fit the file")
	}
	if uint64(ft.seriesCount)*4 > uint64(ft.indexSize) {
		return nil, footer{}, bad(ft.indexOffset, "series count exceeds index size")
	}
	idx := data[ft.indexOffset : ft.indexOffset+ft.indexSize]
	split := len(idx) - int(ft.seriesCount)*4
	r := &Reader{
		path:    path,
		data:    data,
		records: idx[:split],
		offsets: idx[split:],
		dataEnd: ft.indexOffset,
		nSeries: int(ft.seriesCount),
		version: ft.version,
	}
	if r.version >= dictVersion {
		if reason := r.readFieldDict(); reason != "" {
			return nil, footer{}, bad(ft.indexOffset+int64(len(r.records)), reason)
		}
	}
	return r, ft, nil
}

// readField is a field key (aliasing the mapping) and type of the field
// dictionary.
type readField struct {
	name []byte
	typ  models.FieldType
}

// readFieldDict splits the field dictionary (version 4) off the end of
// r.records and decodes it into r.fields; it returns why the dictionary
// is malformed, or "". Each field takes at least two bytes, which bounds
// the allocation by the index size.
func (r *Reader) readFieldDict() string {
	n := len(r.records)
	if n < 4 {
		return "missing field dictionary"
	}
	size := binary.LittleEndian.Uint32(r.records[n-4:])
	if uint64(size) > uint64(n-4) {
		return "field dictionary exceeds index"
	}
	start := n - 4 - int(size)
	d := newDecoder(r.records[start : n-4])
	count := d.uvarint()
	if !d.ok || count > uint64(size)/2 {
		return "malformed field dictionary"
	}
	fields := make([]readField, count)
	for i := range fields {
		fields[i].name = d.bytes()
		fields[i].typ = models.FieldType(d.byte())
		if !d.ok || !validType(fields[i].typ) {
			return "malformed field dictionary"
		}
	}
	if !d.done() {
		return "trailing bytes in field dictionary"
	}
	r.records, r.fields = r.records[:start], fields
	return ""
}

// validate walks the whole index once: offsets table, key order, field
// types, every entry's bounds and time order. It sets the key and block
// counts and the file's time range.
func (r *Reader) validate() error {
	base := r.dataEnd
	bad := func(off int, reason string) error {
		return &CorruptError{Path: r.path, Offset: base + int64(off), Reason: reason}
	}
	r.minTime, r.maxTime = math.MaxInt64, math.MinInt64
	d := newDecoder(r.records)
	var prevSeries, restart []byte
	var entries []BlockMeta
	for i := range r.nSeries {
		if int(binary.LittleEndian.Uint32(r.offsets[4*i:])) != d.off {
			return bad(d.off, "series offset table mismatch")
		}
		var shared uint64
		if r.version >= prefixVersion {
			shared = d.uvarint()
		}
		rest := d.bytes()
		nf := d.uvarint()
		if !d.ok || nf == 0 || nf > uint64(len(r.records)-d.off) {
			return bad(d.off, "malformed series record")
		}
		if i%restartInterval == 0 {
			restart = rest
		}
		if shared > 0 && (i%restartInterval == 0 || shared > uint64(len(restart))) {
			return bad(d.off, "series key prefix past its restart key")
		}
		key := seriesKey{prefix: restart[:shared], rest: rest}
		if i > 0 && key.compare(prevSeries) <= 0 {
			return bad(d.off, "series keys out of order")
		}
		prevSeries = key.appendTo(prevSeries[:0])
		var prevField []byte
		var base int64 // first MinTime of the previous key (version 3)
		for j := range int(nf) {
			start := d.off
			var rec fieldRec
			r.fieldRecord(&d, &rec)
			if !d.ok || !validType(rec.typ) || rec.blocks == 0 || rec.blocks > len(rec.raw) {
				return bad(start, "malformed field record")
			}
			if j > 0 && bytes.Compare(rec.field, prevField) <= 0 {
				return bad(start, "field keys out of order")
			}
			prevField = rec.field
			var ok bool
			entries, ok = appendEntries(entries[:0], &rec, r.dataEnd, r.version, base)
			if !ok {
				return bad(start, "malformed block entry")
			}
			base = r.nextBase(entries[0].MinTime)
			r.minTime = min(r.minTime, entries[0].MinTime)
			r.maxTime = max(r.maxTime, entries[len(entries)-1].MaxTime)
			for k := range entries {
				r.nValues += int64(entries[k].Count)
			}
			r.nKeys++
			r.nBlocks += rec.blocks
		}
	}
	if !d.done() {
		return bad(d.off, "trailing bytes in index")
	}
	return nil
}

// fieldRec is one field record of an index: its field key (aliasing the
// mapping) and type, its block count, and its raw entry bytes, or for a
// one-value record (version 5) the varint gap (recordOneWithGap) and the
// value that stand for its one entry.
type fieldRec struct {
	field  []byte
	typ    models.FieldType
	blocks int
	raw    []byte
	kind   uint64 // recordBlocks, recordOneAtBase or recordOneWithGap
}

// fieldRecord reads one field record of r at d into rec.
func (r *Reader) fieldRecord(d *decoder, rec *fieldRec) {
	rec.kind = recordBlocks
	if r.version >= dictVersion {
		id := d.uvarint()
		if r.version >= oneValueVersion {
			id, rec.kind = id>>recordKindBits, id&(1<<recordKindBits-1)
		}
		if !d.ok || id >= uint64(len(r.fields)) {
			d.ok = false
			*rec = fieldRec{}
			return
		}
		f := &r.fields[id]
		rec.field, rec.typ = f.name, f.typ
	} else {
		rec.field = d.bytes()
		rec.typ = models.FieldType(d.byte())
	}
	if rec.kind != recordBlocks {
		r.oneValueRecord(d, rec)
		return
	}
	nb := d.uvarint()
	rec.raw = d.bytes()
	if nb > uint64(len(rec.raw)) { // every entry takes at least one byte
		d.ok = false
		nb = 0
	}
	rec.blocks = int(nb)
}

// oneValueRecord reads the rest of a one-value record (version 5) into
// rec, whose kind, field and type are set.
func (r *Reader) oneValueRecord(d *decoder, rec *fieldRec) {
	if rec.kind > recordOneWithGap || !inlineEntry(rec.typ, 1, r.version) {
		d.ok = false
		*rec = fieldRec{}
		return
	}
	start := d.off
	if rec.kind == recordOneWithGap {
		d.varint()
	}
	d.skipSmallStats(rec.typ, 1)
	if !d.ok {
		*rec = fieldRec{}
		return
	}
	rec.blocks, rec.raw = 1, d.b[start:d.off]
}

// appendEntries decodes the entries of rec from its raw bytes, in file
// format version, base being the key's keyState base.
func appendEntries(dst []BlockMeta, rec *fieldRec, dataEnd int64, version byte, base int64) ([]BlockMeta, bool) {
	d := newDecoder(rec.raw)
	start := len(dst)
	st := keyState(base)
	if rec.kind != recordBlocks {
		var gap uint64
		if rec.kind == recordOneWithGap {
			gap = uint64(d.varint())
		}
		dst = append(dst, BlockMeta{})
		if !d.readInlineEntry(rec.typ, &dst[start], &st, true, gap, 0, 1) {
			return dst[:start], false
		}
		return dst, d.done()
	}
	for i := range rec.blocks {
		dst = append(dst, BlockMeta{})
		if !d.readEntry(rec.typ, &dst[start+i], &st, i == 0, dataEnd, version) {
			return dst[:start], false
		}
	}
	return dst, d.done()
}

// nextBase returns the keyState base of the key after one whose first
// block starts at minTime, in the same series.
func (r *Reader) nextBase(minTime int64) int64 {
	if r.version < inlineVersion {
		return 0
	}
	return minTime
}

// Path returns the file's path.
func (r *Reader) Path() string { return r.path }

// Size returns the file's size in bytes.
func (r *Reader) Size() int64 { return int64(len(r.data)) }

// IndexSize returns the size of the index and footer in bytes.
func (r *Reader) IndexSize() int64 { return int64(len(r.data)) - r.dataEnd }

// MinTime returns the smallest timestamp in the file (0 if it is empty).
func (r *Reader) MinTime() int64 { return r.minTime }

// MaxTime returns the largest timestamp in the file (0 if it is empty).
func (r *Reader) MaxTime() int64 { return r.maxTime }

// KeyCount returns the number of (series, field) keys in the file.
func (r *Reader) KeyCount() int { return r.nKeys }

// SeriesCount returns the number of distinct series keys in the file.
func (r *Reader) SeriesCount() int { return r.nSeries }

// BlockCount returns the number of blocks in the file.
func (r *Reader) BlockCount() int { return r.nBlocks }

// ValueCount returns the number of values in the file's blocks, or -1 when
// the file was opened by OpenValidated (which does not walk the index).
func (r *Reader) ValueCount() int64 { return r.nValues }

// Close unmaps the file. It is idempotent. See the Reader doc for the
// rule on concurrent use.
func (r *Reader) Close() error {
	if r.unmapped {
		return nil
	}
	r.unmapped = true
	data := r.data
	r.data, r.records, r.offsets, r.fields, r.nSeries = nil, nil, nil, nil, 0
	if err := unmapFile(data); err != nil {
		return fmt.Errorf("unmap tsm file %s: %w", r.path, err)
	}
	return nil
}

// DropPages releases the resident memory the file's mapping holds (the
// pages read so far) without unmapping it: the data stays in the page
// cache and is read back on the next access. A compaction reads its inputs
// whole; dropping their pages as it goes keeps them out of the process's
// resident memory (issue 17: 1.1 GB of a data node's 2 GB at a million
// series). Safe for concurrent use with reads.
func (r *Reader) DropPages() error {
	if r.unmapped || len(r.data) == 0 {
		return nil
	}
	if err := dropPages(r.data); err != nil {
		return fmt.Errorf("drop pages of tsm file %s: %w", r.path, err)
	}
	return nil
}

// seriesKey is a series key of the index in two parts: the prefix it
// shares with its restart record's key, and the rest (version 6; the
// whole key is rest before, and in a restart record). Both alias the
// mapping.
type seriesKey struct{ prefix, rest []byte }

// compare returns the order of k against b, as bytes.Compare.
func (k seriesKey) compare(b []byte) int {
	p := len(k.prefix)
	if len(b) < p {
		if c := bytes.Compare(k.prefix[:len(b)], b); c != 0 {
			return c
		}
		return 1 // b is a proper prefix of k
	}
	if c := bytes.Compare(k.prefix, b[:p]); c != 0 {
		return c
	}
	return bytes.Compare(k.rest, b[p:])
}

// appendTo appends the key's bytes to dst.
func (k seriesKey) appendTo(dst []byte) []byte {
	return append(append(dst, k.prefix...), k.rest...)
}

// recordAt returns a decoder at the start of the i-th series record.
func (r *Reader) recordAt(i int) decoder {
	d := newDecoder(r.records)
	d.off = int(binary.LittleEndian.Uint32(r.offsets[4*i:]))
	return d
}

// seriesAt returns the i-th series key and a decoder positioned after it
// (at the field count). From version 6 the key's prefix is read from
// its restart record's key: any key is two records away.
func (r *Reader) seriesAt(i int) (seriesKey, decoder) {
	d := r.recordAt(i)
	if r.version < prefixVersion {
		return seriesKey{rest: d.bytes()}, d
	}
	shared := d.uvarint()
	rest := d.bytes()
	if shared == 0 {
		return seriesKey{rest: rest}, d
	}
	rd := r.recordAt(i - i%restartInterval)
	rd.uvarint()
	return seriesKey{prefix: rd.bytes()[:shared], rest: rest}, d // validated: shared fits
}

// findSeries binary-searches for series; it returns a decoder positioned
// at the series' field count.
func (r *Reader) findSeries(series []byte) (decoder, bool) {
	if r.version >= prefixVersion {
		return r.findPrefixed(series)
	}
	i := sort.Search(r.nSeries, func(i int) bool {
		k, _ := r.seriesAt(i)
		return k.compare(series) >= 0
	})
	if i == r.nSeries {
		return decoder{}, false
	}
	k, d := r.seriesAt(i)
	return d, k.compare(series) == 0
}

// findPrefixed is findSeries in version 6: it searches the restart
// records, then the records of the last one not after series. Those
// share a prefix of the restart record's key, which series shares up to
// cp bytes, so a record is compared by its prefix length and rest alone.
func (r *Reader) findPrefixed(series []byte) (decoder, bool) {
	g := sort.Search((r.nSeries+restartInterval-1)/restartInterval, func(g int) bool {
		_, k := r.keyAt(g * restartInterval)
		return bytes.Compare(k, series) > 0
	}) - 1
	if g < 0 {
		return decoder{}, false
	}
	lo := g * restartInterval
	hi := min(lo+restartInterval, r.nSeries)
	_, restart := r.keyAt(lo)
	cp := commonPrefixLen(restart, series)
	// compare orders record i's key against series. The restart key is
	// not after series, so where they differ (cp) its byte is smaller: a
	// key sharing more than cp bytes with it is before series; one
	// sharing at most cp bytes equals series up to them.
	compare := func(i int) int {
		shared, rest := r.keyAt(i)
		if shared > cp {
			return -1
		}
		return bytes.Compare(rest, series[shared:])
	}
	i := lo + sort.Search(hi-lo, func(j int) bool { return compare(lo+j) >= 0 })
	if i == hi || compare(i) != 0 {
		return decoder{}, false
	}
	d := r.recordAt(i)
	d.uvarint()
	d.bytes()
	return d, true
}

// keyAt returns the prefix length (0 in a restart record) and the rest
// of record i's series key (version 6), in a validated index.
func (r *Reader) keyAt(i int) (int, []byte) {
	b := r.records[binary.LittleEndian.Uint32(r.offsets[4*i:]):]
	shared, n := binary.Uvarint(b)
	size, m := binary.Uvarint(b[n:])
	return int(shared), b[n+m : n+m+int(size)]
}

// HasSeries reports whether the file holds any field of series.
func (r *Reader) HasSeries(series []byte) bool {
	_, ok := r.findSeries(series)
	return ok
}

// AppendEntries appends the index entries of (series, field) to dst and
// returns the column's type. If the key is absent it returns
// models.FieldTypeUnknown and dst unchanged.
func (r *Reader) AppendEntries(dst []BlockMeta, series, field []byte) (models.FieldType, []BlockMeta) {
	d, ok := r.findSeries(series)
	if !ok {
		return models.FieldTypeUnknown, dst
	}
	nf := d.uvarint()
	var base int64
	var rec fieldRec
	for range nf {
		r.fieldRecord(&d, &rec)
		if !d.ok {
			break
		}
		switch c := bytes.Compare(rec.field, field); {
		case c == 0:
			out, ok := appendEntries(dst, &rec, r.dataEnd, r.version, base)
			if !ok {
				return models.FieldTypeUnknown, dst
			}
			return rec.typ, out
		case c > 0:
			return models.FieldTypeUnknown, dst
		}
		base = r.nextBase(rec.firstMinTime(base))
	}
	return models.FieldTypeUnknown, dst
}

// Entries returns the index entries of (series, field) in time order, or
// nil if the key is absent.
func (r *Reader) Entries(series, field []byte) []BlockMeta {
	_, e := r.AppendEntries(nil, series, field)
	return e
}

// Type returns the field type of (series, field), or
// models.FieldTypeUnknown if the key is absent.
func (r *Reader) Type(series, field []byte) models.FieldType {
	d, ok := r.findSeries(series)
	if !ok {
		return models.FieldTypeUnknown
	}
	nf := d.uvarint()
	var rec fieldRec
	for range nf {
		r.fieldRecord(&d, &rec)
		if !d.ok {
			break
		}
		if bytes.Equal(rec.field, field) {
			return rec.typ
		}
	}
	return models.FieldTypeUnknown
}

// SeriesKeys yields every series key in ascending order. The slices alias
// the mapping or a buffer the next key overwrites: they must not be
// modified or kept past the next key.
func (r *Reader) SeriesKeys() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		var buf []byte
		for i := range r.nSeries {
			k, _ := r.seriesAt(i)
			key := k.rest
			if len(k.prefix) > 0 {
				buf = k.appendTo(buf[:0])
				key = buf
			}
			if !yield(key) {
				return
			}
		}
	}
}

// ReadBlock returns the bytes of the block m describes (without its CRC),
// after checking the CRC. The slice aliases the mapping: it must not be
// modified or used after Close. m normally comes from this file's index; a
// block outside the file's block area yields ErrCorrupt. An inline block
// (m.Inline()) is encoded afresh from m into a new slice; a copy of it
// needs no bytes (see Writer.WriteBlock).
func (r *Reader) ReadBlock(m BlockMeta) ([]byte, error) {
	if r.unmapped {
		return nil, ErrClosed
	}
	if m.Inline() {
		arr := Array{Type: m.inline}
		m.appendInline(&arr)
		return EncodeBlock(nil, &arr)
	}
	if m.Offset < headerSize || m.Size <= crcSize || m.Offset > r.dataEnd || m.Size > r.dataEnd-m.Offset {
		return nil, &CorruptError{Path: r.path, Offset: m.Offset, Reason: "block outside the data area"}
	}
	b := r.data[m.Offset : m.Offset+m.Size]
	if crc32.Checksum(b[crcSize:], castagnoli) != binary.LittleEndian.Uint32(b) {
		return nil, &CorruptError{Path: r.path, Offset: m.Offset, Reason: "block checksum mismatch"}
	}
	return b[crcSize:], nil
}

// Iterator returns an iterator over all keys in ascending order.
func (r *Reader) Iterator() *Iterator {
	return &Iterator{r: r, d: newDecoder(r.records), seriesLeft: r.nSeries}
}

// Iterator walks a file's keys in ascending (series, field) order, for
// compaction and anti-entropy digests. It is not safe for concurrent use.
//
//	it := r.Iterator()
//	for it.Next() { use(it.Series(), it.Field(), it.Type(), it.Entries()) }
type Iterator struct {
	r          *Reader
	d          decoder
	seriesLeft int
	fieldsLeft uint64
	series     []byte   // the current series key: the mapping's or keyBuf
	restart    []byte   // key of the current series' restart record (version 6)
	keyBuf     []byte   // the current series key when it has a prefix
	rec        fieldRec // the current key's field record
	base       int64    // the current key's keyState base
	entries    []BlockMeta
	decoded    bool
}

// Next advances to the next key and reports whether there is one.
func (it *Iterator) Next() bool {
	if it.fieldsLeft > 0 { // the next key of the same series
		it.base = it.r.nextBase(it.rec.firstMinTime(it.base))
	}
	for it.fieldsLeft == 0 {
		if it.seriesLeft == 0 || !it.d.ok {
			return false
		}
		it.seriesLeft--
		it.series = it.nextSeriesKey()
		it.fieldsLeft = it.d.uvarint()
		it.base = 0
	}
	it.fieldsLeft--
	it.r.fieldRecord(&it.d, &it.rec)
	it.decoded = false
	return it.d.ok
}

// nextSeriesKey reads the series key of the next series record, whose
// index seriesLeft has just been decremented to follow.
func (it *Iterator) nextSeriesKey() []byte {
	if it.r.version < prefixVersion {
		return it.d.bytes()
	}
	shared := it.d.uvarint()
	rest := it.d.bytes()
	if (it.r.nSeries-it.seriesLeft-1)%restartInterval == 0 {
		it.restart = rest
	}
	if shared == 0 || shared > uint64(len(it.restart)) { // validated: the latter does not happen
		return rest
	}
	it.keyBuf = append(append(it.keyBuf[:0], it.restart[:shared]...), rest...)
	return it.keyBuf
}

// IndexRead returns how many bytes of the file's index the iterator has
// passed.
func (it *Iterator) IndexRead() int64 { return int64(it.d.off) }

// Series returns the current series key. It aliases the mapping or a
// buffer of the iterator's (format version 6): it must not be modified,
// and holds the key only until the next call to Next.
func (it *Iterator) Series() []byte { return it.series }

// Field returns the current field key (aliasing the mapping).
func (it *Iterator) Field() []byte { return it.rec.field }

// Type returns the current key's field type.
func (it *Iterator) Type() models.FieldType { return it.rec.typ }

// Entries returns the current key's block entries in time order. The slice
// is reused by the next call to Next.
func (it *Iterator) Entries() []BlockMeta {
	if !it.decoded {
		it.entries, _ = appendEntries(it.entries[:0], &it.rec, it.r.dataEnd, it.r.version, it.base)
		it.decoded = true
	}
	return it.entries
}
