package query_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/coordinator/query/querytest"
)

// testNow is the now() of every test query.
var testNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func defaultRP(string) (string, error) { return "autogen", nil }

// newExec returns an executor over a store holding lines in db0.autogen,
// split into 1h shards.
func newExec(t testing.TB, cfg query.Config, lines string) (*query.Executor, *querytest.Store) {
	t.Helper()
	st := querytest.NewStore(time.Hour)
	if lines != "" {
		if err := st.WriteLines("db0", "autogen", lines); err != nil {
			t.Fatalf("WriteLines: got %v, want nil", err)
		}
	}
	return query.NewExecutor(cfg, st, nil, nil), st
}

func opts() query.ExecutionOptions {
	return query.ExecutionOptions{Database: "db0", DefaultRetentionPolicy: defaultRP, Now: testNow}
}

// execJSON runs q and renders the results as InfluxDB JSON with epoch.
func execJSON(t testing.TB, e *query.Executor, q, epoch string) string {
	t.Helper()
	res := exec(t, e, q)
	var buf bytes.Buffer
	if err := query.WriteJSON(&buf, res, query.FormatOptions{Epoch: epoch}); err != nil {
		t.Fatalf("WriteJSON(%q): got %v, want nil", q, err)
	}
	return strings.TrimSpace(buf.String())
}

func exec(t testing.TB, e *query.Executor, q string) []*query.Result {
	t.Helper()
	parsed, err := influxql.ParseQuery(q)
	if err != nil {
		t.Fatalf("ParseQuery(%q): got %v, want nil", q, err)
	}
	res, err := e.ExecuteQuery(context.Background(), parsed, opts())
	if err != nil {
		t.Fatalf("ExecuteQuery(%q): got %v, want nil", q, err)
	}
	return res
}

// hostData is a small cpu data set: two hosts in two regions, points
// every 10 s from 2026-01-01T00:00:00Z (1767225600 s).
const hostData = `cpu,host=a,region=east usage=10,idle=90i 1767225600000000000
cpu,host=a,region=east usage=20,idle=80i 1767225610000000000
cpu,host=a,region=east usage=30,idle=70i 1767225620000000000
cpu,host=a,region=east usage=40,idle=60i 1767225680000000000
cpu,host=b,region=west usage=5,idle=95i 1767225600000000000
cpu,host=b,region=west usage=15,idle=85i 1767225630000000000
cpu,host=b,region=west usage=25,idle=75i 1767225690000000000
mem,host=a used=100i,label="x" 1767225600000000000
`

func mustStore(t testing.TB) *querytest.Store {
	t.Helper()
	st := querytest.NewStore(time.Hour)
	if err := st.WriteLines("db0", "autogen", hostData); err != nil {
		t.Fatalf("WriteLines: got %v, want nil", err)
	}
	return st
}
