package tsm

import (
	"bytes"
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
	}{{"version 4", 4, 4}, {"version 0", 0, 0}, {"header 3, footer 2", 3, 2}, {"header 2, footer 1", 2, 1}, {"header 1, footer 2", 1, 2}} {
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
