package encoding

import (
	"math"
	"math/bits"
	"slices"
)

// Float schemes. See docs/format.md.
const (
	schemeGorilla = 1 // XOR with the previous value (Gorilla, VLDB 2015)
)

// AppendFloats encodes vs with Gorilla XOR compression and appends the block
// to dst. Values round-trip bit for bit (NaN payloads, -0 and infinities
// included). It panics if len(vs) > MaxValues.
func AppendFloats(dst []byte, vs []float64) []byte {
	checkCount(len(vs))
	if len(vs) == 0 {
		return append(dst, header(typeFloat, schemeEmpty))
	}
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
			w.write(0b10, 2)
			w.write(x>>prevTrail, 64-prevLead-prevTrail)
			continue
		}
		// '11': new window: 5 bits leading zeros, 6 bits length (64 as 0).
		sig := 64 - lead - trail
		w.write(0b11<<11|uint64(lead)<<6|uint64(sig&63), 13)
		w.write(x>>trail, sig)
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
	r := bitReader{src: src}
	v, err := r.read(64)
	if err != nil {
		return err
	}
	out[0] = math.Float64frombits(v)
	var lead, trail uint
	sig := uint(0) // 0: no window yet
	for i := 1; i < len(out); i++ {
		b, err := r.readBit()
		if err != nil {
			return err
		}
		if b {
			b, err = r.readBit()
			if err != nil {
				return err
			}
			if b {
				c, err := r.read(11)
				if err != nil {
					return err
				}
				lead, sig = uint(c>>6), uint(c&63)
				if sig == 0 {
					sig = 64
				}
				if lead+sig > 64 {
					return corruptf("float window of %d leading and %d significant bits", lead, sig)
				}
				trail = 64 - lead - sig
			} else if sig == 0 {
				return corruptf("float window reused before it was set")
			}
			x, err := r.read(sig)
			if err != nil {
				return err
			}
			v ^= x << trail
		}
		out[i] = math.Float64frombits(v)
	}
	if r.rest() >= 8 {
		return corruptf("%d trailing bits", r.rest())
	}
	return nil
}
