package query_test

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/datasets"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/coordinator/query/querytest"
)

func loadDataset(t testing.TB, name string) *querytest.Store {
	t.Helper()
	f, err := os.Open(datasets.Path(t, name))
	if err != nil {
		t.Fatalf("open dataset: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("gunzip dataset: %v", err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("read dataset: %v", err)
	}
	st := querytest.NewStore(20 * time.Minute)
	if err := st.WriteLines("db0", "autogen", string(body)); err != nil {
		t.Fatalf("load dataset: %v", err)
	}
	return st
}

// TestDevopsDataset runs aggregates over TSBS devops data (integer and
// float fields, several measurements, 20-minute shards) through window
// pushdown and through raw points, and requires identical answers.
func TestDevopsDataset(t *testing.T) {
	st := loadDataset(t, "tsbs-devops-s10-1h.lp.gz")
	e := query.NewExecutor(query.NewConfig(), st, nil, nil)
	const rng = `time >= '2026-01-01T00:07:00Z' AND time < '2026-01-01T00:53:00Z'`
	for _, tc := range []struct{ m, f, group string }{
		{"cpu", "usage_user", "time(5m), hostname"},
		{"cpu", "usage_idle", "time(7m, 2m)"},
		{"mem", "used_percent", "time(10m), region"},
		{"diskio", "reads", "time(1m)"},
		{"redis", "used_memory", "time(15m), hostname"},
		{"cpu", "usage_system", "hostname"},
		{"disk", "used_percent", "path"},
	} {
		t.Run(tc.m+"."+tc.f, func(t *testing.T) {
			calls := fmt.Sprintf("count(%[1]s), sum(%[1]s), mean(%[1]s), min(%[1]s), max(%[1]s), first(%[1]s), last(%[1]s)", tc.f)
			pushed := fmt.Sprintf("SELECT %s FROM %s WHERE %s GROUP BY %s", calls, tc.m, rng, tc.group)
			raw := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s > -9000000000000000000 GROUP BY %s", calls, tc.m, rng, tc.f, tc.group)
			before := len(st.ScanRequests())
			got := exec(t, e, pushed)
			if st.ScanRequests()[before].Window == nil {
				t.Errorf("%s: not pushed down", pushed)
			}
			want := exec(t, e, raw)
			if got[0].Err != nil || want[0].Err != nil {
				t.Fatalf("errors: pushed %v, raw %v; want nil", got[0].Err, want[0].Err)
			}
			if len(got[0].Series) == 0 {
				t.Fatalf("%s: no series", pushed)
			}
			sameRows(t, got[0].Series, want[0].Series)
		})
	}
}

// sameRows compares two answers: same series and times, equal integers
// and strings, floats within 1e-9 relative (sums may add in another
// order).
func sameRows(t *testing.T, got, want []*query.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d series, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Name != w.Name || fmt.Sprint(g.Tags) != fmt.Sprint(w.Tags) || len(g.Values) != len(w.Values) {
			t.Fatalf("series %d: got %s %v (%d rows), want %s %v (%d rows)", i, g.Name, g.Tags, len(g.Values), w.Name, w.Tags, len(w.Values))
		}
		for r := range g.Values {
			for c := range g.Values[r] {
				gv, wv := g.Values[r][c], w.Values[r][c]
				gf, gok := gv.(float64)
				wf, wok := wv.(float64)
				if gok && wok {
					if !closeEnough(gf, wf) {
						t.Errorf("series %d row %d col %s: got %v, want %v", i, r, g.Columns[c], gv, wv)
					}
					continue
				}
				if gv != wv {
					t.Errorf("series %d row %d col %s: got %v (%T), want %v (%T)", i, r, g.Columns[c], gv, gv, wv, wv)
				}
			}
		}
	}
}
