package query_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/coordinator/query/querytest"
)

// countingStorage records how many values each Scan delivered.
type countingStorage struct {
	*querytest.Store
	perScan []int
}

func (s *countingStorage) Scan(ctx context.Context, req query.ScanRequest, fn func(*query.SeriesBatch) error) error {
	n := 0
	err := s.Store.Scan(ctx, req, func(b *query.SeriesBatch) error {
		for _, c := range b.Fields {
			n += len(c.Points)
		}
		return fn(b)
	})
	s.perScan = append(s.perScan, n)
	return err
}

// streamData is 3 hosts × 2 measurements, 1,000 points each 10 s apart
// (hosts share timestamps, so rows tie across series), with a gap, and
// a sparse cpu series without host.
func streamData() string {
	var b strings.Builder
	for i := range 1000 {
		ts := int64(1767225600+10*i) * 1e9
		if i >= 400 && i < 500 {
			ts += 86400e9 // a day-long gap before these
		}
		for h := range 3 {
			fmt.Fprintf(&b, "cpu,host=h%d usage=%d,idle=%di %d\n", h, (i*7+h)%100, i+h, ts)
			if i%2 == 0 {
				fmt.Fprintf(&b, "mem,host=h%d used=%d %d\n", h, i*h, ts+int64(h))
			}
		}
		if i%100 == 0 { // a series without host
			fmt.Fprintf(&b, "cpu,dc=x usage=%d %d\n", i, ts)
		}
	}
	return b.String()
}

// TestStreamedSelect checks that a SELECT streamed to a RowSink (what a
// chunked /query does) answers exactly what the materialized path
// answers, chunk for chunk, and that raw queries read their range in
// time slices of about the configured number of values, never all of it
// at once.
func TestStreamedSelect(t *testing.T) {
	const budget = 300
	query.SetSliceValues(t, budget)
	st := &countingStorage{Store: querytest.NewStore(24 * 3600e9)}
	if err := st.WriteLines("db0", "autogen", streamData()); err != nil {
		t.Fatalf("WriteLines: got %v, want nil", err)
	}
	e := query.NewExecutor(query.NewConfig(), st, nil, nil)
	for _, q := range []string{
		`SELECT * FROM /.*/`,
		`SELECT * FROM cpu ORDER BY time DESC`,
		`SELECT usage, host FROM cpu LIMIT 50 OFFSET 1030`,
		`SELECT usage FROM cpu ORDER BY time DESC LIMIT 7 OFFSET 3`,
		`SELECT * FROM /.*/ SLIMIT 1 SOFFSET 1`,
		`SELECT * FROM /.*/ SLIMIT 1`,
		`SELECT usage, idle FROM cpu WHERE usage > 50 AND host != 'h1'`,
		`SELECT * FROM cpu WHERE time >= '2026-01-01T00:10:00Z' AND time < '2026-01-02T01:00:00Z'`,
		`SELECT * FROM cpu GROUP BY host`,
		`SELECT usage FROM cpu GROUP BY host ORDER BY time DESC LIMIT 5 OFFSET 2 SLIMIT 2 SOFFSET 1`,
		`SELECT * FROM /.*/ GROUP BY * LIMIT 1200 SLIMIT 5`,
		`SELECT * FROM cpu WHERE usage < 10 GROUP BY dc, host`,
		`SELECT mean(usage) FROM cpu GROUP BY time(1h)`,
		`SELECT max(usage) FROM (SELECT usage FROM cpu)`,
		`SELECT usage FROM cpu; SHOW MEASUREMENTS; SELECT used FROM mem LIMIT 2`,
	} {
		t.Run(q, func(t *testing.T) {
			parsed, err := influxql.ParseQuery(q)
			if err != nil {
				t.Fatalf("ParseQuery: got %v, want nil", err)
			}
			if got, want := chunkedAnswers(t, e, parsed, 7); got != want {
				t.Errorf("streamed answer differs:\n got %.600s\nwant %.600s", got, want)
			}
		})
	}

	// The unbounded raw query reads 6,010 values in slices of about 300.
	st.perScan = nil
	cw, _ := query.NewChunkWriter(&bytes.Buffer{}, query.FormatOptions{}, 100)
	o := opts()
	o.Sink = cw
	parsed, _ := influxql.ParseQuery(`SELECT * FROM cpu`)
	if _, err := e.ExecuteQuery(context.Background(), parsed, o); err != nil {
		t.Fatalf("ExecuteQuery: got %v, want nil", err)
	}
	total, most := 0, 0
	for _, n := range st.perScan {
		total, most = total+n, max(most, n)
	}
	t.Logf("values per scan: %v", st.perScan)
	if total != 6010 || most > 2*budget {
		t.Errorf("scans delivered %v: %d values, at most %d per scan; want 6010, at most %d per scan", st.perScan, total, most, 2*budget)
	}
}

