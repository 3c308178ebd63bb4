package index_test

import (
	"errors"
	"testing"

	"github.com/strata-db/strata/tsdb/index"
)

// TestLimits checks max-series-per-database and max-values-per-tag on one
// index: a batch's points past a limit are rejected with InfluxDB's words
// and create nothing, the others are created, points of existing series
// still pass, and a reopened index keeps series past a lowered limit.
func TestLimits(t *testing.T) {
	dir := t.TempDir()
	ix := openIndex(t, dir)
	ix.SetLimits(index.Limits{MaxSeries: 3})
	pts := parse(t, "cpu,host=a v=1\ncpu,host=b v=1\ncpu,host=a v=2\ncpu,host=c v=1\ncpu,host=d v=1\nmem,host=a free=1")
	ids := make([]uint64, len(pts))
	conflicts, err := ix.CreateSeriesAndFields(pts, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(conflicts) != 2 || conflicts[0].Index != 4 || conflicts[1].Index != 5 {
		t.Fatalf("conflicts %v; want points 4 and 5 (the 4th and 5th new series)", conflicts)
	}
	var mse *index.MaxSeriesError
	if !errors.As(conflicts[0], &mse) || !errors.Is(conflicts[0], index.ErrLimitExceeded) ||
		conflicts[0].Err.Error() != "max-series-per-database limit exceeded: (3)" {
		t.Errorf("conflict %v; want InfluxDB's max-series-per-database error", conflicts[0])
	}
	if ids[4] != 0 || ids[5] != 0 || ids[0] == 0 || ids[0] != ids[2] {
		t.Errorf("ids %v; want 0 for the rejected points, one id for host=a", ids)
	}
	if ix.SeriesN() != 3 || len(ix.Measurements()) != 1 || len(ix.Fields([]byte("mem"))) != 0 {
		t.Errorf("index holds:\n%s\nwant 3 cpu series and nothing of mem", dump(ix))
	}
	create(t, ix, "cpu,host=c v=3") // an existing series passes at the limit

	// Values per tag, counted across the batch too.
	ix.SetLimits(index.Limits{MaxValuesPerTag: 4})
	pts = parse(t, "cpu,host=d v=1\ncpu,host=e v=1\ncpu,host=a,dc=x v=1\ncpu,dc=y,host=b v=1")
	conflicts, err = ix.CreateSeriesAndFields(pts, make([]uint64, len(pts)))
	if err != nil {
		t.Fatal(err)
	}
	want := `max-values-per-tag limit exceeded (4/4): measurement="cpu" tag="host" value="e"`
	if len(conflicts) != 1 || conflicts[0].Index != 1 || conflicts[0].Err.Error() != want {
		t.Fatalf("conflicts %v; want point 1: %s", conflicts, want)
	}
	if got := strs(ix.TagValues([]byte("cpu"), []byte("host"))); got != "a,b,c,d" {
		t.Errorf("host values %s; want a,b,c,d", got)
	}

	// Series are never refused when the index is reopened.
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix = openIndex(t, dir)
	ix.SetLimits(index.Limits{MaxSeries: 1, MaxValuesPerTag: 1})
	if n := ix.SeriesN(); n != 6 {
		t.Errorf("reopened index: %d series; want 6", n)
	}
	create(t, ix, "cpu,host=d v=5")
}
