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
