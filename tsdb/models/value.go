package models

import (
	"bytes"
	"math"
)

// FieldType is the type of a field value. A field keeps one type per shard.
type FieldType uint8

// Field types. The numeric values are stable: they are stored on disk by the
// index and the storage engine.
const (
	FieldTypeUnknown FieldType = iota
	FieldTypeFloat
	FieldTypeInteger
	FieldTypeUnsigned
	FieldTypeString
	FieldTypeBoolean
)

// String returns the InfluxDB name of the type: "float", "integer",
// "unsigned", "string" or "boolean" ("unknown" otherwise).
func (t FieldType) String() string {
	switch t {
	case FieldTypeFloat:
		return "float"
	case FieldTypeInteger:
		return "integer"
	case FieldTypeUnsigned:
		return "unsigned"
	case FieldTypeString:
		return "string"
	case FieldTypeBoolean:
		return "boolean"
	default:
		return "unknown"
	}
}

// Value is one field value, represented without allocation: N holds the
// float64 bits, the int64 (two's complement), the uint64 or the boolean (0 or
// 1); S holds the bytes of a string value and is nil for the other types.
type Value struct {
	Type FieldType
	N    uint64
	S    []byte
}

// FloatValue returns a float Value.
func FloatValue(f float64) Value { return Value{Type: FieldTypeFloat, N: math.Float64bits(f)} }

// IntegerValue returns an integer Value.
func IntegerValue(i int64) Value { return Value{Type: FieldTypeInteger, N: uint64(i)} }

// UnsignedValue returns an unsigned Value.
func UnsignedValue(u uint64) Value { return Value{Type: FieldTypeUnsigned, N: u} }

// StringValue returns a string Value referring to s (not a copy).
func StringValue(s []byte) Value { return Value{Type: FieldTypeString, S: s} }

// BooleanValue returns a boolean Value.
func BooleanValue(b bool) Value {
	v := Value{Type: FieldTypeBoolean}
	if b {
		v.N = 1
	}
	return v
}

// Float returns the value as a float64; meaningful only for FieldTypeFloat.
func (v Value) Float() float64 { return math.Float64frombits(v.N) }

// Integer returns the value as an int64; meaningful only for FieldTypeInteger.
func (v Value) Integer() int64 { return int64(v.N) }

// Unsigned returns the value as a uint64; meaningful only for FieldTypeUnsigned.
func (v Value) Unsigned() uint64 { return v.N }

// Boolean returns the value as a bool; meaningful only for FieldTypeBoolean.
func (v Value) Boolean() bool { return v.N != 0 }

// Equal reports whether v and o have the same type and the same value.
// Floats are compared bitwise, so 0 and -0 differ and a NaN equals a NaN with
// the same bits: this is the identity that storage and replication need, not
// IEEE equality.
func (v Value) Equal(o Value) bool {
	if v.Type != o.Type {
		return false
	}
	if v.Type == FieldTypeString {
		return bytes.Equal(v.S, o.S)
	}
	return v.N == o.N
}
