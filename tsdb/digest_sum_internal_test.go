package tsdb

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// referenceWindowSums computes per-window sums value by value, each
// value's window found by its own division: what appendWindowSums must
// give. A window whose start is past
// MaxInt64-window (or wraps there, at the start of time) reaches the end
// of time and takes every later value.
func referenceWindowSums(a *tsm.Array, window int64) []windowSum {
	var out []windowSum
	for k, ts := range a.Timestamps {
		start := floorDiv(ts, window) * window
		if n := len(out); n > 0 && out[n-1].start > math.MaxInt64-window {
			start = out[n-1].start
		}
		if len(out) == 0 || out[len(out)-1].start != start {
			out = append(out, windowSum{start: start, minT: ts})
		}
		w := &out[len(out)-1]
		var va, vb uint64
		switch a.Type {
		case models.FieldTypeFloat:
			va = math.Float64bits(a.Floats[k])
			vb = va
		case models.FieldTypeInteger:
			va, vb = uint64(a.Integers[k]), uint64(a.Integers[k])
		case models.FieldTypeUnsigned:
			va, vb = a.Unsigneds[k], a.Unsigneds[k]
		case models.FieldTypeBoolean:
			if a.Booleans[k] {
				va, vb = 1, 1
			}
		case models.FieldTypeString:
			sum := sha256.Sum256(a.Strings[k])
			va, vb = binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])
		}
		ha, hb := valueHashes(ts, va, vb)
		w.count++
		w.a += ha
		w.b += hb
		w.maxT = ts
	}
	return out
}

// randomDigestArray returns up to max values of a random type at sorted,
// unique times from base on, steps up to step apart.
func randomDigestArray(rng *rand.Rand, base, step int64, maxLen int) *tsm.Array {
	types := []models.FieldType{models.FieldTypeFloat, models.FieldTypeInteger, models.FieldTypeUnsigned,
		models.FieldTypeBoolean, models.FieldTypeString}
	a := &tsm.Array{Type: types[rng.IntN(len(types))]}
	ts := base
	for range 1 + rng.IntN(maxLen) {
		a.Timestamps = append(a.Timestamps, ts)
		switch a.Type {
		case models.FieldTypeFloat:
			a.Floats = append(a.Floats, rng.NormFloat64())
		case models.FieldTypeInteger:
			a.Integers = append(a.Integers, rng.Int64())
		case models.FieldTypeUnsigned:
			a.Unsigneds = append(a.Unsigneds, rng.Uint64())
		case models.FieldTypeBoolean:
			a.Booleans = append(a.Booleans, rng.IntN(2) == 1)
		case models.FieldTypeString:
			a.Strings = append(a.Strings, []byte(strconv.Itoa(rng.IntN(1000))))
		}
		d := 1 + rng.Int64N(step)
		if ts > math.MaxInt64-d {
			break
		}
		ts += d
	}
	return a
}

// TestWindowSumsMatchReference checks appendWindowSums against the
// value-by-value reference over times around zero, the ends of time and
// today, for many windows, with keys of one, a few and many values.
func TestWindowSumsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 3))
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, window := range []int64{1, 3, 7, int64(time.Minute), int64(time.Hour), math.MaxInt64 / 3, math.MaxInt64} {
		for _, around := range []int64{0, now, math.MinInt64, math.MaxInt64 - 3*window/2} {
			for i := range 300 {
				step := []int64{1, window / 4, window, 3 * window}[i%4]
				step = max(1, min(step, math.MaxInt64/4))
				base := around + rng.Int64N(max(1, min(4*window, math.MaxInt64/2)))
				if around > 0 && base < around { // wrapped past the end of time
					base = math.MaxInt64 - rng.Int64N(8)
				}
				a := randomDigestArray(rng, base, step, []int{1, 2, 5, 60}[i%4])
				if got, want := appendWindowSums(nil, a, window), referenceWindowSums(a, window); !slices.Equal(got, want) {
					t.Fatalf("window %d, times %v:\n got  %+v\n want %+v", window, a.Timestamps, got, want)
				}
			}
		}
	}
}

// TestInlineSumsMatchReference writes keys of one or two values (inline
// blocks of every type that has them) at times around zero, today and the
// ends of time to a data file, and checks appendInlineSums of each key's
// entries against the value-by-value reference for many windows.
func TestInlineSumsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 4))
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).UnixNano()
	path := filepath.Join(t.TempDir(), "f"+dataFileExt)
	w, err := tsm.NewWriter(path)
	digestMust(t, err)
	var arrs []*tsm.Array
	for i := range 2000 {
		base := []int64{-50, now, math.MinInt64 + 2, math.MaxInt64 - 1}[i%4]
		if base > 0 {
			base -= rng.Int64N(int64(3 * time.Hour))
		} else {
			base += rng.Int64N(int64(3 * time.Hour))
		}
		a := randomDigestArray(rng, base, []int64{1, int64(time.Hour), math.MaxInt64 / 4}[i%3], 2)
		if a.Type == models.FieldTypeString {
			a = &tsm.Array{Type: models.FieldTypeBoolean, Timestamps: a.Timestamps, Booleans: make([]bool, len(a.Timestamps))}
		}
		arrs = append(arrs, a)
		digestMust(t, w.WriteValues([]byte(fmt.Sprintf("k%05d", i)), []byte("f"), a))
	}
	digestMust(t, w.Close())
	r, err := tsm.Open(path)
	digestMust(t, err)
	defer r.Close()
	for _, window := range []int64{1, 7, int64(time.Hour), math.MaxInt64 / 3, math.MaxInt64} {
		it := r.Iterator()
		for i := 0; it.Next(); i++ {
			got, ok := appendInlineSums(nil, it.Entries(), window)
			if !ok {
				t.Fatalf("key %d (%d values): blocks not inline", i, arrs[i].Len())
			}
			if want := referenceWindowSums(arrs[i], window); !slices.Equal(got, want) {
				t.Fatalf("window %d, times %v:\n got  %+v\n want %+v", window, arrs[i].Timestamps, got, want)
			}
		}
	}
}

