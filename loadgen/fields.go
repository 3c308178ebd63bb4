package loadgen

import "bytes"

// countFields returns the number of fields of one line-protocol line
// (without its newline) without parsing it: the unescaped commas of the
// field section, outside string values, plus one. It returns 0 for a line
// with no field section. It never fails; a malformed line is the server's
// to reject, and its count only feeds the statistics.
func countFields(line []byte) int {
	// The field section starts after the first unescaped space.
	start := 0
	for {
		j := bytes.IndexByte(line[start:], ' ')
		if j < 0 {
			return 0
		}
		start += j
		if !escaped(line, start) {
			break
		}
		start++
	}
	for start < len(line) && line[start] == ' ' {
		start++
	}
	fields := line[start:]
	if len(fields) == 0 {
		return 0
	}
	// Fast path: no string values and no escapes, as in TSBS data.
	if bytes.IndexByte(fields, '"') < 0 && bytes.IndexByte(fields, '\\') < 0 {
		if end := bytes.IndexByte(fields, ' '); end >= 0 {
			fields = fields[:end]
		}
		return bytes.Count(fields, []byte{','}) + 1
	}
	n := 1
	inString := false
	for i := 0; i < len(fields); i++ {
		switch fields[i] {
		case '\\':
			i++ // the next byte is escaped, inside or outside a string
		case '"':
			inString = !inString
		case ',':
			if !inString {
				n++
			}
		case ' ':
			if !inString {
				return n
			}
		}
	}
	return n
}

// escaped reports whether line[i] is preceded by an odd number of
// backslashes.
func escaped(line []byte, i int) bool {
	n := 0
	for i > 0 && line[i-1] == '\\' {
		n++
		i--
	}
	return n%2 == 1
}
