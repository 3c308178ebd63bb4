package encoding

import "encoding/binary"

// integer is the set of element types the integer codecs work on. Both are
// handled as 64-bit two's-complement words with wrapping arithmetic, so one
// format serves timestamps, integers and unsigneds.
type integer interface{ ~int64 | ~uint64 }

// packedLen is the number of bytes appendPacked writes for m values of width
// w bits.
func packedLen(m int, w uint) int { return (m*int(w) + 7) / 8 }

// appendPacked appends vs as consecutive w-bit fields, least significant bit
// first, in exactly packedLen(len(vs), w) bytes. Every v must be < 2^w.
func appendPacked(dst []byte, vs []uint64, w uint) []byte {
	if w == 0 {
		return dst
	}
	var acc uint64
	var n uint // bits used in acc
	for _, v := range vs {
		acc |= v << n
		if n+w >= 64 {
			dst = binary.LittleEndian.AppendUint64(dst, acc)
			acc = v >> (64 - n) // Go defines x>>64 == 0
			n = n + w - 64
		} else {
			n += w
		}
	}
	for ; n > 0; n -= min(8, n) {
		dst = append(dst, byte(acc))
		acc >>= 8
	}
	return dst
}

// unpackBits fills out with w-bit fields read from src, which must hold
// exactly packedLen(len(out), w) bytes (the caller checks).
func unpackBits[T integer](out []T, src []byte, w uint) {
	if w == 0 {
		clear(out)
		return
	}
	mask := uint64(1)<<w - 1 // w == 64 gives all ones
	var bit uint
	i := 0
	// Fast path: a full 8-byte load plus, for fields straddling it, one more
	// byte is available.
	for ; i < len(out); i++ {
		off := bit >> 3
		if off+9 > uint(len(src)) {
			break
		}
		sh := bit & 7
		v := binary.LittleEndian.Uint64(src[off:]) >> sh
		if sh+w > 64 {
			v |= uint64(src[off+8]) << (64 - sh)
		}
		out[i] = T(v & mask)
		bit += w
	}
	var pad [16]byte
	for ; i < len(out); i++ {
		off := bit >> 3
		copy(pad[:], src[off:])
		sh := bit & 7
		v := binary.LittleEndian.Uint64(pad[:]) >> sh
		if sh+w > 64 {
			v |= uint64(pad[8]) << (64 - sh)
		}
		out[i] = T(v & mask)
		bit += w
		pad = [16]byte{}
	}
}
