package tsm_test

import (
	"errors"
	"io"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// maxFuzzInput bounds fuzz inputs so each run stays fast.
const maxFuzzInput = 1 << 16

// FuzzDecodeBlock decodes arbitrary bytes as a block: it must never panic,
// errors must wrap ErrCorrupt (or io.ErrUnexpectedEOF), and a successful
// decode must re-encode to a block that decodes to the same values.
func FuzzDecodeBlock(f *testing.F) {
	for _, typ := range allTypes {
		blk, err := tsm.EncodeBlock(nil, genArray(typ, 50, 1, 3, 1))
		if err != nil {
			f.Fatalf("EncodeBlock: got error %v; want nil", err)
		}
		f.Add(blk)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxFuzzInput {
			return
		}
		var a tsm.Array
		if err := tsm.DecodeBlock(b, &a); err != nil {
			if !errors.Is(err, tsm.ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("DecodeBlock: got error %v; want ErrCorrupt", err)
			}
			return
		}
		if a.Len() == 0 || a.Type == models.FieldTypeUnknown {
			return // an empty column cannot be re-encoded
		}
		again, err := tsm.EncodeBlock(nil, &a)
		if err != nil {
			t.Fatalf("EncodeBlock(decoded): got error %v; want nil", err)
		}
		var b2 tsm.Array
		if err := tsm.DecodeBlock(again, &b2); err != nil {
			t.Fatalf("DecodeBlock(re-encoded): got error %v; want nil", err)
		}
		if !sameBits(&a, &b2) {
			t.Fatalf("re-encoded block decodes to different values")
		}
	})
}

// sameBits compares arrays value by value using models.Value bits, so NaN
// payloads compare equal to themselves.
func sameBits(a, b *tsm.Array) bool {
	if a.Type != b.Type || a.Len() != b.Len() {
		return false
	}
	for i := range a.Len() {
		if a.Timestamps[i] != b.Timestamps[i] || !a.Value(i).Equal(b.Value(i)) {
			return false
		}
	}
	return true
}
