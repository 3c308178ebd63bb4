package tsdb

import (
	"encoding/binary"
	"errors"
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
	// walRecordSchemaPoints is the second points layout, in which a record
	// spells each series key once and a list of field keys once per series
	// using it. Only read, as walRecordPoints.
	walRecordSchemaPoints byte = 3
	// walRecordSchemaSection is the third points layout: the points, then
	// the schemas they refer to in a section of their own, the only part
	// s2 compresses, and a new schema may take the field keys of an
	// earlier one (a batch of new series with the same fields spells them
	// once). Only read, as walRecordPoints.
	walRecordSchemaSection byte = 4
	// walRecordSeriesIDs is the points layout encodePoints writes:
	// walRecordSchemaSection's, in which a new series is named by its id
	// in the shard's index instead of its key. The index makes a batch's
	// series durable before the batch is written to the WAL, and never
	// gives an id to another series, so replay finds every key there.
	walRecordSeriesIDs byte = 5
	// walSchemaSectionHeader is the size of the header of a
	// walRecordSchemaSection record: kind, flags and the points' length.
	walSchemaSectionHeader = 2 + 4

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

// errNoSeriesResolver is returned when a walRecordSeriesIDs record is
// decoded without walDecoder.seriesKey.
var errNoSeriesResolver = errors.New("no series index to resolve series ids")

// walEncoder encodes point batches into WAL records with reusable buffers,
// so the steady-state write path does not allocate. Not safe for concurrent
// use; the engine keeps a sync.Pool of them.
type walEncoder struct {
	raw []byte
	out []byte
	// defs holds the schema definitions of the points record being
	// encoded (its schema section).
	defs []byte
	// keys is, per point encoded, its series in series.
	keys []pointSeries
	// keyBuf holds the series keys encodePoints built for points without
	// a Key.
	keyBuf []byte
	memo   models.SeriesMemo // points of one series share their key
	// series is, per series the record being encoded defined (in order),
	// its key and its latest schema.
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

// walSeries is a series a points record defined: its key (a point's Key,
// or, while built is true, keyBuf[start:end]) and its latest schema.
type walSeries struct {
	key        []byte
	start, end int32
	built      bool
	schema     int32
	first      int // index in walEncoder.keys of its first point
}

// pointSeries is the series of an encoded point, an index in
// walEncoder.series; first is the index in walEncoder.keys of the batch's
// first point found to have the same series (its own index when none
// was), so work derived from a key can be reused.
type pointSeries struct {
	series int32
	first  int
}

// trim drops the buffers grown past maxCap bytes, so an encoder kept idle
// does not hold on to what one unusually large batch needed, and the
// series keys of the last batch, which may alias its points.
func (e *walEncoder) trim(maxCap int) {
	clear(e.series)
	if cap(e.raw) > maxCap {
		e.raw = nil
	}
	if cap(e.out) > maxCap {
		e.out = nil
	}
	if cap(e.defs) > maxCap {
		e.defs = nil
	}
	if cap(e.keyBuf) > maxCap {
		e.keyBuf = nil
	}
	if cap(e.keys) > maxCap/16 {
		e.keys = nil
	}
	if cap(e.series) > maxCap/48 {
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
func (e *walEncoder) seriesKey(i int) []byte { return e.series[e.keys[i].series].key }

// encodePoints encodes the points whose drop[i] is false (drop may be nil),
// ids[i] being the index id of points[i]'s series, and returns the
// record, valid until the next call on e. e.keys receives, per encoded
// point, its series, whose key seriesKey returns, so the caller can reuse
// the key instead of building it again.
//
// A point whose Measurement and Tags slices are those of an earlier point
// (as the parser gives the points of a series repeated in a batch) refers
// to that point's series, and to its field keys when they are the same
// (a schema), instead of spelling them again: a 5,000-line TSBS batch
// takes 10 % of the bytes it took when every point spelled its keys. A new
// schema with the field keys of the schema defined before it refers to
// those (a batch of new series usually has one list of field keys).
func (e *walEncoder) encodePoints(points []models.Point, drop []bool, ids []uint64) []byte {
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
	// little). Points of a batch are usually alike, so buffers with room
	// for n times the first point are kept without summing every point's
	// size (3 % of a node's CPU on the TSBS load); appends still grow them
	// for a batch larger than that. Sizes assume every point defines its
	// series and schema, so a batch repeating series fits with room to
	// spare.
	size, defSize, keySize := 0, 0, 0
	if n > 0 {
		size, defSize, keySize = n*pointEntrySize(&points[first]), n*schemaDefSize(&points[first]), n*builtKeySize(&points[first])
	}
	if cap(e.raw) < pointsRecordSize(size, defSize) || cap(e.defs) < defSize || cap(e.keyBuf) < keySize {
		size, defSize, keySize = 0, 0, 0
		for i := range points {
			if (drop == nil || !drop[i]) && len(points[i].Fields) > 0 {
				size += pointEntrySize(&points[i])
				defSize += schemaDefSize(&points[i])
				keySize += builtKeySize(&points[i])
			}
		}
	}
	if need := pointsRecordSize(size, defSize); cap(e.raw) < need {
		e.raw = make([]byte, 0, withHeadroom(need))
	}
	if cap(e.defs) < defSize {
		e.defs = make([]byte, 0, withHeadroom(defSize))
	}
	if cap(e.keyBuf) < keySize {
		e.keyBuf = make([]byte, 0, withHeadroom(keySize))
	}
	if cap(e.keys) < n {
		e.keys = make([]pointSeries, 0, withHeadroom(n))
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
	e.keyBuf = e.keyBuf[:0]
	built := false
	e.memo.Reset()
	// The points' length is set when they are all in.
	raw := append(e.raw[:0], walRecordSeriesIDs, 0, 0, 0, 0, 0)
	raw = binary.AppendUvarint(raw, uint64(n))
	defs := e.defs[:0]
	var prev int64
	for i := range points {
		p := &points[i]
		if (drop != nil && drop[i]) || len(p.Fields) == 0 {
			continue
		}
		s, seen := e.memo.Recall(p, int32(len(e.series)))
		switch {
		case seen && e.sameFieldKeys(e.series[s].schema, p.Fields):
		case seen:
			// The series of an earlier point with other field keys.
			defs = binary.AppendUvarint(defs, uint64(e.series[s].schema)+1)
			defs = e.defineSchema(defs, s, p.Fields)
		default:
			s = int32(len(e.series))
			if ids[i] == 0 {
				// Replay would refuse the whole record: the index gives
				// every point it did not reject an id.
				panic("BUG: wal encode of a point without a series id")
			}
			defs = binary.AppendUvarint(append(defs, 0), ids[i])
			ws := walSeries{key: p.Key, first: len(e.keys)}
			if p.Key == nil {
				// Built apart: keyBuf may move as it grows.
				start := len(e.keyBuf)
				e.keyBuf = p.AppendSeriesKey(e.keyBuf)
				ws.start, ws.end, ws.built = int32(start), int32(len(e.keyBuf)), true
				built = true
			}
			e.series = append(e.series, ws)
			defs = e.defineSchema(defs, s, p.Fields)
		}
		e.keys = append(e.keys, pointSeries{series: s, first: e.series[s].first})
		raw = binary.AppendUvarint(raw, uint64(e.series[s].schema)+1)
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
	// A record past 4 GiB is past every WAL's MaxRecordSize: the WAL
	// refuses it, whatever this says.
	binary.LittleEndian.PutUint32(raw[2:walSchemaSectionHeader], uint32(len(raw)-walSchemaSectionHeader))
	e.defs = defs
	if built {
		for i := range e.series {
			if ws := &e.series[i]; ws.built {
				ws.key = e.keyBuf[ws.start:ws.end:ws.end]
			}
		}
	}
	// The schema section is not compressed: series ids and field keys
	// spelled once a batch leave s2 little to gain.
	e.raw = append(raw, defs...)
	return e.raw
}

// defineSchema appends the field keys of the next schema, fields, to
// defs, and makes it series s's latest. When they are the keys of the
// schema defined last (the points of a batch usually have the same
// fields, whatever their series) it refers to that schema instead.
func (e *walEncoder) defineSchema(defs []byte, s int32, fields []models.Field) []byte {
	last := int32(len(e.schemas)) - 1
	e.series[s].schema = last + 1
	if last >= 0 && e.sameFieldKeys(last, fields) {
		e.schemas = append(e.schemas, e.schemas[last])
		return binary.AppendUvarint(defs, uint64(last)+1)
	}
	start := len(e.fieldKeys)
	defs = append(defs, 0)
	defs = binary.AppendUvarint(defs, uint64(len(fields)))
	for j := range fields {
		k := fields[j].Key
		defs = binary.AppendUvarint(defs, uint64(len(k)))
		defs = append(defs, k...)
		e.fieldKeys = append(e.fieldKeys, k)
	}
	e.schemas = append(e.schemas, walSchemaKeys{int32(start), int32(len(e.fieldKeys))})
	return defs
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

// pointsRecordSize bounds the size of a points record whose points take
// size bytes and whose schema section takes defSize.
func pointsRecordSize(size, defSize int) int {
	return walSchemaSectionHeader + binary.MaxVarintLen64 + size + defSize
}

// pointEntrySize bounds the size of p's entry in the points of a points
// record: with the longest time delta and a schema number of up to 4
// bytes (2^28 schemas; a larger batch only grows the buffer).
func pointEntrySize(p *models.Point) int {
	n := 4 + binary.MaxVarintLen64
	for i := range p.Fields {
		n += encodedValueLen(p.Fields[i].Value)
	}
	return n
}

// schemaDefSize bounds the size of the schema p defines in a points
// record: the size when p defines its series and field keys.
func schemaDefSize(p *models.Point) int {
	n := 2 + binary.MaxVarintLen64 + uvarintLen(uint64(len(p.Fields)))
	for i := range p.Fields {
		n += uvarintLen(uint64(len(p.Fields[i].Key))) + len(p.Fields[i].Key)
	}
	return n
}

// builtKeySize is the size of the series key encodePoints builds for p:
// none when p has its Key, else its length when it needs no escapes
// (escapes only add to it).
func builtKeySize(p *models.Point) int {
	if p.Key != nil {
		return 0
	}
	n := len(p.Measurement)
	for i := range p.Tags {
		n += 2 + len(p.Tags[i].Key) + len(p.Tags[i].Value) // ",k=v"
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
	// seriesKey returns the key of a series by its index id, or nil when
	// the index has no such series (it was dropped): walRecordSeriesIDs
	// records need it. The key must stay valid while the record is
	// decoded.
	seriesKey func(id uint64) []byte
	// unknownSeries counts the values of walRecordSeriesIDs records
	// skipped because seriesKey did not know their series.
	unknownSeries int
	buf           []byte
	// schemas are the schemas of the points record being decoded.
	schemas []walSchema
}

// walSchema is a series key and a list of field keys that a points record
// defined once for the points that refer to it.
type walSchema struct {
	key []byte
	// unknown says the index no longer has the series (it was dropped):
	// its values are skipped.
	unknown bool
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
	if kind == walRecordSchemaSection || kind == walRecordSeriesIDs {
		return d.decodeSchemaSection(body, flags&walFlagS2 != 0, kind == walRecordSeriesIDs, vis)
	}
	if flags&walFlagS2 != 0 {
		var err error
		if body, err = d.uncompress(body); err != nil {
			return err
		}
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

// uncompress returns the s2 block b decoded into d.buf.
func (d *walDecoder) uncompress(b []byte) ([]byte, error) {
	n, err := s2.DecodedLen(b)
	if err != nil || n > walMaxRatio*len(b)+walRatioSlack {
		return nil, fmt.Errorf("wal record s2 header: %w", ErrCorruptRecord)
	}
	if cap(d.buf) < n {
		d.buf = make([]byte, n)
	}
	out, err := s2.Decode(d.buf[:n], b)
	if err != nil {
		return nil, fmt.Errorf("wal record s2 payload: %w: %w", ErrCorruptRecord, err)
	}
	return out, nil
}

// decodeSchemaSection decodes the body of a walRecordSchemaSection record,
// or of a walRecordSeriesIDs record when byID is true, whose schema section
// is s2-compressed when compressed is true.
func (d *walDecoder) decodeSchemaSection(body []byte, compressed, byID bool, vis walVisitor) error {
	if byID && d.seriesKey == nil {
		return fmt.Errorf("wal points record with series ids: %w", errNoSeriesResolver)
	}
	r := newByteReader(body)
	points := r.Fixed(4)
	if r.Err() != nil {
		return fmt.Errorf("wal points record: %w", r.Err())
	}
	n := binary.LittleEndian.Uint32(points)
	if uint64(n) > uint64(len(r.Rest())) {
		return fmt.Errorf("wal points record: points of %d bytes in %d: %w", n, len(r.Rest()), ErrCorruptRecord)
	}
	points, defs := r.Rest()[:n], r.Rest()[n:]
	if compressed {
		var err error
		if defs, err = d.uncompress(defs); err != nil {
			return err
		}
	}
	d.schemas = d.schemas[:0]
	defer func() { clear(d.schemas) }() // they alias the record
	sr := newByteReader(defs)
	for len(sr.Rest()) > 0 && sr.Err() == nil {
		d.readSchemaDef(&sr, byID)
	}
	if sr.Err() != nil {
		return fmt.Errorf("wal points record schemas: %w", sr.Err())
	}
	pr := newByteReader(points)
	// A point is at least a schema number and a time delta.
	count := pr.Count(2)
	var ts int64
	for i := 0; i < count && pr.Err() == nil; i++ {
		ref := pr.Uvarint()
		if ref == 0 || ref > uint64(len(d.schemas)) {
			pr.Fail("schema number")
			break
		}
		ts += pr.Varint()
		sc := d.schemas[ref-1]
		if sc.unknown {
			// A dropped series: its values are read, not visited.
			d.unknownSeries += sc.nfields
			if err := visitSchemaPoint(&pr, sc, ts, walVisitor{}); err != nil {
				return err
			}
			continue
		}
		if err := visitSchemaPoint(&pr, sc, ts, vis); err != nil {
			return err
		}
	}
	return pointsEnd(&pr)
}

// visitSchemaPoint reads the values of a point of schema sc at time ts
// from r, in the order of the schema's field keys, and hands them to vis.
func visitSchemaPoint(r *byteReader, sc walSchema, ts int64, vis walVisitor) error {
	keys := newByteReader(sc.fields)
	for j := 0; j < sc.nfields && r.Err() == nil; j++ {
		field := keys.key()
		v := r.value()
		if r.Err() == nil && vis.value != nil {
			if err := vis.value(sc.key, field, ts, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// pointsEnd returns the error of r, the reader of a points record's points,
// once they are read: its decoding error, or bytes left over.
func pointsEnd(r *byteReader) error {
	if r.Err() != nil {
		return fmt.Errorf("wal points record: %w", r.Err())
	}
	if len(r.Rest()) != 0 {
		return fmt.Errorf("wal points record: %d trailing bytes: %w", len(r.Rest()), ErrCorruptRecord)
	}
	return nil
}

// readSchemaDef reads the next schema of a walRecordSchemaSection record's
// schema section, or of a walRecordSeriesIDs record's when byID is true,
// and adds it to d.schemas.
func (d *walDecoder) readSchemaDef(r *byteReader, byID bool) {
	var sc walSchema
	switch series := r.Uvarint(); {
	case series == 0 && byID:
		if id := r.Uvarint(); id == 0 {
			r.Fail("series id")
		} else if r.Err() == nil {
			sc.key = d.seriesKey(id)
			sc.unknown = sc.key == nil
		}
	case series == 0:
		sc.key = r.key()
	case series > uint64(len(d.schemas)):
		r.Fail("series number")
		return
	default:
		sc.key, sc.unknown = d.schemas[series-1].key, d.schemas[series-1].unknown
	}
	switch fields := r.Uvarint(); {
	case fields > uint64(len(d.schemas)):
		r.Fail("field keys number")
		return
	case fields > 0:
		sc.fields, sc.nfields = d.schemas[fields-1].fields, d.schemas[fields-1].nfields
	default:
		sc.nfields = r.Count(1)
		before := r.Rest()
		for range sc.nfields {
			if r.key(); r.Err() != nil {
				return
			}
		}
		sc.fields = before[:len(before)-len(r.Rest())]
	}
	if r.Err() == nil {
		d.schemas = append(d.schemas, sc)
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
	return pointsEnd(r)
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
		if err := visitSchemaPoint(r, sc, ts, vis); err != nil {
			clear(d.schemas)
			return err
		}
	}
	clear(d.schemas) // they alias the record
	return pointsEnd(r)
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
