package coordinator_test

import (
	"testing"

	"github.com/strata-db/strata/coordinator"
)

// TestDecodeSharesRepeatedSeries checks decoded points of a series repeated
// in a batch share their Measurement and Tags slices, as parsed points do,
// so the replica's storage engine builds each series key once per batch;
// points of other series, even with equal tag values, do not.
func TestDecodeSharesRepeatedSeries(t *testing.T) {
	pts := mustParse(t, "cpu,host=a,dc=x v=1 1\ncpu,host=b,dc=x v=2 1\ncpu,host=a,dc=x v=3 2\nmem,host=a,dc=x v=4 2\ncpu,host=a,dc=x w=5i 3\n")
	var d coordinator.PointsDecoder
	for round := range 2 { // the second Decode reuses the decoder's state
		got, err := d.Decode(coordinator.AppendPoints(nil, pts), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range pts {
			if got[i].String() != pts[i].String() {
				t.Fatalf("round %d point %d: got %q; want %q", round, i, got[i].String(), pts[i].String())
			}
		}
		same := func(i, j int) bool {
			return &got[i].Tags[0] == &got[j].Tags[0] && &got[i].Measurement[0] == &got[j].Measurement[0]
		}
		if !same(0, 2) || !same(0, 4) {
			t.Errorf("round %d: points 0, 2 and 4 (series cpu,host=a) do not share their series slices", round)
		}
		if &got[0].Tags[0] == &got[1].Tags[0] || &got[0].Tags[0] == &got[3].Tags[0] {
			t.Errorf("round %d: points of other series share point 0's tags", round)
		}
	}
}

// TestCodec_SeriesWithChangingFields round-trips a series whose points
// change their field keys back and forth (each change a new schema of the
// same series) between points of other series.
func TestCodec_SeriesWithChangingFields(t *testing.T) {
	pts := mustParse(t, "m,t=a v=1 1\nm,t=a w=2i 2\nm,t=b v=3 2\nm,t=a v=4 3\nm,t=a v=5,w=6i 4\nm,t=b v=7 5\nm,t=a w=8i 6\n")
	b := coordinator.AppendPoints(nil, pts)
	got, err := coordinator.DecodePoints(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pts {
		if got[i].String() != pts[i].String() {
			t.Fatalf("point %d: got %q; want %q", i, got[i].String(), pts[i].String())
		}
	}
	if &got[0].Tags[0] != &got[6].Tags[0] || &got[2].Tags[0] != &got[5].Tags[0] {
		t.Error("points of one series do not share their tags")
	}
}
