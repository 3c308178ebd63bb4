package tsdb

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/klauspost/compress/s2"

	"github.com/strata-db/strata/internal/bytereader"
	"github.com/strata-db/strata/tsdb/models"
)

// WAL record kinds. The format is specified in docs/wal-record.md.
const (
	// walRecordPoints is the first points layout, in which every point
	// spells its series key and field keys. Only read: records of older
	// versions stay in a WAL until their segment is snapshotted.
	walRecordPoints byte = 1
	walRecordDelete byte = 2
	// walRecordSchemaPoints is the points layout encodePoints writes: a
	// record spells each series key and each list of field keys once.
	walRecordSchemaPoints byte = 3

	walFlagS2 byte = 1 << 0

	// walCompressMin is the payload size from which a record is s2-compressed.
	walCompressMin = 512
	// walMaxRatio bounds the decoded size of a compressed record to
	// walMaxRatio times its compressed size (plus walRatioSlack), so a
	// corrupt length cannot make replay allocate without limit; the encoder
	// stores a record uncompressed rather than exceed it.
	walMaxRatio   = 64
	walRatioSlack = 4096
)

// walEncoder encodes point batches into WAL records with reusable buffers,
// so the steady-state write path does not allocate. Not safe for concurrent
// use; the engine keeps a sync.Pool of them.
type walEncoder struct {
	raw  []byte
	out  []byte
	keys []keySpan
	memo models.SeriesMemo // points of one series share their key
	// series is, per series the record being encoded defined (in order),
	// the span of its key and its latest schema.
	series []walSeries
	// schemas is, per schema the record defined (in order), where its
	// field keys are in fieldKeys.
	schemas []walSchemaKeys
	// fieldKeys are the field keys of the schemas, slices of the points'
	// keys, kept apart so that comparing a point's keys with its schema's
	// reads a small hot array rather than the defining point's fields
	// (another cache line per field); cleared after each encode.
	fieldKeys [][]byte
}

// walSchemaKeys locates a schema's field keys in walEncoder.fieldKeys.
type walSchemaKeys struct{ start, end int32 }

// walSeries is a series a points record defined.
type walSeries struct {
	span   keySpan
	schema int32
}

// keySpan locates a series key in walEncoder.raw; first is the index in
// walEncoder.keys of the batch's first point found to have the same key (its
// own index when none was), so work derived from a key can be reused.
type keySpan struct{ start, end, first int }

// trim drops the buffers grown past maxCap bytes, so an encoder kept idle
// does not hold on to what one unusually large batch needed.
func (e *walEncoder) trim(maxCap int) {
	if cap(e.raw) > maxCap {
		e.raw = nil
	}
	if cap(e.out) > maxCap {
		e.out = nil
	}
	if cap(e.keys) > maxCap/16 {
		e.keys = nil
	}
	if cap(e.series) > maxCap/32 {
		e.series = nil
	}
	if cap(e.schemas) > maxCap/8 {
		e.schemas = nil
	}
	if cap(e.fieldKeys) > maxCap/24 {
		e.fieldKeys = nil
	}
}

// seriesKey returns the series key of the i-th encoded point.
func (e *walEncoder) seriesKey(i int) []byte { return e.raw[e.keys[i].start:e.keys[i].end] }

