package encoding

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/fse"
)

// fseReference decodes src with klauspost/compress's decoder, the one the
// fse packing used before it had its own: ok when it yields exactly m
// symbols from a table of at most fseMaxTableLog (it accepts larger ones,
// which no encoder of ours writes).
func fseReference(src []byte, m int) ([]byte, bool) {
	if len(src) > 0 && uint(src[0]&15)+fseMinTableLog > fseMaxTableLog {
		return nil, false
	}
	var s fse.Scratch
	s.DecompressLimit = m + 1
	out, err := fse.Decompress(src, &s)
	return out, err == nil && len(out) == m
}

// checkFSEDecode decodes src as m symbols and checks the result against
// the reference decoder: errors wrap ErrCorrupt; where both decode, the
// symbols are the same; and a stream the encoder writes (the reference's
// symbols compress back to src) decodes. The reference reads bits past a
// stream's end as zeros, so it accepts some short streams no encoder
// writes, which this decoder refuses.
func checkFSEDecode(t *testing.T, d *fseDecoder, src []byte, m int, what string) {
	t.Helper()
	out := make([]byte, m)
	err := d.decode(out, src)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%s: error %v does not wrap ErrCorrupt", what, err)
	}
	want, ok := fseReference(src, m)
	if !ok {
		return
	}
	if err == nil && !bytes.Equal(out, want) {
		t.Fatalf("%s: %d symbols differ from the reference's", what, m)
	}
	var s fse.Scratch
	if again, cerr := fse.Compress(want, &s); err != nil && cerr == nil && bytes.Equal(again, src) {
		t.Fatalf("%s: %d symbols: %v, for a stream the encoder writes", what, m, err)
	}
}

// fseStreams returns fse streams of symbol columns of many lengths and
// distributions (skewed, uniform over 2..256 symbols, with rare symbols),
// with the symbols each holds.
func fseStreams(r *rand.Rand) (streams, symbols [][]byte) {
	var s fse.Scratch
	for _, m := range []int{32, 33, 34, 35, 100, 999, 1000, 1001, 4096, MaxValues - 1, MaxValues} {
		for _, alphabet := range []int{2, 3, 7, 16, 60, 256} {
			for skew := range 3 {
				in := make([]byte, m)
				for i := range in {
					switch skew {
					case 0:
						in[i] = byte(r.IntN(alphabet))
					case 1: // a random walk's deltas: most near the middle
						in[i] = byte(min(alphabet-1, max(0, alphabet/2+int(r.NormFloat64()*float64(alphabet)/8))))
					case 2: // one dominant symbol, rare others
						if r.IntN(50) == 0 {
							in[i] = byte(r.IntN(alphabet))
						}
					}
				}
				out, err := fse.Compress(in, &s)
				if err != nil {
					continue // incompressible or one symbol: not an fse block
				}
				streams = append(streams, append([]byte(nil), out...))
				symbols = append(symbols, in)
			}
		}
	}
	return streams, symbols
}

// TestFSEDecodeMatchesReference checks the fse decoder against
// klauspost/compress's (checkFSEDecode) on the encoder's streams and on
// streams with bytes changed, cut or added.
func TestFSEDecodeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 4))
	streams, symbols := fseStreams(r)
	if len(streams) < 100 {
		t.Fatalf("only %d fse streams made", len(streams))
	}
	var d fseDecoder
	check := func(src []byte, m int, what string) {
		t.Helper()
		checkFSEDecode(t, &d, src, m, what)
	}
	for k, src := range streams {
		m := len(symbols[k])
		out := make([]byte, m)
		if err := d.decode(out, src); err != nil || !bytes.Equal(out, symbols[k]) {
			t.Fatalf("stream %d (%d symbols): %v, equal %v", k, m, err, bytes.Equal(out, symbols[k]))
		}
		for _, dm := range []int{-2, -1, 1, 2} {
			if m+dm >= 0 {
				check(src, m+dm, "wrong count")
			}
		}
		for range 20 {
			bad := append([]byte(nil), src...)
			switch r.IntN(4) {
			case 0:
				bad[r.IntN(len(bad))] ^= byte(1 << r.IntN(8))
			case 1:
				bad[r.IntN(len(bad))] = byte(r.IntN(256))
			case 2:
				bad = bad[:r.IntN(len(bad))]
			case 3:
				bad = append(bad, byte(r.IntN(256)))
			}
			check(bad, m, "mutated")
		}
	}
	for range 2000 {
		src := make([]byte, r.IntN(64))
		for i := range src {
			src[i] = byte(r.IntN(256))
		}
		check(src, r.IntN(300), "random")
	}
}

// FuzzFSEDecode holds the fse decoder to klauspost/compress's on any
// input (checkFSEDecode); it never panics.
func FuzzFSEDecode(f *testing.F) {
	streams, symbols := fseStreams(rand.New(rand.NewPCG(1, 2)))
	for k, s := range streams {
		if len(symbols[k]) <= 1001 {
			f.Add(s, uint16(len(symbols[k])))
		}
	}
	var d fseDecoder
	f.Fuzz(func(t *testing.T, src []byte, m uint16) {
		checkFSEDecode(t, &d, src, int(m), "fuzzed")
	})
}