// TestDigestFileRecordsRoundTrip writes a digest file holding keys of one
// value, of a few windows and one whose record is larger than the read
// buffer, and reads it back: next decodes the sums written (a key of one
// or two values but strings has a derived record), skip gives the same
// record bytes.
func TestDigestFileRecordsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f"+dataFileExt)
	if err := os.WriteFile(path, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	window := int64(time.Hour)
	rng := rand.New(rand.NewPCG(5, 8))
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).UnixNano()
	var arrs []*tsm.Array
	for i := range 5000 {
		switch {
		case i == 2500: // 4000 windows: a 72 kB record
			arrs = append(arrs, randomDigestArray(rng, now, 1, 1))
			a := arrs[len(arrs)-1]
			a.Type, a.Integers, a.Timestamps = models.FieldTypeInteger, nil, nil
			for h := range int64(4000) {
				a.Timestamps = append(a.Timestamps, now+h*window)
				a.Integers = append(a.Integers, h)
			}
		case i%7 == 0:
			arrs = append(arrs, randomDigestArray(rng, now-int64(i)*window, window/2, 6))
		default:
			arrs = append(arrs, randomDigestArray(rng, now+rng.Int64N(window), 1, 2))
		}
	}
	w := newDigestFileWriter(path, window)
	for _, a := range arrs {
		w.addArray(a)
	}
	digestMust(t, w.finish())
	if !checkDigestFile(path, 100, len(arrs), window) {
		t.Fatal("digest file fails its checks")
	}
	decoded, err := openDigestFile(path, window)
	digestMust(t, err)
	defer decoded.close()
	skipped, err := openDigestFile(path, window)
	digestMust(t, err)
	defer skipped.close()
	for i, a := range arrs {
		digestMust(t, decoded.next())
		digestMust(t, skipped.skip())
		want := referenceWindowSums(a, window)
		for k := range want {
			want[k].minT, want[k].maxT = want[k].start, want[k].start+window-1
		}
		if sparse := a.Len() <= derivedMax && a.Type != models.FieldTypeString; sparse {
			// Derived from the data file's values, stored as one byte.
			want = nil
			if !decoded.derived || len(decoded.rec) != 1 {
				t.Fatalf("key %d of %d %s values: derived %v, %d-byte record; want a derived 1-byte record", i, a.Len(), a.Type, decoded.derived, len(decoded.rec))
			}
		} else if decoded.derived {
			t.Fatalf("key %d of %d %s values: record derived, want stored", i, a.Len(), a.Type)
		}
		if !slices.Equal(decoded.sums, want) {
			t.Fatalf("key %d: read %+v, wrote %+v", i, decoded.sums, want)
		}
		if !bytes.Equal(decoded.rec, skipped.rec) || len(skipped.sums) != 0 {
			t.Fatalf("key %d: skip read %d bytes and %d sums, next %d bytes", i, len(skipped.rec), len(skipped.sums), len(decoded.rec))
		}
	}
	if err := decoded.next(); !errors.Is(err, errDigestFile) {
		t.Fatalf("read past the last key: %v, want errDigestFile", err)
	}
}

// TestDigestFileReaderRejectsCorruptRecords reads records that do not
// decode: an overlong varint, a window count past the file's end and a
// record cut short. Each must be an error, not a panic or a huge buffer.
func TestDigestFileReaderRejectsCorruptRecords(t *testing.T) {
	window := int64(time.Hour)
	whole := appendDigestRecord(nil, []windowSum{{start: 0, count: 1}, {start: window, count: 2}}, window)
	for name, records := range map[string][]byte{
		"overlong varint":    bytes.Repeat([]byte{0xff}, 40),
		"count past the end": binary.AppendUvarint(nil, maxDigestWindows),
		"cut short":          whole[:len(whole)-3],
	} {
		path := filepath.Join(t.TempDir(), "f"+dataFileExt)
		file := append(append(append([]byte(nil), digestFileMagic...), make([]byte, 8)...), records...)
		file = append(file, make([]byte, digestTrailerSize)...)
		digestMust(t, os.WriteFile(digestFilePath(path), file, 0o644))
		r, err := openDigestFile(path, window)
		digestMust(t, err)
		if err := r.next(); !errors.Is(err, errDigestFile) {
			t.Errorf("%s: %v, want errDigestFile", name, err)
		}
		if cap(r.buf) > digestReadBuffer {
			t.Errorf("%s: read buffer grew to %d bytes", name, cap(r.buf))
		}
		r.close()
	}
}
