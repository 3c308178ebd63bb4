package tsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// smallBlockArrays returns blocks of 1, 2 and 3 values of every type,
// floats including NaN, -0 and infinities (whose statistics the reader
// must recompute bit for bit).
func smallBlockArrays() map[string]*Array {
	out := map[string]*Array{}
	floats := [][]float64{{1.5}, {math.NaN()}, {math.Copysign(0, -1)}, {math.Inf(1), -2.25},
		{math.NaN(), 3}, {math.Copysign(0, -1), math.Copysign(0, -1)}, {1, 2, 3}}
	for i, vs := range floats {
		a := &Array{Type: models.FieldTypeFloat}
		for j, v := range vs {
			a.Timestamps = append(a.Timestamps, int64(1000+j))
			a.Floats = append(a.Floats, v)
		}
		out[fmt.Sprintf("f%d", i)] = a
	}
	ints := [][]int64{{-7}, {math.MaxInt64}, {math.MinInt64, math.MaxInt64}, {5, -5}, {1, 2, 3}}
	for i, vs := range ints {
		a := &Array{Type: models.FieldTypeInteger, Timestamps: []int64{-5, 0, 5}[:len(vs)], Integers: vs}
		out[fmt.Sprintf("i%d", i)] = a
	}
	uints := [][]uint64{{0}, {math.MaxUint64, 1}, {3, 2, 1}}
	for i, vs := range uints {
		out[fmt.Sprintf("u%d", i)] = &Array{Type: models.FieldTypeUnsigned, Timestamps: []int64{7, 8, 9}[:len(vs)], Unsigneds: vs}
	}
	out["b0"] = &Array{Type: models.FieldTypeBoolean, Timestamps: []int64{1}, Booleans: []bool{true}}
	out["b1"] = &Array{Type: models.FieldTypeBoolean, Timestamps: []int64{1, 2}, Booleans: []bool{true, false}}
	out["s0"] = &Array{Type: models.FieldTypeString, Timestamps: []int64{1}, Strings: [][]byte{[]byte("x")}}
	return out
}

