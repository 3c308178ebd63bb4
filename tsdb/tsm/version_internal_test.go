package tsm

import (
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

// TestVersion2SmallBlockStats: a version 2 file stores a numeric block of
// one or two values without its statistics, and reads back the very
// entries (statistics bit for bit) and values of a version 1 file of the
// same blocks, which still opens.
func TestVersion2SmallBlockStats(t *testing.T) {
	arrs := smallBlockArrays()
	dir := t.TempDir()
	v1 := writeVersion(t, dir, 1, arrs)
	v2 := writeVersion(t, dir, Version, arrs)
	if v1.version != 1 || v2.version != 2 {
		t.Fatalf("versions %d, %d; want 1, 2", v1.version, v2.version)
	}
	for f, a := range arrs {
		want := ComputeMeta(a)
		for _, r := range []*Reader{v1, v2} {
			ms := r.Entries([]byte("m,host=a"), []byte(f))
			if len(ms) != 1 {
				t.Fatalf("v%d %s: %d entries", r.version, f, len(ms))
			}
			if ms[0].Stats != want.Stats || ms[0].Count != want.Count || ms[0].MinTime != want.MinTime || ms[0].MaxTime != want.MaxTime {
				t.Errorf("v%d %s: entry %+v; want %+v", r.version, f, ms[0], want)
			}
			var got Array
			if err := r.ReadArray(ms[0], &got); err != nil {
				t.Fatalf("v%d %s: read: %v", r.version, f, err)
			}
			if fmt.Sprint(got.Timestamps, got.Floats, got.Integers, got.Unsigneds, got.Booleans) !=
				fmt.Sprint(a.Timestamps, a.Floats, a.Integers, a.Unsigneds, a.Booleans) {
				t.Errorf("v%d %s: values %v; want %v", r.version, f, got, a)
			}
		}
		if !reflect.DeepEqual(v1.Entries([]byte("m,host=a"), []byte(f)), v2.Entries([]byte("m,host=a"), []byte(f))) {
			t.Errorf("%s: version 1 and 2 entries differ", f)
		}
	}
	// One-value float blocks: 8 bytes of value instead of 40 of statistics.
	one := map[string]*Array{}
	for i := range 100 {
		one[fmt.Sprintf("f%03d", i)] = &Array{Type: models.FieldTypeFloat, Timestamps: []int64{1e18}, Floats: []float64{float64(i)}}
	}
	o1, o2 := writeVersion(t, t.TempDir(), 1, one), writeVersion(t, t.TempDir(), Version, one)
	if saved := o1.IndexSize() - o2.IndexSize(); saved != 100*32 {
		t.Errorf("index of 100 one-value float keys: version 1 %d bytes, version 2 %d; want 3200 fewer", o1.IndexSize(), o2.IndexSize())
	}
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
	}{{"version 3", 3, 3}, {"header 2, footer 1", 2, 1}, {"header 1, footer 2", 1, 2}} {
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
