package tsm

import (
	"encoding/binary"
	"hash/crc32"
	"math"

	"github.com/strata-db/strata/tsdb/models"
)

// Format constants; docs/format.md is the specification.
const (
	// Version is the format version this package writes. Version 2
	// stores the statistics of a numeric block of one or two values as
	// those values (see appendEntry); version 3 keeps such blocks (and
	// boolean ones) in the index entry only, and encodes each key's first
	// entry against the previous key of its series; version 4 names the
	// field key and type of each field record by its number in a
	// dictionary at the end of the index; version 5 writes a key of one
	// value in a block of its entry as a one-value field record (its
	// field number, time gap and value only); version 6 stores a series
	// key as the length of the prefix it shares with its restart
	// record's key and the rest. Readers read versions 1 to 6.
	Version = 6

	// smallStatsVersion is the first version whose numeric blocks of at
	// most smallStatsMax values store their values instead of statistics.
	smallStatsVersion = 2
	smallStatsMax     = 2

	// inlineVersion is the first version whose blocks of at most
	// smallStatsMax values of any type but string have no bytes in the
	// data area: their index entry holds the values (see appendEntry),
	// and whose keys after the first of a series encode their first
	// MinTime against the previous key's (see entryState).
	inlineVersion = 3

	// dictVersion is the first version whose field records name their
	// field key and type by a number in the index's field dictionary
	// (see Writer.fieldID) instead of spelling them out.
	dictVersion = 4

	// oneValueVersion is the first version whose field records may be
	// one-value records (see Writer.writeOneValue): a key of one inline
	// value is its field number and kind, its first time's gap unless
	// that is 0, and its value, without block count, entry length, span
	// and count.
	oneValueVersion = 5

	// prefixVersion is the first version whose series records store
	// their series key as the length of the prefix it shares with the
	// key of its restart record and the rest of it (see
	// Writer.appendSeriesKey). Record i's restart record is record
	// i - i%restartInterval, which stores its whole key (a prefix of 0).
	prefixVersion   = 6
	restartInterval = 16

	// MaxPointsPerBlock is the number of values WriteValues and Merge put
	// into each block (the last block of a key may hold fewer).
	MaxPointsPerBlock = 1000

	// MaxBlockValues is the most values a block may claim in the index; it
	// equals the block codecs' limit (encoding.MaxValues) and bounds what a
	// reader allocates for one block.
	MaxBlockValues = 1 << 16

	headerSize = 8  // magic[4] version[1] reserved[3]
	footerSize = 56 // see encodeFooter
	crcSize    = 4  // CRC32-C prefix of every block
)

// magic opens and closes every file.
var magic = [4]byte{'S', 'T', 'S', 'M'}

// castagnoli is the CRC32-C table used for blocks, the index and the footer.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BlockMeta describes one block of a column, as recorded in the index.
type BlockMeta struct {
	MinTime int64 // time of the first value, ns
	MaxTime int64 // time of the last value, ns
	Count   int   // number of values, 1..MaxBlockValues
	Offset  int64 // file offset of the block (its CRC); set by the Writer
	Size    int64 // bytes of the block including its 4-byte CRC; set by the Writer
	Stats   Stats // value statistics; meaning depends on the column type

	// inline is the column type of a block whose values are its index
	// entry's (format version 3, at most smallStatsMax values, not
	// string): it has no bytes in the file, Offset and Size are 0.
	// FieldTypeUnknown for a block stored in the data area.
	inline models.FieldType
}

// Inline reports whether the block's values live in its index entry
// rather than in the file's data area (format version 3 stores blocks of
// one or two values of any type but string so): Offset and Size are 0,
// Reader.ReadBlock encodes the block from the entry, and Writer.WriteBlock
// takes such a meta without the block bytes.
func (m *BlockMeta) Inline() bool { return m.inline != models.FieldTypeUnknown }

// Stats are a block's value statistics. Each field holds a value in the
// encoding of models.Value.N: float64 bits for floats, int64 (two's
// complement) for integers, uint64 for unsigneds, 0 or 1 for booleans.
//
//   - First and Last are the values at MinTime and MaxTime (all types but
//     string).
//   - Min and Max are the smallest and largest value (float, integer,
//     unsigned; for booleans Min is 0 if any value is false and Max is 1 if
//     any value is true). Float Min/Max ignore NaN unless all values are NaN.
//   - Sum is the sum of the values: float64 for floats; for integers and
//     unsigneds the exact wrapping (two's complement) sum, which is what
//     InfluxQL's integer SUM computes; unused for booleans.
//
// String columns have no statistics (all zero).
type Stats struct {
	Min, Max, Sum, First, Last uint64
}

