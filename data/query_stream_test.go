package data_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/datasets"
)

// queryResponse is the part of a /query answer these tests read.
type queryResponse struct {
	Results []struct {
		StatementID int `json:"statement_id"`
		Series      []struct {
			Name    string  `json:"name"`
			Values  [][]any `json:"values"`
			Partial bool    `json:"partial"`
		} `json:"series"`
		Partial bool   `json:"partial"`
		Err     string `json:"error"`
	} `json:"results"`
}

// getQuery runs /query on node i with p and decodes its answer: one
// object, or one per line when chunked.
func getQuery(t *testing.T, c *clustertest.Cluster, i int, p url.Values) []queryResponse {
	t.Helper()
	resp, err := http.Get(c.URL(i) + "/query?" + p.Encode())
	if err != nil {
		t.Fatalf("query node %d: %v", i, err)
	}
	defer resp.Body.Close()
	var out []queryResponse
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<20), 64<<20)
	for sc.Scan() {
		var r queryResponse
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("decode %.200s: %v", sc.Bytes(), err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return out
}

// TestQueryRowLimitAndChunks loads a TSBS file into two data nodes (RF 1,
// so the query reads half of it over the RPC) with max-row-limit set:
// the non-chunked SELECT * is cut at the limit with InfluxDB's partial
// marks, while the chunked one streams every row, in full chunks marked
// partial but the last, the same rows in the same order as a query
// under the limit shows.
func TestQueryRowLimitAndChunks(t *testing.T) {
	path := datasets.Path(t, "tsbs-cpu-only-s10-1h.lp.gz")
	const limit = 1000
	c := clustertest.New(t, clustertest.Options{Data: 2, Configure: func(_ int, cfg *data.Config) {
		cfg.HTTP.MaxRowLimit = limit
	}})
	c.CreateDatabase("tsbs", 1)
	writeFile(t, c, 1, "tsbs", path)

	cut := getQuery(t, c, 0, params("db", "tsbs", "q", `SELECT * FROM /.*/`, "epoch", "ns"))
	if len(cut) != 1 || len(cut[0].Results) != 1 || len(cut[0].Results[0].Series) != 1 {
		t.Fatalf("non-chunked: got %+v, want one series", cut)
	}
	if s := cut[0].Results[0].Series[0]; len(s.Values) != limit || !s.Partial {
		t.Errorf("non-chunked: %d rows, partial %t; want %d, partial", len(s.Values), s.Partial, limit)
	}

	chunks := getQuery(t, c, 0, params("db", "tsbs", "q", `SELECT * FROM /.*/`, "epoch", "ns", "chunked", "true", "chunk_size", "500"))
	var rows [][]any
	for i, ch := range chunks {
		if len(ch.Results) != 1 || len(ch.Results[0].Series) != 1 || ch.Results[0].Err != "" {
			t.Fatalf("chunk %d: got %+v, want one series", i, ch)
		}
		last := i == len(chunks)-1
		if r := ch.Results[0]; r.Partial == last || r.Series[0].Partial == last || (!last && len(r.Series[0].Values) != 500) {
			t.Errorf("chunk %d of %d: %d rows, partial %t/%t", i, len(chunks), len(r.Series[0].Values), r.Partial, r.Series[0].Partial)
		}
		rows = append(rows, ch.Results[0].Series[0].Values...)
	}
	if len(rows) != 3600 || len(chunks) != 8 {
		t.Fatalf("chunked: %d rows in %d chunks, want 3600 in 8", len(rows), len(chunks))
	}
	// The same rows, a window at a time under the limit.
	for _, w := range []struct{ from, to string }{{"2026-01-01T00:00:00Z", "2026-01-01T00:02:00Z"}, {"2026-01-01T00:58:00Z", "2026-01-01T01:00:00Z"}} {
		q := `SELECT * FROM /.*/ WHERE time >= '` + w.from + `' AND time < '` + w.to + `'`
		want := getQuery(t, c, 0, params("db", "tsbs", "q", q, "epoch", "ns"))[0].Results[0].Series[0].Values
		at := slices.IndexFunc(rows, func(r []any) bool { return r[0] == want[0][0] })
		if at < 0 || at+len(want) > len(rows) {
			t.Fatalf("chunked rows lack %s..%s", w.from, w.to)
		}
		for k, r := range want {
			if !slices.Equal(rows[at+k], r) {
				t.Fatalf("chunked row %d: got %v, want %v", at+k, rows[at+k], r)
			}
		}
	}
}
