package models

import "encoding/binary"

// escapeSet marks the bytes that are escaped with a backslash in one kind of
// line-protocol token. The sets match github.com/influxdata/line-protocol/v2.
type escapeSet struct {
	has [256]bool
	// words holds each byte of the set repeated in all 8 lanes of a uint64,
	// for scanning 8 bytes at a time.
	words []uint64
}

func newEscapeSet(chars string) *escapeSet {
	var s escapeSet
	for i := 0; i < len(chars); i++ {
		s.has[chars[i]] = true
		s.words = append(s.words, uint64(chars[i])*lanes01)
	}
	return &s
}

const (
	lanes01 = 0x0101010101010101
	lanes80 = 0x8080808080808080
)

// firstEscape returns the index of the first byte of s in set, or len(s).
// It tests 8 bytes per step (a SWAR "has zero byte" test per set member), as
// the common token has nothing to escape.
func firstEscape(s []byte, set *escapeSet) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(s[i:])
		hit := false
		for _, c := range set.words {
			x := w ^ c
			if (x-lanes01)&^x&lanes80 != 0 {
				hit = true
				break
			}
		}
		if hit {
			break
		}
	}
	for ; i < len(s); i++ {
		if set.has[s[i]] {
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