// validType reports whether t is a type a file can hold.
func validType(t models.FieldType) bool {
	return t >= models.FieldTypeFloat && t <= models.FieldTypeBoolean
}

// footer is the fixed-size trailer of a file.
type footer struct {
	indexOffset int64
	indexSize   int64
	seriesCount uint32
	keyCount    uint32
	minTime     int64
	maxTime     int64
	indexCRC    uint32
	version     byte
}

// appendFooter encodes f:
//
//	0  indexOffset u64 | 8 indexSize u64 | 16 seriesCount u32 | 20 keyCount u32
//	24 minTime i64 | 32 maxTime i64 | 40 indexCRC u32 | 44 version u8
//	45 reserved[3] | 48 footerCRC u32 (over bytes 0..47) | 52 magic[4]
func appendFooter(dst []byte, f footer) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(f.indexOffset))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(f.indexSize))
	dst = binary.LittleEndian.AppendUint32(dst, f.seriesCount)
	dst = binary.LittleEndian.AppendUint32(dst, f.keyCount)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(f.minTime))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(f.maxTime))
	dst = binary.LittleEndian.AppendUint32(dst, f.indexCRC)
	dst = append(dst, f.version, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
	return append(dst, magic[:]...)
}

// parseFooter decodes and checks the last footerSize bytes b of a file.
func parseFooter(b []byte) (footer, string) {
	var f footer
	if len(b) != footerSize {
		return f, "short footer"
	}
	if [4]byte(b[52:56]) != magic {
		return f, "bad footer magic"
	}
	if crc32.Checksum(b[:48], castagnoli) != binary.LittleEndian.Uint32(b[48:52]) {
		return f, "footer checksum mismatch"
	}
	if !knownVersion(b[44]) {
		return f, "unsupported version"
	}
	f.version = b[44]
	f.indexOffset = int64(binary.LittleEndian.Uint64(b[0:]))
	f.indexSize = int64(binary.LittleEndian.Uint64(b[8:]))
	f.seriesCount = binary.LittleEndian.Uint32(b[16:])
	f.keyCount = binary.LittleEndian.Uint32(b[20:])
	f.minTime = int64(binary.LittleEndian.Uint64(b[24:]))
	f.maxTime = int64(binary.LittleEndian.Uint64(b[32:]))
	f.indexCRC = binary.LittleEndian.Uint32(b[40:])
	return f, ""
}

// appendHeader encodes the file header: magic, version, 3 reserved zeros.
func appendHeader(dst []byte, version byte) []byte {
	dst = append(dst, magic[:]...)
	return append(dst, version, 0, 0, 0)
}

// knownVersion reports whether v is a version this package reads.
func knownVersion(v byte) bool { return v >= 1 && v <= Version }

// entryState carries what an entry is encoded against: the previous
// entry of the same column. The zero value is the state before the first
// entry of a key, except that from version 3 a key other than the first
// of its series starts from keyState(the previous key's first MinTime).
// Time gaps, spans and counts are stored as differences from the
// previous entry's (delta-of-delta), so regular series cost one byte each.
type entryState struct {
	maxTime int64  // previous MaxTime
	end     int64  // previous Offset+Size
	gap     uint64 // previous MinTime - its predecessor's MaxTime (wrapping)
	span    uint64 // previous MaxTime - MinTime
	count   uint64 // previous Count
}

// keyState returns the state before a key's first entry: base is the
// first MinTime of the previous key of the same series in version 3 (0
// for the first key of a series, and in older versions). The fields of a
// series usually share their timestamps, so the first entry's gap takes
// one byte instead of nine.
func keyState(base int64) entryState { return entryState{maxTime: base} }

// next records m as the previous entry; an inline entry (no bytes in the
// data area) leaves the previous block end as it was.
func (st *entryState) next(m *BlockMeta, gap uint64, inline bool) {
	st.maxTime, st.gap = m.MaxTime, gap
	if !inline {
		st.end = m.Offset + m.Size
	}
	st.span, st.count = uint64(m.MaxTime)-uint64(m.MinTime), uint64(m.Count)
}

