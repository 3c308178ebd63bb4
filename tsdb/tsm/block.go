package tsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/strata-db/strata/tsdb/encoding"
	"github.com/strata-db/strata/tsdb/models"
)

// EncodeBlock appends the block encoding of arr to dst (the bytes
// Writer.WriteBlock takes; the Writer adds the CRC). arr must hold 1 to
// MaxBlockValues values of a known type, one per timestamp; it returns
// ErrInvalidBlock otherwise. Time order is not checked here.
//
// Layout: type u8 | uvarint len(ts) | timestamps block | values block,
// where the two blocks are tsdb/encoding's formats.
func EncodeBlock(dst []byte, arr *Array) ([]byte, error) {
	n := arr.Len()
	if vn := arr.valueLen(); vn < 0 || vn != n || n == 0 || n > MaxBlockValues {
		return dst, fmt.Errorf("%w: %d timestamps, %d values of type %d", ErrInvalidBlock, n, vn, arr.Type)
	}
	dst = append(dst, byte(arr.Type))
	tsStart := len(dst)
	dst = encoding.AppendTimestamps(dst, arr.Timestamps)
	tsLen := len(dst) - tsStart
	var lb [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(lb[:], uint64(tsLen))
	dst = append(dst, lb[:k]...)
	copy(dst[tsStart+k:], dst[tsStart:tsStart+tsLen])
	copy(dst[tsStart:], lb[:k])
	switch arr.Type {
	case models.FieldTypeFloat:
		dst = encoding.AppendFloats(dst, arr.Floats)
	case models.FieldTypeInteger:
		dst = encoding.AppendIntegers(dst, arr.Integers)
	case models.FieldTypeUnsigned:
		dst = encoding.AppendUnsigneds(dst, arr.Unsigneds)
	case models.FieldTypeString:
		dst = encoding.AppendStrings(dst, arr.Strings)
	case models.FieldTypeBoolean:
		dst = encoding.AppendBooleans(dst, arr.Booleans)
	}
	return dst, nil
}

// DecodeBlock decodes block (as returned by Reader.ReadBlock) into arr,
// replacing its contents and type and reusing its capacity. Strings are
// copied out of block. Malformed bytes yield an error wrapping ErrCorrupt
// (and the codec's error); DecodeBlock never panics and allocates at most
// MaxBlockValues values per column.
func DecodeBlock(block []byte, arr *Array) error {
	arr.Reset(models.FieldTypeUnknown)
	return appendBlock(block, arr, nil)
}

// TimesMemo remembers the last timestamp column a read decoded: the blocks
// of one series' fields usually hold the very same timestamps, encoded
// the same, so a reader of several fields decodes them once and copies
// them after. The zero value is ready to use; not safe for concurrent use.
type TimesMemo struct {
	enc []byte
	ts  []int64
}

// appendBlock decodes block and appends its values to arr, which must be
// empty or of the block's type (ErrCorrupt otherwise); an empty arr takes
// the block's type. Timestamps come from memo (when not nil) if their
// encoding is the one it last decoded. On error arr is left with its
// values before the call.
func appendBlock(block []byte, arr *Array, memo *TimesMemo) (err error) {
	d := newDecoder(block)
	typ := models.FieldType(d.byte())
	ts := d.bytes()
	if !d.ok || !validType(typ) {
		return &CorruptError{Offset: int64(d.off), Reason: "malformed block header"}
	}
	n0 := arr.Len()
	if n0 == 0 {
		arr.Reset(typ)
	} else if arr.Type != typ {
		return &CorruptError{Offset: 0, Reason: fmt.Sprintf("block of type %s read into %s values", typ, arr.Type)}
	}
	defer func() {
		if err != nil {
			arr.truncate(n0)
		}
	}()
	vals := block[d.off:]
	if memo != nil && len(memo.enc) > 0 && bytes.Equal(memo.enc, ts) {
		arr.Timestamps = append(arr.Timestamps, memo.ts...)
	} else {
		arr.Timestamps, err = encoding.DecodeTimestamps(arr.Timestamps, ts)
		if err != nil {
			return &CorruptError{Offset: 1, Reason: "decode timestamps", Err: err}
		}
		if memo != nil {
			memo.enc = append(memo.enc[:0], ts...)
			memo.ts = append(memo.ts[:0], arr.Timestamps[n0:]...)
		}
	}
	switch typ {
	case models.FieldTypeFloat:
		arr.Floats, err = encoding.DecodeFloats(arr.Floats, vals)
	case models.FieldTypeInteger:
		arr.Integers, err = encoding.DecodeIntegers(arr.Integers, vals)
	case models.FieldTypeUnsigned:
		arr.Unsigneds, err = encoding.DecodeUnsigneds(arr.Unsigneds, vals)
	case models.FieldTypeString:
		arr.Strings, err = encoding.DecodeStrings(arr.Strings, vals)
	case models.FieldTypeBoolean:
		arr.Booleans, err = encoding.DecodeBooleans(arr.Booleans, vals)
	}
	if err != nil {
		return &CorruptError{Offset: int64(d.off), Reason: "decode " + typ.String() + " values", Err: err}
	}
	if arr.valueLen() != arr.Len() {
		return &CorruptError{Offset: int64(d.off), Reason: fmt.Sprintf("%d timestamps but %d values", arr.Len()-n0, arr.valueLen()-n0)}
	}
	return nil
}

// ReadArray reads, checks and decodes the block m describes into arr. Beyond
// DecodeBlock's checks it requires the values to match m's count and time
// range, so a block whose bytes disagree with the index is reported as
// corrupt rather than returned.
func (r *Reader) ReadArray(m BlockMeta, arr *Array) error {
	arr.Reset(models.FieldTypeUnknown)
	return r.AppendArrayMemo(m, arr, nil)
}

// AppendArrayMemo is ReadArray appending the block's values to arr
// instead of replacing them (arr must be empty or of the block's type,
// and the caller keeps its times ascending), decoding the timestamps
// through memo (nil for none). On error arr keeps its earlier values.
func (r *Reader) AppendArrayMemo(m BlockMeta, arr *Array, memo *TimesMemo) error {
	if m.Inline() {
		if arr.Len() == 0 {
			arr.Reset(m.inline)
		} else if arr.Type != m.inline {
			return &CorruptError{Path: r.path, Offset: 0, Reason: fmt.Sprintf("block of type %s read into %s values", m.inline, arr.Type)}
		}
		m.appendInline(arr)
		return nil
	}
	b, err := r.ReadBlock(m)
	if err != nil {
		return err
	}
	n0 := arr.Len()
	if err := appendBlock(b, arr, memo); err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			ce.Path, ce.Offset = r.path, m.Offset+crcSize+ce.Offset
		}
		return err
	}
	if n := arr.Len() - n0; n == 0 || n != m.Count || arr.Timestamps[n0] != m.MinTime || arr.Timestamps[arr.Len()-1] != m.MaxTime {
		arr.truncate(n0)
		return &CorruptError{Path: r.path, Offset: m.Offset, Reason: "block contents disagree with index entry"}
	}
	return nil
}

