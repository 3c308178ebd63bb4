package tsm_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

func TestRoundTripAllTypes(t *testing.T) {
	dir := t.TempDir()
	var cols []column
	for i, typ := range allTypes {
		// 2,345 values: two full blocks and one partial.
		cols = append(cols, column{"cpu,host=a", fmt.Sprintf("f%d_%s", i, typ), genArray(typ, 2345, 1_000_000_000, 10_000_000_000, uint64(i))})
	}
	path := writeFile(t, dir, "a.tsm", cols)
	r := mustOpen(t, path)

	if got, want := r.KeyCount(), len(cols); got != want {
		t.Errorf("KeyCount() = %d; want %d", got, want)
	}
	if got, want := r.BlockCount(), 3*len(cols); got != want {
		t.Errorf("BlockCount() = %d; want %d", got, want)
	}
	if got, want := r.MinTime(), int64(1_000_000_000); got != want {
		t.Errorf("MinTime() = %d; want %d", got, want)
	}
	if got, want := r.MaxTime(), int64(1_000_000_000+2344*10_000_000_000); got != want {
		t.Errorf("MaxTime() = %d; want %d", got, want)
	}
	for _, c := range cols {
		if got := r.Type([]byte(c.series), []byte(c.field)); got != c.arr.Type {
			t.Errorf("Type(%q) = %s; want %s", c.field, got, c.arr.Type)
		}
		ents := r.Entries([]byte(c.series), []byte(c.field))
		if len(ents) != 3 || ents[0].Count != 1000 || ents[1].Count != 1000 || ents[2].Count != 345 {
			t.Errorf("Entries(%q): got %d blocks %v; want counts 1000,1000,345", c.field, len(ents), ents)
		}
		for k, m := range ents {
			part := c.arr.Slice(k*1000, min((k+1)*1000, c.arr.Len()))
			if want := tsm.ComputeMeta(&part); m.Stats != want.Stats || m.MinTime != want.MinTime || m.MaxTime != want.MaxTime {
				t.Errorf("Entries(%q)[%d] = %+v; want times/stats of %+v", c.field, k, m, want)
			}
		}
		if got := readColumn(t, r, c.series, c.field); !equalArrays(got, c.arr) {
			t.Errorf("column %q: read values differ from written (got %d values, want %d)", c.field, got.Len(), c.arr.Len())
		}
	}
	if r.Entries([]byte("cpu,host=a"), []byte("nope")) != nil {
		t.Errorf("Entries(absent field) = non-nil; want nil")
	}
	if got := r.Type([]byte("cpu,host=b"), []byte("f0_float")); got != models.FieldTypeUnknown {
		t.Errorf("Type(absent series) = %s; want unknown", got)
	}
}

func TestStatsValues(t *testing.T) {
	cases := []struct {
		name string
		arr  tsm.Array
		want tsm.Stats
	}{
		{"integer wraps sum", tsm.Array{Type: models.FieldTypeInteger, Timestamps: []int64{1, 2, 3},
			Integers: []int64{math.MaxInt64, 1, -5}},
			tsm.Stats{Min: u64(-5), Max: math.MaxInt64, Sum: 1<<63 - 5, First: math.MaxInt64, Last: u64(-5)}},
		{"unsigned", tsm.Array{Type: models.FieldTypeUnsigned, Timestamps: []int64{1, 2}, Unsigneds: []uint64{7, 3}},
			tsm.Stats{Min: 3, Max: 7, Sum: 10, First: 7, Last: 3}},
		{"float skips NaN in min/max", tsm.Array{Type: models.FieldTypeFloat, Timestamps: []int64{1, 2, 3}, Floats: []float64{2, math.NaN(), -1}},
			tsm.Stats{Min: math.Float64bits(-1), Max: math.Float64bits(2), Sum: math.Float64bits(math.NaN()), First: math.Float64bits(2), Last: math.Float64bits(-1)}},
		{"boolean", tsm.Array{Type: models.FieldTypeBoolean, Timestamps: []int64{1, 2, 3}, Booleans: []bool{true, true, false}},
			tsm.Stats{Min: 0, Max: 1, First: 1, Last: 0}},
		{"boolean all true", tsm.Array{Type: models.FieldTypeBoolean, Timestamps: []int64{1}, Booleans: []bool{true}},
			tsm.Stats{Min: 1, Max: 1, First: 1, Last: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tsm.ComputeMeta(&tc.arr).Stats
			if tc.arr.Type == models.FieldTypeFloat {
				// NaN sums compare by NaN-ness.
				if !math.IsNaN(math.Float64frombits(got.Sum)) {
					t.Errorf("Sum = %v; want NaN", math.Float64frombits(got.Sum))
				}
				got.Sum, tc.want.Sum = 0, 0
			}
			if got != tc.want {
				t.Errorf("ComputeMeta().Stats = %+v; want %+v", got, tc.want)
			}
			// The stats survive the index encoding.
			path := writeFile(t, t.TempDir(), "s.tsm", []column{{"s", "f", &tc.arr}})
			r := mustOpen(t, path)
			ents := r.Entries([]byte("s"), []byte("f"))
			if len(ents) != 1 {
				t.Fatalf("Entries: got %d; want 1", len(ents))
			}
			want := tsm.ComputeMeta(&tc.arr).Stats
			if ents[0].Stats != want {
				t.Errorf("index stats = %+v; want %+v", ents[0].Stats, want)
			}
		})
	}
}