// chunkedAnswers returns the chunked answer to q built from the
// materialized results and the one streamed statement by statement
// through a ChunkWriter sink, as /query does.
func chunkedAnswers(t testing.TB, e *query.Executor, q *influxql.Query, chunkSize int) (streamed, materialized string) {
	t.Helper()
	res, err := e.ExecuteQuery(context.Background(), q, opts())
	if err != nil {
		t.Fatalf("ExecuteQuery(%q): got %v, want nil", q, err)
	}
	var want bytes.Buffer
	if err := query.WriteChunked(&want, res, query.FormatOptions{Epoch: "s"}, chunkSize); err != nil {
		t.Fatalf("WriteChunked: got %v, want nil", err)
	}
	var got bytes.Buffer
	cw, err := query.NewChunkWriter(&got, query.FormatOptions{Epoch: "s"}, chunkSize)
	if err != nil {
		t.Fatalf("NewChunkWriter: got %v, want nil", err)
	}
	o := opts()
	o.Sink = cw
	for i, stmt := range q.Statements {
		cw.Start(i)
		res, err := e.ExecuteQuery(context.Background(), &influxql.Query{Statements: influxql.Statements{stmt}}, o)
		if err != nil {
			t.Fatalf("ExecuteQuery(%q) streamed: got %v, want nil", stmt, err)
		}
		res[0].StatementID = i
		if err := cw.End(res[0]); err != nil {
			t.Fatalf("End: got %v, want nil", err)
		}
	}
	return got.String(), want.String()
}

// TestRowCollectorLimit checks that collecting a streamed SELECT with a
// row limit (what a non-chunked /query with max-row-limit does, reading
// no further than the limit) answers what cutting the whole answer
// answers, partial marks included, and that it stops reading early.
func TestRowCollectorLimit(t *testing.T) {
	query.SetSliceValues(t, 300)
	st := &countingStorage{Store: querytest.NewStore(24 * 3600e9)}
	if err := st.WriteLines("db0", "autogen", streamData()); err != nil {
		t.Fatalf("WriteLines: got %v, want nil", err)
	}
	e := query.NewExecutor(query.NewConfig(), st, nil, nil)
	for _, q := range []string{`SELECT * FROM /.*/`, `SELECT * FROM cpu GROUP BY host`, `SELECT usage FROM cpu ORDER BY time DESC`} {
		parsed, _ := influxql.ParseQuery(q)
		for _, limit := range []int{1, 7, 1000, 3000, 4500, 9000} {
			res, err := e.ExecuteQuery(context.Background(), parsed, opts())
			if err != nil {
				t.Fatalf("ExecuteQuery: got %v, want nil", err)
			}
			query.LimitRows(res, limit)
			st.perScan = nil
			kept := query.NewRowCollector(limit)
			o := opts()
			o.Sink = kept
			got, err := e.ExecuteQuery(context.Background(), parsed, o)
			if err != nil || got[0].Err != nil {
				t.Fatalf("ExecuteQuery collected: got %v, %v; want nil", err, got[0].Err)
			}
			got[0].Series = kept.Rows()
			query.LimitRows(got, limit)
			var a, b bytes.Buffer
			_ = query.WriteJSON(&a, got, query.FormatOptions{})
			_ = query.WriteJSON(&b, res, query.FormatOptions{})
			if a.String() != b.String() {
				t.Errorf("%s, limit %d:\n got %.400s\nwant %.400s", q, limit, a.String(), b.String())
			}
			read := 0
			for _, n := range st.perScan {
				read += n
			}
			if q == `SELECT * FROM /.*/` && limit == 7 && read > 1000 {
				t.Errorf("%s, limit %d: read %d values, want the first slices only", q, limit, read)
			}
		}
	}
}

// TestRowCollectorKeepsRows checks that the collector keeps a series'
// first row as it came and continues the series in a copy: the values
// past the row's length in the array it came in stay as they were.
func TestRowCollectorKeepsRows(t *testing.T) {
	buf := [][]any{{int64(1), 1.0}, {int64(9), "not the row's"}}
	c := query.NewRowCollector(0)
	if err := c.WriteRow(&query.Row{Name: "cpu", Columns: []string{"time", "v"}, Values: buf[:1]}); err != nil {
		t.Fatalf("WriteRow: %v", err)
	}
	if err := c.WriteRow(&query.Row{Name: "cpu", Columns: []string{"time", "v"}, Values: [][]any{{int64(2), 2.0}}}); err != nil {
		t.Fatalf("WriteRow: %v", err)
	}
	rows := c.Rows()
	if len(rows) != 1 || fmt.Sprint(rows[0].Values) != "[[1 1] [2 2]]" {
		t.Fatalf("rows = %v, want one series of two values", rows)
	}
	if fmt.Sprint(buf[1]) != "[9 not the row's]" {
		t.Errorf("the first row's array past its length = %v, want it untouched", buf[1])
	}
}