// firstMinTime returns the MinTime of the first entry of rec (already
// validated), a key whose state started at base.
func (rec *fieldRec) firstMinTime(base int64) int64 {
	if rec.kind == recordOneAtBase {
		return base
	}
	d := newDecoder(rec.raw) // both other kinds start with the gap
	return int64(uint64(base) + uint64(d.varint()))
}

// The kinds of a field record in version 5, the low two bits of the
// uvarint that starts it (the field number is the rest): a record of
// blocks as in version 4, or a one-value record, whose one inline value
// is at the key's base time (keyState) or at a gap from it, a varint.
const (
	recordBlocks     = 0
	recordOneAtBase  = 1
	recordOneWithGap = 2
	recordKindBits   = 2
)

// appendEntry encodes m against st (and advances st), using the statistics
// layout of typ in file format version. From version 2 a float, integer
// or unsigned block of at most smallStatsMax values stores its first (and
// last) value instead of its statistics, which readers recompute from
// them: the five statistics of a one-value float block were 40 of the
// ~60 bytes of its entry, and a burst of new series writes one such block
// per (series, field) in every file (issue 17). From version 3 such a
// block (and a boolean one) has no bytes in the data area, so its entry
// has no offset and size: the entry is the block.
func appendEntry(dst []byte, typ models.FieldType, m *BlockMeta, st *entryState, version byte) []byte {
	inline := inlineEntry(typ, m.Count, version)
	dst = appendEntryHead(dst, m, st, inline)
	s := &m.Stats
	if inline || smallStats(typ, m.Count, version) {
		return appendSmallStats(dst, typ, m.Count, s)
	}
	switch typ {
	case models.FieldTypeFloat:
		for _, v := range [...]uint64{s.Min, s.Max, s.Sum, s.First, s.Last} {
			dst = binary.LittleEndian.AppendUint64(dst, v)
		}
	case models.FieldTypeInteger:
		dst = binary.AppendVarint(dst, int64(s.Min))
		dst = binary.AppendUvarint(dst, s.Max-s.Min)
		dst = binary.AppendVarint(dst, int64(s.Sum))
		dst = binary.AppendUvarint(dst, s.First-s.Min)
		dst = binary.AppendUvarint(dst, s.Last-s.Min)
	case models.FieldTypeUnsigned:
		dst = binary.AppendUvarint(dst, s.Min)
		dst = binary.AppendUvarint(dst, s.Max-s.Min)
		dst = binary.AppendUvarint(dst, s.Sum)
		dst = binary.AppendUvarint(dst, s.First-s.Min)
		dst = binary.AppendUvarint(dst, s.Last-s.Min)
	case models.FieldTypeBoolean:
		dst = append(dst, byte(s.First&1)|byte(s.Last&1)<<1|byte(s.Min&1)<<2|byte(s.Max&1)<<3)
	}
	return dst
}

// appendEntryHead appends the part of m's entry that is encoded against
// st, and advances st: times, count and, unless the block is inline, its
// offset and size. The statistics or values follow it.
func appendEntryHead(dst []byte, m *BlockMeta, st *entryState, inline bool) []byte {
	gap := uint64(m.MinTime) - uint64(st.maxTime)
	span := uint64(m.MaxTime) - uint64(m.MinTime)
	dGap, dSpan, dCount := int64(gap-st.gap), int64(span-st.span), int64(uint64(m.Count)-st.count)
	if oneByteVarint(dGap) && oneByteVarint(dSpan) && oneByteVarint(dCount) {
		// The usual entry of a sparse key (the times of the series'
		// previous key, one value): three bytes in one append.
		dst = append(dst, zigzag(dGap), zigzag(dSpan), zigzag(dCount))
	} else {
		dst = binary.AppendVarint(dst, dGap)
		dst = binary.AppendVarint(dst, dSpan)
		dst = binary.AppendVarint(dst, dCount)
	}
	if !inline {
		dst = binary.AppendUvarint(dst, uint64(m.Offset-st.end))
		dst = binary.AppendUvarint(dst, uint64(m.Size))
	}
	st.next(m, gap, inline)
	return dst
}

// oneByteVarint reports whether binary.AppendVarint writes x in one byte.
func oneByteVarint(x int64) bool { return x >= -64 && x < 64 }

// zigzag returns the one byte binary.AppendVarint writes for x, which
// oneByteVarint accepts.
func zigzag(x int64) byte { return byte(x<<1 ^ x>>63) }