// u64 converts a (possibly negative) int64 to its Stats encoding.
func u64(v int64) uint64 { return uint64(v) }

func TestManyKeysLookupAndIterate(t *testing.T) {
	dir := t.TempDir()
	var cols []column
	for s := range 300 {
		for f := range 4 {
			// Series keys sort by string; use zero padding so the order is numeric too.
			cols = append(cols, column{fmt.Sprintf("m,host=h%04d", s*2), fmt.Sprintf("f%d", f),
				genArray(models.FieldTypeInteger, 1+s%7, int64(s), 3, uint64(s))})
		}
	}
	path := writeFile(t, dir, "many.tsm", cols)
	r := mustOpen(t, path)
	if got, want := r.SeriesCount(), 300; got != want {
		t.Errorf("SeriesCount() = %d; want %d", got, want)
	}
	for _, c := range cols {
		ents := r.Entries([]byte(c.series), []byte(c.field))
		if len(ents) != 1 || ents[0].Count != c.arr.Len() || ents[0].MinTime != c.arr.Timestamps[0] {
			t.Fatalf("Entries(%q,%q) = %+v; want one block of %d values at %d", c.series, c.field, ents, c.arr.Len(), c.arr.Timestamps[0])
		}
	}
	for s := range 300 {
		absent := fmt.Sprintf("m,host=h%04d", s*2+1)
		if r.HasSeries([]byte(absent)) {
			t.Errorf("HasSeries(%q) = true; want false", absent)
		}
		if e := r.Entries([]byte(absent), []byte("f0")); e != nil {
			t.Errorf("Entries(%q) = %v; want nil", absent, e)
		}
	}
	if !r.HasSeries([]byte("m,host=h0000")) || r.HasSeries([]byte("a")) || r.HasSeries([]byte("z")) {
		t.Errorf("HasSeries on first/before/after gave wrong answers")
	}
	var keys []string
	for k := range r.SeriesKeys() {
		keys = append(keys, string(k))
	}
	if len(keys) != 300 || !slices.IsSorted(keys) || keys[0] != "m,host=h0000" {
		t.Errorf("SeriesKeys: got %d keys (sorted=%v); want 300 sorted from m,host=h0000", len(keys), slices.IsSorted(keys))
	}
	it := r.Iterator()
	i := 0
	for it.Next() {
		c := cols[i]
		if string(it.Series()) != c.series || string(it.Field()) != c.field || it.Type() != models.FieldTypeInteger {
			t.Fatalf("Iterator key %d = %q/%q %s; want %q/%q integer", i, it.Series(), it.Field(), it.Type(), c.series, c.field)
		}
		if e := it.Entries(); len(e) != 1 || e[0].Count != c.arr.Len() {
			t.Fatalf("Iterator entries %d = %+v; want one block of %d", i, e, c.arr.Len())
		}
		i++
	}
	if i != len(cols) {
		t.Errorf("Iterator visited %d keys; want %d", i, len(cols))
	}
}

