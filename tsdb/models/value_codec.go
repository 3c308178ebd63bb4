package models

import (
	"encoding/binary"
	"errors"
)

// ErrInvalidValueEncoding is returned by ReadValue for bytes that are not
// an encoded Value.
var ErrInvalidValueEncoding = errors.New("invalid value encoding")

// AppendValue appends the binary encoding of v that the WAL, the internode
// point batches and the shard-scan stream share:
//
//	type (1 byte) | payload
//
// float: 8 bytes little-endian IEEE 754 bits; integer: zigzag varint;
// unsigned: uvarint; boolean: 1 byte (0 or 1); string: uvarint length then
// the bytes; FieldTypeUnknown (an unset value): the type byte alone.
func AppendValue(dst []byte, v Value) []byte {
	dst = append(dst, byte(v.Type))
	switch v.Type {
	case FieldTypeFloat:
		dst = binary.LittleEndian.AppendUint64(dst, v.N)
	case FieldTypeInteger:
		dst = binary.AppendVarint(dst, int64(v.N))
	case FieldTypeUnsigned:
		dst = binary.AppendUvarint(dst, v.N)
	case FieldTypeBoolean:
		dst = append(dst, byte(v.N&1))
	case FieldTypeString:
		dst = binary.AppendUvarint(dst, uint64(len(v.S)))
		dst = append(dst, v.S...)
	}
	return dst
}

// ReadValue decodes one value written by AppendValue from the start of src
// and returns it with the number of bytes it used. A string aliases src.
// A FieldTypeUnknown value decodes (as the type byte alone); callers that
// never write one reject it. Bad or truncated bytes give an error wrapping
// ErrInvalidValueEncoding, never a panic.
func ReadValue(src []byte) (Value, int, error) {
	if len(src) == 0 {
		return Value{}, 0, ErrInvalidValueEncoding
	}
	t, rest := FieldType(src[0]), src[1:]
	switch t {
	case FieldTypeUnknown:
		return Value{}, 1, nil
	case FieldTypeFloat:
		if len(rest) < 8 {
			return Value{}, 0, ErrInvalidValueEncoding
		}
		return Value{Type: t, N: binary.LittleEndian.Uint64(rest)}, 9, nil
	case FieldTypeInteger:
		v, n := binary.Varint(rest)
		if n <= 0 {
			return Value{}, 0, ErrInvalidValueEncoding
		}
		return Value{Type: t, N: uint64(v)}, 1 + n, nil
	case FieldTypeUnsigned:
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return Value{}, 0, ErrInvalidValueEncoding
		}
		return Value{Type: t, N: v}, 1 + n, nil
	case FieldTypeBoolean:
		if len(rest) < 1 || rest[0] > 1 {
			return Value{}, 0, ErrInvalidValueEncoding
		}
		return Value{Type: t, N: uint64(rest[0])}, 2, nil
	case FieldTypeString:
		l, n := binary.Uvarint(rest)
		if n <= 0 || l > uint64(len(rest)-n) {
			return Value{}, 0, ErrInvalidValueEncoding
		}
		end := n + int(l)
		return Value{Type: t, S: rest[n:end:end]}, 1 + end, nil
	}
	return Value{}, 0, ErrInvalidValueEncoding
}