// smallStats reports whether an entry of a block of typ holding count
// values stores the values instead of statistics in file format version.
func smallStats(typ models.FieldType, count int, version byte) bool {
	return version >= smallStatsVersion && count <= smallStatsMax &&
		(typ == models.FieldTypeFloat || typ == models.FieldTypeInteger || typ == models.FieldTypeUnsigned)
}

// inlineEntry reports whether a block of typ holding count values lives
// in its index entry, without bytes in the data area, in file format
// version.
func inlineEntry(typ models.FieldType, count int, version byte) bool {
	return version >= inlineVersion && count <= smallStatsMax && typ != models.FieldTypeString
}

// appendSmallStats appends the values of a block of count (1 or 2)
// values, given its statistics: First, and Last if count is 2. A boolean
// block's values take one byte: bit 0 First, bit 1 Last (count 2).
func appendSmallStats(dst []byte, typ models.FieldType, count int, s *Stats) []byte {
	two := count == 2
	switch typ {
	case models.FieldTypeBoolean:
		c := byte(s.First & 1)
		if two {
			c |= byte(s.Last&1) << 1
		}
		dst = append(dst, c)
	case models.FieldTypeFloat:
		dst = binary.LittleEndian.AppendUint64(dst, s.First)
		if two {
			dst = binary.LittleEndian.AppendUint64(dst, s.Last)
		}
	case models.FieldTypeInteger:
		dst = binary.AppendVarint(dst, int64(s.First))
		if two {
			dst = binary.AppendVarint(dst, int64(s.Last))
		}
	case models.FieldTypeUnsigned:
		dst = binary.AppendUvarint(dst, s.First)
		if two {
			dst = binary.AppendUvarint(dst, s.Last)
		}
	}
	return dst
}

// readSmallStats reads what appendSmallStats wrote and sets s to the
// statistics ComputeMeta gives for those values.
func (d *decoder) readSmallStats(typ models.FieldType, count int, s *Stats) {
	if typ == models.FieldTypeBoolean {
		c := d.byte()
		if c>>count != 0 {
			d.ok = false
		}
		first, last := uint64(c&1), uint64(c>>(count-1)&1)
		*s = Stats{Min: first & last, Max: first | last, First: first, Last: last}
		return
	}
	var vals [2]uint64
	for i := range count {
		switch typ {
		case models.FieldTypeFloat:
			vals[i] = d.u64()
		case models.FieldTypeInteger:
			vals[i] = uint64(d.varint())
		case models.FieldTypeUnsigned:
			vals[i] = d.uvarint()
		}
	}
	switch typ {
	case models.FieldTypeFloat:
		fs := [2]float64{math.Float64frombits(vals[0]), math.Float64frombits(vals[1])}
		*s = floatStats(fs[:count])
	case models.FieldTypeInteger:
		is := [2]int64{int64(vals[0]), int64(vals[1])}
		lo, hi, sum := intStats(is[:count])
		*s = Stats{Min: uint64(lo), Max: uint64(hi), Sum: uint64(sum), First: vals[0], Last: vals[count-1]}
	case models.FieldTypeUnsigned:
		lo, hi, sum := intStats(vals[:count])
		*s = Stats{Min: lo, Max: hi, Sum: sum, First: vals[0], Last: vals[count-1]}
	}
}

// skipSmallStats passes over what appendSmallStats wrote, checking it as
// readSmallStats does without computing statistics.
func (d *decoder) skipSmallStats(typ models.FieldType, count int) {
	switch typ {
	case models.FieldTypeBoolean:
		if d.byte()>>count != 0 {
			d.ok = false
		}
	case models.FieldTypeFloat:
		for range count {
			d.u64()
		}
	case models.FieldTypeInteger:
		for range count {
			d.varint()
		}
	case models.FieldTypeUnsigned:
		for range count {
			d.uvarint()
		}
	}
}

// readInlineEntry is readEntry of an entry whose block it holds (version
// 3, see inlineEntry), after the time gap, span and count. Its values
// must have distinct times: one value spans nothing, two span something.
func (d *decoder) readInlineEntry(typ models.FieldType, m *BlockMeta, st *entryState, first bool, gap, span uint64, count int) bool {
	m.MinTime = int64(uint64(st.maxTime) + gap)
	if (!first && m.MinTime <= st.maxTime) || (count == 1) != (span == 0) ||
		span > uint64(math.MaxInt64)-uint64(m.MinTime) {
		d.ok = false
		return false
	}
	m.MaxTime = int64(uint64(m.MinTime) + span)
	m.Count, m.Offset, m.Size, m.inline = count, 0, 0, typ
	st.next(m, gap, true)
	d.readSmallStats(typ, count, &m.Stats)
	return d.ok
}