func TestWriterRejects(t *testing.T) {
	meta := func(lo, hi int64) tsm.BlockMeta { return tsm.BlockMeta{MinTime: lo, MaxTime: hi, Count: 1} }
	blk := []byte{1, 2, 3}
	type call struct {
		series, field string
		typ           models.FieldType
		meta          tsm.BlockMeta
	}
	cases := []struct {
		name  string
		calls []call
		want  error
	}{
		{"series out of order", []call{{"b", "f", 1, meta(1, 1)}, {"a", "f", 1, meta(1, 1)}}, tsm.ErrKeyOrder},
		{"field out of order", []call{{"a", "g", 1, meta(1, 1)}, {"a", "f", 1, meta(1, 1)}}, tsm.ErrKeyOrder},
		{"overlapping blocks", []call{{"a", "f", 1, meta(1, 5)}, {"a", "f", 1, meta(5, 9)}}, tsm.ErrBlockOrder},
		{"type change", []call{{"a", "f", 1, meta(1, 5)}, {"a", "f", 2, meta(6, 9)}}, tsm.ErrTypeMismatch},
		{"min after max", []call{{"a", "f", 1, meta(5, 1)}}, tsm.ErrInvalidBlock},
		{"zero count", []call{{"a", "f", 1, tsm.BlockMeta{MinTime: 1, MaxTime: 1}}}, tsm.ErrInvalidBlock},
		{"unknown type", []call{{"a", "f", 0, meta(1, 1)}}, tsm.ErrInvalidBlock},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := tsm.NewWriter(filepath.Join(t.TempDir(), "x.tsm"))
			if err != nil {
				t.Fatalf("NewWriter: got error %v; want nil", err)
			}
			defer w.Remove()
			var last error
			for _, c := range tc.calls {
				last = w.WriteBlock([]byte(c.series), []byte(c.field), c.typ, c.meta, blk)
			}
			if !errors.Is(last, tc.want) {
				t.Errorf("last WriteBlock: got error %v; want %v", last, tc.want)
			}
		})
	}
	t.Run("unsorted values", func(t *testing.T) {
		w, err := tsm.NewWriter(filepath.Join(t.TempDir(), "x.tsm"))
		if err != nil {
			t.Fatalf("NewWriter: got error %v; want nil", err)
		}
		defer w.Remove()
		arr := &tsm.Array{Type: models.FieldTypeInteger, Timestamps: []int64{2, 1}, Integers: []int64{1, 2}}
		if err := w.WriteValues([]byte("a"), []byte("f"), arr); !errors.Is(err, tsm.ErrBlockOrder) {
			t.Errorf("WriteValues(unsorted): got %v; want ErrBlockOrder", err)
		}
	})
}

