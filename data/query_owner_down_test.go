package data_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/faultproxy"
)

// TestQueryWithAnOwnerUnreachable checks, on a 2-node RF 1 cluster, that
// a query through node 0 whose data is partly on node 1 answers an error
// once node 1 cannot be reached (plain, chunked, and a metadata
// statement): never a 200 with the part node 0 holds alone.
func TestQueryWithAnOwnerUnreachable(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 2})
	c.CreateDatabase("db", 1)
	var lines strings.Builder
	for h := range 40 {
		fmt.Fprintf(&lines, "m,host=h%d f=%d 1767225600000000000\n", h, h)
	}
	if code, resp := c.Write(0, params("db", "db", "consistency", "all"), lines.String()); code != 204 {
		t.Fatalf("write: %d %s", code, resp)
	}
	for i := range 2 {
		if len(c.ShardPoints(i)) == 0 {
			t.Fatalf("node %d holds no point: the test needs data on both nodes", i)
		}
	}
	const all = `"values":[["1970-01-01T00:00:00Z",40]]`
	if got := queryNode(t, c, 0, "db", `SELECT count(f) FROM m`); !strings.Contains(got, all) {
		t.Fatalf("count with both nodes up = %s, want 40", got)
	}

	c.SetLink(1, faultproxy.Refuse)
	for _, q := range []string{`SELECT count(f) FROM m`, `SELECT f FROM m`, `SHOW TAG VALUES FROM m WITH KEY = host`} {
		if got := queryNode(t, c, 0, "db", q); !strings.Contains(got, `"error":`) {
			t.Errorf("%s with node 1 unreachable answered %s, want an error", q, got)
		}
	}
	chunks := getQuery(t, c, 0, params("db", "db", "q", `SELECT f FROM m`, "chunked", "true", "chunk_size", "5"))
	if n := len(chunks); n == 0 || len(chunks[n-1].Results) != 1 || chunks[n-1].Results[0].Err == "" {
		t.Errorf("chunked SELECT with node 1 unreachable: %d chunks, the last %+v; want it to carry an error", n, chunks)
	}
}
