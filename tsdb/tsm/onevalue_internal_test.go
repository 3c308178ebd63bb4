package tsm

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// oneValueKey is a key of oneValueKeys: its series and field (indexes),
// and its values.
type oneValueKey struct {
	series, field int
	arr           *Array
}

// oneValueKeys returns random keys in order for TestWriteOneValue: series
// of some of the fields, mostly one value per key, of every type, at
// the time of the series' previous key or off it by small and large gaps,
// some keys of two or three values or of a string, and some given a
// second block of one value just after their first.
func oneValueKeys(rng *rand.Rand, fields int) []oneValueKey {
	var keys []oneValueKey
	for s := range 300 {
		t := rng.Int64N(1 << 40)
		for f := range fields {
			if rng.IntN(4) == 0 && s%7 != 0 {
				continue // series whose fields differ from the previous one's
			}
			if rng.IntN(3) == 0 {
				t += []int64{1, -1, 100, -1 << 30, 1 << 40}[rng.IntN(5)]
			}
			typ := []models.FieldType{models.FieldTypeFloat, models.FieldTypeInteger, models.FieldTypeUnsigned, models.FieldTypeBoolean}[f%4]
			if f == 5 {
				typ = models.FieldTypeString
			}
			n := 1
			if rng.IntN(10) == 0 {
				n = 2 + rng.IntN(2)
			}
			a := &Array{Type: typ}
			for j := range n {
				a.Timestamps = append(a.Timestamps, t+int64(j))
				switch typ {
				case models.FieldTypeFloat:
					a.Floats = append(a.Floats, []float64{math.NaN(), math.Copysign(0, -1), rng.Float64(), 1e300}[rng.IntN(4)])
				case models.FieldTypeInteger:
					a.Integers = append(a.Integers, []int64{math.MinInt64, -1, 0, rng.Int64()}[rng.IntN(4)])
				case models.FieldTypeUnsigned:
					a.Unsigneds = append(a.Unsigneds, []uint64{0, math.MaxUint64, rng.Uint64()}[rng.IntN(3)])
				case models.FieldTypeBoolean:
					a.Booleans = append(a.Booleans, rng.IntN(2) == 0)
				case models.FieldTypeString:
					a.Strings = append(a.Strings, []byte("s"))
				}
			}
			keys = append(keys, oneValueKey{s, f, a})
			if rng.IntN(8) == 0 && typ != models.FieldTypeString {
				// A second block of the key, of one value just after.
				b := a.Slice(n-1, n)
				b.Timestamps = []int64{t + int64(n)}
				keys = append(keys, oneValueKey{s, f, &b})
			}
		}
	}
	return keys
}

// valueBits returns a's first value as WriteOneValue takes it.
func valueBits(a *Array) uint64 {
	switch a.Type {
	case models.FieldTypeFloat:
		return math.Float64bits(a.Floats[0])
	case models.FieldTypeInteger:
		return uint64(a.Integers[0])
	case models.FieldTypeUnsigned:
		return a.Unsigneds[0]
	}
	return b2u(a.Booleans[0])
}

// TestWriteOneValue writes the same keys with WriteValues, and with
// WriteOneValue or WriteOneValues for every key of one value that is not a
// string, in every
// format version, with StableKeys and without, and wants the same file
// bytes: WriteOneValue's own path for the next field of a one-value
// record must write what the general one does. The keys are of 10
// fields, whose records are all one-value records, and of 40.
func TestWriteOneValue(t *testing.T) {
	for _, fields := range []int{10, 40} {
		t.Run(fmt.Sprint(fields), func(t *testing.T) { testWriteOneValue(t, fields) })
	}
}

// testWriteOneValue is TestWriteOneValue for keys of the given fields.
func testWriteOneValue(t *testing.T, fields int) {
	rng := rand.New(rand.NewPCG(5, uint64(fields)))
	keys := oneValueKeys(rng, fields)
	series := make([][]byte, 300)
	for s := range series {
		series[s] = fmt.Appendf(nil, "cpu,host=h%04d,rack=%d", s, rng.IntN(3))
	}
	names := make([][]byte, fields)
	for f := range names {
		names[f] = fmt.Appendf(nil, "field_%02d", f)
	}
	dir := t.TempDir()
	// write writes the keys with WriteValues (mode 0), with WriteOneValue
	// for the keys of one value but strings (1), or with WriteOneValues
	// for runs of such keys of a series, cut at random (2).
	write := func(name string, version byte, stable bool, mode int) []byte {
		path := filepath.Join(dir, name)
		w, err := newWriter(path, version)
		if err != nil {
			t.Fatal(err)
		}
		if stable {
			w.StableKeys()
		}
		var run []OneValue
		var runSeries []byte
		flush := func() {
			if len(run) > 0 {
				if err := w.WriteOneValues(runSeries, run); err != nil {
					t.Fatalf("%s: WriteOneValues of %q: %v", name, runSeries, err)
				}
			}
			run = run[:0]
		}
		for _, k := range keys {
			s, f := series[k.series], names[k.field]
			if !stable { // other slices of the same keys
				s, f = bytes.Clone(s), bytes.Clone(f)
			}
			one := k.arr.Len() == 1 && k.arr.Type != models.FieldTypeString
			if mode == 2 && (!one || !bytes.Equal(s, runSeries) || rng.IntN(5) == 0) {
				flush()
			}
			switch {
			case mode == 2 && one:
				run, runSeries = append(run, OneValue{f, k.arr.Timestamps[0], valueBits(k.arr), k.arr.Type}), s
				continue
			case mode > 0 && one:
				err = w.WriteOneValue(s, f, k.arr.Type, k.arr.Timestamps[0], valueBits(k.arr))
			default:
				err = w.WriteValues(s, f, k.arr)
			}
			if err != nil {
				t.Fatalf("%s: key %q/%q: %v", name, s, f, err)
			}
		}
		flush()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for version := byte(1); version <= Version; version++ {
		for _, stable := range []bool{false, true} {
			name := fmt.Sprintf("v%d-stable%v", version, stable)
			want := write(name+"-values.tsm", version, stable, 0)
			if got := write(name+"-one.tsm", version, stable, 1); !bytes.Equal(got, want) {
				t.Errorf("%s: WriteOneValue wrote %d bytes unlike WriteValues' %d", name, len(got), len(want))
			}
			if got := write(name+"-ones.tsm", version, stable, 2); !bytes.Equal(got, want) {
				t.Errorf("%s: WriteOneValues wrote %d bytes unlike WriteValues' %d", name, len(got), len(want))
			}
		}
	}
	w, err := NewWriter(filepath.Join(dir, "string.tsm"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Remove()
	if err := w.WriteOneValue([]byte("s"), []byte("f"), models.FieldTypeString, 1, 0); !errors.Is(err, ErrInvalidBlock) {
		t.Errorf("WriteOneValue of a string: got %v, want ErrInvalidBlock", err)
	}
	if err := w.WriteOneValue([]byte("s"), []byte("f"), 99, 1, 0); !errors.Is(err, ErrInvalidBlock) {
		t.Errorf("WriteOneValue of type 99: got %v, want ErrInvalidBlock", err)
	}
}
