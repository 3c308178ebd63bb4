package index_test

import (
	"slices"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// TestSharedSeriesPoints checks the ids of points that share their series
// slices, as the parser returns repeated series, including one sharing the
// series of a point rejected for a field type conflict.
func TestSharedSeriesPoints(t *testing.T) {
	ix := openIndex(t, t.TempDir())
	create(t, ix, "cpu,host=a v=1 1\ncpu,host=b v=1 1\n")
	var p models.Parser
	pts, err := p.Parse([]byte("cpu,host=a v=1i 1\ncpu,host=a v=2 2\ncpu,host=b v=3 3\ncpu,host=b v=4 4\ncpu,host=a v=5 5\n"), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if &pts[1].Tags[0] != &pts[0].Tags[0] {
		t.Fatal("the parser no longer shares a repeated series' tags: this test needs points that do")
	}
	ids := make([]uint64, len(pts))
	conflicts, err := ix.CreateSeriesAndFields(pts, ids)
	if err != nil || len(conflicts) != 1 || conflicts[0].Index != 0 {
		t.Fatalf("got conflicts %v, error %v; want one conflict, point 0", conflicts, err)
	}
	if want := []uint64{0, 1, 2, 2, 1}; !slices.Equal(ids, want) {
		t.Fatalf("ids: got %v; want %v", ids, want)
	}
}
