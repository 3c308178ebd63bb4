package models

// escapeSet marks the bytes that are escaped with a backslash in one kind of
// line-protocol token. The sets match github.com/influxdata/line-protocol/v2.
type escapeSet struct {
	has [256]bool
}

func newEscapeSet(chars string) *escapeSet {
	var s escapeSet
	for i := 0; i < len(chars); i++ {
		s.has[chars[i]] = true
	}
	return &s
}

// firstEscape returns the index of the first byte of s in set, or len(s).
// (A word-at-a-time scan was tried: tokens are mostly shorter than 8 bytes
// and it was slower.)
func firstEscape(s []byte, set *escapeSet) int {
	for i, c := range s {
		if set.has[c] {
			return i
		}
	}
	return len(s)
}

var (
	measurementEscapes = newEscapeSet(", ")
	tagEscapes         = newEscapeSet(",= ")
	fieldKeyEscapes    = tagEscapes
)

// appendEscaped appends s to dst with every byte of set preceded by '\'.
func appendEscaped(dst, s []byte, set *escapeSet) []byte {
	first := firstEscape(s, set)
	if first == len(s) {
		return append(dst, s...)
	}
	dst = append(dst, s[:first]...)
	s = s[first:]
	start := 0
	for i, c := range s {
		if set.has[c] {
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
		if c == '\\' && i+1 < len(s) && set.has[s[i+1]] {
			escaped = true
			i++
			continue
		}
		if stop.has[c] {
			return i, escaped
		}
	}
	return len(s), escaped
}

// appendUnescaped appends s to dst with escapes of set removed.
func appendUnescaped(dst, s []byte, set *escapeSet) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && set.has[s[i+1]] {
			dst = append(dst, s[start:i]...)
			start = i + 1
			i++
		}
	}
	return append(dst, s[start:]...)
}