// writeTestFile writes a file of the given format version, holding
// copyFrom's keys (CopyKey) when copyFrom is not nil and else what add
// writes, and opens it.
func writeTestFile(t *testing.T, version byte, copyFrom *Reader, add func(*Writer)) *Reader {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.tsm", version))
	w, err := newWriter(path, version)
	if err != nil {
		t.Fatal(err)
	}
	if copyFrom != nil {
		for it := copyFrom.Iterator(); it.Next(); {
			if err := w.CopyKey(it); err != nil {
				t.Fatalf("CopyKey: %v", err)
			}
		}
	} else {
		add(w)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return mustOpenInternal(t, path)
}

// indexEdit is a named change to a data file's bytes.
type indexEdit struct {
	name string
	edit func(b []byte)
}

// wantCorruptEdits applies each edit to a copy of data, a whole file with
// footer ft, gives the edited index a valid checksum, and checks that the
// reader refuses the file with ErrCorrupt: the checks behind the checksum
// must catch what the edit breaks.
func wantCorruptEdits(t *testing.T, data []byte, ft footer, edits []indexEdit) {
	t.Helper()
	for _, tc := range edits {
		b := append([]byte(nil), data...)
		tc.edit(b)
		ft := ft
		ft.indexCRC = crc32Checksum(b[ft.indexOffset : ft.indexOffset+ft.indexSize])
		b = appendFooter(b[:len(b)-footerSize], ft)
		if _, err := newReader("x", b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v; want ErrCorrupt", tc.name, err)
		}
	}
}

// writeVersion writes the arrays (one key each, field = map key) to a file
// of the given format version and opens it.
func writeVersion(t *testing.T, dir string, version byte, arrs map[string]*Array) *Reader {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("v%d.tsm", version))
	w, err := newWriter(path, version)
	if err != nil {
		t.Fatal(err)
	}
	fields := make([]string, 0, len(arrs))
	for f := range arrs {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		if err := w.WriteValues([]byte("m,host=a"), []byte(f), arrs[f]); err != nil {
			t.Fatalf("write %s: %v", f, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatalf("open version %d file: %v", version, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestVersionsSmallBlocks: a version 2 file stores a numeric block of one
// or two values without its statistics, a version 3 file keeps such
// blocks (and boolean ones) in their index entries only; both read back
// the very entries (statistics bit for bit) and values of a version 1
// file of the same blocks, which still opens.
func TestVersionsSmallBlocks(t *testing.T) {
	arrs := smallBlockArrays()
	dir := t.TempDir()
	var readers []*Reader
	for v := byte(1); v <= Version; v++ {
		r := writeVersion(t, dir, v, arrs)
		if r.version != v {
			t.Fatalf("version %d; want %d", r.version, v)
		}
		readers = append(readers, r)
	}
	for f, a := range arrs {
		want := ComputeMeta(a)
		for _, r := range readers {
			ms := r.Entries([]byte("m,host=a"), []byte(f))
			if len(ms) != 1 {
				t.Fatalf("v%d %s: %d entries", r.version, f, len(ms))
			}
			m := ms[0]
			if m.Stats != want.Stats || m.Count != want.Count || m.MinTime != want.MinTime || m.MaxTime != want.MaxTime {
				t.Errorf("v%d %s: entry %+v; want %+v", r.version, f, m, want)
			}
			if wantInline := r.version >= 3 && a.Len() <= 2 && a.Type != models.FieldTypeString; m.Inline() != wantInline || (wantInline && m.Size != 0) {
				t.Errorf("v%d %s: entry %+v inline %v; want %v", r.version, f, m, m.Inline(), wantInline)
			}
			var got Array
			if err := r.ReadArray(m, &got); err != nil {
				t.Fatalf("v%d %s: read: %v", r.version, f, err)
			}
			blk, err := r.ReadBlock(m)
			if err != nil {
				t.Fatalf("v%d %s: read block: %v", r.version, f, err)
			}
			var dec Array
			if err := DecodeBlock(blk, &dec); err != nil {
				t.Fatalf("v%d %s: decode block: %v", r.version, f, err)
			}
			times, err := r.AppendTimes(nil, m)
			if err != nil {
				t.Fatalf("v%d %s: read times: %v", r.version, f, err)
			}
			for _, g := range []*Array{&got, &dec, {Type: a.Type, Timestamps: times}} {
				if g.Type != a.Type || fmt.Sprint(g.Timestamps) != fmt.Sprint(a.Timestamps) {
					t.Errorf("v%d %s: read %v; want %v", r.version, f, g, a)
				}
			}
			for _, g := range []*Array{&got, &dec} {
				if fmt.Sprint(g.Floats, g.Integers, g.Unsigneds, g.Booleans) != fmt.Sprint(a.Floats, a.Integers, a.Unsigneds, a.Booleans) {
					t.Errorf("v%d %s: values %v; want %v", r.version, f, g, a)
				}
			}
		}
		if !reflect.DeepEqual(readers[0].Entries([]byte("m,host=a"), []byte(f)), readers[1].Entries([]byte("m,host=a"), []byte(f))) {
			t.Errorf("%s: version 1 and 2 entries differ", f)
		}
	}
	// One-value float blocks: 8 bytes of value instead of 40 of
	// statistics in version 2; in version 3 no block, no offset and size
	// in the entry, and the first time against the previous key's.
	one := map[string]*Array{}
	for i := range 100 {
		one[fmt.Sprintf("f%03d", i)] = &Array{Type: models.FieldTypeFloat, Timestamps: []int64{1e18}, Floats: []float64{float64(i)}}
	}
	o1, o2, o3 := writeVersion(t, t.TempDir(), 1, one), writeVersion(t, t.TempDir(), 2, one), writeVersion(t, t.TempDir(), 3, one)
	if saved := o1.IndexSize() - o2.IndexSize(); saved != 100*32 {
		t.Errorf("index of 100 one-value float keys: version 1 %d bytes, version 2 %d; want 3200 fewer", o1.IndexSize(), o2.IndexSize())
	}
	if o3.dataEnd != headerSize {
		t.Errorf("version 3 file of 100 one-value float keys: %d bytes of blocks; want 0", o3.dataEnd-headerSize)
	}
	if saved := o2.IndexSize() - o3.IndexSize(); saved < 100*2+99*8 {
		t.Errorf("index of 100 one-value float keys: version 2 %d bytes, version 3 %d; want at least %d fewer", o2.IndexSize(), o3.IndexSize(), 100*2+99*8)
	}
	t.Logf("100 one-value float keys: file %d, %d, %d bytes; index %d, %d, %d", o1.Size(), o2.Size(), o3.Size(), o1.IndexSize(), o2.IndexSize(), o3.IndexSize())
}

// TestVersionChecks: an unknown version is refused, and so is a footer
// whose version differs from the header's.
func TestVersionChecks(t *testing.T) {
	arrs := map[string]*Array{"f": {Type: models.FieldTypeFloat, Timestamps: []int64{1}, Floats: []float64{1}}}
	r := writeVersion(t, t.TempDir(), 1, arrs)
	data, err := os.ReadFile(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		header, footer byte
	}{{"version 5", 5, 5}, {"version 0", 0, 0}, {"header 4, footer 3", 4, 3}, {"header 3, footer 2", 3, 2}, {"header 2, footer 1", 2, 1}, {"header 1, footer 2", 1, 2}} {
		b := append([]byte(nil), data...)
		b[4] = tc.header
		ft, _ := parseFooter(b[len(b)-footerSize:])
		ft.version = tc.footer
		b = appendFooter(b[:len(b)-footerSize], ft)
		if _, err := newReader("x", b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v; want ErrCorrupt", tc.name, err)
		}
	}
}

// TestVersion3KeyBase: in version 3 each key's first entry is encoded
// against the previous key of its series; keys whose first times go back,
// forward, far and to the extremes, of inline, stored and multi-block
// columns, read back through lookups and the iterator (whether or not it
// decoded the previous key) as the version 2 file of the same data.
func TestVersion3KeyBase(t *testing.T) {
	arrs := map[string]*Array{}
	starts := []int64{1e18, 5, 1e18 + 7, math.MinInt64, math.MaxInt64 - 3000, -1, 0, 1e18}
	for i, start := range starts {
		for j, n := range []int{1, 2, 3, 1500} {
			typ := allTypesInternal[(i+j)%len(allTypesInternal)]
			a := &Array{Type: typ}
			for k := range n {
				v := models.Value{Type: typ, N: uint64(i*k + j)}
				switch typ {
				case models.FieldTypeBoolean:
					v.N &= 1
				case models.FieldTypeString:
					v.S = []byte{byte('a' + k%26)}
				}
				if err := a.Append(start+int64(k), v); err != nil {
					t.Fatal(err)
				}
			}
			arrs[fmt.Sprintf("f%d_%d", i, j)] = a
		}
	}
	dir := t.TempDir()
	v2, v3 := writeVersion(t, dir, 2, arrs), writeVersion(t, dir, 3, arrs)
	series := []byte("m,host=a")
	strip := func(ms []BlockMeta) []BlockMeta {
		out := make([]BlockMeta, len(ms))
		for i, m := range ms {
			out[i] = BlockMeta{MinTime: m.MinTime, MaxTime: m.MaxTime, Count: m.Count, Stats: m.Stats}
		}
		return out
	}
	for _, decodeEach := range []bool{true, false} {
		it2, it3 := v2.Iterator(), v3.Iterator()
		i := 0
		for it3.Next() {
			if !it2.Next() || !bytes.Equal(it2.Field(), it3.Field()) {
				t.Fatalf("key %d: version 3 iterator at %q, version 2 at %q", i, it3.Field(), it2.Field())
			}
			i++
			if !decodeEach && i%2 == 0 {
				continue // leave this key's entries undecoded
			}
			f := it3.Field()
			want := strip(v2.Entries(series, f))
			if got := strip(it3.Entries()); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: iterator entries %+v; want %+v", f, got, want)
			}
			if got := strip(v3.Entries(series, f)); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: lookup entries %+v; want %+v", f, got, want)
			}
			var got Array
			if err := v3.ReadValues(series, f, TimeRange{math.MinInt64, math.MaxInt64}, &got, nil); err != nil {
				t.Fatalf("%s: read: %v", f, err)
			}
			if a := arrs[string(f)]; fmt.Sprint(got) != fmt.Sprint(*a) {
				t.Errorf("%s: values %v; want %v", f, got, a)
			}
		}
		if i != len(arrs) {
			t.Fatalf("iterated %d keys; want %d", i, len(arrs))
		}
	}
	if v3.IndexSize() >= v2.IndexSize() || v3.dataEnd >= v2.dataEnd {
		t.Errorf("version 3 index %d, blocks %d bytes; want fewer than version 2's %d, %d",
			v3.IndexSize(), v3.dataEnd, v2.IndexSize(), v2.dataEnd)
	}
}

// allTypesInternal lists every column type.
var allTypesInternal = []models.FieldType{
	models.FieldTypeFloat, models.FieldTypeInteger, models.FieldTypeUnsigned,
	models.FieldTypeString, models.FieldTypeBoolean,
}

// TestWriteBlockInline: WriteBlock keeps a block of one or two values
// (not string) from its meta alone, so a copy of a file that skips
// reading its inline blocks, as a compaction does, holds the same values;
// a stored block still needs its bytes.
func TestWriteBlockInline(t *testing.T) {
	r := writeVersion(t, t.TempDir(), Version, smallBlockArrays())
	path := filepath.Join(t.TempDir(), "copy.tsm")
	w, err := NewWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	it := r.Iterator()
	inline := 0
	for it.Next() {
		for _, m := range it.Entries() {
			var raw []byte
			if m.Inline() {
				inline++
			} else if raw, err = r.ReadBlock(m); err != nil {
				t.Fatal(err)
			}
			if err := w.WriteBlock(it.Series(), it.Field(), it.Type(), m, raw); err != nil {
				t.Fatalf("%s: WriteBlock: %v", it.Field(), err)
			}
		}
	}
	if err := w.WriteBlock([]byte("z"), []byte("f"), models.FieldTypeFloat, BlockMeta{MinTime: 1, MaxTime: 3, Count: 3}, nil); !errors.Is(err, ErrInvalidBlock) {
		t.Errorf("WriteBlock of three values without bytes: got %v; want ErrInvalidBlock", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c := mustOpenInternal(t, path)
	if inline == 0 || c.dataEnd != r.dataEnd {
		t.Errorf("%d inline blocks; copy has %d bytes of blocks, original %d", inline, c.dataEnd, r.dataEnd)
	}
	for f, a := range smallBlockArrays() {
		var got Array
		if err := c.ReadValues([]byte("m,host=a"), []byte(f), TimeRange{math.MinInt64, math.MaxInt64}, &got, nil); err != nil {
			t.Fatalf("%s: read: %v", f, err)
		}
		if fmt.Sprint(got.Timestamps, got.Floats, got.Integers, got.Unsigneds, got.Booleans) !=
			fmt.Sprint(a.Timestamps, a.Floats, a.Integers, a.Unsigneds, a.Booleans) {
			t.Errorf("%s: copy holds %v; want %v", f, got, a)
		}
	}
}

// mustOpenInternal opens path and closes it at the end of the test.
func mustOpenInternal(t *testing.T, path string) *Reader {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestVersion4FieldDict: a version 4 file names each field record's key
// and type by a number in its field dictionary. Series that list the same
// fields, other fields, fewer fields and a field key under another type
// read back through the iterator, lookups, Type and CopyKey as the
// version 3 file of the same data, in fewer index bytes; a dictionary
// that does not fit, an unknown type in it or a record naming a number
// past it is refused.
func TestVersion4FieldDict(t *testing.T) {
	type key struct {
		series, field string
		typ           models.FieldType
	}
	var keys []key
	for s := range 40 {
		series := fmt.Sprintf("m,host=h%02d", s)
		fields := []string{"idle", "system", "user"}
		switch s % 5 {
		case 1:
			fields = []string{"idle", "user"}
		case 2:
			fields = []string{"a", "idle", "system", "user", "zz"}
		}
		for _, f := range fields {
			typ := models.FieldTypeFloat
			if f == "user" && s%4 == 3 {
				typ = models.FieldTypeInteger // the same key under another type
			}
			keys = append(keys, key{series, f, typ})
		}
	}
	write := func(version byte, copyFrom *Reader) *Reader {
		return writeTestFile(t, version, copyFrom, func(w *Writer) {
			for i, k := range keys {
				a := Array{Type: k.typ}
				for j := range 1 + i%3*600 {
					_ = a.Append(int64(1000+j*10), models.Value{Type: k.typ, N: uint64(i + j)})
				}
				if err := w.WriteValues([]byte(k.series), []byte(k.field), &a); err != nil {
					t.Fatalf("write %v: %v", k, err)
				}
			}
		})
	}
	v3 := write(3, nil)
	v4 := write(dictVersion, nil)
	copied := write(dictVersion, v3)
	if v4.version != dictVersion || len(v4.fields) != 6 {
		t.Fatalf("version %d file with %d dictionary fields; want version %d with 6", v4.version, len(v4.fields), dictVersion)
	}
	for _, r := range []*Reader{v4, copied} {
		it, i := r.Iterator(), 0
		for ; it.Next(); i++ {
			k := keys[i]
			if string(it.Series()) != k.series || string(it.Field()) != k.field || it.Type() != k.typ {
				t.Fatalf("key %d: iterator at %s/%s %s; want %v", i, it.Series(), it.Field(), it.Type(), k)
			}
			want := v3.Entries([]byte(k.series), []byte(k.field))
			if got := it.Entries(); len(got) != len(want) || got[0].MinTime != want[0].MinTime || got[len(got)-1].Stats != want[len(want)-1].Stats {
				t.Errorf("%v: entries %+v; want %+v", k, got, want)
			}
			if got := r.Type([]byte(k.series), []byte(k.field)); got != k.typ {
				t.Errorf("%v: Type %s", k, got)
			}
			var got, wantVals Array
			tr := TimeRange{math.MinInt64, math.MaxInt64}
			if err := r.ReadValues([]byte(k.series), []byte(k.field), tr, &got, nil); err != nil {
				t.Fatal(err)
			}
			if err := v3.ReadValues([]byte(k.series), []byte(k.field), tr, &wantVals, nil); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(wantVals) {
				t.Errorf("%v: values %v; want %v", k, got, wantVals)
			}
		}
		if i != len(keys) || r.KeyCount() != len(keys) {
			t.Errorf("iterated %d keys, KeyCount %d; want %d", i, r.KeyCount(), len(keys))
		}
	}
	if v4.IndexSize() >= v3.IndexSize()-int64(len(keys))*4 {
		t.Errorf("version 4 index %d bytes; want at least %d fewer than version 3's %d", v4.IndexSize(), len(keys)*4, v3.IndexSize())
	}

	data, err := os.ReadFile(v4.Path())
	if err != nil {
		t.Fatal(err)
	}
	ft, _ := parseFooter(data[len(data)-footerSize:])
	dictEnd := int(ft.indexOffset) + len(v4.records) + int(binary.LittleEndian.Uint32(data[int(ft.indexOffset+ft.indexSize)-4*v4.nSeries-4:])) + 4
	typeAt := dictEnd - 5 // the last field's type byte, before the u32 size
	wantCorruptEdits(t, data, ft, []indexEdit{
		{"dictionary size past the index", func(b []byte) { binary.LittleEndian.PutUint32(b[dictEnd-4:], 1<<30) }},
		{"unknown type", func(b []byte) { b[typeAt] = 9 }},
		{"number past the dictionary", func(b []byte) {
			// The first field record's number follows the series key
			// and the field count.
			d := newDecoder(b[ft.indexOffset:])
			d.bytes()
			d.uvarint()
			b[int(ft.indexOffset)+d.off] = 6
		}},
	})
}

// TestVersion5OneValueRecords: a version 5 file writes a key of one
// inline value as a one-value record, at the key's base time or at a gap
// from it (before it, too), and every other key as in version 4 (two
// values, many blocks, a string, field numbers past oneValueFields). The
// keys read back through the iterator, lookups and Type as the version 4
// file's, CopyKey copies them between the versions either way, the index
// is smaller by the bytes the records save, and a record of an unknown
// kind or a string one-value record is refused.
func TestVersion5OneValueRecords(t *testing.T) {
	type key struct {
		series, field string
		arr, more     *Array // more, if any, is written after arr: another block
	}
	var keys []key
	for s := range 30 {
		series := fmt.Sprintf("m,host=h%02d", s)
		nf := 4
		if s == 7 {
			nf = oneValueFields + 5 // numbers past what a one-byte head holds
		}
		for f := range nf {
			typ := []models.FieldType{models.FieldTypeFloat, models.FieldTypeInteger, models.FieldTypeUnsigned, models.FieldTypeBoolean}[(s+f)%4]
			if s == 9 && f == 2 {
				typ = models.FieldTypeString
			}
			a := &Array{Type: typ}
			t0 := int64(1_000_000)
			switch {
			case s%6 == 1 && f == 2:
				t0 -= 77 // before the previous key's time
			case s%6 == 2 && f > 0:
				t0 += int64(f) * 1 << 40 // gaps of several bytes
			}
			n := 1
			switch {
			case s%5 == 3 && f == 1:
				n = 2
			case s%5 == 4 && f == 3:
				n = 2500
			}
			for j := range n {
				v := models.Value{Type: typ, N: uint64(s*31 + f + j)}
				if typ == models.FieldTypeBoolean {
					v.N &= 1
				}
				if typ == models.FieldTypeString {
					v.S = []byte("x")
				}
				_ = a.Append(t0+int64(j)*10, v)
			}
			k := key{series: series, field: fmt.Sprintf("f%02d", f), arr: a}
			if s%7 == 6 && f < 2 && n == 1 && typ != models.FieldTypeString {
				// A one-value record that gets a second block, of one
				// value or of three.
				k.more = &Array{Type: typ}
				for j := range 1 + 2*f {
					_ = k.more.Append(t0+int64(100+j), a.Value(0))
				}
			}
			keys = append(keys, k)
		}
	}
	write := func(version byte, copyFrom *Reader) *Reader {
		return writeTestFile(t, version, copyFrom, func(w *Writer) {
			for _, k := range keys {
				for _, a := range []*Array{k.arr, k.more} {
					if a == nil {
						continue
					}
					if err := w.WriteValues([]byte(k.series), []byte(k.field), a); err != nil {
						t.Fatalf("write %s/%s: %v", k.series, k.field, err)
					}
				}
			}
		})
	}
	v4 := write(dictVersion, nil)
	v5 := write(oneValueVersion, nil)
	for _, r := range []*Reader{v5, write(oneValueVersion, v4), write(dictVersion, v5), write(oneValueVersion, v5)} {
		it, i := r.Iterator(), 0
		kinds := map[uint64]int{}
		for ; it.Next(); i++ {
			k := keys[i]
			kinds[it.rec.kind]++
			if string(it.Series()) != k.series || string(it.Field()) != k.field || it.Type() != k.arr.Type {
				t.Fatalf("v%d key %d: iterator at %s/%s %s; want %s/%s %s", r.version, i, it.Series(), it.Field(), it.Type(), k.series, k.field, k.arr.Type)
			}
			want := v4.Entries([]byte(k.series), []byte(k.field))
			if got := it.Entries(); !reflect.DeepEqual(got, want) {
				t.Errorf("v%d %s/%s: iterator entries %+v; want %+v", r.version, k.series, k.field, got, want)
			}
			if got := r.Entries([]byte(k.series), []byte(k.field)); !reflect.DeepEqual(got, want) {
				t.Errorf("v%d %s/%s: entries %+v; want %+v", r.version, k.series, k.field, got, want)
			}
			if got := r.Type([]byte(k.series), []byte(k.field)); got != k.arr.Type {
				t.Errorf("v%d %s/%s: Type %s", r.version, k.series, k.field, got)
			}
			var got Array
			if err := r.ReadValues([]byte(k.series), []byte(k.field), TimeRange{math.MinInt64, math.MaxInt64}, &got, nil); err != nil {
				t.Fatal(err)
			}
			want2 := *k.arr
			if k.more != nil {
				want2 = Array{Type: k.arr.Type}
				appendArray(&want2, k.arr, 0, k.arr.Len())
				appendArray(&want2, k.more, 0, k.more.Len())
				if len(want) != 2 {
					t.Errorf("v%d %s/%s: %d entries; want 2", r.version, k.series, k.field, len(want))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want2) {
				t.Errorf("v%d %s/%s: values %v; want %v", r.version, k.series, k.field, got, want2)
			}
		}
		if i != len(keys) || r.KeyCount() != len(keys) {
			t.Errorf("v%d: iterated %d keys, KeyCount %d; want %d", r.version, i, r.KeyCount(), len(keys))
		}
		if r.version == oneValueVersion && (kinds[recordOneAtBase] < 60 || kinds[recordOneWithGap] < 30 || kinds[recordBlocks] < 20) {
			t.Errorf("v%d: records by kind %v; want each kind", r.version, kinds)
		}
	}
	if saved := v4.IndexSize() - v5.IndexSize(); saved < 4*90 {
		t.Errorf("version 5 index %d bytes, version 4 %d; want at least %d fewer", v5.IndexSize(), v4.IndexSize(), 4*90)
	}

	data, err := os.ReadFile(v5.Path())
	if err != nil {
		t.Fatal(err)
	}
	ft, _ := parseFooter(data[len(data)-footerSize:])
	// The first record of h09's third field, a string: its head.
	d := newDecoder(data[ft.indexOffset:])
	d.off = int(binary.LittleEndian.Uint32(v5.offsets[4*9:]))
	d.bytes()
	d.uvarint()
	var rec fieldRec
	for range 2 {
		v5.fieldRecord(&d, &rec)
	}
	stringHead := int(ft.indexOffset) + d.off
	if v5.fieldRecord(&d, &rec); rec.typ != models.FieldTypeString || !d.ok {
		t.Fatalf("record %+v; want h09's string", rec)
	}
	wantCorruptEdits(t, data, ft, []indexEdit{
		{"unknown record kind", func(b []byte) { b[stringHead] |= 3 }},
		{"string one-value record", func(b []byte) { b[stringHead] |= recordOneAtBase }},
	})
}

// TestVersion6SeriesPrefix: a version 6 file stores each series key as
// the prefix it shares with its restart record's key and the rest. Keys
// longer and shorter than their neighbours, a key that is a prefix of
// the next, and many restart records read back through the iterator,
// SeriesKeys, lookups of present and absent keys and CopyKey as the
// version 5 file's, written with and without StableKeys, in fewer index
// bytes; a restart record with a prefix, or a prefix past its restart
// key, is refused.
func TestVersion6SeriesPrefix(t *testing.T) {
	var series []string
	for i := range 90 {
		s := fmt.Sprintf("cpu,dc=eu-%d,hostname=host_%04d,rack=%d", i/40, i*7, i%13)
		if i%17 == 5 {
			s = fmt.Sprintf("cpu,dc=eu-%d,hostname=host_%04d", i/40, i*7) // shorter than the keys around it
		}
		series = append(series, s)
		if i%23 == 0 {
			series = append(series, s+"x") // its predecessor is its prefix
		}
	}
	series = append(series, "d", "mem")
	slices.Sort(series)
	fields := [][]byte{[]byte("a"), []byte("b")}
	write := func(version byte, stable bool, copyFrom *Reader) *Reader {
		return writeTestFile(t, version, copyFrom, func(w *Writer) {
			if stable {
				w.StableKeys()
			}
			for i, s := range series {
				key := []byte(s)
				for j, f := range fields {
					a := Array{Type: models.FieldTypeInteger, Timestamps: []int64{int64(1000 + j)}, Integers: []int64{int64(i)}}
					if err := w.WriteValues(key, f, &a); err != nil {
						t.Fatalf("write %s: %v", s, err)
					}
				}
			}
		})
	}
	v5 := write(oneValueVersion, false, nil)
	v6 := write(prefixVersion, true, nil)
	for _, r := range []*Reader{v6, write(prefixVersion, false, nil), write(prefixVersion, false, v5), write(oneValueVersion, false, v6), write(prefixVersion, false, v6)} {
		var got []string
		for k := range r.SeriesKeys() {
			got = append(got, string(k))
		}
		if !slices.Equal(got, series) {
			t.Fatalf("v%d: SeriesKeys %q; want %q", r.version, got, series)
		}
		it, i := r.Iterator(), 0
		for ; it.Next(); i++ {
			s := series[i/len(fields)]
			if string(it.Series()) != s || string(it.Field()) != string(fields[i%len(fields)]) {
				t.Fatalf("v%d key %d: iterator at %s/%s; want %s/%s", r.version, i, it.Series(), it.Field(), s, fields[i%len(fields)])
			}
			want := v5.Entries([]byte(s), fields[i%len(fields)])
			if got := it.Entries(); !reflect.DeepEqual(got, want) {
				t.Errorf("v%d %s: iterator entries %+v; want %+v", r.version, s, got, want)
			}
		}
		if i != len(series)*len(fields) {
			t.Errorf("v%d: iterated %d keys; want %d", r.version, i, len(series)*len(fields))
		}
		for i, s := range series {
			if !r.HasSeries([]byte(s)) {
				t.Errorf("v%d: HasSeries(%q) false", r.version, s)
			}
			if got := r.Entries([]byte(s), fields[1]); len(got) != 1 || got[0].Stats.First != uint64(i) {
				t.Errorf("v%d %s: entries %+v; want the value %d", r.version, s, got, i)
			}
			for _, absent := range []string{s + "\x00", s[:len(s)-1], s + "y"} {
				if !slices.Contains(series, absent) && (r.HasSeries([]byte(absent)) || r.Entries([]byte(absent), fields[0]) != nil) {
					t.Errorf("v%d: absent series %q found", r.version, absent)
				}
			}
		}
		for _, absent := range []string{"", "a", "cpu", "cpu,dc=eu-9", "zzz"} {
			if r.HasSeries([]byte(absent)) {
				t.Errorf("v%d: absent series %q found", r.version, absent)
			}
		}
	}
	if v6.IndexSize() >= v5.IndexSize()-int64(len(series))*10 {
		t.Errorf("version 6 index %d bytes; want at least %d fewer than version 5's %d", v6.IndexSize(), len(series)*10, v5.IndexSize())
	}

	data, err := os.ReadFile(v6.Path())
	if err != nil {
		t.Fatal(err)
	}
	ft, _ := parseFooter(data[len(data)-footerSize:])
	record := func(i int) int { return int(ft.indexOffset) + int(binary.LittleEndian.Uint32(v6.offsets[4*i:])) }
	if data[record(1)] == 0 || data[record(restartInterval)] != 0 {
		t.Fatalf("prefixes %d of record 1, %d of record %d; want some, none", data[record(1)], data[record(restartInterval)], restartInterval)
	}
	wantCorruptEdits(t, data, ft, []indexEdit{
		{"restart record with a prefix", func(b []byte) { b[record(restartInterval)] = 1 }},
		{"prefix past the restart key", func(b []byte) { b[record(restartInterval+1)] = 120 }},
		{"keys out of order", func(b []byte) { b[record(2)]-- }},
	})
}