func TestWriterAtomicAndRemove(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.tsm")
	w, err := tsm.NewWriter(path)
	if err != nil {
		t.Fatalf("NewWriter: got error %v; want nil", err)
	}
	if err := w.WriteValues([]byte("s"), []byte("f"), genArray(models.FieldTypeFloat, 10, 0, 1, 1)); err != nil {
		t.Fatalf("WriteValues: got error %v; want nil", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("before Close: Stat(path) error = %v; want ErrNotExist", err)
	}
	if err := w.Remove(); err != nil {
		t.Fatalf("Remove: got error %v; want nil", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("after Remove: dir holds %d entries; want 0", len(ents))
	}
	if err := w.WriteBlock([]byte("t"), []byte("f"), models.FieldTypeFloat, tsm.BlockMeta{Count: 1}, []byte{1}); !errors.Is(err, tsm.ErrClosed) {
		t.Errorf("WriteBlock after Remove: got %v; want ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after Remove: got %v; want nil", err)
	}
}

func TestEmptyFile(t *testing.T) {
	path := writeFile(t, t.TempDir(), "e.tsm", nil)
	r := mustOpen(t, path)
	if r.KeyCount() != 0 || r.SeriesCount() != 0 || r.MinTime() != 0 || r.MaxTime() != 0 {
		t.Errorf("empty file: keys=%d series=%d min=%d max=%d; want all 0", r.KeyCount(), r.SeriesCount(), r.MinTime(), r.MaxTime())
	}
	if r.Iterator().Next() {
		t.Errorf("Iterator().Next() on empty file = true; want false")
	}
}

func TestReaderClose(t *testing.T) {
	path := writeFile(t, t.TempDir(), "a.tsm", []column{{"s", "f", genArray(models.FieldTypeInteger, 5, 0, 1, 1)}})
	r, err := tsm.Open(path)
	if err != nil {
		t.Fatalf("Open: got error %v; want nil", err)
	}
	m := r.Entries([]byte("s"), []byte("f"))[0]
	if err := r.Close(); err != nil {
		t.Fatalf("Close: got error %v; want nil", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: got error %v; want nil", err)
	}
	if _, err := r.ReadBlock(m); !errors.Is(err, tsm.ErrClosed) {
		t.Errorf("ReadBlock after Close: got %v; want ErrClosed", err)
	}
	if r.HasSeries([]byte("s")) {
		t.Errorf("HasSeries after Close = true; want false")
	}
}

// smallFile returns the bytes of a small valid file with all types.
func smallFile(t testing.TB) []byte {
	t.Helper()
	var cols []column
	for i, typ := range allTypes {
		cols = append(cols, column{fmt.Sprintf("m,t=%d", i/2), fmt.Sprintf("f%d", i), genArray(typ, 3+i, int64(i), 7, uint64(i))})
	}
	path := writeFile(t, t.TempDir(), "small.tsm", cols)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile: got error %v; want nil", err)
	}
	return b
}

// openAndReadAll opens b as a file and reads every block; it returns the
// first error.
func openAndReadAll(t testing.TB, b []byte) error { return openWithAndReadAll(t, b, tsm.Open) }

// openWithAndReadAll is openAndReadAll opening the file with open.
func openWithAndReadAll(t testing.TB, b []byte, open func(path string) (*tsm.Reader, error)) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.tsm")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatalf("WriteFile: got error %v; want nil", err)
	}
	r, err := open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	var arr tsm.Array
	it := r.Iterator()
	for it.Next() {
		for _, m := range it.Entries() {
			if err := r.ReadArray(m, &arr); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestCorruptTruncated(t *testing.T) {
	b := smallFile(t)
	for n := range len(b) {
		err := openAndReadAll(t, b[:n])
		if !errors.Is(err, tsm.ErrCorrupt) {
			t.Fatalf("file truncated to %d of %d bytes: got error %v; want ErrCorrupt", n, len(b), err)
		}
	}
}

func TestCorruptBitFlips(t *testing.T) {
	b := smallFile(t)
	c := make([]byte, len(b))
	for i := range len(b) {
		for _, bit := range []byte{0x01, 0x80} {
			copy(c, b)
			c[i] ^= bit
			if err := openAndReadAll(t, c); !errors.Is(err, tsm.ErrCorrupt) {
				t.Fatalf("bit flip 0x%02x at offset %d of %d: got error %v; want ErrCorrupt", bit, i, len(b), err)
			}
		}
	}
}

func TestReadBlockOutOfBounds(t *testing.T) {
	path := writeFile(t, t.TempDir(), "a.tsm", []column{{"s", "f", genArray(models.FieldTypeInteger, 5, 0, 1, 1)}})
	r := mustOpen(t, path)
	for _, m := range []tsm.BlockMeta{
		{Offset: 0, Size: 10}, {Offset: 8, Size: 4}, {Offset: r.Size(), Size: 10}, {Offset: 8, Size: math.MaxInt64},
		{Offset: -1, Size: 10},
	} {
		if _, err := r.ReadBlock(m); !errors.Is(err, tsm.ErrCorrupt) {
			t.Errorf("ReadBlock(offset %d size %d): got %v; want ErrCorrupt", m.Offset, m.Size, err)
		}
	}
}

func TestDecodeBlockCorrupt(t *testing.T) {
	arr := genArray(models.FieldTypeInteger, 100, 0, 10, 3)
	blk, err := tsm.EncodeBlock(nil, arr)
	if err != nil {
		t.Fatalf("EncodeBlock: got error %v; want nil", err)
	}
	var got tsm.Array
	if err := tsm.DecodeBlock(blk, &got); err != nil || !equalArrays(&got, arr) {
		t.Fatalf("DecodeBlock(valid): got err=%v equal=%v; want nil, true", err, equalArrays(&got, arr))
	}
	for n := range len(blk) {
		if err := tsm.DecodeBlock(blk[:n], &got); !errors.Is(err, tsm.ErrCorrupt) {
			t.Fatalf("DecodeBlock(truncated to %d): got %v; want ErrCorrupt", n, err)
		}
	}
	bad := bytes.Clone(blk)
	bad[0] = 9
	if err := tsm.DecodeBlock(bad, &got); !errors.Is(err, tsm.ErrCorrupt) {
		t.Errorf("DecodeBlock(bad type): got %v; want ErrCorrupt", err)
	}
}

func TestReadValuesRange(t *testing.T) {
	arr := genArray(models.FieldTypeFloat, 3500, 0, 2, 4)
	r := mustOpen(t, writeFile(t, t.TempDir(), "a.tsm", []column{{"s", "f", arr}}))
	cases := []struct {
		name   string
		tr     tsm.TimeRange
		lo, hi int // expected index range [lo, hi) in arr
	}{
		{"all", tsm.TimeRange{Min: math.MinInt64, Max: math.MaxInt64}, 0, 3500},
		{"inside one block", tsm.TimeRange{Min: 10, Max: 20}, 5, 11},
		{"across blocks", tsm.TimeRange{Min: 1990, Max: 4001}, 995, 2001},
		{"between values", tsm.TimeRange{Min: 3, Max: 3}, 0, 0},
		{"after end", tsm.TimeRange{Min: 7000, Max: 9000}, 0, 0},
	}
	var got, scratch tsm.Array
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := r.ReadValues([]byte("s"), []byte("f"), tc.tr, &got, &scratch); err != nil {
				t.Fatalf("ReadValues: got error %v; want nil", err)
			}
			want := arr.Slice(tc.lo, tc.hi)
			if !equalArrays(&got, &want) {
				t.Errorf("ReadValues(%+v): got %d values; want %d (indexes %d..%d)", tc.tr, got.Len(), want.Len(), tc.lo, tc.hi)
			}
		})
	}
	if err := r.ReadValues([]byte("s"), []byte("absent"), tsm.TimeRange{Max: 10}, &got, nil); err != nil || got.Len() != 0 || got.Type != models.FieldTypeUnknown {
		t.Errorf("ReadValues(absent): got err=%v len=%d type=%s; want nil, 0, unknown", err, got.Len(), got.Type)
	}
}

