package antientropy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/encoding"
	"github.com/strata-db/strata/tsdb/models"
)

// maxColumnValues is the most values one encoded Column holds; longer runs
// are split. tsdb's files hold 1,000 values a block; a few thousand
// compress no worse and keep the per-column overhead small.
const maxColumnValues = 4096

// Column is the values of one (series, field) in ascending time order, the
// unit in which repairs and shard streams carry data. On the wire its
// timestamps and values are compressed with tsdb/encoding, as tsdb's files
// are, so repair traffic costs about what the data costs on disk.
type Column struct {
	Series []byte
	Field  []byte
	Type   models.FieldType
	Times  []int64
	Values []models.Value
}

// Len returns the number of values.
func (c *Column) Len() int { return len(c.Times) }

// points appends c's values as single-field points to dst.
func (c *Column) points(dst []models.Point) ([]models.Point, error) {
	m, tags, err := models.ParseSeriesKey(c.Series)
	if err != nil {
		return dst, fmt.Errorf("series key %q: %w", c.Series, err)
	}
	for i, t := range c.Times {
		dst = append(dst, models.Point{Measurement: m, Tags: tags, Time: t,
			Fields: []models.Field{{Key: c.Field, Value: c.Values[i]}}})
	}
	return dst, nil
}

// appendColumn encodes c (at most maxColumnValues values).
func appendColumn(dst []byte, c *Column) []byte {
	dst = appendBytes(dst, c.Series)
	dst = appendBytes(dst, c.Field)
	dst = append(dst, byte(c.Type))
	dst = appendBlock(dst, func(b []byte) []byte { return encoding.AppendTimestamps(b, c.Times) })
	return appendBlock(dst, func(b []byte) []byte { return appendValues(b, c.Type, c.Values) })
}

// appendBlock appends a uvarint length and the block enc writes.
func appendBlock(dst []byte, enc func([]byte) []byte) []byte {
	// Reserve the largest uvarint a 32-bit length needs, then move the
	// block down once its length is known.
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0)
	dst = enc(dst)
	n := len(dst) - start - 5
	var lb [binary.MaxVarintLen64]byte
	ln := binary.PutUvarint(lb[:], uint64(n))
	copy(dst[start+ln:], dst[start+5:])
	copy(dst[start:], lb[:ln])
	return dst[:start+ln+n]
}

func appendValues(dst []byte, t models.FieldType, vs []models.Value) []byte {
	switch t {
	case models.FieldTypeFloat:
		fs := make([]float64, len(vs))
		for i, v := range vs {
			fs[i] = math.Float64frombits(v.N)
		}
		return encoding.AppendFloats(dst, fs)
	case models.FieldTypeInteger:
		is := make([]int64, len(vs))
		for i, v := range vs {
			is[i] = int64(v.N)
		}
		return encoding.AppendIntegers(dst, is)
	case models.FieldTypeUnsigned:
		us := make([]uint64, len(vs))
		for i, v := range vs {
			us[i] = v.N
		}
		return encoding.AppendUnsigneds(dst, us)
	case models.FieldTypeBoolean:
		bs := make([]bool, len(vs))
		for i, v := range vs {
			bs[i] = v.N != 0
		}
		return encoding.AppendBooleans(dst, bs)
	default:
		ss := make([][]byte, len(vs))
		for i, v := range vs {
			ss[i] = v.S
		}
		return encoding.AppendStrings(dst, ss)
	}
}

