package tsm_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// ints builds an integer array from (time, value) pairs.
func ints(pairs ...int64) *tsm.Array {
	a := &tsm.Array{Type: models.FieldTypeInteger}
	for i := 0; i < len(pairs); i += 2 {
		a.Timestamps = append(a.Timestamps, pairs[i])
		a.Integers = append(a.Integers, pairs[i+1])
	}
	return a
}

func TestMergeArrays(t *testing.T) {
	cases := []struct {
		name    string
		a, b    *tsm.Array
		want    *tsm.Array
		wantErr error
	}{
		{"disjoint after", ints(1, 10, 2, 20), ints(3, 30), ints(1, 10, 2, 20, 3, 30), nil},
		{"disjoint before", ints(5, 50), ints(1, 10, 2, 20), ints(1, 10, 2, 20, 5, 50), nil},
		{"interleaved", ints(1, 10, 3, 30, 5, 50), ints(2, 20, 4, 40), ints(1, 10, 2, 20, 3, 30, 4, 40, 5, 50), nil},
		{"b wins on equal", ints(1, 10, 2, 20, 3, 30), ints(2, -2, 3, -3, 4, -4), ints(1, 10, 2, -2, 3, -3, 4, -4), nil},
		{"empty a", &tsm.Array{}, ints(1, 1), ints(1, 1), nil},
		{"empty b", ints(1, 1), &tsm.Array{}, ints(1, 1), nil},
		{"type mismatch", ints(1, 1), &tsm.Array{Type: models.FieldTypeFloat, Timestamps: []int64{1}, Floats: []float64{1}}, nil, tsm.ErrTypeMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var dst tsm.Array
			err := tsm.MergeArrays(&dst, tc.a, tc.b)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("MergeArrays: got error %v; want %v", err, tc.wantErr)
			}
			if tc.want != nil && !equalArrays(&dst, tc.want) {
				t.Errorf("MergeArrays = %v/%v; want %v/%v", dst.Timestamps, dst.Integers, tc.want.Timestamps, tc.want.Integers)
			}
			if tc.wantErr != nil {
				return
			}
			// The Merge method gives the same answer.
			a := *tc.a
			a.Timestamps = append([]int64(nil), tc.a.Timestamps...)
			a.Integers = append([]int64(nil), tc.a.Integers...)
			if err := a.Merge(tc.b); err != nil || !equalArrays(&a, tc.want) {
				t.Errorf("Merge = %v/%v err=%v; want %v/%v", a.Timestamps, a.Integers, err, tc.want.Timestamps, tc.want.Integers)
			}
		})
	}
}

func TestExcludeInclude(t *testing.T) {
	base := func() *tsm.Array { return ints(1, 1, 2, 2, 3, 3, 4, 4, 5, 5) }
	cases := []struct {
		name     string
		op       func(a *tsm.Array)
		wantTime []int64
	}{
		{"exclude middle", func(a *tsm.Array) { a.Exclude(2, 3) }, []int64{1, 4, 5}},
		{"exclude between values", func(a *tsm.Array) { a.Exclude(6, 9) }, []int64{1, 2, 3, 4, 5}},
		{"exclude all", func(a *tsm.Array) { a.Exclude(math.MinInt64, math.MaxInt64) }, nil},
		{"exclude head", func(a *tsm.Array) { a.Exclude(0, 1) }, []int64{2, 3, 4, 5}},
		{"exclude tail to max", func(a *tsm.Array) { a.Exclude(4, math.MaxInt64) }, []int64{1, 2, 3}},
		{"exclude empty range", func(a *tsm.Array) { a.Exclude(3, 2) }, []int64{1, 2, 3, 4, 5}},
		{"include middle", func(a *tsm.Array) { a.Include(2, 4) }, []int64{2, 3, 4}},
		{"include none", func(a *tsm.Array) { a.Include(7, 9) }, nil},
		{"include all", func(a *tsm.Array) { a.Include(math.MinInt64, math.MaxInt64) }, []int64{1, 2, 3, 4, 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := base()
			tc.op(a)
			if len(a.Timestamps) != len(tc.wantTime) || len(a.Integers) != len(tc.wantTime) {
				t.Fatalf("got times %v values %v; want times %v", a.Timestamps, a.Integers, tc.wantTime)
			}
			for i, ts := range tc.wantTime {
				if a.Timestamps[i] != ts || a.Integers[i] != ts {
					t.Fatalf("got times %v values %v; want times and values %v", a.Timestamps, a.Integers, tc.wantTime)
				}
			}
		})
	}
}

