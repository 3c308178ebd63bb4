package tsdb

import (
	"slices"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// TestDropDeletedAfter: only tombstones created after the accepted time
// drop values, a field tombstone drops only its field, and the caller's
// points are left as they were.
func TestDropDeletedAfter(t *testing.T) {
	var p models.Parser
	pts, err := p.Parse([]byte("cpu,host=a u=1,v=2 10\ncpu,host=a v=3 20\ncpu,host=b v=4 10\n"), models.PrecisionNanosecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := []Tombstone{
		{Created: 100, SeriesKey: []byte("cpu,host=a"), Field: []byte("v"), Min: 0, Max: 15}, // later: drops v of the first point
		{Created: 50, SeriesKey: []byte("cpu,host=b"), Min: 0, Max: 100},                     // earlier: drops nothing
	}
	got := dropDeletedAfter(ts, pts, 60)
	var desc []string
	for _, q := range got {
		for _, f := range q.Fields {
			desc = append(desc, string(q.AppendSeriesKey(nil))+" "+string(f.Key))
		}
	}
	if want := []string{"cpu,host=a u", "cpu,host=a v", "cpu,host=b v"}; !slices.Equal(desc, want) {
		t.Errorf("kept %q, want %q", desc, want)
	}
	if len(pts[0].Fields) != 2 || string(pts[0].Fields[1].Key) != "v" {
		t.Errorf("the caller's point was modified: %v", pts[0].Fields)
	}
	// A whole-series tombstone created after the write drops the point.
	ts = append(ts, Tombstone{Created: 70, SeriesKey: []byte("cpu,host=a"), Min: 20, Max: 20})
	if got := dropDeletedAfter(ts, pts, 60); len(got) != 2 || got[1].Time != 10 || string(got[1].Tags[0].Value) != "b" {
		t.Errorf("with a series tombstone: kept %v", got)
	}
	if got := dropDeletedAfter(ts, pts, 100); len(got) != 3 {
		t.Errorf("write accepted after every delete: kept %d points, want 3", len(got))
	}
}
