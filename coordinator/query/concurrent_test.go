package query_test

import (
	"sync"
	"testing"

	"github.com/strata-db/strata/coordinator/query"
)

// TestConcurrentQueries runs queries of every path at once (run with
// -race): each answer must equal the one computed alone.
func TestConcurrentQueries(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), hostData)
	queries := []string{
		`SELECT max(m) FROM (SELECT mean(usage) AS m FROM cpu GROUP BY host)`,
		`SELECT mean(usage) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:03:00Z' GROUP BY time(1m), host`,
		`SELECT * FROM cpu WHERE usage > 10`,
		`SELECT * FROM cpu GROUP BY host ORDER BY time DESC LIMIT 1`,
		`SHOW TAG VALUES WITH KEY = "host"`,
	}
	want := make([]string, len(queries))
	for i, q := range queries {
		want[i] = execJSON(t, e, q, "")
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 20 {
				i := (w + r) % len(queries)
				if got := execJSON(t, e, queries[i], ""); got != want[i] {
					t.Errorf("%s concurrently:\n got %s\nwant %s", queries[i], got, want[i])
				}
			}
		}()
	}
	wg.Wait()
}
