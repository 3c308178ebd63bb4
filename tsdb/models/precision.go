package models

import (
	"fmt"
	"math"
)

// Precision is the duration of one timestamp unit in nanoseconds. Values <= 0
// are treated as nanoseconds by the parser.
type Precision int64

// Precisions accepted by the write API's precision parameter.
const (
	PrecisionNanosecond  Precision = 1
	PrecisionMicrosecond Precision = 1e3
	PrecisionMillisecond Precision = 1e6
	PrecisionSecond      Precision = 1e9
	PrecisionMinute      Precision = 60e9
	PrecisionHour        Precision = 3600e9
)

// ParsePrecision parses the InfluxDB 1.x precision names: "" , "n" and "ns"
// (nanoseconds), "u", "us" and "µ" (microseconds), "ms", "s", "m" and "h".
// Anything else returns an error wrapping ErrInvalidPrecision.
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "", "n", "ns":
		return PrecisionNanosecond, nil
	case "u", "us", "µ", "µs":
		return PrecisionMicrosecond, nil
	case "ms":
		return PrecisionMillisecond, nil
	case "s":
		return PrecisionSecond, nil
	case "m":
		return PrecisionMinute, nil
	case "h":
		return PrecisionHour, nil
	}
	return 0, fmt.Errorf("parse precision %q: %w", s, ErrInvalidPrecision)
}

// scale converts ts units of p into nanoseconds, reporting false on overflow.
func (p Precision) scale(ts int64) (int64, bool) {
	if p <= 1 {
		return ts, true
	}
	d := int64(p)
	if ts > math.MaxInt64/d || ts < math.MinInt64/d {
		return 0, false
	}
	return ts * d, true
}

// truncate rounds ns down (towards minus infinity) to a multiple of p.
func (p Precision) truncate(ns int64) int64 {
	if p <= 1 {
		return ns
	}
	d := int64(p)
	r := ns % d
	if r < 0 {
		r += d
	}
	return ns - r
}
