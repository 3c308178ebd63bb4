package encoding_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/strata-db/strata/tsdb/encoding"
)

// intCases returns named int64 columns covering every integer scheme and the
// edge cases that break naive delta coders.
func intCases() map[string][]int64 {
	r := rand.New(rand.NewPCG(1, 2))
	walk := make([]int64, 1000)
	v := int64(50)
	for i := range walk {
		v = min(100, max(0, v+int64(r.IntN(5))-2))
		walk[i] = v
	}
	random := make([]int64, 1000)
	for i := range random {
		random[i] = r.Int64() - math.MaxInt64/2
	}
	small := make([]int64, 1000)
	for i := range small {
		small[i] = int64(r.IntN(1000))
	}
	ts := make([]int64, 1000)
	jitter := make([]int64, 1000)
	for i := range ts {
		ts[i] = 1767225600000000000 + int64(i)*10_000_000_000
		jitter[i] = ts[i] + int64(r.IntN(1000))
	}
	outlier := slices.Clone(ts)
	outlier[500] += 1 << 40
	return map[string][]int64{
		"empty":             {},
		"one":               {42},
		"one min":           {math.MinInt64},
		"two":               {1, -1},
		"constant":          slices.Repeat([]int64{7}, 1000),
		"min max":           {math.MinInt64, math.MaxInt64, math.MinInt64, 0, math.MaxInt64},
		"overflowing delta": {math.MaxInt64, math.MinInt64, math.MaxInt64, math.MinInt64 + 1},
		"descending":        {1000, 900, 800, 650, 500, 100, -300},
		"random walk":       walk,
		"random 64-bit":     random,
		"small random":      small,
		"regular ts":        ts,
		"jittered ts":       jitter,
		"ts with outlier":   outlier,
		"non-monotonic ts":  {5, 3, 9, 1, 1, 1, 8, -4, 1 << 62},
		"zeros then ones":   append(make([]int64, 500), slices.Repeat([]int64{1}, 300)...),
		"max values": func() []int64 {
			s := make([]int64, encoding.MaxValues)
			for i := range s {
				s[i] = int64(i * i % 977)
			}
			return s
		}(),
	}
}

func TestIntegersRoundTrip(t *testing.T) {
	for name, vs := range intCases() {
		t.Run(name, func(t *testing.T) {
			checkInts(t, vs)
		})
	}
}

func checkInts(t *testing.T, vs []int64) {
	t.Helper()
	prefix := []int64{-9, 9} // decoders append
	for _, c := range []struct {
		name string
		enc  func([]byte, []int64) []byte
		dec  func([]int64, []byte) ([]int64, error)
	}{
		{"integers", encoding.AppendIntegers, encoding.DecodeIntegers},
		{"timestamps", encoding.AppendTimestamps, encoding.DecodeTimestamps},
	} {
		b := c.enc([]byte("xy"), vs)
		if string(b[:2]) != "xy" {
			t.Fatalf("%s: encoder clobbered dst prefix: got %q", c.name, b[:2])
		}
		got, err := c.dec(slices.Clone(prefix), b[2:])
		if err != nil {
			t.Fatalf("%s: decode %d values: got error %v, want nil", c.name, len(vs), err)
		}
		if !slices.Equal(got[:2], prefix) || !slices.Equal(got[2:], vs) {
			t.Fatalf("%s: round trip of %d values: got %v, want %v", c.name, len(vs), head(got[2:]), head(vs))
		}
	}
	us := make([]uint64, len(vs))
	for i, v := range vs {
		us[i] = uint64(v)
	}
	b := encoding.AppendUnsigneds(nil, us)
	got, err := encoding.DecodeUnsigneds(nil, b)
	if err != nil {
		t.Fatalf("unsigneds: decode %d values: got error %v, want nil", len(us), err)
	}
	if !slices.Equal(got, us) {
		t.Fatalf("unsigneds: round trip of %d values: got %v, want %v", len(us), head(got), head(us))
	}
}

func head[T any](s []T) string {
	if len(s) > 12 {
		return fmt.Sprintf("%v... (%d values)", s[:12], len(s))
	}
	return fmt.Sprint(s)
}

