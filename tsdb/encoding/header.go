package encoding

import "encoding/binary"

// blockType is the high nibble of a block's header byte.
type blockType byte

const (
	typeTimestamp blockType = 1
	typeFloat     blockType = 2
	typeInteger   blockType = 3
	typeUnsigned  blockType = 4
	typeBoolean   blockType = 5
	typeString    blockType = 6
)

// String names the value type for error messages.
func (t blockType) String() string {
	switch t {
	case typeTimestamp:
		return "timestamp"
	case typeFloat:
		return "float"
	case typeInteger:
		return "integer"
	case typeUnsigned:
		return "unsigned"
	case typeBoolean:
		return "boolean"
	case typeString:
		return "string"
	}
	return "unknown"
}

// schemeEmpty is the low nibble of a block that holds no values; such a
// block is exactly one byte long. It is valid for every value type.
const schemeEmpty = 0

// header returns the header byte for a block of type t encoded with scheme s.
func header(t blockType, s byte) byte { return byte(t)<<4 | s }

// readHeader checks the block's type and returns its scheme, its value count
// and the bytes after the count. An empty block returns n == 0 and no error.
func readHeader(src []byte, want blockType) (scheme byte, n int, rest []byte, err error) {
	if len(src) == 0 {
		return 0, 0, nil, errTruncated
	}
	if got := blockType(src[0] >> 4); got != want {
		return 0, 0, nil, corruptf("block type %d (%s), want %d (%s)", got, got, want, want)
	}
	scheme = src[0] & 0x0f
	if scheme == schemeEmpty {
		if len(src) != 1 {
			return 0, 0, nil, corruptf("empty block has %d trailing bytes", len(src)-1)
		}
		return scheme, 0, nil, nil
	}
	u, k := binary.Uvarint(src[1:])
	if k <= 0 {
		if k == 0 {
			return 0, 0, nil, errTruncated
		}
		return 0, 0, nil, corruptf("value count overflows")
	}
	if u == 0 || u > MaxValues {
		return 0, 0, nil, corruptf("value count %d outside [1, %d]", u, MaxValues)
	}
	return scheme, int(u), src[1+k:], nil
}

// appendHeader appends a header byte and, for a non-empty block, the count.
func appendHeader(dst []byte, t blockType, scheme byte, n int) []byte {
	dst = append(dst, header(t, scheme))
	if scheme == schemeEmpty {
		return dst
	}
	return binary.AppendUvarint(dst, uint64(n))
}

// readVarint reads one zigzag-encoded signed varint from src.
func readVarint(src []byte) (int64, []byte, error) {
	v, k := binary.Varint(src)
	if k <= 0 {
		if k == 0 {
			return 0, nil, errTruncated
		}
		return 0, nil, corruptf("varint overflows 64 bits")
	}
	return v, src[k:], nil
}
