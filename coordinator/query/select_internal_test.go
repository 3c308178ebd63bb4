package query

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// TestMergeRuns merges random runs of time-ordered rows (empty runs and
// ties between and within runs included) and checks the order against a
// stable sort of the same rows: by time, ties kept in input order.
func TestMergeRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		var rows [][]any
		var times []int64
		var ends []int
		for range r.IntN(9) {
			t0 := r.Int64N(20)
			for range r.IntN(12) {
				t0 += r.Int64N(3) // 0 makes ties within a run
				rows = append(rows, []any{t0, len(rows)})
				times = append(times, t0)
			}
			ends = append(ends, len(rows))
		}
		want := slices.Clone(rows)
		slices.SortStableFunc(want, func(a, b []any) int { return int(a[0].(int64) - b[0].(int64)) })
		got := mergeRuns(rows, times, slices.Clone(ends))
		if len(got) != len(want) {
			t.Fatalf("trial %d: %d rows merged from %d", trial, len(got), len(want))
		}
		for i := range want {
			if got[i][1] != want[i][1] {
				t.Fatalf("trial %d (runs ending %v): row %d is input row %v at %v; want input row %v at %v",
					trial, ends, i, got[i][1], got[i][0], want[i][1], want[i][0])
			}
		}
	}
}

// TestCloneTags checks that the copy shares no byte with the batch's tags
// and that its slices, cut from one array, do not run into each other.
func TestCloneTags(t *testing.T) {
	src := models.Tags{{Key: []byte("empty"), Value: []byte{}}, {Key: []byte("host"), Value: []byte("a")}, {Key: []byte("region"), Value: []byte("east")}}
	got := cloneTags(src)
	for i := range src {
		for j := range src[i].Key {
			src[i].Key[j] = 'x'
		}
		for j := range src[i].Value {
			src[i].Value[j] = 'x'
		}
	}
	_ = append(got[0].Key, "zzzz"...)
	_ = append(got[1].Value, "zzzz"...)
	if want := "empty=,host=a,region=east"; tagsString(got) != want {
		t.Errorf("clone = %s, want %s", tagsString(got), want)
	}
}

func tagsString(tags models.Tags) string {
	var s []string
	for _, t := range tags {
		s = append(s, string(t.Key)+"="+string(t.Value))
	}
	return strings.Join(s, ",")
}
