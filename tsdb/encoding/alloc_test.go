package encoding_test

import (
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/strata-db/strata/tsdb/encoding"
)

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeAllocationBound feeds decoders small blocks that claim many
// values or bytes and checks what they allocate stays within MaxValues
// elements, or a multiple of the input for strings.
func TestDecodeAllocationBound(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation sizes; run without -race")
	}
	maxCount := binary.AppendUvarint(nil, encoding.MaxValues)
	tooMany := binary.AppendUvarint(nil, encoding.MaxValues+1)
	s2Claim := binary.AppendUvarint(nil, 1<<30) // s2 header: decoded length
	for _, tc := range []struct {
		name  string
		src   []byte
		dec   func([]byte) error
		bound uint64
	}{
		{"constant run of MaxValues", append(append([]byte{0x31}, maxCount...), 2, 2), decInts, 8*encoding.MaxValues + 16384},
		{"count above MaxValues", append(append([]byte{0x31}, tooMany...), 2, 2), decInts, 16384},
		{"simple8b count without words", append(append([]byte{0x36}, maxCount...), 0, 0), decInts, 8*encoding.MaxValues + 16384},
		{"bit-packed count without bits", append(append([]byte{0x37}, maxCount...), 0, 0, 64), decInts, 8*encoding.MaxValues + 16384},
		{"floats count without bits", append(append([]byte{0x21}, maxCount...), 1, 2, 3, 4, 5, 6, 7, 8), decFloats, 16384},
		{"booleans count without bits", append(append([]byte{0x51}, maxCount...), 1), decBools, 16384},
		{"strings count without lengths", append(append([]byte{0x61}, maxCount...), 1, 'a'), decStrings, 16384},
		{"s2 claiming 1 GiB", append(append(append([]byte{0x62}, maxCount...), s2Claim...), 0, 0, 0), decStrings, 16384},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			got := allocated(func() { err = tc.dec(tc.src) })
			if got > tc.bound {
				t.Fatalf("decode of %d bytes allocated %d bytes (err %v), want <= %d", len(tc.src), got, err, tc.bound)
			}
		})
	}
}
