package query_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/meta"
)

func TestQueryTimeout(t *testing.T) {
	cfg := query.NewConfig()
	cfg.QueryTimeout = meta.Duration(20 * time.Millisecond)
	e, st := newExec(t, cfg, hostData)
	st.BeforeScan = func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	res := exec(t, e, `SELECT usage FROM cpu; SHOW MEASUREMENTS`)
	if !errors.Is(res[0].Err, query.ErrQueryTimeout) {
		t.Errorf("statement 0: got %v, want ErrQueryTimeout", res[0].Err)
	}
	if got, want := res[0].Err.Error(), "query-timeout limit exceeded"; got != want {
		t.Errorf("timeout message: got %q, want %q", got, want)
	}
	if !errors.Is(res[1].Err, query.ErrNotExecuted) {
		t.Errorf("statement 1: got %v, want ErrNotExecuted", res[1].Err)
	}
}

func TestMaxSelectSeries(t *testing.T) {
	cfg := query.NewConfig()
	cfg.MaxSelectSeriesN = 1
	e, _ := newExec(t, cfg, hostData)
	res := exec(t, e, `SELECT usage FROM cpu`)
	var mse *query.MaxSeriesError
	if !errors.As(res[0].Err, &mse) {
		t.Fatalf("got %v, want *MaxSeriesError", res[0].Err)
	}
	if got, want := mse.Error(), "max-select-series limit exceeded: (2/1)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if res := exec(t, e, `SELECT usage FROM cpu WHERE host = 'a'`); res[0].Err != nil {
		t.Errorf("one series: got %v, want nil", res[0].Err)
	}
}

func TestMaxSelectBuckets(t *testing.T) {
	cfg := query.NewConfig()
	cfg.MaxSelectBucketsN = 10
	e, _ := newExec(t, cfg, hostData)
	res := exec(t, e, `SELECT mean(usage) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(1m)`)
	var mbe *query.MaxBucketsError
	if !errors.As(res[0].Err, &mbe) || mbe.N != 60 {
		t.Fatalf("got %v, want *MaxBucketsError with N 60", res[0].Err)
	}
}

func TestKillQueryAndShowQueries(t *testing.T) {
	cfg := query.NewConfig()
	cfg.MaxConcurrentQueries = 2
	e, st := newExec(t, cfg, hostData)
	entered := make(chan struct{})
	st.BeforeScan = func(ctx context.Context) error {
		close(entered)
		<-ctx.Done()
		return ctx.Err()
	}
	done := make(chan []*query.Result, 1)
	go func() {
		q, _ := influxql.ParseQuery(`SELECT usage FROM cpu`)
		res, err := e.ExecuteQuery(context.Background(), q, opts())
		if err != nil {
			t.Errorf("ExecuteQuery: got %v, want nil", err)
		}
		done <- res
	}()
	<-entered

	res := exec(t, e, `SHOW QUERIES`)
	rows := res[0].Series
	if len(rows) != 1 || len(rows[0].Values) != 2 {
		t.Fatalf("SHOW QUERIES: got %+v, want one row per running query (2)", rows)
	}
	if got := rows[0].Columns; len(got) != 5 || got[0] != "qid" || got[1] != "query" || got[2] != "database" || got[3] != "duration" || got[4] != "status" {
		t.Errorf("SHOW QUERIES columns: got %v", got)
	}
	first := rows[0].Values[0]
	if first[1] != "SELECT usage FROM cpu" || first[2] != "db0" || first[4] != "running" {
		t.Errorf("SHOW QUERIES first row: got %v", first)
	}

	// The limit is 2: the blocked query and this one run; a third would not.
	q, _ := influxql.ParseQuery(`SHOW MEASUREMENTS`)
	if _, err := e.ExecuteQuery(context.Background(), q, opts()); err != nil {
		t.Errorf("second concurrent query: got %v, want nil", err)
	}

	id := first[0].(int64)
	kill := exec(t, e, "KILL QUERY "+itoa(id))
	if kill[0].Err != nil {
		t.Fatalf("KILL QUERY: got %v, want nil", kill[0].Err)
	}
	got := <-done
	if !errors.Is(got[0].Err, query.ErrQueryKilled) {
		t.Errorf("killed query: got %v, want ErrQueryKilled", got[0].Err)
	}
	if res := exec(t, e, "KILL QUERY 999"); !errors.Is(res[0].Err, query.ErrQueryNotFound) {
		t.Errorf("KILL QUERY 999: got %v, want ErrQueryNotFound", res[0].Err)
	}
}

