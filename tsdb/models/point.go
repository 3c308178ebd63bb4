package models

import (
	"bytes"
	"strconv"
)

// Tag is one tag of a point or series.
type Tag struct {
	Key, Value []byte
}

// Tags is a tag set sorted by Key with unique keys.
type Tags []Tag

// Get returns the value of key, or nil when the tag is absent. Tags must be
// sorted.
func (t Tags) Get(key []byte) []byte {
	lo, hi := 0, len(t)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(t[m].Key, key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(t) && bytes.Equal(t[lo].Key, key) {
		return t[lo].Value
	}
	return nil
}

// Field is one field of a point.
type Field struct {
	Key   []byte
	Value Value
}

// Point is one line of line protocol: a measurement, a sorted tag set, one or
// more fields with unique keys and a timestamp in nanoseconds since the Unix
// epoch. Points returned by Parser share the parser's buffers; see Clone.
type Point struct {
	Measurement []byte
	Tags        Tags
	Fields      []Field
	Time        int64
	// Key is the series key of Measurement and Tags (AppendSeriesKey's
	// form) when the point's maker built it, as Parser does, or nil. It
	// lets every stage of a write (index, WAL, cache) share one key
	// instead of building it again; code that changes Measurement or Tags
	// must set it to nil.
	Key []byte
}

// AppendSeriesKey appends the point's series key to dst (see AppendSeriesKey).
func (p *Point) AppendSeriesKey(dst []byte) []byte {
	if p.Key != nil {
		return append(dst, p.Key...)
	}
	return AppendSeriesKey(dst, p.Measurement, p.Tags)
}

// AppendLine appends the point in canonical line protocol: escaped
// measurement, tags in order, fields in order (floats in the shortest form
// that parses back to the same bits, integers with "i", unsigned with "u",
// booleans as true/false, strings quoted), the timestamp in nanoseconds and a
// trailing newline. Tokens that the parser cannot produce (control
// characters, a trailing backslash, a measurement starting with '#', invalid
// UTF-8) are written as they are and will not parse back.
func (p *Point) AppendLine(dst []byte) []byte {
	dst = AppendSeriesKey(dst, p.Measurement, p.Tags)
	for i, f := range p.Fields {
		if i == 0 {
			dst = append(dst, ' ')
		} else {
			dst = append(dst, ',')
		}
		dst = appendEscaped(dst, f.Key, fieldKeyEscapes)
		dst = append(dst, '=')
		dst = appendValue(dst, f.Value)
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, p.Time, 10)
	return append(dst, '\n')
}

func appendValue(dst []byte, v Value) []byte {
	switch v.Type {
	case FieldTypeFloat:
		return strconv.AppendFloat(dst, v.Float(), 'g', -1, 64)
	case FieldTypeInteger:
		return append(strconv.AppendInt(dst, v.Integer(), 10), 'i')
	case FieldTypeUnsigned:
		return append(strconv.AppendUint(dst, v.Unsigned(), 10), 'u')
	case FieldTypeString:
		return appendStringValue(dst, v.S)
	case FieldTypeBoolean:
		return strconv.AppendBool(dst, v.Boolean())
	default:
		// An unknown type has no line-protocol form; write something the
		// parser rejects rather than inventing a value.
		return append(dst, '?')
	}
}

// String returns the point as canonical line protocol without the trailing
// newline.
func (p *Point) String() string {
	b := p.AppendLine(nil)
	return string(b[:len(b)-1])
}

// Clone returns a deep copy of p that shares no memory with p, using one
// allocation for all bytes. Use it to keep a parsed point past the next Parse.
func (p *Point) Clone() Point {
	n := len(p.Measurement) + len(p.Key)
	for _, t := range p.Tags {
		n += len(t.Key) + len(t.Value)
	}
	for _, f := range p.Fields {
		n += len(f.Key) + len(f.Value.S)
	}
	buf := make([]byte, 0, n)
	cp := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		start := len(buf)
		buf = append(buf, b...)
		return buf[start:len(buf):len(buf)]
	}
	c := Point{Measurement: cp(p.Measurement), Key: cp(p.Key), Time: p.Time}
	if p.Tags != nil {
		c.Tags = make(Tags, len(p.Tags))
		for i, t := range p.Tags {
			c.Tags[i] = Tag{Key: cp(t.Key), Value: cp(t.Value)}
		}
	}
	if p.Fields != nil {
		c.Fields = make([]Field, len(p.Fields))
		for i, f := range p.Fields {
			v := f.Value
			v.S = cp(v.S)
			c.Fields[i] = Field{Key: cp(f.Key), Value: v}
		}
	}
	return c
}
