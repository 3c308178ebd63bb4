package coordinator

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unsafe"

	"github.com/strata-db/strata/internal/bytereader"
	"github.com/strata-db/strata/internal/freelist"
	"github.com/strata-db/strata/tsdb/models"
)

// Point-batch format constants; docs/wire.md is the spec.
const (
	// BatchVersion is the version byte of the batches AppendPoints writes.
	// Version 2 added the time the coordinator accepted the write; version
	// 3 spells each series and field-key list once per batch (a point
	// refers back to it) instead of once per point. DecodePoints reads
	// versions 1 to 3 (hinted-handoff segments on disk hold batches, so a
	// new version must keep decoding the old ones).
	BatchVersion = 3
	// batchVersion2 is the layout before schemas: every point spells its
	// measurement, tags and field keys.
	batchVersion2 = 2
	// batchVersion1 is the version-2 layout without the accepted time.
	batchVersion1 = 1

	batchMagic0, batchMagic1 = 'S', 'B'
	// batchHeaderSize is the header of a version-2 or -3 batch: magic (2),
	// version (1), flags (1), accepted time (8, little-endian ns).
	batchHeaderSize = 12
	// batchHeaderSizeV1 is the header of a version-1 batch.
	batchHeaderSizeV1 = 4
	batchTrailerSize  = 4 // CRC32-C
	// minBatchSize is an empty batch: header, count 0, trailer.
	minBatchSize = batchHeaderSize + 1 + batchTrailerSize
	// minBatchSizeV1 is an empty version-1 batch.
	minBatchSizeV1 = batchHeaderSizeV1 + 1 + batchTrailerSize
	// minPointSizeV2 is the smallest point of a version-1 or -2 batch: a
	// 1-byte measurement, no tags, one field with a 1-byte key and a
	// 1-byte value, and a 1-byte time delta. It bounds the count a batch
	// may claim.
	minPointSizeV2 = 2 + 1 + 1 + 4 + 1
	// minPointSizeV3 is the smallest point of a version-3 batch: a schema
	// reference, one 2-byte value and a 1-byte time delta.
	minPointSizeV3 = 1 + 2 + 1
	// minValueSize is the smallest encoded field value: its type byte
	// and one byte.
	minValueSize = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendPoints appends the encoding of points (see docs/wire.md) to dst and
// returns the extended slice. It does not allocate when dst has room. A dst
// without spare capacity (nil, say) is grown once, to the batch's size plus
// withHeadroom's margin, rather than regrown as the encoding proceeds; one
// with spare capacity (a reused buffer) is not sized first, which would
// cost a pass over the points, and grows as append does if the batch does
// not fit. Points must have a non-empty measurement and at least one field
// with a non-empty key and a known type to be decodable; parsed points
// always do.
func AppendPoints(dst []byte, points []models.Point) []byte {
	return AppendAcceptedPoints(dst, points, 0)
}

// AppendAcceptedPoints appends points as AppendPoints does, recording
// accepted (ns since the epoch) as the time the coordinator accepted their
// write: the owner drops the values a delete issued after that time covers
// (tsdb.Shard.WriteReplicaPoints). 0 means unknown and drops nothing.
//
// A point whose Measurement and Tags slices are those of an earlier point
// (as the line-protocol parser and the decoder give the points of a
// series repeated in a batch) refers to that point's series, and to its
// field keys when they are the same, instead of spelling them again.
func AppendAcceptedPoints(dst []byte, points []models.Point, accepted int64) []byte {
	if cap(dst) == len(dst) {
		dst = append(make([]byte, 0, len(dst)+withHeadroom(maxEncodedSize(points))), dst...)
	}
	e := batchEncoders.Get()
	defer e.release()
	start := len(dst)
	dst = append(dst, batchMagic0, batchMagic1, BatchVersion, 0)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(accepted))
	dst = binary.AppendUvarint(dst, uint64(len(points)))
	var prev int64
	for i := range points {
		dst = e.appendPoint(dst, points, i)
		dst = binary.AppendVarint(dst, points[i].Time-prev)
		prev = points[i].Time
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// batchEncoder is AppendAcceptedPoints' state for one batch: the series
// and schemas (a series with a list of field keys) its points defined so
// far. Idle encoders wait in batchEncoders.
type batchEncoder struct {
	memo models.SeriesMemo
	// last is, per series (in order of definition), its latest schema.
	last []int32
	// schemas is, per schema, the point that defined it.
	schemas []int32
}

var batchEncoders = freelist.New[batchEncoder]()

func (e *batchEncoder) release() {
	e.memo.Reset()
	e.last, e.schemas = e.last[:0], e.schemas[:0]
	batchEncoders.Put(e)
}

// appendPoint appends points[i] but its time: a reference to an earlier
// schema with the same series and field keys, or a new schema (a new
// series, or a reference to an earlier schema's series, then the field
// keys), then the field values.
func (e *batchEncoder) appendPoint(dst []byte, points []models.Point, i int) []byte {
	p := &points[i]
	series, seen := e.memo.Recall(p, int32(len(e.last)))
	if seen {
		schema := e.last[series]
		if sameFieldKeys(points[e.schemas[schema]].Fields, p.Fields) {
			dst = binary.AppendUvarint(dst, uint64(schema)+1)
			return appendValues(dst, p.Fields)
		}
		dst = append(dst, 0)
		dst = binary.AppendUvarint(dst, uint64(schema)+1)
	} else {
		series = int32(len(e.last))
		e.last = append(e.last, 0)
		dst = append(dst, 0, 0)
		dst = appendBytes(dst, p.Measurement)
		dst = binary.AppendUvarint(dst, uint64(len(p.Tags)))
		for _, t := range p.Tags {
			dst = appendBytes(dst, t.Key)
			dst = appendBytes(dst, t.Value)
		}
	}
	e.last[series] = int32(len(e.schemas))
	e.schemas = append(e.schemas, int32(i))
	dst = binary.AppendUvarint(dst, uint64(len(p.Fields)))
	for _, f := range p.Fields {
		dst = appendBytes(dst, f.Key)
	}
	return appendValues(dst, p.Fields)
}

func sameFieldKeys(a, b []models.Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if string(a[i].Key) != string(b[i].Key) {
			return false
		}
	}
	return true
}

func appendValues(dst []byte, fields []models.Field) []byte {
	for _, f := range fields {
		dst = models.AppendValue(dst, f.Value)
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// withHeadroom is the capacity to allocate for n elements of a buffer that
// is reused: an eighth more, so that the next batch, often a little larger
// than the last, does not reallocate it again.
func withHeadroom(n int) int { return n + n/8 }

// maxEncodedSize returns an upper bound of the length of AppendPoints'
// encoding of points: the exact length when no point repeats an earlier
// one's series. It reads only lengths and numbers, so it costs a small
// fraction of the encoding itself.
func maxEncodedSize(points []models.Point) int {
	n := batchHeaderSize + uvarintLen(uint64(len(points))) + batchTrailerSize
	var prev int64
	for i := range points {
		n += maxPointSize(&points[i], prev)
		prev = points[i].Time
	}
	return n
}

// maxPointSize is the length of p's encoding as a new series in a batch
// where the point before it has time prev (0 for a batch's first point):
// the most it can take.
func maxPointSize(p *models.Point, prev int64) int {
	n := 2 + bytesSize(p.Measurement) + uvarintLen(uint64(len(p.Tags)))
	for j := range p.Tags {
		n += bytesSize(p.Tags[j].Key) + bytesSize(p.Tags[j].Value)
	}
	n += uvarintLen(uint64(len(p.Fields)))
	for j := range p.Fields {
		n += bytesSize(p.Fields[j].Key) + valueSize(p.Fields[j].Value)
	}
	return n + varintLen(p.Time-prev)
}

// appendBatches appends AppendPoints' encoding of points to dst as one
// batch when it takes at most limit bytes, else as consecutive batches of
// consecutive points, each of at most limit bytes, and appends the end
// offset in dst of each batch to ends. A point whose batch alone would pass
// limit is a batch of its own (longer than limit: the caller must not send
// it to a node enforcing that limit). The points keep their order. This
// is how the write path keeps every shard-write RPC within
// Config.RPCMaxBodySize, which the receiving node enforces.
func appendBatches(dst []byte, ends []int, points []models.Point, limit, accepted int64) ([]byte, []int) {
	start := len(dst)
	dst = AppendAcceptedPoints(dst, points, accepted)
	if int64(len(dst)-start) <= limit {
		return dst, append(ends, len(dst))
	}
	// Rare (a body of huge lines, with max-body-size 0): encode again in
	// parts. The count's length is bounded by its largest possible form.
	dst = dst[:start]
	const overhead = batchHeaderSize + binary.MaxVarintLen64 + batchTrailerSize
	first, size := 0, overhead
	var prev int64
	for i := range points {
		n := maxPointSize(&points[i], prev)
		if i > first && int64(size+n) > limit {
			dst = AppendAcceptedPoints(dst, points[first:i], accepted)
			ends = append(ends, len(dst))
			first, size = i, overhead
			n = maxPointSize(&points[i], 0)
		}
		size += n
		prev = points[i].Time
	}
	dst = AppendAcceptedPoints(dst, points[first:], accepted)
	return dst, append(ends, len(dst))
}

// bytesSize is the length of appendBytes' encoding of b.
func bytesSize(b []byte) int { return uvarintLen(uint64(len(b))) + len(b) }

// valueSize is the length of models.AppendValue's encoding of v.
func valueSize(v models.Value) int {
	switch v.Type {
	case models.FieldTypeFloat:
		return 1 + 8
	case models.FieldTypeInteger:
		return 1 + varintLen(int64(v.N))
	case models.FieldTypeUnsigned:
		return 1 + uvarintLen(v.N)
	case models.FieldTypeBoolean:
		return 1 + 1
	case models.FieldTypeString:
		return 1 + bytesSize(v.S)
	default:
		return 1
	}
}

// varintLen is the length of binary.AppendVarint's encoding of x
// (uvarintLen, in rpc_read.go, is binary.AppendUvarint's).
func varintLen(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return uvarintLen(ux)
}

// BatchLen returns the number of points a batch written by AppendPoints
// holds, reading only its header: it neither checks the checksum nor
// decodes the points (DecodePoints does). A batch too short for its
// header, or with another magic or version, or claiming more points than
// its length can hold, returns an error wrapping ErrCorruptBatch.
func BatchLen(batch []byte) (int, error) {
	hdr := batchHeaderLen(batch)
	if hdr == 0 || len(batch) < hdr+1+batchTrailerSize {
		return 0, fmt.Errorf("read point batch header: %w", ErrCorruptBatch)
	}
	n, k := binary.Uvarint(batch[hdr:])
	if k <= 0 || n > uint64(len(batch)/minPointSizeOf(batch[2])) {
		return 0, fmt.Errorf("read point batch count: %w", ErrCorruptBatch)
	}
	return int(n), nil
}

// batchHeaderLen returns the header length of batch's version, or 0 for a
// batch too short for its magic and version, or with another magic or an
// unknown version.
func batchHeaderLen(batch []byte) int {
	if len(batch) < batchHeaderSizeV1 || batch[0] != batchMagic0 || batch[1] != batchMagic1 {
		return 0
	}
	switch batch[2] {
	case BatchVersion, batchVersion2:
		return batchHeaderSize
	case batchVersion1:
		return batchHeaderSizeV1
	}
	return 0
}

// minPointSizeOf is the smallest point of a batch of version v.
func minPointSizeOf(v byte) int {
	if v == BatchVersion {
		return minPointSizeV3
	}
	return minPointSizeV2
}

// BatchAccepted returns the time (ns since the epoch) the coordinator
// accepted the write of a batch DecodePoints accepted, as
// AppendAcceptedPoints recorded it; 0 (unknown) for a version-1 batch.
func BatchAccepted(batch []byte) int64 {
	if batchHeaderLen(batch) != batchHeaderSize || len(batch) < batchHeaderSize {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(batch[4:batchHeaderSize]))
}

// DecodePoints decodes a batch written by AppendPoints, appending its
// points to dst[:0] and returning the result. The points' byte slices
// alias src (nothing is copied); their tag and field slices share two
// arrays allocated per call (use a PointsDecoder to reuse them), and the
// points of a series repeated in the batch share their Measurement and Tags
// slices, as parsed line protocol's do. src may
// come from the network or disk: a bad checksum, an unknown version, a
// truncated or malformed batch or trailing bytes return an error wrapping
// ErrCorruptBatch (ErrProtocolVersion as well for a version mismatch) and
// never panic, and allocation is bounded by a small multiple of len(src).
func DecodePoints(src []byte, dst []models.Point) ([]models.Point, error) {
	var d PointsDecoder
	return d.Decode(src, dst)
}

// PointsDecoder decodes batches like DecodePoints but keeps its arrays
// from one call to the next, so steady-state decoding allocates nothing.
// The points of a Decode call are valid until the next call. A
// PointsDecoder is not safe for concurrent use; its zero value is ready.
//
// The arrays the points' Tags and Fields are cut from (and, for version-3
// batches, the schemas and their field keys) alias the src of the last
// Decode; their entries past what it filled are kept cleared, so an idle
// decoder keeps no older src alive.
type PointsDecoder struct {
	tags    arena[models.Tag]
	fields  arena[models.Field]
	keys    arena[[]byte]      // field keys of the schemas (version 3)
	schemas arena[batchSchema] // the schemas of a version-3 batch
	// series maps the encoded measurement and tags of each series of the
	// last Decode (aliasing its src) to its first point.
	series map[string]int32
}

// batchSchema is a series and a list of field keys a version-3 batch
// defined once for the points that refer to it.
type batchSchema struct {
	measurement []byte
	tags        models.Tags
	keys        [][]byte
}

// release drops the references the last Decode left to its src, so a
// decoder kept idle does not keep that buffer alive (Decode itself leaves
// none to the src of earlier calls).
func (d *PointsDecoder) release() {
	d.tags.release()
	d.fields.release()
	d.keys.release()
	d.schemas.release()
	clear(d.series)
}

// retainedBytes is the size of the arrays d keeps between calls.
func (d *PointsDecoder) retainedBytes() int {
	return d.tags.retainedBytes() + d.fields.retainedBytes() + d.keys.retainedBytes() + d.schemas.retainedBytes()
}

// Decode decodes src into dst[:0] as DecodePoints does.
func (d *PointsDecoder) Decode(src []byte, dst []models.Point) ([]models.Point, error) {
	dst = dst[:0]
	if len(src) < minBatchSizeV1 {
		return dst, fmt.Errorf("decode point batch: %d bytes, need at least %d: %w", len(src), minBatchSizeV1, ErrCorruptBatch)
	}
	if src[0] != batchMagic0 || src[1] != batchMagic1 {
		return dst, fmt.Errorf("decode point batch: bad magic %#x%02x: %w", src[0], src[1], ErrCorruptBatch)
	}
	hdr := batchHeaderLen(src)
	if hdr == 0 {
		return dst, fmt.Errorf("decode point batch: version %d, want %d to %d: %w", src[2], batchVersion1, BatchVersion, errCorruptVersion)
	}
	if len(src) < hdr+1+batchTrailerSize {
		return dst, fmt.Errorf("decode point batch: %d bytes, need at least %d: %w", len(src), hdr+1+batchTrailerSize, ErrCorruptBatch)
	}
	body := src[:len(src)-batchTrailerSize]
	if want, got := binary.LittleEndian.Uint32(src[len(body):]), crc32.Checksum(body, castagnoli); want != got {
		return dst, fmt.Errorf("decode point batch: checksum %#08x, want %#08x: %w", got, want, ErrCorruptBatch)
	}
	if src[3] != 0 {
		return dst, fmt.Errorf("decode point batch: unknown flags %#02x: %w", src[3], ErrCorruptBatch)
	}
	r := batchReader{bytereader.New(body[hdr:], ErrCorruptBatch)}
	count := r.Uvarint()
	if r.Err() == nil && count > uint64(len(r.Rest())/minPointSizeOf(src[2])) {
		return dst, fmt.Errorf("decode point batch: count %d exceeds what %d bytes can hold: %w", count, len(body), ErrCorruptBatch)
	}
	if r.Err() != nil {
		return dst, fmt.Errorf("decode point batch: count: %w", r.Err())
	}
	if d.series == nil {
		d.series = make(map[string]int32)
	}
	dst = growPoints(dst, int(count))
	d.tags.begin()
	d.fields.begin()
	d.keys.begin()
	d.schemas.begin()
	if src[2] == BatchVersion {
		r.schemaPoints(d, dst)
	} else {
		r.pointsV2(d, dst)
	}
	d.tags.end()
	d.fields.end()
	d.keys.end()
	d.schemas.end()
	clear(d.series)
	if r.Err() == nil && len(r.Rest()) != 0 {
		r.Failf("%d trailing bytes", len(r.Rest()))
	}
	if r.Err() != nil {
		clear(dst)
		d.release()
		return dst[:0], fmt.Errorf("decode point batch: %w", r.Err())
	}
	return dst, nil
}

// arena is an array a PointsDecoder cuts the slices of decoded points
// from, kept from one Decode to the next.
type arena[T any] struct {
	buf   []T  // buf[:len] is what this Decode took
	stale int  // entries of buf the previous Decode filled
	grown bool // this Decode moved buf to a larger array
}

// begin starts a Decode.
func (a *arena[T]) begin() {
	a.stale, a.grown = len(a.buf), false
	a.buf = a.buf[:0]
}

// take returns the next n entries, for the points of a batch of which
// about more will follow. When buf is full it moves to a larger array;
// slices taken from the old one stay valid.
func (a *arena[T]) take(n, more int) []T {
	if len(a.buf)+n > cap(a.buf) {
		a.buf = append(make([]T, 0, withHeadroom(max(2*cap(a.buf), len(a.buf)+n+more))), a.buf...)
		a.grown = true
	}
	a.buf = a.buf[:len(a.buf)+n]
	return a.buf[len(a.buf)-n : len(a.buf) : len(a.buf)]
}

// end finishes a Decode: it clears the entries of buf the previous Decode
// filled and this one did not (so they keep no older src alive) and, when
// buf had to grow, makes sure the next Decode of a batch like this one
// (or a little larger) fits without growing.
func (a *arena[T]) end() {
	switch {
	case !a.grown:
		if a.stale > len(a.buf) {
			clear(a.buf[len(a.buf):a.stale])
		}
	case cap(a.buf) < withHeadroom(len(a.buf)):
		// The points keep the array they were cut from.
		a.buf = make([]T, 0, withHeadroom(len(a.buf)))
	}
}

// release clears what the last Decode filled.
func (a *arena[T]) release() {
	clear(a.buf)
	a.buf = a.buf[:0]
}

func (a *arena[T]) retainedBytes() int {
	var zero T
	return cap(a.buf) * int(unsafe.Sizeof(zero))
}

// errCorruptVersion is a version mismatch: both corrupt and a protocol
// version error.
var errCorruptVersion = fmt.Errorf("%w: %w", ErrProtocolVersion, ErrCorruptBatch)

func growPoints(p []models.Point, n int) []models.Point {
	if cap(p) < n {
		return make([]models.Point, n, withHeadroom(n))
	}
	return p[:n]
}

// batchReader reads a batch body's points with bytereader's primitives,
// failing with ErrCorruptBatch.
type batchReader struct{ bytereader.Reader }

// schemaPoints reads the points of a version-3 batch into pts (sized to
// the batch's count) in one pass, cutting their tags, field keys and
// fields from d's arrays. Points of one schema share its Measurement, Tags
// and field-key slices; a new series byte for byte an earlier one's (the
// encoder did not recognise it) gets the earlier one's slices too, so the
// storage engine derives each series key once per batch
// (models.SeriesMemo).
func (r *batchReader) schemaPoints(d *PointsDecoder, pts []models.Point) {
	var prev int64
	for i := range pts {
		ref := r.Uvarint()
		var sc *batchSchema
		switch {
		case r.Err() != nil:
			return
		case ref == 0:
			sc = r.schema(d, pts, i)
		case ref <= uint64(len(d.schemas.buf)):
			sc = &d.schemas.buf[ref-1]
		default:
			r.Failf("point %d: schema %d not defined yet", i, ref)
		}
		if r.Err() != nil {
			return
		}
		// Each value takes at least minValueSize bytes, which bounds what
		// the rest of the batch can need.
		more := min((len(pts)-i-1)*len(sc.keys), len(r.Rest())/minValueSize)
		fields := d.fields.take(len(sc.keys), more)
		for j, k := range sc.keys {
			fields[j] = models.Field{Key: k, Value: r.value(i)}
		}
		prev += r.Varint()
		pts[i] = models.Point{Measurement: sc.measurement, Tags: sc.tags, Fields: fields, Time: prev}
	}
}

// schema reads the schema point i defines and appends it to d.schemas.
func (r *batchReader) schema(d *PointsDecoder, pts []models.Point, i int) *batchSchema {
	var sc batchSchema
	switch ref := r.Uvarint(); {
	case r.Err() != nil:
		return nil
	case ref == 0:
		span := r.Rest()
		sc.measurement = r.Bytes()
		if r.Err() == nil && len(sc.measurement) == 0 {
			r.Failf("point %d: empty measurement", i)
		}
		nt := r.Count(2) // a tag is at least two length bytes
		if nt > 0 {
			sc.tags = d.tags.take(nt, 0)
		}
		for j := 0; j < nt && r.Err() == nil; j++ {
			sc.tags[j] = models.Tag{Key: r.Bytes(), Value: r.Bytes()}
			if r.Err() == nil && len(sc.tags[j].Key) == 0 {
				r.Failf("point %d: empty tag key", i)
			}
		}
		if r.Err() != nil {
			return nil
		}
		span = span[:len(span)-len(r.Rest())]
		key := unsafe.String(unsafe.SliceData(span), len(span))
		if j, ok := d.series[key]; ok {
			sc.measurement, sc.tags = pts[j].Measurement, pts[j].Tags
		} else {
			d.series[key] = int32(i)
		}
	case ref <= uint64(len(d.schemas.buf)):
		sc.measurement, sc.tags = d.schemas.buf[ref-1].measurement, d.schemas.buf[ref-1].tags
	default:
		r.Failf("point %d: series of schema %d not defined yet", i, ref)
		return nil
	}
	nf := r.Count(2) // a key is at least two bytes
	if r.Err() == nil && nf == 0 {
		r.Failf("point %d: no fields", i)
	}
	sc.keys = d.keys.take(nf, 0)
	for j := 0; j < nf && r.Err() == nil; j++ {
		sc.keys[j] = r.Bytes()
		if r.Err() == nil && len(sc.keys[j]) == 0 {
			r.Failf("point %d: empty field key", i)
		}
	}
	if r.Err() != nil {
		return nil
	}
	// Each schema takes at least 5 bytes (a 1-byte key and a value).
	next := &d.schemas.take(1, len(r.Rest())/5)[0]
	*next = sc
	return next
}

// pointsV2 reads the points of a version-1 or -2 batch into pts (sized to
// the batch's count) in two passes: the first validates and counts the
// tags and fields, the second cuts them from d's arrays and fills them.
func (r *batchReader) pointsV2(d *PointsDecoder, pts []models.Point) {
	rest := r.Rest()
	nTags, nFields := r.points(len(pts), nil, nil, nil, nil)
	if r.Err() != nil || len(r.Rest()) != 0 {
		return
	}
	r.Reader = bytereader.New(rest, ErrCorruptBatch)
	r.points(len(pts), pts, d.tags.take(nTags, 0), d.fields.take(nFields, 0), d.series)
}

// points reads n points. With pts nil it only validates and counts the
// tags and fields; otherwise it fills pts, tags and fields, which pass 1
// sized.
//
// With series non-nil (pass 2), a point whose measurement and tags are
// byte for byte those of an earlier point gets that point's Measurement
// and Tags slices, as the line-protocol parser gives a repeated series, so
// the storage engine derives the series key once per series of the batch
// (models.SeriesMemo). series maps that encoded span to the earlier point.
func (r *batchReader) points(n int, pts []models.Point, tags []models.Tag, fields []models.Field, series map[string]int32) (nTags, nFields int) {
	var prev int64
	for i := 0; i < n && r.Err() == nil; i++ {
		before := r.Rest()
		m := r.Bytes()
		if r.Err() == nil && len(m) == 0 {
			r.Failf("point %d: empty measurement", i)
		}
		nt := r.Count(2) // a tag is at least two length bytes
		var pt models.Tags
		if pts != nil {
			pt = tags[nTags : nTags+nt : nTags+nt]
		}
		for j := 0; j < nt && r.Err() == nil; j++ {
			k, v := r.Bytes(), r.Bytes()
			if r.Err() == nil && len(k) == 0 {
				r.Failf("point %d: empty tag key", i)
			}
			if pts != nil {
				pt[j] = models.Tag{Key: k, Value: v}
			}
		}
		nTags += nt
		if series != nil {
			span := before[:len(before)-len(r.Rest())]
			key := unsafe.String(unsafe.SliceData(span), len(span))
			if j, ok := series[key]; ok {
				m, pt = pts[j].Measurement, pts[j].Tags
			} else {
				series[key] = int32(i)
			}
		}
		nf := r.Count(4) // key length, key, type, value
		if r.Err() == nil && nf == 0 {
			r.Failf("point %d: no fields", i)
		}
		var pf []models.Field
		if pts != nil {
			pf = fields[nFields : nFields+nf : nFields+nf]
		}
		for j := 0; j < nf && r.Err() == nil; j++ {
			k := r.Bytes()
			if r.Err() == nil && len(k) == 0 {
				r.Failf("point %d: empty field key", i)
			}
			v := r.value(i)
			if pts != nil {
				pf[j] = models.Field{Key: k, Value: v}
			}
		}
		nFields += nf
		prev += r.Varint()
		if pts != nil {
			if len(pt) == 0 {
				pt = nil
			}
			pts[i] = models.Point{Measurement: m, Tags: pt, Fields: pf, Time: prev}
		}
	}
	return nTags, nFields
}

func (r *batchReader) value(point int) models.Value {
	if r.Err() != nil {
		return models.Value{}
	}
	// The common types without ReadValue's call and switch (a third of
	// the decode of a TSBS batch); anything else, or bad bytes, below.
	switch rest := r.Rest(); {
	case len(rest) > 1 && rest[0] == byte(models.FieldTypeInteger):
		if x, n := binary.Varint(rest[1:]); n > 0 {
			r.Fixed(1 + n)
			return models.Value{Type: models.FieldTypeInteger, N: uint64(x)}
		}
	case len(rest) > 8 && rest[0] == byte(models.FieldTypeFloat):
		r.Fixed(9)
		return models.Value{Type: models.FieldTypeFloat, N: binary.LittleEndian.Uint64(rest[1:9])}
	}
	v, n, err := models.ReadValue(r.Rest())
	if err != nil || v.Type == models.FieldTypeUnknown {
		r.Failf("point %d: bad field value", point)
		return models.Value{}
	}
	r.Fixed(n)
	if v.Type == models.FieldTypeString && v.S == nil {
		v.S = []byte{}
	}
	return v
}
