package data_test

import (
	"bufio"
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/datasets"

	"github.com/strata-db/strata/data/clustertest"
)

// writeFile posts a gzipped line-protocol file to node i in batches, at
// consistency all, so every replica holds each batch when it is answered
// (and the next one is sent).
func writeFile(t testing.TB, c *clustertest.Cluster, i int, db, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var b strings.Builder
	n := 0
	flush := func() {
		if code, resp := c.Write(i, params("db", db, "consistency", "all"), b.String()); code != 204 {
			t.Fatalf("write batch: %d %s", code, resp)
		}
		b.Reset()
		n = 0
	}
	for sc.Scan() {
		b.Write(sc.Bytes())
		b.WriteByte('\n')
		if n++; n == 5000 {
			flush()
		}
	}
	if n > 0 {
		flush()
	}
}

// queryNode runs q against node i and returns the JSON body.
func queryNode(t *testing.T, c *clustertest.Cluster, i int, db, q string) string {
	t.Helper()
	resp, err := http.Get(c.URL(i) + "/query?" + url.Values{"db": {db}, "q": {q}}.Encode())
	if err != nil {
		t.Fatalf("query node %d: %v", i, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestQueriesAgreeAcrossNodes writes the TSBS devops file to a 3-node RF 2
// cluster and checks that every node answers a set of queries the same,
// and still does with one data node stopped.
func TestQueriesAgreeAcrossNodes(t *testing.T) {
	path := datasets.Path(t, "tsbs-devops-s10-1h.lp.gz")
	c := clustertest.New(t, clustertest.Options{Data: 3})
	c.CreateDatabase("devops", 2)
	writeFile(t, c, 0, "devops", path)

	queries := []string{
		`SHOW MEASUREMENTS`,
		`SHOW TAG KEYS FROM cpu`,
		`SHOW TAG VALUES FROM cpu WITH KEY = hostname`,
		`SHOW FIELD KEYS FROM mem`,
		`SELECT count(usage_user) FROM cpu`,
		`SELECT count(usage_user) FROM cpu GROUP BY hostname`,
		`SELECT max(usage_user) FROM cpu WHERE hostname = 'host_3' AND time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:10:00Z' GROUP BY time(1m)`,
		`SELECT mean(usage_idle) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(10m), hostname`,
		`SELECT percentile(usage_system, 90), median(usage_system), stddev(usage_system) FROM cpu`,
		`SELECT * FROM cpu WHERE hostname = 'host_1' ORDER BY time DESC LIMIT 1`,
		`SELECT last(used_percent) FROM mem GROUP BY hostname`,
	}
	want := make([]string, len(queries))
	for qi, q := range queries {
		want[qi] = queryNode(t, c, 0, "devops", q)
		if strings.Contains(want[qi], `"error"`) || !strings.Contains(want[qi], `"series"`) {
			t.Errorf("%s\nanswered %s; want series", q, want[qi])
		}
	}
	check := func(nodes ...int) {
		t.Helper()
		for _, i := range nodes {
			for qi, q := range queries {
				if got := queryNode(t, c, i, "devops", q); got != want[qi] {
					t.Errorf("node %d answers %s\ndifferently:\n got %s\nwant %s", i, q, got, want[qi])
				}
			}
		}
	}
	check(1, 2)
	c.Stop(2)
	check(0, 1)
}