// AppendTimes reads and checks the block m describes and appends only its
// timestamps to dst, leaving its values undecoded: what counting the
// values of a time range needs. A block whose header or timestamps
// disagree with m is reported as corrupt (dst returned as it came).
func (r *Reader) AppendTimes(dst []int64, m BlockMeta) ([]int64, error) {
	if m.Inline() {
		dst = append(dst, m.MinTime)
		if m.Count == 2 {
			dst = append(dst, m.MaxTime)
		}
		return dst, nil
	}
	b, err := r.ReadBlock(m)
	if err != nil {
		return dst, err
	}
	d := newDecoder(b)
	typ := models.FieldType(d.byte())
	ts := d.bytes()
	if !d.ok || !validType(typ) {
		return dst, &CorruptError{Path: r.path, Offset: m.Offset + crcSize + int64(d.off), Reason: "malformed block header"}
	}
	n0 := len(dst)
	if dst, err = encoding.DecodeTimestamps(dst, ts); err != nil {
		return dst[:n0], &CorruptError{Path: r.path, Offset: m.Offset + crcSize + 1, Reason: "decode timestamps", Err: err}
	}
	if n := len(dst) - n0; n == 0 || n != m.Count || dst[n0] != m.MinTime || dst[len(dst)-1] != m.MaxTime {
		return dst[:n0], &CorruptError{Path: r.path, Offset: m.Offset, Reason: "block contents disagree with index entry"}
	}
	return dst, nil
}

