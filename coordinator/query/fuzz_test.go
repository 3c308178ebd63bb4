package query_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
)

// FuzzExecuteQuery feeds arbitrary query text (as a client sends it) to
// the executor: whatever parses must execute and format without panic,
// and a SELECT must answer the same streamed as materialized.
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
	query.SetSliceValues(f, 2) // hostData is cut into many slices
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
		if len(q.Statements) != 1 {
			return
		}
		if _, ok := q.Statements[0].(*influxql.SelectStatement); ok {
			if got, want := chunkedAnswers(t, e, q, 2); got != want {
				t.Fatalf("%q streamed:\n got %.600s\nwant %.600s", text, got, want)
			}
		}
	})
}

// FuzzSelectTimeRange runs whole SELECT statements over extreme time
// ranges, GROUP BY intervals and offsets (anywhere in int64, the ends
// included), with every fill and a raw, a pushed-down and a raw-point
// aggregate: each must answer rows or an error, never panic, never list
// more windows than the configured limit, and answer the same streamed
// (cut in time slices) as materialized.
func FuzzSelectTimeRange(f *testing.F) {
	day := int64(24 * time.Hour)
	for _, s := range []struct {
		lo, hi, every, offset int64
		fill, fn              uint8
	}{
		{time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), day, 0, 0, 0},
		{math.MinInt64, math.MaxInt64, 1, 0, 1, 1},
		{math.MinInt64 + 2, math.MaxInt64 - 2, int64(time.Hour), int64(time.Minute), 2, 2},
		{math.MinInt64, 0, math.MaxInt64, math.MaxInt64 - 1, 3, 0},
		{0, math.MaxInt64, 7 * day, -day, 4, 3},
		{1767225600000000000, 1767225700000000000, int64(10 * time.Second), 0, 5, 4},
	} {
		f.Add(s.lo, s.hi, s.every, s.offset, s.fill, s.fn)
	}
	cfg := query.NewConfig()
	cfg.MaxSelectBucketsN = fuzzMaxBuckets
	e, _ := newExec(f, cfg, hostData)
	query.SetSliceValues(f, 2) // hostData is cut into many slices
	fills := []string{"", "fill(none)", "fill(previous)", "fill(linear)", "fill(7)", "fill(null)"}
	fns := []string{"mean(usage)", "median(usage)", "max(usage), host", "derivative(mean(usage))", "count(idle)", ""}
	f.Fuzz(func(t *testing.T, lo, hi, every, offset int64, fill, fn uint8) {
		sel := fns[int(fn)%len(fns)]
		var q string
		switch {
		case sel == "":
			q = fmt.Sprintf(`SELECT usage FROM cpu WHERE time >= %d AND time <= %d`, lo, hi)
		case fn&0x80 != 0:
			q = fmt.Sprintf(`SELECT %s FROM cpu WHERE time >= %d AND time <= %d GROUP BY time(%dns, %dns), host %s tz('Europe/Paris')`,
				sel, lo, hi, every, offset, fills[int(fill)%len(fills)])
		default:
			q = fmt.Sprintf(`SELECT %s FROM cpu WHERE time >= %d AND time <= %d GROUP BY time(%dns, %dns) %s`,
				sel, lo, hi, every, offset, fills[int(fill)%len(fills)])
		}
		parsed, err := influxql.ParseQuery(q)
		if err != nil {
			return
		}
		res, err := e.ExecuteQuery(context.Background(), parsed, opts())
		if err != nil {
			t.Fatalf("ExecuteQuery(%q): got %v, want nil", q, err)
		}
		for _, row := range res[0].Series {
			if len(row.Values) > fuzzMaxBuckets {
				t.Fatalf("%q: %d rows in one series, over max-select-buckets %d", q, len(row.Values), fuzzMaxBuckets)
			}
		}
		var buf bytes.Buffer
		_ = query.WriteJSON(&buf, res, query.FormatOptions{})
		if got, want := chunkedAnswers(t, e, parsed, 3); got != want {
			t.Fatalf("%q streamed:\n got %.600s\nwant %.600s", q, got, want)
		}
	})
}

// fuzzMaxBuckets keeps each FuzzSelectTimeRange input quick.
const fuzzMaxBuckets = 4096
