package index_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-db/strata/tsdb/index"
	"github.com/strata-db/strata/tsdb/models"
)

// parse parses line protocol into independent points.
func parse(t testing.TB, lp string) []models.Point {
	t.Helper()
	var p models.Parser
	pts, err := p.Parse([]byte(lp), 1, 1)
	if err != nil {
		t.Fatalf("parse %q: %v", lp, err)
	}
	out := make([]models.Point, len(pts))
	for i := range pts {
		out[i] = pts[i].Clone()
	}
	return out
}

func openIndex(t testing.TB, dir string) *index.Index {
	t.Helper()
	ix, err := index.Open(dir, nil)
	if err != nil {
		t.Fatalf("Open(%s): got error %v; want none", dir, err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// create indexes lp and fails on conflicts or errors; it returns the ids.
func create(t testing.TB, ix *index.Index, lp string) []uint64 {
	t.Helper()
	pts := parse(t, lp)
	ids := make([]uint64, len(pts))
	conflicts, err := ix.CreateSeriesAndFields(pts, ids)
	if err != nil || len(conflicts) != 0 {
		t.Fatalf("CreateSeriesAndFields(%q): got conflicts %v, error %v; want none", lp, conflicts, err)
	}
	return ids
}

// keysOf renders the series keys of ids, for readable comparisons.
func keysOf(ix *index.Index, ids []uint64) string {
	var keys []string
	for _, id := range ids {
		keys = append(keys, string(ix.SeriesKey(id)))
	}
	return strings.Join(keys, " | ")
}

func strs(bs [][]byte) string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b))
	}
	return strings.Join(out, ",")
}

// dump renders the whole observable state of an index.
func dump(ix *index.Index) string {
	var b strings.Builder
	fmt.Fprintf(&b, "series=%d\n", ix.SeriesN())
	for _, m := range ix.Measurements() {
		fmt.Fprintf(&b, "measurement %s: %s\n", m, keysOf(ix, ix.MeasurementSeriesIDs(m)))
		fmt.Fprintf(&b, "  ids %v\n", ix.MeasurementSeriesIDs(m))
		for _, k := range ix.TagKeys(m) {
			fmt.Fprintf(&b, "  tag %s: %s\n", k, strs(ix.TagValues(m, k)))
		}
		for _, f := range ix.Fields(m) {
			fmt.Fprintf(&b, "  field %s %s\n", f.Name, f.Type)
		}
	}
	return b.String()
}
