package tsm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// model is the expected content of a key: time -> value.
type model map[int64]models.Value

// keyOf joins series and field for map keys.
func keyOf(series, field string) string { return series + "\x00" + field }

// modelArray returns m as a sorted array of type typ.
func modelArray(typ models.FieldType, m model) *tsm.Array {
	ts := make([]int64, 0, len(m))
	for t := range m {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	a := &tsm.Array{Type: typ}
	for _, t := range ts {
		_ = a.Append(t, m[t])
	}
	return a
}

// mergeAndRead merges files into a new file and returns its reader.
func mergeAndRead(t *testing.T, dir string, paths []string, opts tsm.MergeOptions) *tsm.Reader {
	t.Helper()
	var readers []*tsm.Reader
	for _, p := range paths {
		readers = append(readers, mustOpen(t, p))
	}
	out := filepath.Join(dir, "merged.tsm")
	w, err := tsm.NewWriter(out)
	if err != nil {
		t.Fatalf("NewWriter: got error %v; want nil", err)
	}
	if err := tsm.Merge(context.Background(), w, readers, opts); err != nil {
		_ = w.Remove()
		t.Fatalf("Merge: got error %v; want nil", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: got error %v; want nil", err)
	}
	return mustOpen(t, out)
}

// TestMergeRandom merges randomly overlapping files and compares with a
// map model: newest file wins, tombstones drop values of their own file
// only, keys stay sorted, and every block but a key's last is full.
func TestMergeRandom(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			dir := t.TempDir()
			nFiles := 2 + rng.IntN(3)
			series := []string{"cpu,host=a", "cpu,host=b", "mem,host=a"}
			fields := []string{"f", "g"}
			want := map[string]model{}
			// Deleted ranges per file and key; the last file has none, so
			// its values in deleted ranges must survive.
			dead := map[string][]tsm.TimeRange{}
			deadKey := func(f int, k string) string { return fmt.Sprint(f) + "/" + k }
			for f := range nFiles - 1 {
				dead[deadKey(f, keyOf("cpu,host=a", "f"))] = []tsm.TimeRange{{Min: 100, Max: 250}, {Min: 2000, Max: 2100}}
				dead[deadKey(f, keyOf("cpu,host=b", "g"))] = []tsm.TimeRange{{Min: -1 << 62, Max: 1 << 62}}
			}
			dead[deadKey(0, keyOf("mem,host=a", "f"))] = []tsm.TimeRange{{Min: 0, Max: 1500}}
			isDead := func(f int, k string, t int64) bool {
				for _, r := range dead[deadKey(f, k)] {
					if t >= r.Min && t <= r.Max {
						return true
					}
				}
				return false
			}
			types := map[string]models.FieldType{}
			var paths []string
			for f := range nFiles {
				var cols []column
				for si, s := range series {
					for fi, fl := range fields {
						if rng.IntN(4) == 0 {
							continue // key absent from this file
						}
						typ := allTypes[(si*2+fi)%len(allTypes)]
						if s == "mem,host=a" && fl == "g" && f == nFiles-1 {
							typ = models.FieldTypeFloat // newest file changes the type
						}
						n := rng.IntN(2600)
						if n == 0 {
							continue
						}
						start := int64(rng.IntN(3000))
						arr := genArray(typ, n, start, 1+int64(rng.IntN(2)), seed*100+uint64(f*10+si*2+fi))
						cols = append(cols, column{s, fl, arr})
						k := keyOf(s, fl)
						if types[k] != typ {
							want[k] = model{} // a type change drops older values
							types[k] = typ
						}
						for i := range arr.Len() {
							if !isDead(f, k, arr.Timestamps[i]) {
								want[k][arr.Timestamps[i]] = arr.Value(i)
							}
						}
					}
				}
				paths = append(paths, writeFile(t, dir, fmt.Sprintf("%d.tsm", f), cols))
			}
			tomb := func(f int, s, fl []byte) []tsm.TimeRange { return dead[deadKey(f, keyOf(string(s), string(fl)))] }
			keysDone := 0
			r := mergeAndRead(t, dir, paths, tsm.MergeOptions{Tombstones: tomb, AfterKey: func(int64) error { keysDone++; return nil }})
			if keysDone == 0 {
				t.Errorf("AfterKey called %d times; want > 0", keysDone)
			}

			seen := map[string]bool{}
			it := r.Iterator()
			var prev string
			for it.Next() {
				k := keyOf(string(it.Series()), string(it.Field()))
				if k <= prev {
					t.Fatalf("keys out of order: %q after %q", k, prev)
				}
				prev = k
				seen[k] = true
				ents := it.Entries()
				for i, e := range ents[:len(ents)-1] {
					if e.Count != tsm.MaxPointsPerBlock {
						t.Errorf("key %q block %d of %d holds %d values; want %d", k, i, len(ents), e.Count, tsm.MaxPointsPerBlock)
					}
				}
				if it.Type() != types[k] {
					t.Errorf("key %q type %s; want %s", k, it.Type(), types[k])
				}
				got := readColumn(t, r, string(it.Series()), string(it.Field()))
				if w := modelArray(types[k], want[k]); !equalArrays(got, w) {
					t.Errorf("key %q: got %d values; want %d (contents differ)", k, got.Len(), w.Len())
				}
			}
			for k, m := range want {
				if len(m) > 0 && !seen[k] {
					t.Errorf("key %q with %d values missing from merged file", k, len(m))
				}
			}
		})
	}
}

