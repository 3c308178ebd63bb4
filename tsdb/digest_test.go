package tsdb_test

import (
	"context"
	"maps"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

func digestPoints(n int) []models.Point {
	var pts []models.Point
	for i := range n {
		host := "h" + strconv.Itoa(i%13)
		ts := int64(i) * int64(7*time.Minute)
		pts = append(pts, pt(host, "v", ts, models.IntegerValue(int64(i))))
		pts = append(pts, pt(host, "s", ts, models.StringValue([]byte("x"+strconv.Itoa(i)))))
	}
	return pts
}

func digestConfig(dir string) tsdb.Config {
	cfg := testConfig(dir)
	cfg.DigestSeriesBuckets = 8
	cfg.DigestWindow = tsdb.Duration(time.Hour)
	return cfg
}

// TestDigestsIndependentOfLayout writes the same points into two shards in
// different orders, batchings and file layouts (with an overwrite and a
// deleted extra series on one side); the digests must be equal.
func TestDigestsIndependentOfLayout(t *testing.T) {
	ctx := context.Background()
	pts := digestPoints(500)
	_, a := openShard(t, digestConfig(t.TempDir()))
	must(t, a.WritePoints(context.Background(), pts), "write a")

	_, b := openShard(t, digestConfig(t.TempDir()))
	shuffled := append([]models.Point(nil), pts...)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	// An overwritten value and an extra, later deleted series.
	must(t, b.WritePoints(context.Background(), []models.Point{pt("h1", "v", int64(1)*int64(7*time.Minute), models.IntegerValue(-1))}), "write b stale")
	must(t, b.WritePoints(context.Background(), []models.Point{pt("gone", "v", 5, models.IntegerValue(1))}), "write b extra")
	for i := 0; i < len(shuffled); i += 100 {
		must(t, b.WritePoints(context.Background(), shuffled[i:min(i+100, len(shuffled))]), "write b")
		if i%300 == 0 {
			must(t, b.Snapshot(), "snapshot b")
		}
	}
	must(t, b.DeleteSeriesRange([][]byte{seriesKey("gone")}, 0, 10), "delete b")
	must(t, b.Compact(true), "compact b")

	da, err := a.Digests(ctx)
	must(t, err, "digests a")
	db, err := b.Digests(ctx)
	must(t, err, "digests b")
	if len(da) < 10 {
		t.Fatalf("digest buckets: got %d, want >= 10", len(da))
	}
	if !maps.Equal(da, db) {
		for k, v := range da {
			if db[k] != v {
				t.Errorf("bucket %+v differs", k)
			}
		}
		t.Fatalf("digests differ: %d vs %d buckets", len(da), len(db))
	}

	// One new value changes exactly its bucket, recomputed incrementally.
	extra := pt("h3", "v", 42, models.IntegerValue(7))
	must(t, a.WritePoints(context.Background(), []models.Point{extra}), "write extra")
	da2, err := a.Digests(ctx)
	must(t, err, "digests a again")
	want := tsdb.BucketID{SeriesBucket: tsdb.SeriesBucket(seriesKey("h3"), 8), WindowStart: 0}
	changed := 0
	for k, v := range da2 {
		if da[k] != v {
			changed++
			if k != want {
				t.Fatalf("bucket %+v changed, want only %+v", k, want)
			}
		}
	}
	if changed != 1 {
		t.Fatalf("changed buckets: got %d, want 1", changed)
	}

	// Copying that bucket's points to b makes the digests equal again.
	must(t, a.BucketPoints(want, func(p models.Point) error {
		return b.WritePoints(context.Background(), []models.Point{p})
	}), "bucket points")
	db2, err := b.Digests(ctx)
	must(t, err, "digests b again")
	if !maps.Equal(da2, db2) {
		t.Fatalf("digests after repair differ in %d buckets", len(da2)-countEqual(da2, db2))
	}

	// SeriesPoints yields the series' live values.
	n := 0
	must(t, a.SeriesPoints(seriesKey("h3"), 0, 1<<62, func(p models.Point) error {
		if string(p.Measurement) != "cpu" || string(p.Tags[0].Value) != "h3" {
			t.Fatalf("series point: got %s", p.String())
		}
		n++
		return nil
	}), "series points")
	// h3 holds i%13 == 3 for i in [0, 500): 39 points of two fields, plus extra.
	if n != 79 {
		t.Fatalf("series points of h3: got %d, want 79", n)
	}
}

func countEqual(a, b tsdb.DigestSet) int {
	n := 0
	for k, v := range a {
		if b[k] == v {
			n++
		}
	}
	return n
}

// TestApplyTombstonesKeepsCreated: a tombstone copied from another replica
// deletes what it covers and keeps its Created time, so both replicas
// hold the same tombstone.
func TestApplyTombstonesKeepsCreated(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	if err := sh.WritePoints(context.Background(), []models.Point{pt("a", "v", 10, models.IntegerValue(1)), pt("a", "v", 20, models.IntegerValue(2))}); err != nil {
		t.Fatal(err)
	}
	in := tsdb.Tombstone{SeriesKey: seriesKey("a"), Min: 0, Max: 15, Created: 12345}
	if err := sh.ApplyTombstones([]tsdb.Tombstone{in, {SeriesKey: nil, Min: 0, Max: 1}}); err != nil {
		t.Fatal(err)
	}
	ts := sh.Tombstones()
	if len(ts) != 1 || ts[0].Created != 12345 || ts[0].Min != 0 || ts[0].Max != 15 {
		t.Fatalf("tombstones after ApplyTombstones: %+v; want the one given, Created 12345", ts)
	}
	var got []int64
	if err := sh.SeriesPoints(seriesKey("a"), 0, 100, func(p models.Point) error { got = append(got, p.Time); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != 20 {
		t.Fatalf("values left: %v; want [20]", got)
	}
}
