package query_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/tsdb/models"
)

// intoFunc is an IntoWriter made of a function.
type intoFunc func(ctx context.Context, db, rp string, pts []models.Point) error

func (f intoFunc) WritePoints(ctx context.Context, db, rp string, pts []models.Point) error {
	return f(ctx, db, rp, pts)
}

// TestSelectInto checks SELECT … INTO against InfluxDB 1.8's answers: the
// "result" row with the written count, GROUP BY * tags kept as tags, and
// :MEASUREMENT writing each source measurement under its own name.
func TestSelectInto(t *testing.T) {
	e, st := newExec(t, query.NewConfig(), hostData)
	e.SetIntoWriter(intoFunc(func(_ context.Context, db, rp string, pts []models.Point) error {
		cp := make([]models.Point, len(pts))
		for i := range pts {
			cp[i] = pts[i].Clone()
		}
		st.WritePoints(db, rp, cp)
		return nil
	}))
	tests := []struct{ name, q, want string }{
		{"group by time and star", `SELECT mean(usage) INTO db0.autogen.cpu_1m FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:03:00Z' GROUP BY time(1m), *`,
			`{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",4]]}]}]}`},
		{"the roll-up keeps tags as tags", `SELECT mean FROM cpu_1m GROUP BY *`,
			`{"results":[{"statement_id":0,"series":[{"name":"cpu_1m","tags":{"host":"a","region":"east"},"columns":["time","mean"],"values":[["2026-01-01T00:00:00Z",20],["2026-01-01T00:01:00Z",40]]},{"name":"cpu_1m","tags":{"host":"b","region":"west"},"columns":["time","mean"],"values":[["2026-01-01T00:00:00Z",10],["2026-01-01T00:01:00Z",25]]}]}]}`},
		{":MEASUREMENT from a regex", `SELECT max(used) INTO db0.copy.:MEASUREMENT FROM /^me/ WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:01:00Z' GROUP BY time(1m)`,
			`{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",1]]}]}]}`},
		{"written under the source's name", `SELECT * FROM db0.copy.mem`,
			`{"results":[{"statement_id":0,"series":[{"name":"mem","columns":["time","max"],"values":[["2026-01-01T00:00:00Z",100]]}]}]}`},
		{"nothing selected writes nothing", `SELECT mean(usage) INTO cpu_none FROM cpu WHERE time >= '2030-01-01T00:00:00Z' AND time < '2030-01-01T00:01:00Z' GROUP BY time(1m)`,
			`{"results":[{"statement_id":0,"series":[{"name":"result","columns":["time","written"],"values":[["1970-01-01T00:00:00Z",0]]}]}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := execJSON(t, e, tc.q, ""); got != tc.want {
				t.Errorf("%s\n got: %s\nwant: %s", tc.q, got, tc.want)
			}
		})
	}
}

func TestSelectIntoWriteError(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), hostData)
	boom := errors.New("boom")
	e.SetIntoWriter(intoFunc(func(context.Context, string, string, []models.Point) error { return boom }))
	res := exec(t, e, `SELECT usage INTO cpu_copy FROM cpu`)
	if !errors.Is(res[0].Err, boom) {
		t.Errorf("SELECT INTO with a failing writer: got %v, want the write error", res[0].Err)
	}
	bare, _ := newExec(t, query.NewConfig(), hostData)
	if res := exec(t, bare, `SELECT usage INTO cpu_copy FROM cpu`); !errors.Is(res[0].Err, query.ErrNotHandled) {
		t.Errorf("SELECT INTO without a writer: got %v, want ErrNotHandled", res[0].Err)
	}
}

// sinkFunc is a RowSink made of a function.
type sinkFunc func(*query.Row) error

func (f sinkFunc) WriteRow(r *query.Row) error { return f(r) }

// TestSelectIntoWithSink checks a streaming request (opts.Sink set, as
// chunked /query answers are) still writes the rows instead of sending
// them.
func TestSelectIntoWithSink(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), hostData)
	var written int
	e.SetIntoWriter(intoFunc(func(_ context.Context, _, _ string, pts []models.Point) error {
		written += len(pts)
		return nil
	}))
	var sent []string
	o := opts()
	o.Sink = sinkFunc(func(r *query.Row) error { sent = append(sent, r.Name); return nil })
	q, err := influxql.ParseQuery(`SELECT usage INTO cpu_copy FROM cpu`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.ExecuteQuery(context.Background(), q, o)
	if err != nil || res[0].Err != nil {
		t.Fatalf("SELECT INTO with a sink: %v %v", err, res[0].Err)
	}
	if written != 7 || slices.Contains(sent, "cpu") {
		t.Errorf("SELECT INTO with a sink wrote %d points and sent rows %v; want 7 written and no cpu rows sent", written, sent)
	}
}
