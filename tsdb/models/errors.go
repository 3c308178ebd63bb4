package models

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
)

var (
	// ErrDuplicateTagKey means a line repeats a tag key (InfluxDB rejects it).
	ErrDuplicateTagKey = errors.New("duplicate tag key")
	// ErrTimestampOutOfRange means a timestamp does not fit int64 nanoseconds
	// once scaled by the precision.
	ErrTimestampOutOfRange = errors.New("timestamp out of range")
	// ErrInvalidTimestamp means the timestamp is not a decimal integer.
	ErrInvalidTimestamp = errors.New("invalid timestamp")
	// ErrInvalidPrecision is returned by ParsePrecision for an unknown name.
	ErrInvalidPrecision = errors.New("invalid precision")
	// ErrInvalidSeriesKey is returned by ParseSeriesKey for a malformed key.
	ErrInvalidSeriesKey = errors.New("invalid series key")
)

// maxLineErrors bounds how many LineErrors a PartialParseError keeps; Dropped
// still counts every rejected line. A body of a million bad lines must not
// cost a million error values.
const maxLineErrors = 100

// LineError is one rejected line: its 1-based line number and the reason.
// Err is a *lineprotocol.DecodeError for syntax errors (it also carries the
// column) or wraps one of this package's sentinels.
type LineError struct {
	Line int
	Err  error
}

// Error implements error: "line 3: <reason>".
func (e LineError) Error() string {
	var de *lineprotocol.DecodeError
	if errors.As(e.Err, &de) {
		return fmt.Sprintf("line %d:%d: %s", e.Line, de.Column, de.Err.Error())
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Err.Error())
}

// Unwrap returns the reason.
func (e LineError) Unwrap() error { return e.Err }

// PartialParseError reports the lines a Parse call rejected. Lines holds the
// first errors (at most 100) in line order; Dropped counts every rejected line.
type PartialParseError struct {
	Lines   []LineError
	Dropped int
}

// Error says "partial write: <first errors...> dropped=N", as InfluxDB does.
func (e *PartialParseError) Error() string {
	var b strings.Builder
	b.WriteString("partial write: ")
	const show = 3
	for i, le := range e.Lines {
		if i == show {
			b.WriteString("; ...")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(le.Error())
	}
	b.WriteString(" dropped=")
	b.WriteString(strconv.Itoa(e.Dropped))
	return b.String()
}

// Unwrap returns the kept line errors, so errors.Is and errors.As see them.
func (e *PartialParseError) Unwrap() []error {
	errs := make([]error, len(e.Lines))
	for i, le := range e.Lines {
		errs[i] = le
	}
	return errs
}