func TestSortDedupe(t *testing.T) {
	a := ints(5, 1, 3, 2, 5, 3, 1, 4, 3, 5)
	a.SortDedupe()
	want := ints(1, 4, 3, 5, 5, 3)
	if !equalArrays(a, want) {
		t.Errorf("SortDedupe = %v/%v; want %v/%v (last write wins)", a.Timestamps, a.Integers, want.Timestamps, want.Integers)
	}
	s := &tsm.Array{Type: models.FieldTypeString, Timestamps: []int64{2, 1, 2}, Strings: [][]byte{[]byte("a"), []byte("b"), []byte("c")}}
	s.SortDedupe()
	if len(s.Strings) != 2 || string(s.Strings[0]) != "b" || string(s.Strings[1]) != "c" {
		t.Errorf("SortDedupe strings = %q; want [b c]", s.Strings)
	}
}

func TestArrayAppendValue(t *testing.T) {
	var a tsm.Array
	vals := []models.Value{models.FloatValue(1.5), models.FloatValue(-2)}
	for i, v := range vals {
		if err := a.Append(int64(i), v); err != nil {
			t.Fatalf("Append(%v): got error %v; want nil", v, err)
		}
	}
	if err := a.Append(9, models.IntegerValue(1)); !errors.Is(err, tsm.ErrTypeMismatch) {
		t.Errorf("Append(integer to float): got %v; want ErrTypeMismatch", err)
	}
	for i, v := range vals {
		if got := a.Value(i); !got.Equal(v) {
			t.Errorf("Value(%d) = %v; want %v", i, got, v)
		}
	}
	if err := a.Validate(); err != nil {
		t.Errorf("Validate: got %v; want nil", err)
	}
	a.Floats = a.Floats[:1]
	if err := a.Validate(); !errors.Is(err, tsm.ErrInvalidBlock) {
		t.Errorf("Validate(short values): got %v; want ErrInvalidBlock", err)
	}
}

func TestEncodeDecodeBlockAllTypes(t *testing.T) {
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			want := genArray(typ, 777, -5_000, 13, 99)
			blk, err := tsm.EncodeBlock(nil, want)
			if err != nil {
				t.Fatalf("EncodeBlock: got error %v; want nil", err)
			}
			var got tsm.Array
			got.Integers = []int64{42} // stale content must be replaced
			if err := tsm.DecodeBlock(blk, &got); err != nil {
				t.Fatalf("DecodeBlock: got error %v; want nil", err)
			}
			if !equalArrays(&got, want) {
				t.Errorf("DecodeBlock(EncodeBlock(x)) != x for %s (got %d values, want %d)", typ, got.Len(), want.Len())
			}
		})
	}
	if _, err := tsm.EncodeBlock(nil, &tsm.Array{Type: models.FieldTypeInteger}); !errors.Is(err, tsm.ErrInvalidBlock) {
		t.Errorf("EncodeBlock(empty): got %v; want ErrInvalidBlock", err)
	}
}

// TestSortDedupeMatchesReference checks the in-place sort against a plain
// reference (stable sort of indexes, last of equal timestamps wins) on
// random, nearly sorted, swapped-run and descending columns.
func TestSortDedupeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := map[string]func(i, n int) int64{
		"random":     func(i, n int) int64 { return rng.Int64N(int64(n)) },
		"few-values": func(i, n int) int64 { return rng.Int64N(4) },
		"descending": func(i, n int) int64 { return int64(n - i) },
		"nearly":     func(i, n int) int64 { return int64(i) + rng.Int64N(8) },
		"swapped-runs": func(i, n int) int64 { // runs of 37, each pair swapped
			if b := i / 37; b%2 == 0 {
				return int64((b+1)*37 + i%37)
			}
			return int64(i - 37)
		},
	}
	for name, gen := range shapes {
		for _, n := range []int{2, 3, 19, 20, 21, 41, 100, 1000, 4099} {
			a := &tsm.Array{Type: models.FieldTypeInteger}
			for i := range n {
				a.Timestamps = append(a.Timestamps, gen(i, n))
				a.Integers = append(a.Integers, int64(i)) // arrival order
			}
			want := referenceSortDedupe(a)
			a.SortDedupe()
			if !equalArrays(a, want) {
				t.Fatalf("%s/%d: SortDedupe differs from the reference:\n got %v/%v\nwant %v/%v", name, n, a.Timestamps, a.Integers, want.Timestamps, want.Integers)
			}
		}
	}
}

