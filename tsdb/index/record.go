package index

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/strata-db/strata/tsdb/models"
)

// Record types of the index log and snapshot (see docs/index-log.md).
const (
	recSeriesCreated      byte = 1
	recFieldCreated       byte = 2
	recSeriesDropped      byte = 3
	recMeasurementDropped byte = 4
	recNextID             byte = 5
	recSnapshotEnd        byte = 6
	recMeasurementSeries  byte = 7
	recTagValues          byte = 8
)

const (
	recHeaderSize = 8 // length u32 + crc32c u32
	// maxRecordSize bounds a record's type and payload. The largest
	// record is a field record whose measurement and field key both have
	// models.MaxKeyLength bytes, the most the write path accepts.
	maxRecordSize = 1 + 2*(binary.MaxVarintLen64+models.MaxKeyLength) + 1
	// maxSnapshotRecordSize bounds a snapshot record. Its id lists and tag
	// values are split into records of about snapshotChunk bytes past
	// their measurement and tag key (see appendPostings), so the largest
	// is two keys, a chunk and one entry: well under 1 MiB.
	maxSnapshotRecordSize = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record is one decoded log record. Byte slices alias the decoded buffer.
type record struct {
	typ         byte
	id          uint64 // series created/dropped, next id, snapshot count, tag value count
	key         []byte // series created
	measurement []byte // field created, measurement dropped, measurement series, tag values
	field       []byte // field created; the tag key of tag values
	fieldType   models.FieldType
	entries     []byte // measurement series: an id list; tag values: value entries
}

// appendRecord appends the framed encoding of r to dst.
func appendRecord(dst []byte, r *record) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, r.typ)
	switch r.typ {
	case recSeriesCreated:
		dst = binary.AppendUvarint(dst, r.id)
		dst = append(dst, r.key...)
	case recFieldCreated:
		dst = appendLenBytes(dst, r.measurement)
		dst = appendLenBytes(dst, r.field)
		dst = append(dst, byte(r.fieldType))
	case recSeriesDropped, recNextID, recSnapshotEnd:
		dst = binary.AppendUvarint(dst, r.id)
	case recMeasurementDropped:
		dst = append(dst, r.measurement...)
	case recMeasurementSeries:
		dst = appendLenBytes(dst, r.measurement)
		dst = append(dst, r.entries...)
	case recTagValues:
		dst = appendLenBytes(dst, r.measurement)
		dst = appendLenBytes(dst, r.field)
		dst = binary.AppendUvarint(dst, r.id)
		dst = append(dst, r.entries...)
	default:
		panic(fmt.Sprintf("BUG: append index record of unknown type %d", r.typ))
	}
	body := dst[start+recHeaderSize:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	return dst
}

func appendLenBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// decodeRecord decodes the record at the start of b and returns it with its
// encoded size. A record cut short by the end of b returns
// io.ErrUnexpectedEOF (a torn tail); a length past limit (maxRecordSize in
// the log, maxSnapshotRecordSize in a snapshot), a bad checksum or payload
// returns an error wrapping ErrCorrupt.
func decodeRecord(b []byte, limit uint32) (record, int, error) {
	body, err := recordBody(b, limit)
	if err == nil {
		err = checkSum(b, body)
	}
	if err != nil {
		return record{}, 0, err
	}
	return decodeBody(body)
}

// recordBody returns the type and payload of the record at the start of b,
// without checking its checksum; errors as decodeRecord.
func recordBody(b []byte, limit uint32) ([]byte, error) {
	if len(b) < recHeaderSize {
		return nil, io.ErrUnexpectedEOF
	}
	n := binary.LittleEndian.Uint32(b)
	if n == 0 || n > limit {
		return nil, fmt.Errorf("record length %d: %w", n, ErrCorrupt)
	}
	if uint64(len(b)-recHeaderSize) < uint64(n) {
		return nil, io.ErrUnexpectedEOF
	}
	return b[recHeaderSize : recHeaderSize+int(n)], nil
}

// checkSum checks the checksum in the header b of the record with body.
func checkSum(b, body []byte) error {
	if crc := crc32.Checksum(body, castagnoli); crc != binary.LittleEndian.Uint32(b[4:]) {
		return fmt.Errorf("record checksum %08x, want %08x: %w", crc, binary.LittleEndian.Uint32(b[4:]), errChecksum)
	}
	return nil
}

// decodeBody decodes a record's type and payload (see recordBody) and
// returns it with its encoded size.
func decodeBody(body []byte) (record, int, error) {
	r := record{typ: body[0]}
	p := body[1:]
	var err error
	switch r.typ {
	case recSeriesCreated:
		if r.id, p, err = uvarint(p); err == nil && (r.id == 0 || r.id > maxSeriesID || len(p) == 0 || len(p) > models.MaxKeyLength) {
			err = fmt.Errorf("series record: id %d, key length %d: %w", r.id, len(p), ErrCorrupt)
		}
		r.key = p
	case recFieldCreated:
		if r.measurement, p, err = lenBytes(p); err != nil {
			break
		}
		if r.field, p, err = lenBytes(p); err != nil {
			break
		}
		if len(p) != 1 || len(r.measurement) == 0 || len(r.field) == 0 ||
			len(r.measurement) > models.MaxKeyLength || len(r.field) > models.MaxKeyLength ||
			models.FieldType(p[0]) < models.FieldTypeFloat || models.FieldType(p[0]) > models.FieldTypeBoolean {
			err = fmt.Errorf("field record: %w", ErrCorrupt)
			break
		}
		r.fieldType = models.FieldType(p[0])
	case recSeriesDropped, recNextID, recSnapshotEnd:
		if r.id, p, err = uvarint(p); err == nil && len(p) != 0 {
			err = fmt.Errorf("record type %d: %d trailing bytes: %w", r.typ, len(p), ErrCorrupt)
		}
	case recMeasurementDropped:
		if len(p) == 0 || len(p) > models.MaxKeyLength {
			err = fmt.Errorf("measurement dropped record: name length %d: %w", len(p), ErrCorrupt)
		}
		r.measurement = p
	case recMeasurementSeries:
		if r.measurement, p, err = lenBytes(p); err == nil && (len(r.measurement) == 0 || len(r.measurement) > models.MaxKeyLength) {
			err = fmt.Errorf("measurement series record: name length %d: %w", len(r.measurement), ErrCorrupt)
		}
		r.entries = p
	case recTagValues:
		if r.measurement, p, err = lenBytes(p); err != nil {
			break
		}
		if r.field, p, err = lenBytes(p); err != nil {
			break
		}
		if r.id, p, err = uvarint(p); err == nil && (len(r.measurement) == 0 || len(r.field) == 0 ||
			len(r.measurement) > models.MaxKeyLength || len(r.field) > models.MaxKeyLength) {
			err = fmt.Errorf("tag values record: %w", ErrCorrupt)
		}
		r.entries = p
	default:
		err = fmt.Errorf("record type %d: %w", r.typ, ErrCorrupt)
	}
	if err != nil {
		return record{}, 0, err
	}
	return r, recHeaderSize + len(body), nil
}

func uvarint(p []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(p)
	if n <= 0 {
		return 0, nil, fmt.Errorf("bad uvarint: %w", ErrCorrupt)
	}
	return v, p[n:], nil
}

func lenBytes(p []byte) ([]byte, []byte, error) {
	n, p, err := uvarint(p)
	if err != nil {
		return nil, nil, err
	}
	if n > uint64(len(p)) {
		return nil, nil, fmt.Errorf("length %d exceeds record: %w", n, ErrCorrupt)
	}
	return p[:n], p[n:], nil
}
