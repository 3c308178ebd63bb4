package encoding

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

// Float schemes. See docs/format.md.
const (
	schemeGorilla = 1 // XOR with the previous value (Gorilla, VLDB 2015)
	schemeDecimal = 2 // integers m with v = m / 10^e, as an integer block
)

// AppendFloats encodes vs and appends the block to dst. Columns of decimal
// numbers with at most 15 digits after the point (integral floats
// included) are stored as scaled integers with the integer codecs; others
// use Gorilla XOR compression. Either way values round-trip bit for bit (NaN
// payloads, -0 and infinities included). It panics if len(vs) > MaxValues.
func AppendFloats(dst []byte, vs []float64) []byte {
	checkCount(len(vs))
	if len(vs) == 0 {
		return append(dst, header(typeFloat, schemeEmpty))
	}
	if out, ok := appendDecimal(dst, vs); ok {
		return out
	}
	return appendGorilla(dst, vs)
}

// appendGorilla appends a Gorilla block of vs (len(vs) >= 1).
func appendGorilla(dst []byte, vs []float64) []byte {
	dst = appendHeader(dst, typeFloat, schemeGorilla, len(vs))
	w := bitWriter{buf: dst}
	prev := math.Float64bits(vs[0])
	w.write(prev, 64)
	prevLead, prevTrail := uint(math.MaxUint8), uint(0) // no window yet
	for _, f := range vs[1:] {
		cur := math.Float64bits(f)
		x := cur ^ prev
		prev = cur
		if x == 0 {
			w.write(0, 1)
			continue
		}
		lead := min(uint(bits.LeadingZeros64(x)), 31)
		trail := uint(bits.TrailingZeros64(x))
		if lead >= prevLead && trail >= prevTrail {
			// '10': reuse the previous window.
			if sig := 64 - prevLead - prevTrail; sig <= 62 {
				w.write(0b10<<sig|x>>prevTrail, sig+2)
			} else {
				w.write(0b10, 2)
				w.write(x>>prevTrail, sig)
			}
			continue
		}
		// '11': new window: 5 bits leading zeros, 6 bits length (64 as 0).
		sig := 64 - lead - trail
		ctl := 0b11<<11 | uint64(lead)<<6 | uint64(sig&63)
		if sig <= 51 {
			w.write(ctl<<sig|x>>trail, sig+13)
		} else {
			w.write(ctl, 13)
			w.write(x>>trail, sig)
		}
		prevLead, prevTrail = lead, trail
	}
	return w.flush()
}

// DecodeFloats decodes a block written by AppendFloats and appends the
// values to dst.
func DecodeFloats(dst []float64, src []byte) ([]float64, error) {
	scheme, n, rest, err := readHeader(src, typeFloat)
	if err != nil || n == 0 {
		return dst, err
	}
	if scheme == schemeDecimal {
		start := len(dst)
		dst = slices.Grow(dst, n)[:start+n]
		if err := decodeDecimal(dst[start:], rest); err != nil {
			return dst[:start], err
		}
		return dst, nil
	}
	if scheme != schemeGorilla {
		return dst, corruptf("unknown float scheme %d", scheme)
	}
	// Every value after the first takes at least one bit.
	if need := 64 + (n - 1); 8*len(rest) < need {
		return dst, errTruncated
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	if err := decodeGorilla(dst[start:], rest); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// decodeGorilla fills out from a Gorilla bit stream.
func decodeGorilla(out []float64, src []byte) error {
	total := uint(len(src)) * 8
	pos := uint(64)
	if pos > total {
		return errTruncated
	}
	v := peekBits(src, 0, 32)<<32 | peekBits(src, 32, 32)
	out[0] = math.Float64frombits(v)
	var lead, trail uint
	sig := uint(0) // 0: no window yet
	for i := 1; i < len(out); i++ {
		ctl := peekBits(src, pos, 13)
		switch {
		case ctl>>12 == 0: // '0': same value
			pos++
			out[i] = math.Float64frombits(v)
			continue
		case ctl>>11 == 0b10: // reuse the window
			if sig == 0 {
				return corruptf("float window reused before it was set")
			}
			pos += 2
		default: // '11': new window
			lead, sig = uint(ctl>>6&31), uint(ctl&63)
			if sig == 0 {
				sig = 64
			}
			if lead+sig > 64 {
				return corruptf("float window of %d leading and %d significant bits", lead, sig)
			}
			trail = 64 - lead - sig
			pos += 13
		}
		var x uint64
		if sig <= 56 {
			x = peekBits(src, pos, sig)
		} else {
			x = peekBits(src, pos, sig-32)<<32 | peekBits(src, pos+sig-32, 32)
		}
		pos += sig
		if pos > total {
			return errTruncated
		}
		v ^= x << trail
		out[i] = math.Float64frombits(v)
	}
	if pos > total {
		return errTruncated
	}
	if total-pos >= 8 {
		return corruptf("%d trailing bits", total-pos)
	}
	return nil
}

// peekBits returns the n bits (1 <= n <= 56) of src starting at bit pos,
// most significant first; bits past the end of src read as zero.
func peekBits(src []byte, pos, n uint) uint64 {
	off := pos >> 3
	var w uint64
	if off+8 <= uint(len(src)) {
		w = binary.BigEndian.Uint64(src[off:])
	} else {
		var tmp [8]byte
		if off < uint(len(src)) {
			copy(tmp[:], src[off:])
		}
		w = binary.BigEndian.Uint64(tmp[:])
	}
	return w << (pos & 7) >> (64 - n)
}
