package models

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unsafe"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
)

// ErrInvalidFieldValue means a field value has the syntax of no field type,
// or is out of its type's range (then it also wraps
// lineprotocol.ErrValueOutOfRange), or is a non-finite float.
var ErrInvalidFieldValue = errors.New("invalid field value")

// parseValue converts a non-string field value as returned by
// lineprotocol.Decoder.NextFieldBytes (type suffix removed). It accepts
// exactly what lineprotocol.NewValueFromBytes accepts, without allocating.
func parseValue(kind lineprotocol.ValueKind, data []byte) (Value, error) {
	switch kind {
	case lineprotocol.Int:
		neg := len(data) > 0 && data[0] == '-'
		digits := data
		if neg {
			digits = data[1:]
		}
		u, ok := parseDigits(digits)
		if !ok {
			return Value{}, valueError("integer", data, u == math.MaxUint64)
		}
		if neg {
			if u > 1<<63 {
				return Value{}, valueError("integer", data, true)
			}
			return IntegerValue(-int64(u)), nil
		}
		if u > math.MaxInt64 {
			return Value{}, valueError("integer", data, true)
		}
		return IntegerValue(int64(u)), nil
	case lineprotocol.Uint:
		u, ok := parseDigits(data)
		if !ok {
			return Value{}, valueError("unsigned", data, u == math.MaxUint64)
		}
		return UnsignedValue(u), nil
	case lineprotocol.Float:
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(data), len(data)), 64)
		if err != nil {
			return Value{}, valueError("float", data, errors.Is(err, strconv.ErrRange))
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return Value{}, fmt.Errorf("%w: non-finite float %q", ErrInvalidFieldValue, data)
		}
		return FloatValue(f), nil
	case lineprotocol.Bool:
		switch string(data) {
		case "t", "T", "true", "True", "TRUE":
			return BooleanValue(true), nil
		case "f", "F", "false", "False", "FALSE":
			return BooleanValue(false), nil
		}
		return Value{}, valueError("boolean", data, false)
	}
	return Value{}, fmt.Errorf("%w: BUG: unexpected value kind %d", ErrInvalidFieldValue, kind)
}

// parseDigits parses a non-empty run of decimal digits. On failure it
// returns ok=false and u=MaxUint64 when the cause was overflow.
func parseDigits(b []byte) (u uint64, ok bool) {
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if u > (math.MaxUint64-d)/10 {
			// Keep scanning so that a syntax error wins over overflow,
			// as in strconv.
			for _, c := range b {
				if c < '0' || c > '9' {
					return 0, false
				}
			}
			return math.MaxUint64, false
		}
		u = u*10 + d
	}
	return u, true
}

func valueError(typ string, data []byte, outOfRange bool) error {
	if outOfRange {
		return fmt.Errorf("%w: %s %q: %w", ErrInvalidFieldValue, typ, data, lineprotocol.ErrValueOutOfRange)
	}
	return fmt.Errorf("%w: %s syntax %q", ErrInvalidFieldValue, typ, data)
}
