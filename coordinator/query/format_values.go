package query

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendJSONValues appends a series' rows, their first values written as
// tf says. It encodes the value types rows hold (nil, bool, integers,
// floats, strings) itself, byte for byte as encoding/json would, and
// anything else through encoding/json: the reflection encoder costs a type
// lookup per value, which dominated the encoding of wide raw results.
// With a non-nil out, the bytes so far are written to out and dropped
// from b whenever they reach streamChunk between two rows.
func appendJSONValues(b []byte, rows [][]any, tf timeFormat, out io.Writer) ([]byte, error) {
	var date utcDate
	b = append(b, '[')
	for i, row := range rows {
		if i > 0 {
			var err error
			if b, err = spill(append(b, ','), out); err != nil {
				return nil, err
			}
		}
		b = append(b, '[')
		for j, v := range row {
			if j > 0 {
				b = append(b, ',')
			} else if tb, ok := tf.appendJSON(b, v, &date); ok {
				b = tb
				continue
			}
			var err error
			if b, err = appendJSONValue(b, v); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	return append(b, ']'), nil
}

// appendJSONValue appends v as encoding/json encodes it.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			break // encoding/json's error
		}
		return appendJSONFloat(b, v), nil
	case string:
		return appendJSONString(b, v), nil
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, enc...), nil
}

// appendJSONFloat formats f as encoding/json does: 'f' format, or 'e' for
// magnitudes below 1e-6 or from 1e21, with a two-digit exponent trimmed
// ("1e-07" → "1e-7").
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does with HTML escaping on
// (its default): ", \ and control characters escaped, <, > and & as
// \u003c, \u003e and \u0026, invalid UTF-8 as \ufffd, and U+2028/U+2029
// escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONResponse appends resp as encoding/json encodes it (compact,
// with its trailing newline), writing the result structure directly: going
// through encoding/json would re-validate every row's bytes.
func appendJSONResponse(b []byte, resp *jsonResponse, out io.Writer) ([]byte, error) {
	b = append(b, `{"results":[`...)
	for i := range resp.Results {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendJSONResult(b, &resp.Results[i], out); err != nil {
			return nil, err
		}
	}
	return append(b, "]}\n"...), nil
}

func appendJSONResult(b []byte, r *jsonResult, out io.Writer) ([]byte, error) {
	b = append(b, `{"statement_id":`...)
	b = strconv.AppendInt(b, int64(r.StatementID), 10)
	if len(r.Series) > 0 {
		b = append(b, `,"series":[`...)
		for i := range r.Series {
			var err error
			if i > 0 {
				if b, err = spill(append(b, ','), out); err != nil {
					return nil, err
				}
			}
			if b, err = appendJSONRow(b, &r.Series[i], out); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	if len(r.Messages) > 0 {
		msgs, err := json.Marshal(r.Messages)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"messages":`...), msgs...)
	}
	if r.Partial {
		b = append(b, `,"partial":true`...)
	}
	if r.Err != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, r.Err)
	}
	return append(b, '}'), nil
}

func appendJSONRow(b []byte, r *jsonRow, out io.Writer) ([]byte, error) {
	b = append(b, '{')
	if r.Name != "" {
		b = append(b, `"name":`...)
		b = appendJSONString(b, r.Name)
		b = append(b, ',')
	}
	if len(r.Tags) > 0 {
		b = append(b, `"tags":{`...)
		keys := make([]string, 0, len(r.Tags))
		for k := range r.Tags {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, r.Tags[k])
		}
		b = append(b, "},"...)
	}
	b = append(b, `"columns":`...)
	if r.Columns == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, c := range r.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, c)
		}
		b = append(b, ']')
	}
	if len(r.Values) > 0 {
		b = append(b, `,"values":`...)
		var err error
		if b, err = appendJSONValues(b, r.Values, r.time, out); err != nil {
			return nil, err
		}
	}
	if r.Partial {
		b = append(b, `,"partial":true`...)
	}
	return append(b, '}'), nil
}

// streamChunk is how many bytes of a streamed answer are held before they
// are written: an answer of many megabytes (high-cpu-all's ~6 MB) is no
// longer grown by doubling into one buffer.
const streamChunk = 32 << 10

// spill writes b to out and returns it emptied once it holds streamChunk
// bytes; with a nil out, or fewer bytes, it returns b as is.
func spill(b []byte, out io.Writer) ([]byte, error) {
	if out == nil || len(b) < streamChunk {
		return b, nil
	}
	if _, err := out.Write(b); err != nil {
		return nil, fmt.Errorf("write json: %w", err)
	}
	return b[:0], nil
}