func TestMergeRawCopyFastPath(t *testing.T) {
	dir := t.TempDir()
	old := genArray(models.FieldTypeInteger, 3000, 0, 10, 1)
	newer := genArray(models.FieldTypeInteger, 2000, 30_000, 10, 2) // after old, no overlap
	p1 := writeFile(t, dir, "1.tsm", []column{{"s", "f", old}})
	p2 := writeFile(t, dir, "2.tsm", []column{{"s", "f", newer}})
	r1, r2 := mustOpen(t, p1), mustOpen(t, p2)
	r := mergeAndRead(t, dir, []string{p1, p2}, tsm.MergeOptions{})
	got := r.Entries([]byte("s"), []byte("f"))
	var inputs [][]byte
	for _, in := range []*tsm.Reader{r1, r2} {
		for _, m := range in.Entries([]byte("s"), []byte("f")) {
			b, err := in.ReadBlock(m)
			if err != nil {
				t.Fatalf("ReadBlock: got error %v; want nil", err)
			}
			inputs = append(inputs, b)
		}
	}
	if len(got) != len(inputs) {
		t.Fatalf("merged file has %d blocks; want %d", len(got), len(inputs))
	}
	for i, m := range got {
		b, err := r.ReadBlock(m)
		if err != nil {
			t.Fatalf("ReadBlock: got error %v; want nil", err)
		}
		if !bytes.Equal(b, inputs[i]) {
			t.Errorf("block %d was re-encoded; want raw copy of the input block", i)
		}
	}
}

func TestMergeCancelled(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "1.tsm", []column{{"s", "f", genArray(models.FieldTypeInteger, 10, 0, 1, 1)}})
	w, err := tsm.NewWriter(filepath.Join(dir, "out.tsm"))
	if err != nil {
		t.Fatalf("NewWriter: got error %v; want nil", err)
	}
	defer w.Remove()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tsm.Merge(ctx, w, []*tsm.Reader{mustOpen(t, p)}, tsm.MergeOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Merge(cancelled ctx): got %v; want context.Canceled", err)
	}
	errStop := errors.New("stop")
	err = tsm.Merge(context.Background(), w, []*tsm.Reader{mustOpen(t, p)}, tsm.MergeOptions{AfterKey: func(int64) error { return errStop }})
	if !errors.Is(err, errStop) {
		t.Errorf("Merge(AfterKey error): got %v; want the AfterKey error", err)
	}
}