// decoder reads varints and fixed-size fields from an untrusted byte slice.
// The first failure sticks in ok=false and every later read returns zero, so
// callers check ok once after a group of reads.
type decoder struct {
	b   []byte
	off int
	ok  bool
}

func newDecoder(b []byte) decoder { return decoder{b: b, ok: true} }

func (d *decoder) uvarint() uint64 {
	if !d.ok {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.ok = false
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if !d.ok {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.ok = false
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) byte() byte {
	if !d.ok || d.off >= len(d.b) {
		d.ok = false
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) u64() uint64 {
	if !d.ok || len(d.b)-d.off < 8 {
		d.ok = false
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

// bytes returns the next n bytes (aliasing the input) where n was read as
// a uvarint length.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if !d.ok || n > uint64(len(d.b)-d.off) {
		d.ok = false
		return nil
	}
	s := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return s
}

func (d *decoder) done() bool { return d.ok && d.off == len(d.b) }

// readEntry decodes one entry written by appendEntry against st (and
// advances st) in file format version. It reports false when the bytes
// are malformed or the entry is inconsistent (not after the previous
// entry, MinTime > MaxTime, zero or too many values, a block outside
// [headerSize, dataEnd)).
func (d *decoder) readEntry(typ models.FieldType, m *BlockMeta, st *entryState, first bool, dataEnd int64, version byte) bool {
	gap := st.gap + uint64(d.varint())
	span := st.span + uint64(d.varint())
	count := st.count + uint64(d.varint())
	if !d.ok || count == 0 || count > MaxBlockValues {
		d.ok = false
		return false
	}
	if inlineEntry(typ, int(count), version) {
		return d.readInlineEntry(typ, m, st, first, gap, span, int(count))
	}
	off := d.uvarint()
	size := d.uvarint()
	if !d.ok || size <= crcSize || size > uint64(dataEnd) || off > uint64(dataEnd) {
		d.ok = false
		return false
	}
	m.MinTime = int64(uint64(st.maxTime) + gap)
	if !first && m.MinTime <= st.maxTime {
		d.ok = false
		return false
	}
	// A block may span more than MaxInt64 ns (values before 1970 and near
	// the end of time): the span is an unsigned distance, which must stay
	// within the int64 range above MinTime.
	if span > uint64(math.MaxInt64)-uint64(m.MinTime) {
		d.ok = false
		return false
	}
	m.MaxTime = int64(uint64(m.MinTime) + span)
	m.Offset = st.end + int64(off)
	m.Count, m.Size = int(count), int64(size)
	m.inline = models.FieldTypeUnknown
	if m.Offset < headerSize || m.Offset > dataEnd-m.Size {
		d.ok = false
		return false
	}
	st.next(m, gap, false)
	s := &m.Stats
	*s = Stats{}
	if smallStats(typ, m.Count, version) {
		d.readSmallStats(typ, m.Count, s)
		return d.ok
	}
	switch typ {
	case models.FieldTypeFloat:
		s.Min, s.Max, s.Sum, s.First, s.Last = d.u64(), d.u64(), d.u64(), d.u64(), d.u64()
	case models.FieldTypeInteger:
		s.Min = uint64(d.varint())
		r := d.uvarint()
		s.Sum = uint64(d.varint())
		f, l := d.uvarint(), d.uvarint()
		s.Max, s.First, s.Last = s.Min+r, s.Min+f, s.Min+l
		if f > r || l > r || int64(s.Max) < int64(s.Min) {
			d.ok = false
		}
	case models.FieldTypeUnsigned:
		s.Min = d.uvarint()
		r := d.uvarint()
		s.Sum = d.uvarint()
		f, l := d.uvarint(), d.uvarint()
		if f > r || l > r || s.Min+r < s.Min {
			d.ok = false
		}
		s.Max, s.First, s.Last = s.Min+r, s.Min+f, s.Min+l
	case models.FieldTypeBoolean:
		c := d.byte()
		if c > 0xf {
			d.ok = false
		}
		s.First, s.Last, s.Min, s.Max = uint64(c&1), uint64(c>>1&1), uint64(c>>2&1), uint64(c>>3&1)
	}
	return d.ok
}