func TestUnsignedsRoundTrip(t *testing.T) {
	for name, vs := range map[string][]uint64{
		"max":       {math.MaxUint64, 0, math.MaxUint64, 1},
		"high base": {1<<63 + 5, 1<<63 + 1, 1<<63 + 100, 1<<63 + 7},
		"counter":   {1, 5, 9, 20, 21, 22, 30, 31},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := encoding.DecodeUnsigneds(nil, encoding.AppendUnsigneds(nil, vs))
			if err != nil || !slices.Equal(got, vs) {
				t.Fatalf("round trip: got %v, %v; want %v, nil", got, err, vs)
			}
		})
	}
}

func floatCases() map[string][]float64 {
	r := rand.New(rand.NewPCG(3, 4))
	walk := make([]float64, 1000)
	v := 50.0
	for i := range walk {
		v += r.NormFloat64()
		walk[i] = v
	}
	random := make([]float64, 1000)
	for i := range random {
		random[i] = math.Float64frombits(r.Uint64())
	}
	ints := make([]float64, 1000)
	cents := make([]float64, 1000)
	for i := range ints {
		ints[i] = float64(r.IntN(100))
		cents[i] = float64(r.IntN(10000)) / 100
	}
	decimalNegZero := slices.Clone(cents)
	decimalNegZero[500] = math.Copysign(0, -1)
	return map[string][]float64{
		"empty":            {},
		"one":              {3.25},
		"constant":         slices.Repeat([]float64{1.5}, 100),
		"specials":         {math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64},
		"nan payload":      {math.Float64frombits(0x7ff8000000000001), math.Float64frombits(0xfff0000000000fff), 1},
		"random walk":      walk,
		"random bits":      random,
		"integral":         ints,
		"two decimals":     cents,
		"decimals with -0": decimalNegZero,
		"15 decimals":      {0.123456789012345, 1.5, -2.000000000000001},
		"16 decimals":      {0.1234567890123456, 1.5},
		"beyond 2^53":      {1 << 54, 3},
		"tiny":             {1e-300, 2e-300},
		"one decimal run":  slices.Repeat([]float64{0.1}, 500),
	}
}

func TestFloatsRoundTrip(t *testing.T) {
	for name, vs := range floatCases() {
		t.Run(name, func(t *testing.T) {
			b := encoding.AppendFloats([]byte{0xff}, vs)
			got, err := encoding.DecodeFloats([]float64{-1}, b[1:])
			if err != nil {
				t.Fatalf("decode %d values: got error %v, want nil", len(vs), err)
			}
			if len(got) != len(vs)+1 || got[0] != -1 {
				t.Fatalf("decode appended %d values after %v, want %d after -1", len(got)-1, got[:1], len(vs))
			}
			for i, v := range vs {
				if math.Float64bits(got[i+1]) != math.Float64bits(v) {
					t.Fatalf("value %d: got %x, want %x", i, math.Float64bits(got[i+1]), math.Float64bits(v))
				}
			}
		})
	}
}

func TestBooleansRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	random := make([]bool, 1001)
	for i := range random {
		random[i] = r.IntN(2) == 1
	}
	for name, vs := range map[string][]bool{
		"empty":      {},
		"one true":   {true},
		"one false":  {false},
		"all true":   slices.Repeat([]bool{true}, 1000),
		"all false":  slices.Repeat([]bool{false}, 9),
		"alternate":  {true, false, true, false, true, false, true, false, true},
		"random":     random,
		"last flips": append(slices.Repeat([]bool{true}, 16), false),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := encoding.DecodeBooleans([]bool{true}, encoding.AppendBooleans(nil, vs))
			if err != nil || !slices.Equal(got[1:], vs) || !got[0] {
				t.Fatalf("round trip: got %v, %v; want %v, nil", head(got[1:]), err, head(vs))
			}
		})
	}
}

func TestStringsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	random := make([][]byte, 300)
	for i := range random {
		random[i] = make([]byte, r.IntN(40))
		for j := range random[i] {
			random[i][j] = byte(r.Uint32())
		}
	}
	for name, vs := range map[string][][]byte{
		"empty":          {},
		"one empty":      {{}},
		"empty strings":  {{}, {}, {}},
		"mixed":          {[]byte("a"), {}, []byte("hello, world"), {0, 255}},
		"repetitive":     slices.Repeat([][]byte{[]byte("host=server01,region=us-west")}, 1000),
		"one huge":       {bytes.Repeat([]byte("abc"), 1<<20)},
		"large random":   {bytes.Repeat([]byte{1}, 100), random[0], random[1]},
		"random strings": random,
	} {
		t.Run(name, func(t *testing.T) {
			b := encoding.AppendStrings(nil, vs)
			got, err := encoding.DecodeStrings([][]byte{[]byte("keep")}, b)
			if err != nil {
				t.Fatalf("decode %d strings: got error %v, want nil", len(vs), err)
			}
			if len(got) != len(vs)+1 || string(got[0]) != "keep" {
				t.Fatalf("decode appended %d strings, want %d after %q", len(got)-1, len(vs), "keep")
			}
			for i, v := range vs {
				if !bytes.Equal(got[i+1], v) {
					t.Fatalf("string %d: got %q, want %q", i, head(got[i+1]), head(v))
				}
			}
			// The result must not alias src.
			clear(b)
			for i, v := range vs {
				if !bytes.Equal(got[i+1], v) {
					t.Fatalf("string %d changed when src was cleared: got %q, want %q", i, head(got[i+1]), head(v))
				}
			}
		})
	}
}

// TestDecodeErrors checks that malformed blocks give ErrCorrupt (and, when
// cut short, io.ErrUnexpectedEOF) instead of values.
func TestDecodeErrors(t *testing.T) {
	ints := encoding.AppendIntegers(nil, intCases()["random walk"])
	floats := encoding.AppendFloats(nil, floatCases()["random walk"])
	for _, tc := range []struct {
		name      string
		src       []byte
		dec       func([]byte) error
		truncated bool
	}{
		{"empty src", nil, decInts, true},
		{"wrong type", encoding.AppendFloats(nil, []float64{1}), decInts, false},
		{"too many values", []byte{0x31, 0x81, 0x80, 0x08, 0, 0}, decInts, false},
		{"zero count", []byte{0x31, 0x00, 0, 0}, decInts, false},
		{"unknown scheme", []byte{0x3f, 0x01, 0}, decInts, false},
		{"truncated ints", ints[:len(ints)/2], decInts, false},
		{"trailing ints", append(slices.Clone(ints), 0), decInts, false},
		{"truncated floats", floats[:len(floats)/2], decFloats, true},
		{"trailing floats", append(slices.Clone(floats), 0, 0), decFloats, false},
		{"empty block with trailer", []byte{0x50, 0}, decBools, false},
		{"bad bool byte", []byte{0x52, 0x03, 7}, decBools, false},
		{"short bools", []byte{0x51, 0x10, 0xff}, decBools, true},
		{"string length past end", []byte{0x61, 0x01, 0x05, 'a'}, decStrings, true},
		{"huge s2 claim", []byte{0x62, 0x01, 0xff, 0xff, 0xff, 0x0f, 0}, decStrings, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dec(tc.src)
			if !errors.Is(err, encoding.ErrCorrupt) {
				t.Fatalf("got error %v, want ErrCorrupt", err)
			}
			if tc.truncated && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("got error %v, want io.ErrUnexpectedEOF too", err)
			}
		})
	}
}

func decInts(b []byte) error    { _, err := encoding.DecodeIntegers(nil, b); return err }
func decFloats(b []byte) error  { _, err := encoding.DecodeFloats(nil, b); return err }
func decBools(b []byte) error   { _, err := encoding.DecodeBooleans(nil, b); return err }
func decStrings(b []byte) error { _, err := encoding.DecodeStrings(nil, b); return err }

func TestEncodePanicsPastMaxValues(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatalf("AppendIntegers with %d values: got no panic, want BUG panic", encoding.MaxValues+1)
		}
	}()
	encoding.AppendIntegers(nil, make([]int64, encoding.MaxValues+1))
}