// encodePoints encodes the points whose drop[i] is false (drop may be nil)
// and returns the record, valid until the next call on e. e.keys receives,
// per encoded point, the span of its series key in e.raw, so the caller can
// reuse the key instead of building it again.
//
// A point whose Measurement and Tags slices are those of an earlier point
// (as the parser gives the points of a series repeated in a batch) refers
// to that point's series, and to its field keys when they are the same
// (a schema), instead of spelling them again: a 5,000-line TSBS batch
// takes 10 % of the bytes it took when every point spelled its keys, which
// is what s2 then compresses.
func (e *walEncoder) encodePoints(points []models.Point, drop []bool) []byte {
	n, first := 0, -1
	for i := range points {
		if (drop == nil || !drop[i]) && len(points[i].Fields) > 0 {
			n++
			if first < 0 {
				first = i
			}
		}
	}
	// Grow the buffers once to what the batch needs rather than by
	// doubling as it is appended (escapes in series keys may still add a
	// little). Points of a batch are usually alike, so a buffer with room
	// for n times the first point is kept without summing every point's
	// size (3 % of a node's CPU on the TSBS load); appends still grow it
	// for a batch larger than that. Sizes assume every point defines its
	// series and schema, so a batch repeating series fits with room to
	// spare.
	size := 2 + binary.MaxVarintLen64
	if n > 0 {
		size += n * pointRecordSize(&points[first])
	}
	if cap(e.raw) < size {
		size = 2 + binary.MaxVarintLen64
		for i := range points {
			if (drop == nil || !drop[i]) && len(points[i].Fields) > 0 {
				size += pointRecordSize(&points[i])
			}
		}
	}
	if cap(e.raw) < size {
		e.raw = make([]byte, 0, withHeadroom(size))
	}
	if cap(e.keys) < n {
		e.keys = make([]keySpan, 0, withHeadroom(n))
	}
	if cap(e.series) < n || cap(e.schemas) < n {
		e.series = make([]walSeries, 0, withHeadroom(n))
		e.schemas = make([]walSchemaKeys, 0, withHeadroom(n))
	}
	if n > 0 {
		// Room for the keys of 64 schemas like the first point's: batches
		// usually hold a few schemas; more grow the array.
		if want := min(n, 64) * len(points[first].Fields); cap(e.fieldKeys) < want {
			e.fieldKeys = make([][]byte, 0, want)
		}
	}
	e.keys = e.keys[:0]
	e.series, e.schemas = e.series[:0], e.schemas[:0]
	e.memo.Reset()
	raw := e.raw[:0]
	raw = append(raw, walRecordSchemaPoints, 0)
	raw = binary.AppendUvarint(raw, uint64(n))
	var prev int64
	for i := range points {
		p := &points[i]
		if (drop != nil && drop[i]) || len(p.Fields) == 0 {
			continue
		}
		s, seen := e.memo.Recall(p, int32(len(e.series)))
		switch {
		case seen && e.sameFieldKeys(e.series[s].schema, p.Fields):
			raw = binary.AppendUvarint(raw, uint64(e.series[s].schema)+1)
		case seen:
			// The series of an earlier point with other field keys.
			raw = append(raw, 0)
			raw = binary.AppendUvarint(raw, uint64(e.series[s].schema)+1)
			raw = e.defineSchema(raw, s, points, i)
		default:
			s = int32(len(e.series))
			raw = append(raw, 0, 0)
			var span keySpan
			raw, span = appendSeriesKey(raw, p)
			span.first = len(e.keys)
			e.series = append(e.series, walSeries{span: span})
			raw = e.defineSchema(raw, s, points, i)
		}
		e.keys = append(e.keys, e.series[s].span)
		// Wrapping arithmetic: the decoder's prev + delta is p.Time for
		// any two times.
		raw = binary.AppendVarint(raw, p.Time-prev)
		prev = p.Time
		for j := range p.Fields {
			switch v := &p.Fields[j].Value; v.Type {
			case models.FieldTypeInteger:
				// The usual type, written here: models.AppendValue's
				// encoding, without its call and switch.
				raw = binary.AppendVarint(append(raw, byte(v.Type)), int64(v.N))
			case models.FieldTypeUnknown:
				panic("BUG: wal encode of a value without a type") // the write path drops such points first
			default:
				raw = models.AppendValue(raw, *v)
			}
		}
	}
	clear(e.fieldKeys) // they alias the points
	e.fieldKeys = e.fieldKeys[:0]
	e.raw = raw
	return e.finish(raw)
}

// appendSeriesKey appends p's series key with its uvarint length and
// returns where the key is in raw.
func appendSeriesKey(raw []byte, p *models.Point) ([]byte, keySpan) {
	if p.Key != nil {
		raw = binary.AppendUvarint(raw, uint64(len(p.Key)))
		start := len(raw)
		raw = append(raw, p.Key...)
		return raw, keySpan{start: start, end: len(raw)}
	}
	// The key's length is known only after building it: append the key,
	// then shift it right to make room for its uvarint length.
	start := len(raw)
	raw = p.AppendSeriesKey(raw)
	keyLen := len(raw) - start
	var lenBuf [binary.MaxVarintLen64]byte
	ln := binary.PutUvarint(lenBuf[:], uint64(keyLen))
	raw = append(raw, lenBuf[:ln]...)
	copy(raw[start+ln:], raw[start:start+keyLen])
	copy(raw[start:], lenBuf[:ln])
	return raw, keySpan{start: start + ln, end: start + ln + keyLen}
}

// defineSchema appends the field keys of points[i], the next schema, and
// makes it series s's latest.
func (e *walEncoder) defineSchema(raw []byte, s int32, points []models.Point, i int) []byte {
	e.series[s].schema = int32(len(e.schemas))
	start := len(e.fieldKeys)
	fields := points[i].Fields
	raw = binary.AppendUvarint(raw, uint64(len(fields)))
	for j := range fields {
		k := fields[j].Key
		raw = binary.AppendUvarint(raw, uint64(len(k)))
		raw = append(raw, k...)
		e.fieldKeys = append(e.fieldKeys, k)
	}
	e.schemas = append(e.schemas, walSchemaKeys{int32(start), int32(len(e.fieldKeys))})
	return raw
}