// TestConcurrentReads reads one file from several goroutines (run with
// -race): a Reader is safe for concurrent use.
func TestConcurrentReads(t *testing.T) {
	var cols []column
	for i := range 20 {
		cols = append(cols, column{fmt.Sprintf("s%02d", i), "f", genArray(models.FieldTypeInteger, 2500, 0, 1, uint64(i))})
	}
	r := mustOpen(t, writeFile(t, t.TempDir(), "a.tsm", cols))
	errc := make(chan error, 4)
	for g := range 4 {
		go func() {
			var arr, scratch tsm.Array
			for k := range 50 {
				c := cols[(g*7+k)%len(cols)]
				if err := r.ReadValues([]byte(c.series), []byte(c.field), tsm.TimeRange{Min: 0, Max: math.MaxInt64}, &arr, &scratch); err != nil {
					errc <- err
					return
				}
				if !equalArrays(&arr, c.arr) {
					errc <- fmt.Errorf("goroutine %d: %s read back differently", g, c.series)
					return
				}
			}
			errc <- nil
		}()
	}
	for range 4 {
		if err := <-errc; err != nil {
			t.Errorf("concurrent read: got error %v; want nil", err)
		}
	}
}

// TestKeyTupleOrder checks that keys sort by (series, field) as a tuple:
// a series key that is a prefix of another sorts first whatever the fields.
func TestKeyTupleOrder(t *testing.T) {
	cols := []column{
		{"cpu", "zz", genArray(models.FieldTypeInteger, 3, 0, 1, 1)},
		{"cpu,host=a", "a", genArray(models.FieldTypeInteger, 3, 0, 1, 2)},
		{"cpu,host=a", "a2", genArray(models.FieldTypeFloat, 3, 0, 1, 3)},
		{"cpu,host=a", "b", genArray(models.FieldTypeBoolean, 3, 0, 1, 4)},
	}
	r := mustOpen(t, writeFile(t, t.TempDir(), "a.tsm", cols))
	for _, c := range cols {
		if got := readColumn(t, r, c.series, c.field); !equalArrays(got, c.arr) {
			t.Errorf("key %q/%q read back differently (got %d values, want %d)", c.series, c.field, got.Len(), c.arr.Len())
		}
	}
	if r.Type([]byte("cpu"), []byte("a")) != models.FieldTypeUnknown || r.Type([]byte("cpu,host=a"), []byte("a1")) != models.FieldTypeUnknown {
		t.Errorf("Type of absent keys between present ones: want unknown")
	}
}

