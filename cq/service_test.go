package cq

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/meta"
)

// fakeMeta holds a state with data nodes 1 and 2 and grants the lease as
// meta's FSM does; runs are recorded into the state.
type fakeMeta struct {
	mu      sync.Mutex
	data    *meta.Data
	now     time.Time
	records []string
}

func newFakeMeta(now time.Time, cqs ...meta.ContinuousQueryInfo) *fakeMeta {
	return &fakeMeta{now: now, data: &meta.Data{
		DataNodes: []meta.NodeInfo{{ID: 1}, {ID: 2}},
		Databases: []meta.DatabaseInfo{{Name: "db", DefaultRetentionPolicy: "autogen", ContinuousQueries: cqs}},
	}}
}

// clock is the fake's now, the runner's clock in these tests.
func (f *fakeMeta) clock() time.Time { return f.now }

func (f *fakeMeta) Data() *meta.Data {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.data.Clone()
}

func (f *fakeMeta) AcquireCQLease(_ context.Context, node uint64, dur time.Duration) (meta.CQLease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.data.CQLease
	if l.Node == node || !f.now.Before(l.Until) {
		f.data.CQLease = meta.CQLease{Node: node, Until: f.now.Add(dur)}
	}
	return f.data.CQLease, nil
}

func (f *fakeMeta) RecordContinuousQueryRun(_ context.Context, db, name string, t time.Time, node uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	cq := &f.data.Databases[0].ContinuousQueries[0]
	if t.After(cq.LastRun) {
		cq.LastRun, cq.LastRunNode = t, node
	}
	f.records = append(f.records, t.UTC().Format("15:04:05"))
	return nil
}

// fakeExec records the statements it runs; fail makes them fail.
type fakeExec struct {
	mu    sync.Mutex
	stmts []string
	fail  error
}

func (f *fakeExec) ExecuteQuery(_ context.Context, q *influxql.Query, _ query.ExecutionOptions) ([]*query.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stmts = append(f.stmts, q.String())
	if f.fail != nil {
		return []*query.Result{{Err: f.fail}}, nil
	}
	return []*query.Result{{Series: []*query.Row{{Name: "result", Columns: []string{"time", "written"}, Values: [][]any{{int64(0), int64(3)}}}}}}, nil
}

const cqText = `CREATE CONTINUOUS QUERY c ON db BEGIN SELECT mean(v) INTO db.autogen.m FROM db.autogen.cpu GROUP BY time(10s) END`

// testConfig runs intervals as soon as they end (no settle delay), which
// the tests of scheduling other than the delay assume.
func testConfig() Config {
	c := NewConfig()
	c.MaxCatchUp = meta.Duration(time.Minute)
	c.SettleDelay = 0
	return c
}

// TestRunnerWaitsSettleDelay checks an interval is run only settle-delay
// after it ends, when every write acknowledged for it at consistency one
// has reached all the owners the run may read, and not at its end.
func TestRunnerWaitsSettleDelay(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC)
	fm := newFakeMeta(t0, meta.ContinuousQueryInfo{Name: "c", Query: cqText, CreatedAt: t0})
	fx := &fakeExec{}
	cfg := testConfig()
	cfg.SettleDelay = meta.Duration(4 * time.Second)
	s := New(cfg, func() uint64 { return 1 }, fm, fx, nil, nil)
	s.clock = fm.clock
	ctx := context.Background()

	fm.now = t0.Add(8 * time.Second) // 00:00:11: the run at :10 has ended but not settled
	s.tick(ctx)
	if len(fx.stmts) != 0 || len(fm.records) != 0 {
		t.Fatalf("1 s after its interval ended, with settle-delay 4s, the run at :10 ran: %q, recorded %v", fx.stmts, fm.records)
	}
	fm.now = t0.Add(11 * time.Second) // 00:00:14: settled
	s.tick(ctx)
	want := []string{`SELECT mean(v) INTO db.autogen.m FROM db.autogen.cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:00:10Z' GROUP BY time(10s)`}
	if !slices.Equal(fx.stmts, want) || !slices.Equal(fm.records, []string{"00:00:10"}) {
		t.Errorf("once settled ran %q, recorded %v; want\n%q once", fx.stmts, fm.records, want)
	}
}