func TestMaxConcurrentQueries(t *testing.T) {
	cfg := query.NewConfig()
	cfg.MaxConcurrentQueries = 1
	e, st := newExec(t, cfg, hostData)
	entered := make(chan struct{})
	release := make(chan struct{})
	st.BeforeScan = func(ctx context.Context) error {
		close(entered)
		<-release
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		q, _ := influxql.ParseQuery(`SELECT usage FROM cpu`)
		if _, err := e.ExecuteQuery(context.Background(), q, opts()); err != nil {
			t.Errorf("first query: got %v, want nil", err)
		}
	}()
	<-entered
	q, _ := influxql.ParseQuery(`SHOW MEASUREMENTS`)
	_, err := e.ExecuteQuery(context.Background(), q, opts())
	if !errors.Is(err, query.ErrMaxConcurrentQueries) {
		t.Errorf("second query: got %v, want ErrMaxConcurrentQueries", err)
	}
	close(release)
	<-done
	if _, err := e.ExecuteQuery(context.Background(), q, opts()); err != nil {
		t.Errorf("after the first finished: got %v, want nil", err)
	}
}

func TestDatabaseRequired(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), hostData)
	q, _ := influxql.ParseQuery(`SELECT usage FROM cpu; SHOW MEASUREMENTS`)
	res, err := e.ExecuteQuery(context.Background(), q, query.ExecutionOptions{DefaultRetentionPolicy: defaultRP})
	if err != nil {
		t.Fatalf("ExecuteQuery: got %v, want nil", err)
	}
	if !errors.Is(res[0].Err, query.ErrDatabaseRequired) || res[0].Err.Error() != "database name required" {
		t.Errorf("got %v, want %q", res[0].Err, "database name required")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestDefaultRetentionPolicyError(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), hostData)
	notFound := errors.New("database not found: nope")
	q, _ := influxql.ParseQuery(`SELECT usage FROM cpu`)
	res, err := e.ExecuteQuery(context.Background(), q, query.ExecutionOptions{
		Database: "nope", DefaultRetentionPolicy: func(string) (string, error) { return "", notFound },
	})
	if err != nil {
		t.Fatalf("ExecuteQuery: got %v, want nil", err)
	}
	if res[0].Err != notFound {
		t.Errorf("got %v, want the hook's error unchanged", res[0].Err)
	}
}

// TestFillNoneSparseWindows checks that fill(none) over a range with far
// more windows than the hard cap works when few windows hold data, on
// the pushed-down and the raw path, while fill(null) reports the limit.
func TestFillNoneSparseWindows(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), hostData)
	const where = ` FROM cpu WHERE time >= '2000-01-01T00:00:00Z' AND time < '2026-01-02T00:00:00Z' GROUP BY time(1s)`
	want := `"values":[[1767225600,7.5],[1767225610,20],[1767225620,30],[1767225630,15],[1767225680,40],[1767225690,25]]`
	for _, fn := range []string{"mean", "median"} {
		got := execJSON(t, e, "SELECT "+fn+"(usage)"+where+" fill(none)", "s")
		if !strings.Contains(got, want) {
			t.Errorf("%s fill(none): got %s, want %s", fn, got, want)
		}
		res := exec(t, e, "SELECT "+fn+"(usage)"+where)
		var mbe *query.MaxBucketsError
		if !errors.As(res[0].Err, &mbe) {
			t.Errorf("%s fill(null): got %v, want *MaxBucketsError", fn, res[0].Err)
		}
	}
}

