package tsm_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

var allTypes = []models.FieldType{
	models.FieldTypeFloat, models.FieldTypeInteger, models.FieldTypeUnsigned,
	models.FieldTypeString, models.FieldTypeBoolean,
}

// genArray returns n values of type typ at times start, start+step, ...
func genArray(typ models.FieldType, n int, start, step int64, seed uint64) *tsm.Array {
	rng := rand.New(rand.NewPCG(seed, 7))
	a := &tsm.Array{Type: typ}
	for i := range n {
		a.Timestamps = append(a.Timestamps, start+int64(i)*step)
		switch typ {
		case models.FieldTypeFloat:
			a.Floats = append(a.Floats, math.Round(rng.NormFloat64()*1000)/10)
		case models.FieldTypeInteger:
			a.Integers = append(a.Integers, rng.Int64N(2000)-1000)
		case models.FieldTypeUnsigned:
			a.Unsigneds = append(a.Unsigneds, rng.Uint64N(1<<40))
		case models.FieldTypeString:
			a.Strings = append(a.Strings, fmt.Appendf(nil, "s%d", rng.IntN(50)))
		case models.FieldTypeBoolean:
			a.Booleans = append(a.Booleans, rng.IntN(2) == 1)
		}
	}
	return a
}

// norm returns a copy of a with empty slices set to nil, for DeepEqual.
func norm(a *tsm.Array) tsm.Array {
	c := *a
	if len(c.Timestamps) == 0 {
		c.Timestamps = nil
	}
	if len(c.Floats) == 0 {
		c.Floats = nil
	}
	if len(c.Integers) == 0 {
		c.Integers = nil
	}
	if len(c.Unsigneds) == 0 {
		c.Unsigneds = nil
	}
	if len(c.Strings) == 0 {
		c.Strings = nil
	}
	if len(c.Booleans) == 0 {
		c.Booleans = nil
	}
	return c
}

// equalArrays reports whether a and b hold the same type and values
// (NaN-aware through DeepEqual on bit patterns is not needed: genArray
// produces no NaN).
func equalArrays(a, b *tsm.Array) bool {
	return reflect.DeepEqual(norm(a), norm(b))
}

// column is one key's content for building test files.
type column struct {
	series, field string
	arr           *tsm.Array
}

// writeFile writes cols (already in key order) with WriteValues and returns
// the path.
func writeFile(t testing.TB, dir, name string, cols []column) string {
	t.Helper()
	path := filepath.Join(dir, name)
	w, err := tsm.NewWriter(path)
	if err != nil {
		t.Fatalf("NewWriter(%q): got error %v; want nil", path, err)
	}
	for _, c := range cols {
		if err := w.WriteValues([]byte(c.series), []byte(c.field), c.arr); err != nil {
			t.Fatalf("WriteValues(%q, %q): got error %v; want nil", c.series, c.field, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: got error %v; want nil", err)
	}
	return path
}

// mustOpen opens path and registers Close with t.Cleanup.
func mustOpen(t testing.TB, path string) *tsm.Reader {
	t.Helper()
	r, err := tsm.Open(path)
	if err != nil {
		t.Fatalf("Open(%q): got error %v; want nil", path, err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// readColumn decodes all blocks of (series, field) into one array.
func readColumn(t testing.TB, r *tsm.Reader, series, field string) *tsm.Array {
	t.Helper()
	out := &tsm.Array{}
	var blk tsm.Array
	for _, m := range r.Entries([]byte(series), []byte(field)) {
		if err := r.ReadArray(m, &blk); err != nil {
			t.Fatalf("ReadArray(%q/%q @%d): got error %v; want nil", series, field, m.Offset, err)
		}
		if err := out.Merge(&blk); err != nil {
			t.Fatalf("Merge: got error %v; want nil", err)
		}
	}
	return out
}