// sameFieldKeys reports whether fields have schema's keys in the same
// order. The parser gives the points of a batch the same key slices, so
// the comparisons usually end at their addresses.
func (e *walEncoder) sameFieldKeys(schema int32, fields []models.Field) bool {
	sk := e.schemas[schema]
	keys := e.fieldKeys[sk.start:sk.end]
	if len(keys) != len(fields) {
		return false
	}
	for i, k := range keys {
		f := fields[i].Key
		if len(k) != len(f) || unsafe.SliceData(k) != unsafe.SliceData(f) && string(k) != string(f) {
			return false
		}
	}
	return true
}

// withHeadroom is the capacity to allocate for n elements of a reused
// buffer: an eighth more, so that the next batch, often a little larger
// than the last, does not reallocate it again.
func withHeadroom(n int) int { return n + n/8 }

// pointRecordSize bounds the size of p's entry in a points record when its
// series key needs no escapes (escapes only add to it): the size when p
// defines its series and schema, with the longest time delta.
func pointRecordSize(p *models.Point) int {
	key := len(p.Measurement)
	for i := range p.Tags {
		key += 2 + len(p.Tags[i].Key) + len(p.Tags[i].Value) // ",k=v"
	}
	n := 2 + uvarintLen(uint64(key)) + key + binary.MaxVarintLen64 + uvarintLen(uint64(len(p.Fields)))
	for i := range p.Fields {
		f := &p.Fields[i]
		n += uvarintLen(uint64(len(f.Key))) + len(f.Key) + encodedValueLen(f.Value)
	}
	return n
}

// encodedValueLen is the length of models.AppendValue's encoding of v.
func encodedValueLen(v models.Value) int {
	switch v.Type {
	case models.FieldTypeFloat:
		return 1 + 8
	case models.FieldTypeInteger:
		ux := uint64(v.N) << 1 // zigzag, as binary.AppendVarint
		if int64(v.N) < 0 {
			ux = ^ux
		}
		return 1 + uvarintLen(ux)
	case models.FieldTypeUnsigned:
		return 1 + uvarintLen(v.N)
	case models.FieldTypeBoolean:
		return 2
	case models.FieldTypeString:
		return 1 + uvarintLen(uint64(len(v.S))) + len(v.S)
	default:
		return 1
	}
}

// uvarintLen is the length of binary.AppendUvarint's encoding of x.
func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// encodeDelete encodes a batch of tombstones (without their file sequence,
// which only the tombstone sidecar needs).
func (e *walEncoder) encodeDelete(ts []Tombstone) []byte {
	raw := e.raw[:0]
	raw = append(raw, walRecordDelete, 0)
	raw = binary.AppendUvarint(raw, uint64(len(ts)))
	for i := range ts {
		raw = appendTombstoneBody(raw, &ts[i])
	}
	e.raw = raw
	return e.finish(raw)
}

func (e *walEncoder) finish(raw []byte) []byte {
	if len(raw)-2 < walCompressMin {
		return raw
	}
	need := 2 + s2.MaxEncodedLen(len(raw)-2)
	if cap(e.out) < need {
		e.out = make([]byte, withHeadroom(need))
	}
	out := e.out[:need]
	out[0], out[1] = raw[0], walFlagS2
	enc := s2.Encode(out[2:], raw[2:])
	if len(raw)-2 > walMaxRatio*len(enc)+walRatioSlack {
		return raw
	}
	return out[:2+len(enc)]
}

// walDecoder decodes WAL records; its buffers are reused between records.
type walDecoder struct {
	buf []byte
	// schemas are the schemas of the points record being decoded.
	schemas []walSchema
}

// walSchema is a series key and a list of field keys that a points record
// defined once for the points that refer to it.
type walSchema struct {
	key []byte
	// fields is the encoded list of nfields field keys, read again for
	// each point (cheaper than a slice per key, and bounded by the record).
	fields  []byte
	nfields int
}

// walVisitor receives the content of a decoded record. Byte slices alias the
// decoder's buffer and are valid only during the call.
type walVisitor struct {
	value  func(key, field []byte, ts int64, v models.Value) error
	delete func(t Tombstone) error
}

