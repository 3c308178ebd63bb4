package encoding

import "encoding/binary"

// Simple8b packs as many small values as fit into one 64-bit word: the top 4
// bits select how the low 60 bits are split. Selectors 0 and 1 encode runs
// of zeros without payload.
var (
	s8bCount = [16]int{240, 120, 60, 30, 20, 15, 12, 10, 8, 7, 6, 5, 4, 3, 2, 1}
	s8bWidth = [16]uint{0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 30, 60}
)

// s8bMax is the largest value simple8b can hold.
const s8bMax = 1<<60 - 1

// appendSimple8b appends vs as little-endian simple8b words. Every v must be
// <= s8bMax. A word never holds more values than remain, so the words encode
// exactly len(vs) values.
func appendSimple8b(dst []byte, vs []uint64) []byte {
	for len(vs) > 0 {
		sel := 15
		for s := 0; s < 15; s++ {
			c := s8bCount[s]
			if c > len(vs) {
				continue
			}
			lim := uint64(1)<<s8bWidth[s] - 1
			ok := true
			for _, v := range vs[:c] {
				if v > lim {
					ok = false
					break
				}
			}
			if ok {
				sel = s
				break
			}
		}
		c, w := s8bCount[sel], s8bWidth[sel]
		word := uint64(sel) << 60
		if w > 0 {
			for j, v := range vs[:c] {
				word |= v << (uint(j) * w)
			}
		}
		dst = binary.LittleEndian.AppendUint64(dst, word)
		vs = vs[c:]
	}
	return dst
}

// decodeSimple8b fills out from src, which must consist of whole words that
// decode to exactly len(out) values.
func decodeSimple8b[T integer](out []T, src []byte) error {
	if len(src)%8 != 0 {
		return corruptf("simple8b section of %d bytes is not whole words", len(src))
	}
	i := 0
	for ; len(src) > 0; src = src[8:] {
		word := binary.LittleEndian.Uint64(src)
		sel := word >> 60
		c, w := s8bCount[sel], s8bWidth[sel]
		if c > len(out)-i {
			return corruptf("simple8b word holds %d values, %d remain", c, len(out)-i)
		}
		dst := out[i : i+c]
		if w == 0 {
			clear(dst)
		} else {
			mask := uint64(1)<<w - 1
			for j := range dst {
				dst[j] = T(word >> (uint(j) * w) & mask)
			}
		}
		i += c
	}
	if i != len(out) {
		return corruptf("simple8b words hold %d values, want %d", i, len(out))
	}
	return nil
}
