package tsm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// copySource writes a file of format version with keys of every type,
// one to three blocks each, and opens it. In version 3 the keys of one or
// two values are inline entries, and so is the last block of a key of
// 1,001 values.
func copySource(t *testing.T, dir string, version byte) *Reader {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("src%d.tsm", version))
	w, err := newWriter(path, version)
	if err != nil {
		t.Fatal(err)
	}
	types := []models.FieldType{models.FieldTypeBoolean, models.FieldTypeFloat, models.FieldTypeInteger,
		models.FieldTypeString, models.FieldTypeUnsigned}
	for s := range 4 {
		for i, typ := range types {
			arr := &Array{Type: typ}
			n := []int{1, 2, 2500, 1001}[(s+i)%4] // one, one, three, two blocks (the last of one value)
			for j := range n {
				arr.Timestamps = append(arr.Timestamps, int64(1000+j*10+s))
				switch typ {
				case models.FieldTypeFloat:
					arr.Floats = append(arr.Floats, float64(j)/3)
				case models.FieldTypeInteger:
					arr.Integers = append(arr.Integers, int64(j*7-s))
				case models.FieldTypeUnsigned:
					arr.Unsigneds = append(arr.Unsigneds, uint64(j*5+s))
				case models.FieldTypeString:
					arr.Strings = append(arr.Strings, fmt.Appendf(nil, "v%d", j%13))
				case models.FieldTypeBoolean:
					arr.Booleans = append(arr.Booleans, j%3 == 0)
				}
			}
			if err := w.WriteValues(fmt.Appendf(nil, "m,host=h%d", s), fmt.Appendf(nil, "f%d", i), arr); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// sameKeys checks that got holds every key of want with the same entries
// (offsets aside, and sizes of blocks got keeps in their entries) and
// values.
func sameKeys(t *testing.T, want, got *Reader) {
	t.Helper()
	it := want.Iterator()
	for it.Next() {
		series, field := it.Series(), it.Field()
		we, ge := it.Entries(), got.Entries(series, field)
		if len(we) != len(ge) {
			t.Fatalf("%s/%s: %d blocks copied, want %d", series, field, len(ge), len(we))
		}
		for i := range we {
			w, g := we[i], ge[i]
			if g.Inline() {
				w.Size, w.inline = 0, g.inline
			}
			w.Offset, g.Offset = 0, 0
			if w != g {
				t.Errorf("%s/%s block %d: entry %+v, want %+v", series, field, i, g, w)
			}
			var wa, ga Array
			if err := want.ReadArray(we[i], &wa); err != nil {
				t.Fatal(err)
			}
			if err := got.ReadArray(ge[i], &ga); err != nil {
				t.Fatalf("%s/%s block %d: %v", series, field, i, err)
			}
			if !reflect.DeepEqual(wa, ga) {
				t.Errorf("%s/%s block %d: values differ", series, field, i)
			}
		}
	}
}

// TestCopyKey copies every key of a file of each version, after a key
// written with WriteValues (so every block moves), and finds the same
// entries, values, counts and time range in the copy, through Open (which
// validates the whole index) and through the Writer's OpenReader. Blocks
// of one or two values of older files become inline entries.
func TestCopyKey(t *testing.T) {
	for version := byte(1); version <= Version; version++ {
		t.Run(fmt.Sprint("version", version), func(t *testing.T) {
			dir := t.TempDir()
			src := copySource(t, dir, version)
			path := filepath.Join(dir, "copy.tsm")
			w, err := NewWriter(path)
			if err != nil {
				t.Fatal(err)
			}
			first := &Array{Type: models.FieldTypeInteger, Timestamps: []int64{5}, Integers: []int64{9}}
			if err := w.WriteValues([]byte("a"), []byte("x"), first); err != nil {
				t.Fatal(err)
			}
			for it := src.Iterator(); it.Next(); {
				if err := w.CopyKey(it); err != nil {
					t.Fatalf("CopyKey(%s/%s): %v", it.Series(), it.Field(), err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			written, err := w.OpenReader()
			if err != nil {
				t.Fatal(err)
			}
			defer written.Close()
			opened, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer opened.Close()
			if written.KeyCount() != opened.KeyCount() || written.ValueCount() != opened.ValueCount() ||
				written.BlockCount() != opened.BlockCount() || written.MinTime() != opened.MinTime() {
				t.Errorf("OpenReader counts %d/%d/%d/%d differ from Open's %d/%d/%d/%d",
					written.KeyCount(), written.ValueCount(), written.BlockCount(), written.MinTime(),
					opened.KeyCount(), opened.ValueCount(), opened.BlockCount(), opened.MinTime())
			}
			if opened.KeyCount() != src.KeyCount()+1 || opened.BlockCount() != src.BlockCount()+1 ||
				opened.ValueCount() != src.ValueCount()+1 || opened.MinTime() != 5 || opened.MaxTime() != src.MaxTime() {
				t.Errorf("copy: %d keys %d blocks %d values [%d, %d]; want one key, block and value more than the source's %d %d %d, [5, %d]",
					opened.KeyCount(), opened.BlockCount(), opened.ValueCount(), opened.MinTime(), opened.MaxTime(),
					src.KeyCount(), src.BlockCount(), src.ValueCount(), src.MaxTime())
			}
			sameKeys(t, src, opened)
		})
	}
}

// TestCopyKeyGaps copies a key whose blocks do not lie back to back (a
// file need not lay them so) block by block.
func TestCopyKeyGaps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gaps.tsm")
	w, err := NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		arr := &Array{Type: models.FieldTypeFloat, Timestamps: []int64{int64(i*10 + 1), int64(i*10 + 2), int64(i*10 + 3)}, Floats: []float64{1, float64(i), 2}}
		block, err := EncodeBlock(nil, arr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteBlock([]byte("m"), []byte("f"), models.FieldTypeFloat, ComputeMeta(arr), block); err != nil {
			t.Fatal(err)
		}
		w.write([]byte("gap")) // bytes no entry points to
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cw, err := NewWriter(filepath.Join(dir, "copy.tsm"))
	if err != nil {
		t.Fatal(err)
	}
	it := src.Iterator()
	if !it.Next() {
		t.Fatal("no key")
	}
	if err := cw.CopyKey(it); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	cp, err := Open(cw.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	sameKeys(t, src, cp)
	if cp.ValueCount() != src.ValueCount() || cp.MinTime() != src.MinTime() || cp.MaxTime() != src.MaxTime() {
		t.Errorf("copy: %d values [%d, %d]; want %d [%d, %d]", cp.ValueCount(), cp.MinTime(), cp.MaxTime(),
			src.ValueCount(), src.MinTime(), src.MaxTime())
	}
	if cp.Size() != src.Size()-9 {
		t.Errorf("copy is %d bytes, want the source's %d less the 9 gap bytes", cp.Size(), src.Size())
	}
}

// TestCopyKeyErrors: a key out of order is refused like WriteBlock's, and
// a block whose bytes no longer match its checksum is not copied.
func TestCopyKeyErrors(t *testing.T) {
	dir := t.TempDir()
	src := copySource(t, dir, Version)
	w, err := NewWriter(filepath.Join(dir, "order.tsm"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Remove()
	arr := &Array{Type: models.FieldTypeFloat, Timestamps: []int64{1}, Floats: []float64{1}}
	if err := w.WriteValues([]byte("z"), []byte("f"), arr); err != nil {
		t.Fatal(err)
	}
	it := src.Iterator()
	it.Next()
	if err := w.CopyKey(it); !errors.Is(err, ErrKeyOrder) {
		t.Errorf("CopyKey of a key before the last written: got %v, want ErrKeyOrder", err)
	}

	// Flip a byte of the first block (behind its CRC) in a copy of the file.
	data, err := os.ReadFile(src.Path())
	if err != nil {
		t.Fatal(err)
	}
	data[headerSize+crcSize] ^= 0xff
	bad := filepath.Join(dir, "bad.tsm")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	br, err := Open(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	w2, err := NewWriter(filepath.Join(dir, "bad-copy.tsm"))
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Remove()
	it = br.Iterator()
	for it.Next() && it.Entries()[0].Offset != headerSize { // the key of the first stored block
	}
	if err := w2.CopyKey(it); !errors.Is(err, ErrCorrupt) {
		t.Errorf("CopyKey of a corrupt block: got %v, want ErrCorrupt", err)
	}
}

// TestCopyKeyInlineSeriesOfTwoFiles copies one-block inline keys of one
// series from two files, skipping the series' first key in the first, so
// that keys are first of their series in the copy but not in their file
// and the reverse: the entries' times, encoded against the previous key
// of the series, must be encoded anew, their values copied as they are.
func TestCopyKeyInlineSeriesOfTwoFiles(t *testing.T) {
	dir := t.TempDir()
	series := []byte("m,host=a")
	write := func(name string, fields []string, t0 int64) *Reader {
		w, err := NewWriter(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range fields {
			ts := []int64{t0 + int64(i)*1000, t0 + int64(i)*1000 + 7}[:1+i%2]
			var arr *Array
			switch i % 4 {
			case 0:
				arr = &Array{Type: models.FieldTypeFloat, Timestamps: ts, Floats: []float64{1.5, -2}[:len(ts)]}
			case 1:
				arr = &Array{Type: models.FieldTypeInteger, Timestamps: ts, Integers: []int64{-300, 5}[:len(ts)]}
			case 2:
				arr = &Array{Type: models.FieldTypeBoolean, Timestamps: ts, Booleans: []bool{true, false}[:len(ts)]}
			case 3:
				arr = &Array{Type: models.FieldTypeUnsigned, Timestamps: ts, Unsigneds: []uint64{1 << 40, 3}[:len(ts)]}
			}
			if err := w.WriteValues(series, []byte(f), arr); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := Open(w.Path())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	a := write("a.tsm", []string{"f0", "f1", "f2", "f3"}, -5000)
	b := write("b.tsm", []string{"f4", "f5", "f6"}, 1<<40)
	w, err := NewWriter(filepath.Join(dir, "copy.tsm"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Reader{a, b} {
		for it := r.Iterator(); it.Next(); {
			if string(it.Field()) == "f0" {
				continue
			}
			if err := w.CopyKey(it); err != nil {
				t.Fatalf("CopyKey(%s/%s): %v", it.Series(), it.Field(), err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cp, err := Open(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if cp.KeyCount() != 6 || cp.BlockCount() != 6 {
		t.Fatalf("copy holds %d keys, %d blocks; want 6, 6", cp.KeyCount(), cp.BlockCount())
	}
	sameKeys(t, b, cp)
	for it := a.Iterator(); it.Next(); {
		we, ge := it.Entries(), cp.Entries(it.Series(), it.Field())
		if string(it.Field()) == "f0" {
			if len(ge) != 0 {
				t.Errorf("f0, not copied, has %d blocks in the copy", len(ge))
			}
			continue
		}
		if len(ge) != 1 || ge[0] != we[0] {
			t.Errorf("%s: entries %+v in the copy, want %+v", it.Field(), ge, we)
		}
	}
}
