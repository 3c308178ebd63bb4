package encoding

import "slices"

// Boolean schemes. See docs/format.md.
const (
	schemeBitPacked = 1 // one bit per value, least significant bit first
	schemeAllSame   = 2 // every value equals the one byte that follows
)

// AppendBooleans encodes vs bit-packed (or, when all are equal, as one
// byte) and appends the block to dst. It panics if len(vs) > MaxValues.
func AppendBooleans(dst []byte, vs []bool) []byte {
	checkCount(len(vs))
	if len(vs) == 0 {
		return append(dst, header(typeBoolean, schemeEmpty))
	}
	if !slices.Contains(vs, !vs[0]) {
		dst = appendHeader(dst, typeBoolean, schemeAllSame, len(vs))
		if vs[0] {
			return append(dst, 1)
		}
		return append(dst, 0)
	}
	dst = appendHeader(dst, typeBoolean, schemeBitPacked, len(vs))
	for i := 0; i < len(vs); i += 8 {
		var b byte
		for j, v := range vs[i:min(i+8, len(vs))] {
			if v {
				b |= 1 << j
			}
		}
		dst = append(dst, b)
	}
	return dst
}

// DecodeBooleans decodes a block written by AppendBooleans and appends the
// values to dst.
func DecodeBooleans(dst []bool, src []byte) ([]bool, error) {
	scheme, n, rest, err := readHeader(src, typeBoolean)
	if err != nil || n == 0 {
		return dst, err
	}
	switch scheme {
	case schemeAllSame:
		if len(rest) != 1 {
			if len(rest) == 0 {
				return dst, errTruncated
			}
			return dst, corruptf("%d trailing bytes", len(rest)-1)
		}
		if rest[0] > 1 {
			return dst, corruptf("boolean byte %d", rest[0])
		}
		start := len(dst)
		dst = slices.Grow(dst, n)[:start+n]
		out := dst[start:]
		for i := range out {
			out[i] = rest[0] == 1
		}
		return dst, nil
	case schemeBitPacked:
		if want := (n + 7) / 8; len(rest) != want {
			if len(rest) < want {
				return dst, errTruncated
			}
			return dst, corruptf("%d bytes of bits, want %d", len(rest), want)
		}
		start := len(dst)
		dst = slices.Grow(dst, n)[:start+n]
		out := dst[start:]
		for i := range out {
			out[i] = rest[i>>3]>>(i&7)&1 == 1
		}
		return dst, nil
	}
	return dst, corruptf("unknown boolean scheme %d", scheme)
}