func referenceSortDedupe(a *tsm.Array) *tsm.Array {
	idx := make([]int, a.Len())
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(x, y int) bool { return a.Timestamps[idx[x]] < a.Timestamps[idx[y]] })
	out := &tsm.Array{Type: a.Type}
	for k, i := range idx {
		if k+1 < len(idx) && a.Timestamps[idx[k+1]] == a.Timestamps[i] {
			continue
		}
		out.Timestamps = append(out.Timestamps, a.Timestamps[i])
		out.Integers = append(out.Integers, a.Integers[i])
	}
	return out
}

// TestAppendArrayMemo reads blocks of several fields through one
// TimesMemo, in an order where the timestamps repeat, change and come
// back, and checks each against the block read alone; it also appends
// every block of a field to one array, which must equal the field's
// values.
func TestAppendArrayMemo(t *testing.T) {
	a := genArray(models.FieldTypeInteger, 1500, 1000, 10, 1)
	b := genArray(models.FieldTypeFloat, 1500, 1000, 10, 2)   // a's timestamps
	c := genArray(models.FieldTypeInteger, 1500, 1005, 10, 3) // shifted
	d := genArray(models.FieldTypeString, 1500, 1000, 10, 4)  // a's again
	cols := map[string]*tsm.Array{"a": a, "b": b, "c": c, "d": d}
	path := writeFile(t, t.TempDir(), "memo.tsm", []column{
		{"s", "a", a}, {"s", "b", b}, {"s", "c", c}, {"s", "d", d},
	})
	r := mustOpen(t, path)
	var memo tsm.TimesMemo
	for _, f := range []string{"a", "b", "c", "d", "a", "c"} {
		var all tsm.Array
		for _, m := range r.Entries([]byte("s"), []byte(f)) {
			var alone, memoed tsm.Array
			if err := r.ReadArray(m, &alone); err != nil {
				t.Fatal(err)
			}
			if err := r.AppendArrayMemo(m, &memoed, &memo); err != nil {
				t.Fatal(err)
			}
			if !equalArrays(&alone, &memoed) {
				t.Fatalf("field %s block @%d: read through the memo differs from the block read alone", f, m.Offset)
			}
			if err := r.AppendArrayMemo(m, &all, &memo); err != nil {
				t.Fatal(err)
			}
		}
		if !equalArrays(&all, cols[f]) {
			t.Fatalf("field %s: its blocks appended to one array differ from the values written", f)
		}
	}
}

// TestAppendArrayMemoTypeMismatch appends a block to values of another
// type: an error wrapping ErrCorrupt, and the values left as they were.
func TestAppendArrayMemoTypeMismatch(t *testing.T) {
	a := genArray(models.FieldTypeInteger, 100, 1000, 10, 1)
	path := writeFile(t, t.TempDir(), "mix.tsm", []column{{"s", "a", a}})
	r := mustOpen(t, path)
	before := genArray(models.FieldTypeFloat, 10, 0, 1, 2)
	got := before.Slice(0, before.Len())
	got.Timestamps, got.Floats = slices.Clone(got.Timestamps), slices.Clone(got.Floats)
	err := r.AppendArrayMemo(r.Entries([]byte("s"), []byte("a"))[0], &got, nil)
	if !errors.Is(err, tsm.ErrCorrupt) || !equalArrays(&got, before) {
		t.Fatalf("integer block appended to floats: err %v, %d values (want ErrCorrupt, the 10 values before)", err, got.Len())
	}
}

func TestArrayGrow(t *testing.T) {
	for _, typ := range allTypes {
		a := tsm.Array{Type: typ}
		a.Grow(100)
		src := genArray(typ, 100, 0, 1, 1)
		ts := a.Timestamps[:1]
		for i := range 100 {
			if err := a.Append(src.Timestamps[i], src.Value(i)); err != nil {
				t.Fatal(err)
			}
		}
		if &a.Timestamps[0] != &ts[0] || !equalArrays(&a, src) {
			t.Errorf("%v: Grow(100) then 100 appends reallocated or lost values", typ)
		}
	}
}
