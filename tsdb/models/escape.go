package models

// escapeSet marks the bytes that are escaped with a backslash in one kind of
// line-protocol token. The sets match github.com/influxdata/line-protocol/v2.
type escapeSet [256]bool

func newEscapeSet(chars string) *escapeSet {
	var s escapeSet
	for i := 0; i < len(chars); i++ {
		s[chars[i]] = true
	}
	return &s
}

var (
	measurementEscapes = newEscapeSet(", ")
	tagEscapes         = newEscapeSet(",= ")
	fieldKeyEscapes    = tagEscapes
)

// appendEscaped appends s to dst with every byte of set preceded by '\'.
func appendEscaped(dst, s []byte, set *escapeSet) []byte {
	start := 0
	for i, c := range s {
		if set[c] {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', c)
			start = i + 1
		}
	}
	return append(dst, s[start:]...)
}

// appendStringValue appends s as a quoted line-protocol string field value,
// escaping the characters line-protocol/v2 unescapes: \ " newline CR tab.
func appendStringValue(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i, c := range s {
		var r byte
		switch c {
		case '\\', '"':
			r = c
		case '\n':
			r = 'n'
		case '\r':
			r = 'r'
		case '\t':
			r = 't'
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', r)
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// scanEscaped returns the length of the token at the start of s, which ends
// at the first unescaped byte in stop, and whether it contains any escape.
// A backslash escapes the following byte only if that byte is in set, the
// rule line-protocol/v2 applies.
func scanEscaped(s []byte, stop, set *escapeSet) (n int, escaped bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && set[s[i+1]] {
			escaped = true
			i++
			continue
		}
		if stop[c] {
			return i, escaped
		}
	}
	return len(s), escaped
}

// appendUnescaped appends s to dst with escapes of set removed.
func appendUnescaped(dst, s []byte, set *escapeSet) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && set[s[i+1]] {
			dst = append(dst, s[start:i]...)
			start = i + 1
			i++
		}
	}
	return append(dst, s[start:]...)
}