// appendInline appends the values of an inline block (m.Inline()) to
// arr, of m's type: First at MinTime and, for two values, Last at MaxTime.
func (m *BlockMeta) appendInline(arr *Array) {
	vals := [2]uint64{m.Stats.First, m.Stats.Last}
	for i, v := range vals[:m.Count] {
		arr.Timestamps = append(arr.Timestamps, [2]int64{m.MinTime, m.MaxTime}[i])
		switch m.inline {
		case models.FieldTypeFloat:
			arr.Floats = append(arr.Floats, math.Float64frombits(v))
		case models.FieldTypeInteger:
			arr.Integers = append(arr.Integers, int64(v))
		case models.FieldTypeUnsigned:
			arr.Unsigneds = append(arr.Unsigneds, v)
		case models.FieldTypeBoolean:
			arr.Booleans = append(arr.Booleans, v != 0)
		}
	}
}

// ComputeMeta returns the time range, count and statistics of arr, which
// must be non-empty with ascending timestamps; Offset and Size are left for
// the Writer.
func ComputeMeta(arr *Array) BlockMeta {
	n := arr.Len()
	m := BlockMeta{MinTime: arr.Timestamps[0], MaxTime: arr.Timestamps[n-1], Count: n}
	switch arr.Type {
	case models.FieldTypeFloat:
		m.Stats = floatStats(arr.Floats)
	case models.FieldTypeInteger:
		lo, hi, sum := intStats(arr.Integers)
		m.Stats = Stats{Min: uint64(lo), Max: uint64(hi), Sum: uint64(sum),
			First: uint64(arr.Integers[0]), Last: uint64(arr.Integers[n-1])}
	case models.FieldTypeUnsigned:
		lo, hi, sum := intStats(arr.Unsigneds)
		m.Stats = Stats{Min: lo, Max: hi, Sum: sum, First: arr.Unsigneds[0], Last: arr.Unsigneds[n-1]}
	case models.FieldTypeBoolean:
		m.Stats = Stats{Min: 1, First: b2u(arr.Booleans[0]), Last: b2u(arr.Booleans[n-1])}
		for _, v := range arr.Booleans {
			if v {
				m.Stats.Max = 1
			} else {
				m.Stats.Min = 0
			}
		}
	}
	return m
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// intStats returns the min, max and wrapping sum of a non-empty slice.
func intStats[T int64 | uint64](vs []T) (lo, hi, sum T) {
	lo, hi = vs[0], vs[0]
	for _, v := range vs {
		lo, hi = min(lo, v), max(hi, v)
		sum += v
	}
	return lo, hi, sum
}

// floatStats computes float statistics; Min/Max skip NaN unless all are NaN.
func floatStats(vs []float64) Stats {
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	seen := false
	for _, v := range vs {
		sum += v
		if v == v {
			seen = true
			if v < lo {
				lo = v
			}
			if v > hi {
				hi = v
			}
		}
	}
	if !seen {
		lo, hi = math.NaN(), math.NaN()
	}
	return Stats{Min: math.Float64bits(lo), Max: math.Float64bits(hi), Sum: math.Float64bits(sum),
		First: math.Float64bits(vs[0]), Last: math.Float64bits(vs[len(vs)-1])}
}

// WriteValues encodes arr for (series, field) in blocks of at most
// MaxPointsPerBlock values and writes them with WriteBlock. arr's
// timestamps must strictly ascend and start after the key's previous block
// (ErrBlockOrder otherwise). An empty arr writes nothing.
func (w *Writer) WriteValues(series, field []byte, arr *Array) error {
	n := arr.Len()
	if n == 0 {
		return nil
	}
	if err := arr.Validate(); err != nil {
		return err
	}
	if n <= MaxPointsPerBlock {
		return w.writeArray(series, field, arr)
	}
	for i := 0; i < n; i += MaxPointsPerBlock {
		part := arr.Slice(i, min(i+MaxPointsPerBlock, n))
		if err := w.writeArray(series, field, &part); err != nil {
			return err
		}
	}
	return nil
}

// writeInline writes arr, already validated and of one or two values,
// as a block kept in its index entry. The entry holds the values (as
// their first and last), not statistics, so none are computed.
func (w *Writer) writeInline(series, field []byte, arr *Array) error {
	n := arr.Len()
	m := BlockMeta{MinTime: arr.Timestamps[0], MaxTime: arr.Timestamps[n-1], Count: n, inline: arr.Type}
	switch arr.Type {
	case models.FieldTypeFloat:
		m.Stats.First, m.Stats.Last = math.Float64bits(arr.Floats[0]), math.Float64bits(arr.Floats[n-1])
	case models.FieldTypeInteger:
		m.Stats.First, m.Stats.Last = uint64(arr.Integers[0]), uint64(arr.Integers[n-1])
	case models.FieldTypeUnsigned:
		m.Stats.First, m.Stats.Last = arr.Unsigneds[0], arr.Unsigneds[n-1]
	case models.FieldTypeBoolean:
		m.Stats.First, m.Stats.Last = b2u(arr.Booleans[0]), b2u(arr.Booleans[n-1])
	}
	return w.writeInlineMeta(series, field, &m)
}

// writeInlineMeta writes the block of m, of one or two values of type
// m.inline given as its Stats' First and Last and already validated, in
// its index entry. The next field of the current series is taken without
// startBlock's checks of the block, which its callers made
// (nextStableField): a snapshot of a million new series writes ten such
// blocks per series (issue 17).
func (w *Writer) writeInlineMeta(series, field []byte, m *BlockMeta) error {
	if !w.nextStableField(series, field, m.inline) {
		if err := w.startBlock(series, field, m.inline, m); err != nil {
			return err
		}
	}
	if w.oneValueEntry(m.Count, true) {
		var value [binary.MaxVarintLen64]byte
		w.writeOneValue(m, appendSmallStats(value[:0], m.inline, 1, &m.Stats))
		return nil
	}
	w.expandOneValue()
	w.seriesBody = appendSmallStats(appendEntryHead(w.seriesBody, m, &w.state, true), m.inline, m.Count, &m.Stats)
	w.noteEntry(m)
	return nil
}

// WriteOneValue writes one value for (series, field) of type typ, any but
// string, at time t: v is the value's 8 bytes (the bits of a float, an
// integer or an unsigned; 0 or 1 for a boolean). It is WriteValues of an
// Array of that value, without one: a snapshot at a million series is
// ~400,000 keys of one value each, where the Array and its checks, the
// block metadata and the calls of the general path were most of the
// Writer's CPU (issue 17). The key that follows the current key of a
// one-value record in its series, as in earlier series (see nextField),
// is written here at once.
func (w *Writer) WriteOneValue(series, field []byte, typ models.FieldType, t int64, v uint64) error {
	// The test of the common case is small enough to be inlined in the
	// caller: a call less per key.
	if w.oneValue && typ != models.FieldTypeString && w.stableKeys && sameSlice(series, w.series) && w.nextOneValue(field, typ, t, v) {
		return nil
	}
	return w.writeOneValue1(series, field, typ, t, v)
}

// OneValue is a key of one value of a series for WriteOneValues: the
// field, the value's type (any but string) and time, and its 8 bytes as
// WriteOneValue takes them.
type OneValue struct {
	Field []byte
	Time  int64
	Bits  uint64
	Type  models.FieldType
}

// WriteOneValues writes the keys of vals, in order, for series: what
// WriteOneValue does for each. The fields of a series that follow one
// another as in earlier series (see nextField) are written in one loop
// that updates the Writer once: a snapshot at a million series is
// ~40,000 series of ten such keys, whose one call each and the Writer's
// state updated for each were a third of the Writer's CPU (issue 17). On
// error, the keys before the failing one are written.
func (w *Writer) WriteOneValues(series []byte, vals []OneValue) error {
	for len(vals) > 0 {
		vals = vals[w.nextOneValues(series, vals):]
		if len(vals) == 0 {
			break
		}
		v := &vals[0]
		if err := w.WriteOneValue(series, v.Field, v.Type, v.Time, v.Bits); err != nil {
			return err
		}
		vals = vals[1:]
	}
	return nil
}

// nextOneValues writes the first keys of vals, of series, that
// nextOneValue would write one at a time, and returns how many.
func (w *Writer) nextOneValues(series []byte, vals []OneValue) int {
	if !w.oneValue || !w.stableKeys || w.err != nil || w.closed || !sameSlice(series, w.series) {
		return 0
	}
	b, num, base := w.seriesBody, w.fieldNum, w.keyMinTime
	keyStart, gap := w.keyStart, uint64(0)
	minT, maxT := w.minTime, w.maxTime
	n := 0
	for i := range vals {
		v := &vals[i]
		id := w.fieldNext[num]
		if id >= oneValueFields || v.Type == models.FieldTypeString {
			break
		}
		// isField, its test of a field known by its address first.
		if def := &w.fieldDefs[id]; def.typ != v.Type || !sameSlice(v.Field, def.seen) && !w.isField(id, v.Field, v.Type) {
			break
		}
		keyStart = len(b)
		gap = uint64(v.Time) - uint64(base)
		head := byte(id << recordKindBits)
		if gap == 0 && v.Type == models.FieldTypeInteger && v.Bits < 64 && len(b)+2 <= cap(b) {
			// A small integer at the key's base time, most of a TSBS
			// snapshot: two bytes.
			b = append(b, head|recordOneAtBase, byte(v.Bits<<1))
		} else {
			b = appendOneValueRecord(b, head, gap, v.Type, v.Bits)
		}
		num, base = id, v.Time
		minT, maxT = min(minT, v.Time), max(maxT, v.Time)
		n++
	}
	if n == 0 {
		return 0
	}
	w.seriesBody, w.keyStart = b, keyStart
	w.fieldCount += n
	w.keyCount += n
	// The dictionary's copy of the key: nothing writes through w.field.
	w.field = unsafe.Slice(unsafe.StringData(w.fieldDefs[num].name), len(w.fieldDefs[num].name))
	w.typ, w.fieldNum = vals[n-1].Type, num
	w.state = entryState{maxTime: base, gap: gap, count: 1}
	w.keyMinTime, w.prevMaxTime, w.blockCount = base, base, 1
	w.blockTotal += n
	w.valueTotal += int64(n)
	w.minTime, w.maxTime = minT, maxT
	return n
}

// writeOneValue1 is WriteOneValue for a key other than the next field of
// a one-value record's series.
func (w *Writer) writeOneValue1(series, field []byte, typ models.FieldType, t int64, v uint64) error {
	switch {
	case typ == models.FieldTypeString || !validType(typ):
		return fmt.Errorf("%w: WriteOneValue of field type %d", ErrInvalidBlock, typ)
	case !inlineEntry(typ, 1, w.version): // versions 1 and 2 (tests)
		a := Array{Type: typ, Timestamps: []int64{t}}
		switch typ {
		case models.FieldTypeFloat:
			a.Floats = []float64{math.Float64frombits(v)}
		case models.FieldTypeInteger:
			a.Integers = []int64{int64(v)}
		case models.FieldTypeUnsigned:
			a.Unsigneds = []uint64{v}
		default:
			a.Booleans = []bool{v&1 != 0}
		}
		return w.WriteValues(series, field, &a)
	}
	if w.firstOneValue(series, field, typ, t, v) {
		return nil
	}
	m := BlockMeta{MinTime: t, MaxTime: t, Count: 1, inline: typ}
	m.Stats.First, m.Stats.Last = v, v
	if typ == models.FieldTypeBoolean {
		m.Stats.First, m.Stats.Last = v&1, v&1
	}
	return w.writeInlineMeta(series, field, &m)
}

// firstOneValue writes field's value v of type typ, not a string, at
// time t as the first key of series if the current key is of a one-value
// record, series sorts after the current series and field is the first
// field of the previous series, and reports whether it did: what
// startBlock and writeOneValue do for the first key of each series of a
// snapshot at a million series, without their general cases.
func (w *Writer) firstOneValue(series, field []byte, typ models.FieldType, t int64, v uint64) bool {
	id := w.seriesFirst
	if !w.oneValue || !w.stableKeys || w.err != nil || w.closed || id >= oneValueFields ||
		!w.isField(id, field, typ) || bytes.Compare(series, w.series) <= 0 {
		return false
	}
	w.finishKey(true)
	w.series = series
	w.field = unsafe.Slice(unsafe.StringData(w.fieldDefs[id].name), len(w.fieldDefs[id].name))
	w.typ, w.fieldNum = typ, id
	w.keyStart = 0
	w.seriesBody = appendOneValueRecord(w.seriesBody[:0], byte(id<<recordKindBits), uint64(t), typ, v)
	w.state = entryState{maxTime: t, gap: uint64(t), count: 1}
	w.noteOneValue(t)
	return true
}

// appendOneValueHead appends the head of a one-value record: head (the
// field number and no kind) with the record's kind, and the gap from the
// key's base time when it is not 0.
func appendOneValueHead(b []byte, head byte, gap uint64) []byte {
	if gap == 0 {
		return append(b, head|recordOneAtBase)
	}
	return binary.AppendVarint(append(b, head|recordOneWithGap), int64(gap))
}

// appendOneValueRecord appends a one-value record of head (the field
// number and no kind) for the value v of type typ at gap from the key's
// base time.
func appendOneValueRecord(b []byte, head byte, gap uint64, typ models.FieldType, v uint64) []byte {
	b = appendOneValueHead(b, head, gap)
	switch typ {
	case models.FieldTypeFloat:
		return binary.LittleEndian.AppendUint64(b, v)
	case models.FieldTypeInteger:
		return binary.AppendVarint(b, int64(v))
	case models.FieldTypeUnsigned:
		return binary.AppendUvarint(b, v)
	}
	return append(b, byte(v&1)) // boolean
}

// noteOneValue is noteEntry for the one block, of one value at time t,
// of a new current key.
func (w *Writer) noteOneValue(t int64) {
	w.oneValue = true
	w.keyMinTime, w.prevMaxTime, w.blockCount = t, t, 1
	w.blockTotal++
	w.valueTotal++
	w.minTime, w.maxTime = min(w.minTime, t), max(w.maxTime, t)
}

// nextOneValue writes field's value v of type typ, not a string, at time
// t if field is the next field of the current series (see nextField),
// whose current key is of a one-value record (oneValue), and reports
// whether it did: it finishes the current key and writes the next one's
// one-value record, what finishKey, openKey, writeOneValue and noteEntry
// do for such keys, without their general cases.
func (w *Writer) nextOneValue(field []byte, typ models.FieldType, t int64, v uint64) bool {
	id := w.fieldNext[w.fieldNum]
	if id >= oneValueFields || w.err != nil || w.closed || !w.isField(id, field, typ) {
		return false
	}
	w.fieldCount++
	w.keyCount++
	// The dictionary's copy of the key: nothing writes through w.field.
	w.field = unsafe.Slice(unsafe.StringData(w.fieldDefs[id].name), len(w.fieldDefs[id].name))
	w.typ, w.fieldNum = typ, id
	w.keyStart = len(w.seriesBody)
	gap := uint64(t) - uint64(w.keyMinTime) // from the previous key's base (keyState)
	w.seriesBody = appendOneValueRecord(w.seriesBody, byte(id<<recordKindBits), gap, typ, v)
	w.state = entryState{maxTime: t, gap: gap, count: 1}
	w.noteOneValue(t)
	return true
}

// writeArray encodes and writes one block of already validated values.
func (w *Writer) writeArray(series, field []byte, arr *Array) error {
	if inlineEntry(arr.Type, arr.Len(), w.version) {
		return w.writeInline(series, field, arr)
	}
	var err error
	w.scratch, err = EncodeBlock(w.scratch[:0], arr)
	if err != nil {
		return err
	}
	return w.WriteBlock(series, field, arr.Type, ComputeMeta(arr), w.scratch)
}

// ReadValues sets dst to this file's values of (series, field) with
// tr.Min <= time <= tr.Max, decoding only the blocks that overlap tr. dst
// is left empty (with unknown type) if the key is absent. scratch holds one
// decoded block and may be nil.
func (r *Reader) ReadValues(series, field []byte, tr TimeRange, dst, scratch *Array) error {
	dst.Reset(models.FieldTypeUnknown)
	var buf [16]BlockMeta
	typ, ents := r.AppendEntries(buf[:0], series, field)
	if typ == models.FieldTypeUnknown {
		return nil
	}
	dst.Type = typ
	if scratch == nil {
		scratch = &Array{}
	}
	for _, m := range ents {
		if !tr.Overlaps(m.MinTime, m.MaxTime) {
			continue
		}
		if err := r.ReadArray(m, scratch); err != nil {
			return err
		}
		scratch.Include(tr.Min, tr.Max)
		appendArray(dst, scratch, 0, scratch.Len())
	}
	return nil
}
