package encoding_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"slices"
	"testing"

	"github.com/strata-db/strata/tsdb/encoding"
)

// maxFuzzInput keeps fuzz inputs small enough to run fast.
const maxFuzzInput = 1 << 16

// checkDecodeErr fails unless err is nil or a documented decode error.
func checkDecodeErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, encoding.ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("decode error %v (%T): want ErrCorrupt or io.ErrUnexpectedEOF", err, err)
	}
}

// addIntSeeds adds encoded integer-family blocks of every test case.
func addIntSeeds(f *testing.F, enc func([]int64) []byte) {
	for _, vs := range intCases() {
		if len(vs) <= 1000 {
			f.Add(enc(vs))
		}
	}
	f.Add([]byte{})
}

func FuzzDecodeTimestamps(f *testing.F) {
	addIntSeeds(f, func(vs []int64) []byte { return encoding.AppendTimestamps(nil, vs) })
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFuzzInput {
			return
		}
		got, err := encoding.DecodeTimestamps(nil, src)
		checkDecodeErr(t, err)
		checkIntRedecode(t, got, err, encoding.AppendTimestamps, encoding.DecodeTimestamps)
	})
}

func FuzzDecodeIntegers(f *testing.F) {
	addIntSeeds(f, func(vs []int64) []byte { return encoding.AppendIntegers(nil, vs) })
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFuzzInput {
			return
		}
		got, err := encoding.DecodeIntegers(nil, src)
		checkDecodeErr(t, err)
		checkIntRedecode(t, got, err, encoding.AppendIntegers, encoding.DecodeIntegers)
	})
}

func FuzzDecodeUnsigneds(f *testing.F) {
	addIntSeeds(f, func(vs []int64) []byte {
		us := make([]uint64, len(vs))
		for i, v := range vs {
			us[i] = uint64(v)
		}
		return encoding.AppendUnsigneds(nil, us)
	})
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFuzzInput {
			return
		}
		got, err := encoding.DecodeUnsigneds(nil, src)
		checkDecodeErr(t, err)
		checkIntRedecode(t, got, err, encoding.AppendUnsigneds, encoding.DecodeUnsigneds)
	})
}

// checkIntRedecode checks a successful decode's bound and that re-encoding
// the values round-trips.
func checkIntRedecode[T int64 | uint64](t *testing.T, got []T, err error,
	enc func([]byte, []T) []byte, dec func([]T, []byte) ([]T, error)) {
	t.Helper()
	if err != nil {
		if len(got) != 0 {
			t.Fatalf("failed decode appended %d values, want 0", len(got))
		}
		return
	}
	if len(got) > encoding.MaxValues {
		t.Fatalf("decoded %d values, want <= MaxValues", len(got))
	}
	again, err := dec(nil, enc(nil, got))
	if err != nil || !slices.Equal(again, got) {
		t.Fatalf("re-encoded values do not round trip: got %v, %v", head(again), err)
	}
}

func FuzzDecodeFloats(f *testing.F) {
	for _, vs := range floatCases() {
		f.Add(encoding.AppendFloats(nil, vs))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFuzzInput {
			return
		}
		got, err := encoding.DecodeFloats(nil, src)
		checkDecodeErr(t, err)
		if err != nil {
			return
		}
		if len(got) > encoding.MaxValues {
			t.Fatalf("decoded %d values from %d bytes: want <= MaxValues", len(got), len(src))
		}
		again, err := encoding.DecodeFloats(nil, encoding.AppendFloats(nil, got))
		if err != nil || !floatsBitEqual(again, got) {
			t.Fatalf("re-encoded values do not round trip: got %v, %v", head(again), err)
		}
	})
}

func FuzzDecodeBooleans(f *testing.F) {
	f.Add(encoding.AppendBooleans(nil, []bool{true, false, true}))
	f.Add(encoding.AppendBooleans(nil, slices.Repeat([]bool{true}, 100)))
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFuzzInput {
			return
		}
		got, err := encoding.DecodeBooleans(nil, src)
		checkDecodeErr(t, err)
		if err != nil {
			return
		}
		again, err := encoding.DecodeBooleans(nil, encoding.AppendBooleans(nil, got))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("re-encoded values do not round trip: got %v, %v", head(again), err)
		}
	})
}

