package query_test

import (
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/coordinator/query/querytest"
)

// TestMixedFieldTypes covers a field that is an integer in one shard and
// a float in another: numeric aggregates combine them as numbers.
func TestMixedFieldTypes(t *testing.T) {
	st := querytest.NewStore(time.Hour)
	// Two writes into different hour shards; the store keeps one type per
	// series field, so use two series of one group.
	if err := st.WriteLines("db0", "autogen", "m,s=1 x=2i 1767225600000000000\nm,s=2 x=0.5 1767229200000000000\n"); err != nil {
		t.Fatalf("WriteLines: got %v", err)
	}
	e := query.NewExecutor(query.NewConfig(), st, nil, nil)
	for _, tc := range []struct{ q, want string }{
		{`SELECT sum(x), spread(x), max(x), mean(x) FROM m`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","sum","spread","max","mean"],"values":[[0,2.5,1.5,2,1.25]]}]}]}`},
		{`SELECT sum(x) FROM m WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-02T00:00:00Z' GROUP BY time(1d)`,
			`{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","sum"],"values":[[1767225600,2.5]]}]}]}`},
	} {
		if got := execJSON(t, e, tc.q, "s"); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.q, got, tc.want)
		}
	}
}