// TestBlockSpanningMoreThanMaxInt64 writes blocks whose timestamps span
// more than MaxInt64 ns (before 1970 and near the end of time) and reads
// them back: the file must open and return every value.
func TestBlockSpanningMoreThanMaxInt64(t *testing.T) {
	cols := []column{
		{"a", "f", &tsm.Array{Type: models.FieldTypeInteger, Timestamps: []int64{-5, math.MaxInt64 - 1}, Integers: []int64{1, 2}}},
		{"b", "f", &tsm.Array{Type: models.FieldTypeInteger, Timestamps: []int64{math.MinInt64, 0, math.MaxInt64}, Integers: []int64{1, 2, 3}}},
	}
	r := mustOpen(t, writeFile(t, t.TempDir(), "a.tsm", cols))
	var got, scratch tsm.Array
	for _, c := range cols {
		if err := r.ReadValues([]byte(c.series), []byte(c.field), tsm.TimeRange{Min: math.MinInt64, Max: math.MaxInt64}, &got, &scratch); err != nil {
			t.Fatalf("ReadValues(%s): got error %v; want nil", c.series, err)
		}
		if !equalArrays(&got, c.arr) {
			t.Errorf("ReadValues(%s) = %v; want %v", c.series, got.Timestamps, c.arr.Timestamps)
		}
	}
	if r.MinTime() != math.MinInt64 || r.MaxTime() != math.MaxInt64 {
		t.Errorf("file time range = [%d, %d]; want the whole int64 range", r.MinTime(), r.MaxTime())
	}
}

