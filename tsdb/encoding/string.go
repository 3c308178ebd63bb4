package encoding

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"
)

// String schemes. See docs/format.md.
const (
	schemeRaw = 1 // lengths then bytes, uncompressed
	schemeS2  = 2 // lengths then bytes, as one s2 block
)

// maxS2Ratio bounds how much larger than its s2 payload a string block may
// decode to, which bounds what a decoder allocates for hostile input. The
// encoder falls back to s2's snappy-compatible output (which never exceeds
// about 22:1) or to raw when s2 would compress further.
const maxS2Ratio = 64

// maxS2Input is the largest string body the encoder compresses; larger ones
// (far beyond any real block) are stored raw, well inside s2's 4 GiB limit.
const maxS2Input = 1 << 30

// AppendStrings encodes vs as varint lengths followed by the bytes, s2
// compressed when that is smaller, and appends the block to dst. It panics
// if len(vs) > MaxValues.
func AppendStrings(dst []byte, vs [][]byte) []byte {
	checkCount(len(vs))
	if len(vs) == 0 {
		return append(dst, header(typeString, schemeEmpty))
	}
	// Write the raw block, then replace its body if s2 makes it smaller.
	start := len(dst)
	dst = appendHeader(dst, typeString, schemeRaw, len(vs))
	bodyStart := len(dst)
	for _, v := range vs {
		dst = binary.AppendUvarint(dst, uint64(len(v)))
	}
	for _, v := range vs {
		dst = append(dst, v...)
	}
	body := dst[bodyStart:]
	if len(body) > maxS2Input {
		return dst
	}
	e := intEncoderPool.Get().(*intEncoder)
	defer e.release()
	comp := s2.Encode(e.best[:cap(e.best)], body)
	if len(comp)*maxS2Ratio < len(body) {
		comp = s2.EncodeSnappy(e.best[:cap(e.best)], body)
	}
	e.best = comp
	if len(comp) >= len(body) || len(comp)*maxS2Ratio < len(body) {
		return dst
	}
	dst = appendHeader(dst[:start], typeString, schemeS2, len(vs))
	return append(dst, comp...)
}

// DecodeStrings decodes a block written by AppendStrings and appends the
// values to dst. The returned slices alias one newly allocated buffer, never
// src, so src may be reused at once.
func DecodeStrings(dst [][]byte, src []byte) ([][]byte, error) {
	scheme, n, rest, err := readHeader(src, typeString)
	if err != nil || n == 0 {
		return dst, err
	}
	var buf []byte
	switch scheme {
	case schemeRaw:
		buf = make([]byte, len(rest))
		copy(buf, rest)
	case schemeS2:
		dl, err := s2.DecodedLen(rest)
		if err != nil {
			return dst, corruptf("read s2 length: %w", err)
		}
		if dl > maxS2Ratio*len(rest) {
			return dst, corruptf("s2 payload of %d bytes claims %d decoded bytes", len(rest), dl)
		}
		buf = make([]byte, dl)
		if buf, err = s2.Decode(buf, rest); err != nil {
			return dst, corruptf("decode s2: %w", err)
		}
	default:
		return dst, corruptf("unknown string scheme %d", scheme)
	}
	// buf holds n varint lengths, then the bytes. Check the lengths add up
	// to the rest of buf before slicing anything.
	data := buf
	total := uint64(0)
	for i := range n {
		l, k := binary.Uvarint(data)
		if k == 0 {
			return dst, fmt.Errorf("string %d: length: %w", i, errTruncated)
		}
		if k < 0 {
			return dst, corruptf("string %d: length varint overflows", i)
		}
		data = data[k:]
		if total += l; l > uint64(len(buf)) || total > uint64(len(buf)) {
			return dst, fmt.Errorf("string %d: length %d exceeds block of %d bytes: %w", i, l, len(buf), errTruncated)
		}
	}
	if total != uint64(len(data)) {
		if total > uint64(len(data)) {
			return dst, errTruncated
		}
		return dst, corruptf("%d trailing bytes", uint64(len(data))-total)
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	lens := buf
	for i := range n {
		l, k := binary.Uvarint(lens)
		lens = lens[k:]
		dst[start+i] = data[:l:l]
		data = data[l:]
	}
	return dst, nil
}