// readColumn decodes a column; its byte slices alias the input.
func (r *reader) column() Column {
	var c Column
	c.Series = r.Bytes()
	c.Field = r.Bytes()
	c.Type = models.FieldType(r.Byte())
	tb := r.Bytes()
	vb := r.Bytes()
	if r.Err() != nil {
		return Column{}
	}
	if len(c.Series) == 0 || len(c.Field) == 0 {
		r.Fail("empty series or field key")
		return Column{}
	}
	if _, _, err := models.ParseSeriesKey(c.Series); err != nil {
		r.Failf("series key: %v", err)
		return Column{}
	}
	var err error
	if c.Times, err = encoding.DecodeTimestamps(nil, tb); err != nil {
		r.Failf("timestamps: %v", err)
		return Column{}
	}
	if c.Values, err = decodeValues(c.Type, vb); err != nil {
		r.Failf("values: %v", err)
		return Column{}
	}
	if len(c.Values) != len(c.Times) || len(c.Times) == 0 {
		r.Failf("%d timestamps for %d values", len(c.Times), len(c.Values))
		return Column{}
	}
	for i := 1; i < len(c.Times); i++ {
		if c.Times[i] <= c.Times[i-1] {
			r.Fail("timestamps not ascending")
			return Column{}
		}
	}
	return c
}

func decodeValues(t models.FieldType, b []byte) ([]models.Value, error) {
	switch t {
	case models.FieldTypeFloat:
		return decodeAs(b, encoding.DecodeFloats, models.FloatValue)
	case models.FieldTypeInteger:
		return decodeAs(b, encoding.DecodeIntegers, models.IntegerValue)
	case models.FieldTypeUnsigned:
		return decodeAs(b, encoding.DecodeUnsigneds, models.UnsignedValue)
	case models.FieldTypeBoolean:
		return decodeAs(b, encoding.DecodeBooleans, models.BooleanValue)
	case models.FieldTypeString:
		return decodeAs(b, encoding.DecodeStrings, models.StringValue)
	}
	return nil, fmt.Errorf("field type %d", t)
}

// decodeAs decodes a block with dec and converts each value with conv.
func decodeAs[T any](b []byte, dec func([]T, []byte) ([]T, error), conv func(T) models.Value) ([]models.Value, error) {
	raw, err := dec(nil, b)
	if err != nil {
		return nil, err
	}
	vs := make([]models.Value, len(raw))
	for i, v := range raw {
		vs[i] = conv(v)
	}
	return vs, nil
}

// columnBuilder groups single-field points (in series, field, time order,
// as tsdb's BucketPoints and SeriesPoints emit them) into Columns.
type columnBuilder struct {
	cols []Column
}

// add appends one value, copying the point's bytes.
func (cb *columnBuilder) add(series []byte, p *models.Point) {
	f := &p.Fields[0]
	n := len(cb.cols)
	if n == 0 || !bytes.Equal(cb.cols[n-1].Series, series) || !bytes.Equal(cb.cols[n-1].Field, f.Key) ||
		cb.cols[n-1].Type != f.Value.Type || cb.cols[n-1].Len() >= maxColumnValues {
		cb.cols = append(cb.cols, Column{Series: bytes.Clone(series), Field: bytes.Clone(f.Key), Type: f.Value.Type})
		n++
	}
	c := &cb.cols[n-1]
	v := f.Value
	if v.S != nil {
		v.S = bytes.Clone(v.S)
	}
	c.Times = append(c.Times, p.Time)
	c.Values = append(c.Values, v)
}

// appendTombstone encodes the identity of a tombstone: what it deletes and
// when the delete ran (Seq and Applied are local bookkeeping).
func appendTombstone(dst []byte, t *tsdb.Tombstone) []byte {
	dst = appendBytes(dst, t.SeriesKey)
	dst = appendBytes(dst, t.Field)
	dst = binary.AppendVarint(dst, t.Min)
	dst = binary.AppendVarint(dst, t.Max)
	return binary.AppendVarint(dst, t.Created)
}

func (r *reader) tombstone() tsdb.Tombstone {
	var t tsdb.Tombstone
	t.SeriesKey = r.Bytes()
	t.Field = r.Bytes()
	t.Min = r.Varint()
	t.Max = r.Varint()
	t.Created = r.Varint()
	if r.Err() == nil && (len(t.SeriesKey) == 0 || t.Min > t.Max) {
		r.Fail("tombstone without series or with min > max")
	}
	return t
}
