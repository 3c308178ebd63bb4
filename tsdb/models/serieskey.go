package models

import "fmt"

var (
	// measurementStop ends a measurement in a series key.
	measurementStop = newEscapeSet(",")
	tagKeyStop      = newEscapeSet("=")
	tagValueStop    = newEscapeSet(",")
)

// AppendSeriesKey appends the canonical series key of measurement and tags to
// dst: the measurement with ',' and ' ' escaped by a backslash, then ",k=v"
// for each tag in the given order with ',', '=' and ' ' escaped in keys and
// values (line-protocol escaping; see docs/series-key.md). tags must be sorted
// for the key to be canonical. It does not allocate when dst has room.
func AppendSeriesKey(dst, measurement []byte, tags Tags) []byte {
	dst = appendEscaped(dst, measurement, measurementEscapes)
	for _, t := range tags {
		dst = append(dst, ',')
		dst = appendEscaped(dst, t.Key, tagEscapes)
		dst = append(dst, '=')
		dst = appendEscaped(dst, t.Value, tagEscapes)
	}
	return dst
}

// ParseSeriesKey splits a series key made by AppendSeriesKey into its
// measurement and tags, removing escapes. The returned slices alias key
// unless a token contained escapes. A key with an empty measurement, a tag
// without '=', or an empty tag key or value returns an error wrapping
// ErrInvalidSeriesKey.
func ParseSeriesKey(key []byte) (measurement []byte, tags Tags, err error) {
	return ParseSeriesKeyAppend(nil, key)
}

// ParseSeriesKeyAppend is ParseSeriesKey appending the tags to dst, so a
// caller parsing many keys can reuse one Tags buffer.
func ParseSeriesKeyAppend(dst Tags, key []byte) (measurement []byte, tags Tags, err error) {
	tags = dst
	n, esc := scanEscaped(key, measurementStop, measurementEscapes)
	if n == 0 {
		return nil, dst, fmt.Errorf("parse series key %q: empty measurement: %w", key, ErrInvalidSeriesKey)
	}
	measurement = unescapeToken(key[:n], esc, measurementEscapes)
	rest := key[n:]
	for len(rest) > 0 {
		// rest starts with the ',' that ended the previous token.
		rest = rest[1:]
		n, esc = scanEscaped(rest, tagKeyStop, tagEscapes)
		if n == 0 || n == len(rest) {
			return nil, dst, fmt.Errorf("parse series key %q: tag %d: missing key or '=': %w", key, len(tags)-len(dst), ErrInvalidSeriesKey)
		}
		k := unescapeToken(rest[:n], esc, tagEscapes)
		rest = rest[n+1:]
		n, esc = scanEscaped(rest, tagValueStop, tagEscapes)
		if n == 0 {
			return nil, dst, fmt.Errorf("parse series key %q: tag %q: empty value: %w", key, k, ErrInvalidSeriesKey)
		}
		tags = append(tags, Tag{Key: k, Value: unescapeToken(rest[:n], esc, tagEscapes)})
		rest = rest[n:]
	}
	return measurement, tags, nil
}

func unescapeToken(tok []byte, escaped bool, set *escapeSet) []byte {
	if !escaped {
		return tok[:len(tok):len(tok)]
	}
	return appendUnescaped(make([]byte, 0, len(tok)), tok, set)
}
