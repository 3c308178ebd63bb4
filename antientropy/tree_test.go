package antientropy_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// testData is a few series over three windows.
func testData() []models.Point {
	var pts []models.Point
	for _, h := range []string{"a", "b", "c", "d", "e"} {
		pts = append(pts, series(h, base, 1000, func(i int) int64 { return int64(i * len(h)) })...)
	}
	return pts
}

func openTestShard(t testing.TB) *tsdb.Shard {
	t.Helper()
	st := tsdb.NewStore(storageConfig(t.TempDir()), nil, prometheus.NewRegistry())
	if err := st.Open(); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateShard(1); err != nil {
		t.Fatalf("create: %v", err)
	}
	return st.Shard(1)
}

func rootOf(t *testing.T, sh *tsdb.Shard) tsdb.Digest {
	t.Helper()
	ds, err := sh.Digests(context.Background())
	if err != nil {
		t.Fatalf("digests: %v", err)
	}
	tr := antientropy.NewTree(storageConfig("").DigestSeriesBuckets, int64(time.Hour))
	tr.Update(ds)
	return tr.Root(1 << 62)
}

// TestTreeLayoutIndependent writes the same values into one shard in one
// batch kept in the cache and into another in many batches snapshotted and
// compacted along the way: the roots are equal.
func TestTreeLayoutIndependent(t *testing.T) {
	pts := testData()
	a := openTestShard(t)
	if err := a.WritePoints(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	b := openTestShard(t)
	for i := len(pts); i > 0; i -= 700 { // newest batches first: out of order too
		if err := b.WritePoints(context.Background(), pts[max(0, i-700):i]); err != nil {
			t.Fatal(err)
		}
		if err := b.Snapshot(); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Compact(true); err != nil {
		t.Fatal(err)
	}
	if ra, rb := rootOf(t, a), rootOf(t, b); ra != rb || ra == (tsdb.Digest{}) {
		t.Fatalf("roots of the same data in different layouts: %x and %x; want equal and non-zero", ra, rb)
	}
}

// TestTreeSingleChange checks that any single changed, missing or extra
// value changes the root, and that Update reports only the changed leaf.
func TestTreeSingleChange(t *testing.T) {
	pts := testData()
	ref := openTestShard(t)
	if err := ref.WritePoints(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	want := rootOf(t, ref)
	cases := []struct {
		name string
		edit func(pts []models.Point) []models.Point
	}{
		{"changed", func(p []models.Point) []models.Point {
			p[1234].Fields = []models.Field{{Key: []byte("usage"), Value: models.IntegerValue(-1)}}
			return p
		}},
		{"missing", func(p []models.Point) []models.Point { return append(p[:4321:4321], p[4322:]...) }},
		{"extra", func(p []models.Point) []models.Point {
			return append(p, pt("a", "usage", base+5, models.IntegerValue(7)))
		}},
		{"extra field", func(p []models.Point) []models.Point {
			return append(p, pt("a", "idle", base, models.IntegerValue(0)))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sh := openTestShard(t)
			if err := sh.WritePoints(context.Background(), tc.edit(append([]models.Point(nil), pts...))); err != nil {
				t.Fatal(err)
			}
			if got := rootOf(t, sh); got == want {
				t.Fatalf("root unchanged (%x) after a %s value", got, tc.name)
			}
		})
	}
}

// TestTreeUpdateRehashesDirtyLeaves checks Update's change count and that
// an incrementally updated tree equals one built from scratch.
func TestTreeUpdateRehashesDirtyLeaves(t *testing.T) {
	sh := openTestShard(t)
	if err := sh.WritePoints(context.Background(), testData()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ds, _ := sh.Digests(ctx)
	tr := antientropy.NewTree(64, int64(time.Hour))
	if n := tr.Update(ds); n != len(ds) {
		t.Fatalf("first Update changed %d leaves; want all %d", n, len(ds))
	}
	ds, _ = sh.Digests(ctx)
	if n := tr.Update(ds); n != 0 {
		t.Fatalf("Update of unchanged digests changed %d leaves; want 0", n)
	}
	if err := sh.WritePoints(context.Background(), []models.Point{pt("b", "usage", base+3, models.IntegerValue(1))}); err != nil {
		t.Fatal(err)
	}
	ds, _ = sh.Digests(ctx)
	if n := tr.Update(ds); n != 1 {
		t.Fatalf("Update after one write changed %d leaves; want 1", n)
	}
	fresh := antientropy.NewTree(64, int64(time.Hour))
	fresh.Update(ds)
	if tr.Root(1<<62) != fresh.Root(1<<62) {
		t.Fatal("incrementally updated root differs from a fresh build")
	}
	// Roots over a prefix of windows ignore later windows.
	if tr.Root(base+int64(time.Hour)) == tr.Root(1<<62) {
		t.Fatal("root over the first window equals the root over all three")
	}
}