// TestWriterOpenReader checks that the Reader a Writer opens on the file it
// wrote, without walking the index, reports what Open's validation derives
// (counts, time range) and reads the same values; that it refuses a writer
// whose Close did not succeed; and that it notices a file replaced on disk
// since Close.
func TestWriterOpenReader(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.tsm")
	w, err := tsm.NewWriter(path)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	var cols []column
	for s := range 50 {
		for f, typ := range allTypes {
			n := 1 + s%3*tsm.MaxPointsPerBlock // some keys span several blocks
			cols = append(cols, column{fmt.Sprintf("m,host=h%03d", s), fmt.Sprintf("f%d", f),
				genArray(typ, n, int64(s*10), 7, uint64(s))})
		}
	}
	if _, err := w.OpenReader(); err == nil {
		t.Fatal("OpenReader before Close: got nil error; want one")
	}
	for _, c := range cols {
		if err := w.WriteValues([]byte(c.series), []byte(c.field), c.arr); err != nil {
			t.Fatalf("WriteValues: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got, err := w.OpenReader()
	if err != nil {
		t.Fatalf("OpenReader: %v", err)
	}
	defer got.Close()
	want := mustOpen(t, path)
	if summarize(got) != summarize(want) {
		t.Fatalf("OpenReader: %+v; Open: %+v", summarize(got), summarize(want))
	}
	var values int64
	for _, c := range cols {
		values += int64(c.arr.Len())
	}
	if want.ValueCount() != values || got.ValueCount() != values {
		t.Fatalf("ValueCount(): Open %d, OpenReader %d; want %d", want.ValueCount(), got.ValueCount(), values)
	}
	for _, c := range cols {
		if a := readColumn(t, got, c.series, c.field); !equalArrays(a, c.arr) {
			t.Fatalf("%s/%s read through OpenReader differs from what was written", c.series, c.field)
		}
	}

	// A file of the same name written since (another writer's output) is
	// not the file this Writer finished.
	other := writeFile(t, dir, "w.tsm", cols[:5])
	if _, err := w.OpenReader(); !errors.Is(err, tsm.ErrCorrupt) {
		t.Fatalf("OpenReader of %s replaced since Close: got %v; want ErrCorrupt", other, err)
	}

	failed, err := tsm.NewWriter(filepath.Join(dir, "failed.tsm"))
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	if err := failed.Remove(); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := failed.OpenReader(); err == nil {
		t.Fatal("OpenReader after Remove: got nil error; want one")
	}
}

// readerSummary is what a Reader knows about its file without a lookup.
type readerSummary struct {
	keys, series, blocks int
	min, max             int64
	size                 int64
}

func summarize(r *tsm.Reader) readerSummary {
	return readerSummary{r.KeyCount(), r.SeriesCount(), r.BlockCount(), r.MinTime(), r.MaxTime(), r.Size()}
}

// TestOpenValidated checks that OpenValidated, given what Open (or the
// Writer) established about a file, opens it to the same Reader, and that
// it still refuses every truncation and bit flip of the file (by its
// size, header, footer, index CRC or block CRCs), as Open does.
func TestOpenValidated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.tsm")
	w, err := tsm.NewWriter(path)
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	for s := range 20 {
		arr := genArray(models.FieldTypeFloat, 1+s%3*tsm.MaxPointsPerBlock, int64(s), 5, uint64(s))
		if err := w.WriteValues(fmt.Appendf(nil, "m,host=h%02d", s), []byte("f"), arr); err != nil {
			t.Fatalf("WriteValues: %v", err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	written, err := w.OpenReader()
	if err != nil {
		t.Fatalf("OpenReader: %v", err)
	}
	defer written.Close()
	full := mustOpen(t, path)
	if written.Validated() != full.Validated() {
		t.Fatalf("Validated of the Writer's reader %+v differs from Open's %+v", written.Validated(), full.Validated())
	}
	r, err := tsm.OpenValidated(path, full.Validated())
	if err != nil {
		t.Fatalf("OpenValidated: %v", err)
	}
	defer r.Close()
	if summarize(r) != summarize(full) {
		t.Fatalf("OpenValidated: %+v; Open: %+v", summarize(r), summarize(full))
	}
	if a, b := readColumn(t, r, "m,host=h04", "f"), readColumn(t, full, "m,host=h04", "f"); !equalArrays(a, b) {
		t.Fatal("a column read through OpenValidated differs from Open's")
	}

	b := smallFile(t)
	intact := filepath.Join(dir, "small.tsm")
	if err := os.WriteFile(intact, b, 0o644); err != nil {
		t.Fatal(err)
	}
	v := mustOpen(t, intact).Validated()
	openValidated := func(path string) (*tsm.Reader, error) { return tsm.OpenValidated(path, v) }
	for n := range len(b) {
		if err := openWithAndReadAll(t, b[:n], openValidated); !errors.Is(err, tsm.ErrCorrupt) {
			t.Fatalf("file truncated to %d of %d bytes: got error %v; want ErrCorrupt", n, len(b), err)
		}
	}
	c := make([]byte, len(b))
	for i := range len(b) {
		copy(c, b)
		c[i] ^= 0x10
		if err := openWithAndReadAll(t, c, openValidated); !errors.Is(err, tsm.ErrCorrupt) {
			t.Fatalf("bit flip at offset %d of %d: got error %v; want ErrCorrupt", i, len(b), err)
		}
	}
}

// TestFieldOrderAcrossSeries checks that a field that followed another
// one across two series (the last field of one, the first of the next)
// is not taken as sorting after it within a later series: the Writer
// skips the order check only for a field that followed the current one
// within a series.
func TestFieldOrderAcrossSeries(t *testing.T) {
	one := genArray(models.FieldTypeInteger, 1, 5, 1, 1)
	for _, stable := range []bool{false, true} {
		w, err := tsm.NewWriter(filepath.Join(t.TempDir(), "x.tsm"))
		if err != nil {
			t.Fatalf("NewWriter: got error %v; want nil", err)
		}
		if stable {
			w.StableKeys()
		}
		a, b, c := []byte("a"), []byte("b"), []byte("c")
		for _, k := range [][2][]byte{{a, []byte("x")}, {a, []byte("y")}, {b, []byte("x")}, {c, []byte("y")}} {
			if err := w.WriteValues(k[0], k[1], one); err != nil {
				t.Fatalf("WriteValues %s/%s: got error %v; want nil", k[0], k[1], err)
			}
		}
		// y was followed by x (a/y, b/x), but x sorts before y.
		if err := w.WriteValues(c, []byte("x"), one); !errors.Is(err, tsm.ErrKeyOrder) {
			t.Errorf("stable keys %v: c/x after c/y: got error %v; want ErrKeyOrder", stable, err)
		}
		_ = w.Remove()
	}
}

// TestStableKeys writes the same keys with and without StableKeys, the
// fields of a series passing one key slice as a snapshot does and each
// field name one of two slices (a snapshot passes one, the cache's
// partitions each hold one): the files are identical, and keys out of
// order are still refused, whether the series key is the previous slice
// or a new one.
func TestStableKeys(t *testing.T) {
	dir := t.TempDir()
	fieldSlices := [2][][]byte{{[]byte("a"), []byte("b"), []byte("c")}, {[]byte("a"), []byte("b"), []byte("c")}}
	write := func(name string, stable bool) []byte {
		w, err := tsm.NewWriter(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("NewWriter: got error %v; want nil", err)
		}
		if stable {
			w.StableKeys()
		}
		for s := range 50 {
			series := fmt.Appendf(nil, "cpu,host=h%03d", s)
			for f, field := range []string{"a", "b", "c"} {
				arr := genArray(models.FieldTypeFloat, 1+(s+f)%3*600, 1000, 10, uint64(s*3+f))
				key := []byte(field)
				if stable {
					key = fieldSlices[s/3%2][f]
				}
				if err := w.WriteValues(series, key, arr); err != nil {
					t.Fatalf("WriteValues: got error %v; want nil", err)
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close: got error %v; want nil", err)
		}
		b, err := os.ReadFile(w.Path())
		if err != nil {
			t.Fatalf("ReadFile: got error %v; want nil", err)
		}
		return b
	}
	if a, b := write("copied.tsm", false), write("stable.tsm", true); !bytes.Equal(a, b) {
		t.Errorf("file with StableKeys differs from the one without (%d vs %d bytes)", len(b), len(a))
	}
	one := genArray(models.FieldTypeInteger, 1, 5, 1, 1)
	for _, tc := range []struct {
		name           string
		series         string // second call's series key
		same           bool   // second call passes the first call's slice
		fieldA, fieldB string
	}{
		{"earlier series", "a", false, "f", "f"},
		{"same series slice, earlier field", "b", true, "g", "f"},
		{"equal series copy, earlier field", "b", false, "g", "f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := tsm.NewWriter(filepath.Join(t.TempDir(), "x.tsm"))
			if err != nil {
				t.Fatalf("NewWriter: got error %v; want nil", err)
			}
			defer w.Remove()
			w.StableKeys()
			first := []byte("b")
			if err := w.WriteValues(first, []byte(tc.fieldA), one); err != nil {
				t.Fatalf("first WriteValues: got error %v; want nil", err)
			}
			second := []byte(tc.series)
			if tc.same {
				second = first
			}
			if err := w.WriteValues(second, []byte(tc.fieldB), one); !errors.Is(err, tsm.ErrKeyOrder) {
				t.Errorf("second WriteValues: got error %v; want ErrKeyOrder", err)
			}
		})
	}
}