func FuzzDecodeStrings(f *testing.F) {
	f.Add(encoding.AppendStrings(nil, [][]byte{[]byte("a"), {}, []byte("bcd")}))
	f.Add(encoding.AppendStrings(nil, slices.Repeat([][]byte{[]byte("compressible string")}, 50)))
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > maxFuzzInput {
			return
		}
		got, err := encoding.DecodeStrings(nil, src)
		checkDecodeErr(t, err)
		if err != nil {
			return
		}
		total := 0
		for _, s := range got {
			total += len(s)
		}
		if len(got) > encoding.MaxValues || total > 64*len(src) {
			t.Fatalf("decoded %d strings of %d bytes from %d bytes: want <= MaxValues, <= 64*len(src)", len(got), total, len(src))
		}
		again, err := encoding.DecodeStrings(nil, encoding.AppendStrings(nil, got))
		if err != nil || !slices.EqualFunc(again, got, bytes.Equal) {
			t.Fatalf("re-encoded strings do not round trip: got %q, %v", head(again), err)
		}
	})
}

// intsFromBytes turns fuzz bytes into int64s in one of several shapes
// chosen by the first byte, so the fuzzer reaches every scheme.
func intsFromBytes(data []byte) []int64 {
	if len(data) == 0 {
		return nil
	}
	mode, data := data[0]%4, data[1:]
	var vs []int64
	switch mode {
	case 0: // raw 64-bit values
		for ; len(data) >= 8; data = data[8:] {
			vs = append(vs, int64(binary.LittleEndian.Uint64(data)))
		}
	case 1: // random walk with int8 steps
		v := int64(0)
		for _, b := range data {
			v += int64(int8(b))
			vs = append(vs, v)
		}
	case 2: // timestamps: regular interval plus small jitter
		v := int64(1767225600000000000)
		for _, b := range data {
			v += 10_000_000_000 + int64(b%4)
			vs = append(vs, v)
		}
	case 3: // small values
		for _, b := range data {
			vs = append(vs, int64(b%7))
		}
	}
	return vs[:min(len(vs), encoding.MaxValues)]
}

func FuzzIntegersRoundTrip(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{1, 1, 255, 2, 254, 3, 3, 3, 0, 0, 0})
	f.Add([]byte{2, 0, 0, 1, 0, 3, 0, 0})
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		checkInts(t, intsFromBytes(data))
	})
}

func FuzzFloatsRoundTrip(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		var vs []float64
		if len(data) > 0 && data[0]%2 == 0 {
			// Decimal floats: integers scaled by 10^-k (k = 0 gives integral
			// floats; large k or large integers exercise the fallback).
			p := math.Pow10(-int(data[0] / 2 % 20))
			for _, v := range intsFromBytes(data[1:]) {
				vs = append(vs, float64(v)*p)
			}
		} else {
			for ; len(data) >= 8; data = data[8:] {
				vs = append(vs, math.Float64frombits(binary.LittleEndian.Uint64(data)))
			}
		}
		got, err := encoding.DecodeFloats(nil, encoding.AppendFloats(nil, vs))
		if err != nil || !floatsBitEqual(got, vs) {
			t.Fatalf("round trip of %d floats: got %v, %v; want %v", len(vs), head(got), err, head(vs))
		}
	})
}

func FuzzBooleansRoundTrip(f *testing.F) {
	f.Add([]byte{1, 0, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		vs := make([]bool, min(len(data), encoding.MaxValues))
		for i := range vs {
			vs[i] = data[i]&1 == 1
		}
		got, err := encoding.DecodeBooleans(nil, encoding.AppendBooleans(nil, vs))
		if err != nil || !slices.Equal(got, vs) {
			t.Fatalf("round trip of %d booleans: got %v, %v; want %v", len(vs), head(got), err, head(vs))
		}
	})
}

func FuzzStringsRoundTrip(f *testing.F) {
	f.Add([]byte("a,bb,,ccc,host=a"), byte(','))
	f.Fuzz(func(t *testing.T, data []byte, sep byte) {
		if len(data) > maxFuzzInput {
			return
		}
		vs := bytes.Split(data, []byte{sep})
		vs = vs[:min(len(vs), encoding.MaxValues)]
		got, err := encoding.DecodeStrings(nil, encoding.AppendStrings(nil, vs))
		if err != nil || !slices.EqualFunc(got, vs, bytes.Equal) {
			t.Fatalf("round trip of %d strings: got %q, %v; want %q", len(vs), head(got), err, head(vs))
		}
	})
}

func floatsBitEqual(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}