// TestGroupByTimeOverCenturies checks GROUP BY time over ranges longer
// than int64 nanoseconds can subtract (over ~292 years): the windows are
// counted exactly, listed when within the limit and refused with
// max-select-buckets past it, where the count used to overflow and panic.
func TestGroupByTimeOverCenturies(t *testing.T) {
	lo := time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)
	hi := time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
	days := (hi.Unix()-lo.Unix())/86400 + 1
	where := ` FROM cpu WHERE time >= '1700-01-01T00:00:00Z' AND time <= '2262-01-01T00:00:00Z' GROUP BY time(`
	e, _ := newExec(t, query.NewConfig(), hostData)
	for _, fn := range []string{"mean", "median"} {
		res := exec(t, e, "SELECT "+fn+"(usage)"+where+"1d)")
		if res[0].Err != nil {
			t.Fatalf("%s by 1d: got %v, want rows", fn, res[0].Err)
		}
		rows := res[0].Series[0].Values
		if int64(len(rows)) != days {
			t.Fatalf("%s by 1d: got %d windows, want %d", fn, len(rows), days)
		}
		if first, last := rows[0][0].(int64), rows[len(rows)-1][0].(int64); first != lo.UnixNano() || last != hi.UnixNano() {
			t.Errorf("%s by 1d: windows from %d to %d, want %d to %d", fn, first, last, lo.UnixNano(), hi.UnixNano())
		}
		res = exec(t, e, "SELECT "+fn+"(usage)"+where+"1h)")
		var mbe *query.MaxBucketsError
		if !errors.As(res[0].Err, &mbe) || mbe.N != (days-1)*24+1 {
			t.Errorf("%s by 1h: got %v, want *MaxBucketsError with N %d", fn, res[0].Err, (days-1)*24+1)
		}
	}
	// The whole of int64 time, with an offset: the first window is cut
	// at the earliest time, the rest stay on the grid.
	cfg := query.NewConfig()
	cfg.MaxSelectBucketsN = 1000
	e, _ = newExec(t, cfg, hostData)
	res := exec(t, e, `SELECT count(usage) FROM cpu WHERE time >= -9223372036854775806 AND time <= 9223372036854775806 GROUP BY time(1000w, 1h)`)
	if res[0].Err != nil {
		t.Fatalf("all time by 1000w: got %v, want rows", res[0].Err)
	}
	rows := res[0].Series[0].Values
	week := int64(7 * 24 * time.Hour)
	for i, r := range rows[1:] {
		if ts := r[0].(int64); (ts-int64(time.Hour))%(1000*week) != 0 || ts <= rows[i][0].(int64) {
			t.Fatalf("window %d starts at %d: off the 1000w+1h grid or not after %d", i+1, ts, rows[i][0])
		}
	}
	var total int64
	for _, r := range rows {
		total += r[1].(int64)
	}
	if total != 7 {
		t.Errorf("all time by 1000w: counts add up to %d, want the 7 points", total)
	}
}

// TestGroupByTimeNotPositive checks InfluxDB's answer to a GROUP BY
// interval that is zero or negative.
func TestGroupByTimeNotPositive(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), hostData)
	for _, q := range []string{
		`SELECT mean(usage) FROM cpu GROUP BY time(-207ns)`,
		`SELECT mean(usage) FROM cpu GROUP BY time(0s)`,
	} {
		res := exec(t, e, q)
		if res[0].Err == nil || res[0].Err.Error() != "time dimension must have positive duration" {
			t.Errorf("%s: got %v, want %q", q, res[0].Err, "time dimension must have positive duration")
		}
	}
}

// TestMaxSelectPoint checks that a SELECT reading more values than
// max-select-point fails with InfluxDB's error, raw, pushed down
// (counting the values the windows hold) and streamed, and that one
// within the limit answers.
func TestMaxSelectPoint(t *testing.T) {
	cfg := query.NewConfig()
	cfg.MaxSelectPointN = 5
	e, _ := newExec(t, cfg, hostData)
	for _, q := range []string{`SELECT usage FROM cpu`, `SELECT count(usage) FROM cpu`, `SELECT median(usage) FROM cpu GROUP BY time(1m)`} {
		res := exec(t, e, q)
		var mpe *query.MaxPointsError
		if !errors.As(res[0].Err, &mpe) || mpe.Limit != 5 || mpe.N <= 5 {
			t.Fatalf("%s: got %v, want *MaxPointsError over 5", q, res[0].Err)
		}
		if want := fmt.Sprintf("max-select-point limit exceeed: (%d/5)", mpe.N); mpe.Error() != want {
			t.Errorf("%s: got %q, want %q", q, mpe.Error(), want)
		}
	}
	query.SetSliceValues(t, 2)
	parsed, _ := influxql.ParseQuery(`SELECT usage FROM cpu`)
	o := opts()
	o.Sink, _ = query.NewChunkWriter(&bytes.Buffer{}, query.FormatOptions{}, 10)
	res, err := e.ExecuteQuery(context.Background(), parsed, o)
	var mpe *query.MaxPointsError
	if err != nil || !errors.As(res[0].Err, &mpe) {
		t.Errorf("streamed: got %v, %v; want *MaxPointsError", err, res)
	}
	if res := exec(t, e, `SELECT usage FROM cpu WHERE host = 'b'`); res[0].Err != nil {
		t.Errorf("3 values: got %v, want nil", res[0].Err)
	}
}
