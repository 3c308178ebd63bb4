package query_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
)

// FuzzExecuteQuery feeds arbitrary query text (as a client sends it) to
// the executor: whatever parses must execute and format without panic.
func FuzzExecuteQuery(f *testing.F) {
	for _, q := range []string{
		`SELECT * FROM cpu`,
		`SELECT mean(usage), max(idle) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:03:00Z' GROUP BY time(1m), host fill(linear)`,
		`SELECT derivative(mean(usage), 1s) FROM cpu WHERE time > now() - 1d GROUP BY time(10s) fill(previous)`,
		`SELECT top(usage, 2), bottom(idle, 1) FROM cpu GROUP BY *`,
		`SELECT max(m) FROM (SELECT mean(usage) AS m FROM cpu GROUP BY host)`,
		`SELECT usage * 2 + idle / 0 FROM cpu WHERE usage > 10 OR host =~ /a/ ORDER BY time DESC LIMIT 2 OFFSET 1 SLIMIT 1`,
		`SHOW TAG VALUES WITH KEY =~ /./ WHERE host != 'x'`,
		`SELECT percentile(usage, 99.9), median(idle), mode(host), spread(usage), stddev(usage), integral(usage) FROM /./`,
		`SELECT count(distinct(idle)) FROM cpu`,
		`SELECT max(usage), host FROM cpu GROUP BY time(30s) tz('Europe/Paris')`,
	} {
		f.Add(q)
	}
	e, _ := newExec(f, query.NewConfig(), hostData)
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 2000 {
			return
		}
		q, err := influxql.ParseQuery(text)
		if err != nil {
			return
		}
		res, err := e.ExecuteQuery(context.Background(), q, opts())
		if err != nil {
			return
		}
		var buf bytes.Buffer
		_ = query.WriteJSON(&buf, res, query.FormatOptions{})
		_ = query.WriteCSV(&buf, res, query.FormatOptions{Epoch: "ms"})
	})
}