// decode parses rec and calls vis for every value or tombstone in it.
func (d *walDecoder) decode(rec []byte, vis walVisitor) error {
	if len(rec) < 2 {
		return fmt.Errorf("wal record of %d bytes: %w", len(rec), ErrCorruptRecord)
	}
	kind, flags := rec[0], rec[1]
	body := rec[2:]
	if flags&^walFlagS2 != 0 {
		return fmt.Errorf("wal record flags %#x: %w", flags, ErrCorruptRecord)
	}
	if flags&walFlagS2 != 0 {
		n, err := s2.DecodedLen(body)
		if err != nil || n > walMaxRatio*len(body)+walRatioSlack {
			return fmt.Errorf("wal record s2 header: %w", ErrCorruptRecord)
		}
		if cap(d.buf) < n {
			d.buf = make([]byte, n)
		}
		out, err := s2.Decode(d.buf[:n], body)
		if err != nil {
			return fmt.Errorf("wal record s2 payload: %w: %w", ErrCorruptRecord, err)
		}
		body = out
	}
	r := newByteReader(body)
	switch kind {
	case walRecordSchemaPoints:
		return d.decodeSchemaPointsBody(&r, vis)
	case walRecordPoints:
		return decodePointsBody(&r, vis)
	case walRecordDelete:
		n := r.Uvarint()
		for i := uint64(0); i < n && r.Err() == nil; i++ {
			t := readTombstoneBody(&r)
			if r.Err() != nil {
				break
			}
			if vis.delete != nil {
				if err := vis.delete(t); err != nil {
					return err
				}
			}
		}
		if r.Err() != nil {
			return fmt.Errorf("wal delete record: %w", r.Err())
		}
		return nil
	default:
		return fmt.Errorf("wal record kind %d: %w", kind, ErrCorruptRecord)
	}
}

func decodePointsBody(r *byteReader, vis walVisitor) error {
	n := r.Uvarint()
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		key := r.key()
		ts := int64(r.Uint64LE())
		nf := r.Uvarint()
		for j := uint64(0); j < nf && r.Err() == nil; j++ {
			field := r.key()
			v := r.value()
			if r.Err() != nil {
				break
			}
			if vis.value != nil {
				if err := vis.value(key, field, ts, v); err != nil {
					return err
				}
			}
		}
	}
	if r.Err() != nil {
		return fmt.Errorf("wal points record: %w", r.Err())
	}
	if len(r.Rest()) != 0 {
		return fmt.Errorf("wal points record: %d trailing bytes: %w", len(r.Rest()), ErrCorruptRecord)
	}
	return nil
}

// decodeSchemaPointsBody decodes the body of a walRecordSchemaPoints record.
func (d *walDecoder) decodeSchemaPointsBody(r *byteReader, vis walVisitor) error {
	// A point is at least a schema number and a time delta.
	n := r.Count(2)
	d.schemas = d.schemas[:0]
	var ts int64
	for i := 0; i < n && r.Err() == nil; i++ {
		sc := d.readSchemaRef(r)
		ts += r.Varint()
		keys := newByteReader(sc.fields)
		for j := 0; j < sc.nfields && r.Err() == nil; j++ {
			field := keys.key()
			v := r.value()
			if r.Err() != nil {
				break
			}
			if vis.value != nil {
				if err := vis.value(sc.key, field, ts, v); err != nil {
					return err
				}
			}
		}
	}
	clear(d.schemas) // they alias the record
	if r.Err() != nil {
		return fmt.Errorf("wal points record: %w", r.Err())
	}
	if len(r.Rest()) != 0 {
		return fmt.Errorf("wal points record: %d trailing bytes: %w", len(r.Rest()), ErrCorruptRecord)
	}
	return nil
}

// readSchemaRef reads a point's schema: a reference to an earlier one, or
// a new one, which it adds to d.schemas.
func (d *walDecoder) readSchemaRef(r *byteReader) walSchema {
	ref := r.Uvarint()
	if ref > uint64(len(d.schemas)) {
		r.Fail("schema number")
		return walSchema{}
	}
	if ref > 0 {
		return d.schemas[ref-1]
	}
	var sc walSchema
	switch series := r.Uvarint(); {
	case series == 0:
		sc.key = r.key()
	case series > uint64(len(d.schemas)):
		r.Fail("series number")
		return walSchema{}
	default:
		sc.key = d.schemas[series-1].key
	}
	sc.nfields = r.Count(1)
	before := r.Rest()
	for range sc.nfields {
		if r.key(); r.Err() != nil {
			return walSchema{}
		}
	}
	sc.fields = before[:len(before)-len(r.Rest())]
	d.schemas = append(d.schemas, sc)
	return sc
}

// byteReader reads the primitive encodings of WAL and tombstone records
// (bytereader's, failing with ErrCorruptRecord) and their keys and values.
type byteReader struct{ bytereader.Reader }

func newByteReader(b []byte) byteReader {
	return byteReader{bytereader.New(b, ErrCorruptRecord)}
}

// key reads a series or field key of at most models.MaxKeyLength bytes,
// the write path's limit.
func (r *byteReader) key() []byte {
	k := r.Bytes()
	if len(k) > models.MaxKeyLength {
		r.Fail("key")
		return nil
	}
	return k
}

func (r *byteReader) value() models.Value {
	v, n, err := models.ReadValue(r.Rest())
	if err != nil || v.Type == models.FieldTypeUnknown {
		r.Fail("value")
		return models.Value{}
	}
	r.Fixed(n)
	return v
}
