package tsdb

import (
	"context"
	"testing"
	"time"

	"github.com/strata-db/strata/tsdb/models"
)

// TestDigestDirtyTracking checks that only buckets touched by writes and
// deletes since the last Digests call are recomputed.
func TestDigestDirtyTracking(t *testing.T) {
	sh := digestTestShard(t, t.TempDir(), 4)
	point := func(host string, ts int64) models.Point {
		return digestTestPoint(host, "v", ts, models.IntegerValue(ts))
	}
	hour := int64(time.Hour)
	if err := sh.WritePoints(context.Background(), []models.Point{point("a", 0), point("a", 3*hour), point("b", hour)}); err != nil {
		t.Fatalf("write: %v", err)
	}
	if sh.dig.all != true || len(sh.dig.dirty) != 0 || sh.dig.tracking() {
		t.Fatalf("before the first Digests: all=%v dirty=%d tracking=%v, want all=true, no marks, not tracking", sh.dig.all, len(sh.dig.dirty), sh.dig.tracking())
	}
	first, err := sh.Digests(context.Background())
	if err != nil {
		t.Fatalf("digests: %v", err)
	}
	if len(first) != 3 {
		t.Fatalf("buckets: got %d, want 3", len(first))
	}
	if err := sh.WritePoints(context.Background(), []models.Point{point("a", 3*hour+5)}); err != nil {
		t.Fatalf("write: %v", err)
	}
	want := BucketID{SeriesBucket: SeriesBucket([]byte("m,h=a"), 4), WindowStart: 3 * hour}
	if _, ok := sh.dig.dirty[want]; len(sh.dig.dirty) != 1 || !ok {
		t.Fatalf("dirty after one write: got %v, want only %+v", sh.dig.dirty, want)
	}
	// A delete marks the known buckets it overlaps.
	if err := sh.DeleteSeriesRange([][]byte{[]byte("m,h=a")}, -hour, hour); err != nil {
		t.Fatalf("delete: %v", err)
	}
	zero := BucketID{SeriesBucket: want.SeriesBucket, WindowStart: 0}
	if _, ok := sh.dig.dirty[zero]; len(sh.dig.dirty) != 2 || !ok {
		t.Fatalf("dirty after delete: got %v, want %+v and %+v", sh.dig.dirty, want, zero)
	}
	second, err := sh.Digests(context.Background())
	if err != nil {
		t.Fatalf("digests: %v", err)
	}
	if len(sh.dig.dirty) != 0 {
		t.Fatalf("dirty after Digests: got %d marks, want 0", len(sh.dig.dirty))
	}
	if _, ok := second[zero]; ok {
		t.Fatalf("emptied bucket %+v still has a digest", zero)
	}
	if second[want] == first[want] {
		t.Fatalf("bucket %+v digest unchanged after a new value", want)
	}
	other := BucketID{SeriesBucket: SeriesBucket([]byte("m,h=b"), 4), WindowStart: hour}
	if second[other] != first[other] {
		t.Fatalf("untouched bucket %+v changed", other)
	}
}