func TestRunnerRunsEachIntervalOnce(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC)
	fm := newFakeMeta(t0, meta.ContinuousQueryInfo{Name: "c", Query: cqText, CreatedAt: t0})
	fx := &fakeExec{}
	s := New(testConfig(), func() uint64 { return 1 }, fm, fx, nil, nil)
	s.clock = fm.clock
	ctx := context.Background()

	fm.now = t0.Add(25 * time.Second) // 00:00:28: runs at :10 and :20 are due
	s.tick(ctx)
	want := []string{
		`SELECT mean(v) INTO db.autogen.m FROM db.autogen.cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:00:10Z' GROUP BY time(10s)`,
		`SELECT mean(v) INTO db.autogen.m FROM db.autogen.cpu WHERE time >= '2026-01-01T00:00:10Z' AND time < '2026-01-01T00:00:20Z' GROUP BY time(10s)`,
	}
	if !slices.Equal(fx.stmts, want) {
		t.Fatalf("first tick ran\n%q\nwant\n%q", fx.stmts, want)
	}
	s.tick(ctx)
	if len(fx.stmts) != 2 {
		t.Errorf("a second tick in the same interval ran %d more statements; want none", len(fx.stmts)-2)
	}
	// Node 2 does not run while node 1 holds the lease.
	other := New(testConfig(), func() uint64 { return 2 }, fm, fx, nil, nil)
	other.clock = fm.clock
	fm.now = fm.now.Add(5 * time.Second)
	other.tick(ctx)
	if len(fx.stmts) != 2 {
		t.Errorf("node 2 ran while node 1 held the lease: %q", fx.stmts[2:])
	}
	// Node 1 stops (no renewal); once the lease ends node 2 takes over and
	// runs what node 1 missed, from the recorded last run.
	fm.now = fm.now.Add(DefaultLeaseDuration + 10*time.Second) // 00:00:53
	other.tick(ctx)
	if got := fm.records; !slices.Equal(got, []string{"00:00:10", "00:00:20", "00:00:30", "00:00:40", "00:00:50"}) {
		t.Errorf("recorded runs %v; want every interval once, :10 to :50", got)
	}
	if l := fm.Data().CQLease; l.Node != 2 {
		t.Errorf("lease after node 1 stopped renewing: %+v; want node 2", l)
	}
}

func TestRunnerStopsAtFailureAndSkipsPastMaxCatchUp(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fm := newFakeMeta(t0, meta.ContinuousQueryInfo{Name: "c", Query: cqText, CreatedAt: t0})
	fx := &fakeExec{fail: errors.New("boom")}
	s := New(testConfig(), func() uint64 { return 1 }, fm, fx, nil, nil)
	s.clock = fm.clock
	fm.now = t0.Add(35 * time.Second)
	s.tick(context.Background())
	if len(fx.stmts) != 1 || len(fm.records) != 0 {
		t.Fatalf("failing run: %d statements, %d records; want 1 attempt and nothing recorded", len(fx.stmts), len(fm.records))
	}
	fx.fail = nil
	fm.now = t0.Add(5 * time.Minute) // max-catch-up is 1m: runs before 00:04:00 are skipped
	s.tick(context.Background())
	if got := fm.records; len(got) != 7 || got[0] != "00:04:00" || got[6] != "00:05:00" {
		t.Errorf("catch-up after 5 min with max-catch-up 1m recorded %v; want 00:04:00 … 00:05:00", got)
	}
}

func TestSchedule(t *testing.T) {
	parse := func(q string) schedule {
		t.Helper()
		st, err := influxql.ParseStatement(q)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := newSchedule(st.(*influxql.CreateContinuousQueryStatement))
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	tests := []struct {
		q                  string
		every, forDur, off time.Duration
	}{
		{`CREATE CONTINUOUS QUERY c ON db BEGIN SELECT mean(v) INTO m FROM cpu GROUP BY time(1h) END`, time.Hour, time.Hour, 0},
		{`CREATE CONTINUOUS QUERY c ON db RESAMPLE EVERY 30m BEGIN SELECT mean(v) INTO m FROM cpu GROUP BY time(1h) END`, 30 * time.Minute, time.Hour, 0},
		{`CREATE CONTINUOUS QUERY c ON db RESAMPLE EVERY 2h BEGIN SELECT mean(v) INTO m FROM cpu GROUP BY time(1h) END`, 2 * time.Hour, 2 * time.Hour, 0},
		{`CREATE CONTINUOUS QUERY c ON db RESAMPLE FOR 3h BEGIN SELECT mean(v) INTO m FROM cpu GROUP BY time(1h, 15m) END`, time.Hour, 3 * time.Hour, 15 * time.Minute},
	}
	for _, tc := range tests {
		if sc := parse(tc.q); sc.every != tc.every || sc.forDur != tc.forDur || sc.offset != tc.off {
			t.Errorf("%s: got every %v for %v offset %v; want %v %v %v", tc.q, sc.every, sc.forDur, sc.offset, tc.every, tc.forDur, tc.off)
		}
	}
	sc := parse(tests[3].q)
	if got := sc.floor(time.Date(2026, 1, 1, 10, 10, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 1, 1, 9, 15, 0, 0, time.UTC)) {
		t.Errorf("floor with a 15m offset: got %v; want 09:15", got)
	}
}
