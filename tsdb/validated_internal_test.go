package tsdb

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// TestDecodeValidatedV1 checks that a list of validated files written
// before the lists gave value counts still decodes, its files' value
// counts unknown, and that a list written now gives them back.
func TestDecodeValidatedV1(t *testing.T) {
	footer := bytes.Repeat([]byte{7}, 56)
	entry := func(magic []byte, values ...uint64) []byte {
		b := bytes.Clone(magic)
		b = binary.AppendUvarint(b, 3)
		b = append(b, "a.x"...)
		b = binary.AppendUvarint(b, 1234)
		b = binary.AppendUvarint(b, 5)
		for _, v := range values {
			b = binary.AppendUvarint(b, v)
		}
		b = append(b, footer...)
		return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	}
	for _, c := range []struct {
		list   []byte
		values int64
	}{
		{entry(validatedMagicV1), -1},
		{entry(validatedMagic, 0), -1},
		{entry(validatedMagic, 43), 42},
	} {
		out, err := decodeValidated(c.list)
		if err != nil {
			t.Fatalf("decode %q: %v", c.list[:8], err)
		}
		f, ok := out["a.x"]
		if !ok || f.v.Size != 1234 || f.v.Blocks != 5 || !bytes.Equal(f.v.Footer[:], footer) || f.values != c.values {
			t.Fatalf("decode %q: %+v; want size 1234, 5 blocks, the footer, %d values", c.list[:8], out, c.values)
		}
	}
}
