package models

import (
	"errors"
	"fmt"
	"math"
)

// Limits on a point, shared by the write path (the parser, the engine's
// checks) and every reader of stored points (the index log, the WAL), so
// that whatever a write acknowledges, recovery reads back (issue 9: a
// series key of 10 MB was acknowledged, then refused by the index log
// reader on restart, and every later series of the shard was lost).
const (
	// MaxKeyLength is the longest series key, in bytes of its canonical
	// escaped form (AppendSeriesKey), and the longest field key a point
	// may have: InfluxDB's limit (its models.MaxKeyLength).
	MaxKeyLength = 65535
	// MinNanoTime is the earliest timestamp a point may have (ns since
	// the epoch): InfluxDB's, which keeps math.MinInt64 and the value
	// after it as "no time" sentinels.
	MinNanoTime = math.MinInt64 + 2
	// MaxNanoTime is the latest timestamp a point may have: InfluxDB's,
	// one before math.MaxInt64, so a shard group holding it still ends
	// (exclusively) at a representable time.
	MaxNanoTime = math.MaxInt64 - 1
)

// ErrKeyTooLong means a series key or a field key is longer than
// MaxKeyLength.
var ErrKeyTooLong = errors.New("max key length exceeded")

// SeriesKeyLen returns the length of the series key AppendSeriesKey would
// append for measurement and tags, without building it.
func SeriesKeyLen(measurement []byte, tags Tags) int {
	n := escapedLen(measurement, measurementEscapes)
	for _, t := range tags {
		n += 2 + escapedLen(t.Key, tagEscapes) + escapedLen(t.Value, tagEscapes)
	}
	return n
}

// escapedLen is the length of s escaped with set.
func escapedLen(s []byte, set *escapeSet) int {
	n := len(s)
	for _, c := range s {
		if set.has[c] {
			n++
		}
	}
	return n
}

// checkSeriesKey reports a series key of measurement and tags longer than
// MaxKeyLength. Escapes at most double a token, so the exact length is
// only counted for keys near the limit.
func checkSeriesKey(measurement []byte, tags Tags) error {
	raw := len(measurement)
	for _, t := range tags {
		raw += 2 + len(t.Key) + len(t.Value)
	}
	if 2*raw <= MaxKeyLength {
		return nil
	}
	if n := SeriesKeyLen(measurement, tags); n > MaxKeyLength {
		return fmt.Errorf("%w: series key of %d bytes > %d", ErrKeyTooLong, n, MaxKeyLength)
	}
	return nil
}

// checkFieldKey reports a field key longer than MaxKeyLength.
func checkFieldKey(key []byte) error {
	if len(key) > MaxKeyLength {
		return fmt.Errorf("%w: field key of %d bytes > %d", ErrKeyTooLong, len(key), MaxKeyLength)
	}
	return nil
}

// checkTime reports a timestamp outside [MinNanoTime, MaxNanoTime].
func checkTime(ns int64) error {
	if ns < MinNanoTime || ns > MaxNanoTime {
		return timeRangeError(fmt.Sprint(ns))
	}
	return nil
}

// timeRangeError is the error for a timestamp outside InfluxDB's range,
// in InfluxDB's words, with what was given.
func timeRangeError(given string) error {
	return fmt.Errorf("time outside range %d - %d: %w: %s", int64(MinNanoTime), int64(MaxNanoTime), ErrTimestampOutOfRange, given)
}

// CheckLimits reports why p cannot be stored, or nil: a key past
// CheckKeys, or a timestamp outside [MinNanoTime, MaxNanoTime]
// (ErrTimestampOutOfRange). The parser never returns such a point;
// callers building points check them with it.
func (p *Point) CheckLimits() error {
	if err := p.CheckKeys(); err != nil {
		return err
	}
	return checkTime(p.Time)
}

// CheckKeys reports a series key or a field key of p longer than
// MaxKeyLength (ErrKeyTooLong), or returns nil.
func (p *Point) CheckKeys() error {
	if p.Key != nil {
		// The key the engine stores: its length, without reading the tags.
		if len(p.Key) > MaxKeyLength {
			return fmt.Errorf("%w: series key of %d bytes > %d", ErrKeyTooLong, len(p.Key), MaxKeyLength)
		}
	} else if err := checkSeriesKey(p.Measurement, p.Tags); err != nil {
		return err
	}
	for i := range p.Fields {
		if err := checkFieldKey(p.Fields[i].Key); err != nil {
			return err
		}
	}
	return nil
}
