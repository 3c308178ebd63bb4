package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/influxdata/influxql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// openTestStore opens a tsdb store in a temp dir with the given shards
// created, closed at cleanup.
func openTestStore(t testing.TB, shards ...uint64) *tsdb.Store {
	t.Helper()
	cfg := tsdb.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.CompactCheckInterval = 0
	s := tsdb.NewStore(cfg, nil, prometheus.NewRegistry())
	if err := s.Open(); err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for _, id := range shards {
		if err := s.CreateShard(id); err != nil {
			t.Fatalf("create shard %d: %v", id, err)
		}
	}
	return s
}

// lp parses line protocol (ns timestamps) into cloned points.
func lp(t testing.TB, lines string) []models.Point {
	t.Helper()
	var p models.Parser
	pts, err := p.Parse([]byte(lines), models.PrecisionNanosecond, 0)
	if err != nil {
		t.Fatalf("parse %q: %v", lines, err)
	}
	out := make([]models.Point, len(pts))
	for i := range pts {
		out[i] = pts[i].Clone()
	}
	return out
}

const readerTestData = `cpu,host=a,region=eu usage=1.5,state="up" 10
cpu,host=a,region=eu usage=2.5,state="down" 20
cpu,host=a,region=eu usage=4 35
cpu,host=b,region=us usage=10 10
cpu,host=b,region=us usage=-3 70
cpu,region=us usage=7 15
mem,host=a free=100i 10
mem,host=a free=50i 40
mem,host=c free=7i 40
`

func cond(t testing.TB, s string) influxql.Expr {
	t.Helper()
	if s == "" {
		return nil
	}
	e, err := influxql.ParseExpr(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return e
}

// collect runs a scan and returns the batches deep-copied, sorted by key.
func collect(t testing.TB, scan func(fn func(*query.SeriesBatch) error) error) []query.SeriesBatch {
	t.Helper()
	var out []query.SeriesBatch
	if err := scan(func(b *query.SeriesBatch) error {
		c := query.SeriesBatch{Key: b.Key, Filtered: b.Filtered}
		for _, tg := range b.Tags {
			c.Tags = append(c.Tags, models.Tag{Key: slices.Clone(tg.Key), Value: slices.Clone(tg.Value)})
		}
		for _, f := range b.Fields {
			fc := query.FieldColumn{Name: f.Name, Type: f.Type, Points: slices.Clone(f.Points), Windows: slices.Clone(f.Windows)}
			for i := range fc.Points {
				fc.Points[i].Value.S = slices.Clone(fc.Points[i].Value.S)
			}
			for i := range fc.Windows {
				fc.Windows[i].First.S = slices.Clone(fc.Windows[i].First.S)
				fc.Windows[i].Last.S = slices.Clone(fc.Windows[i].Last.S)
			}
			c.Fields = append(c.Fields, fc)
		}
		out = append(out, c)
		return nil
	}); err != nil {
		t.Fatalf("scan: %v", err)
	}
	slices.SortFunc(out, func(a, b query.SeriesBatch) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func keysOf(bs []query.SeriesBatch) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Key)
	}
	return out
}

func newLoadedReader(t testing.TB) *coordinator.LocalShardReader {
	t.Helper()
	s := openTestStore(t, 1)
	if err := s.WriteToShard(context.Background(), 1, lp(t, readerTestData)); err != nil {
		t.Fatalf("write: %v", err)
	}
	return coordinator.NewLocalShardReader(s)
}

func TestLocalShardReaderScanRaw(t *testing.T) {
	r := newLoadedReader(t)
	ctx := context.Background()
	tests := []struct {
		cond     string
		min, max int64
		keys     []string
	}{
		{"", 0, 100, []string{"cpu,host=a,region=eu", "cpu,host=b,region=us", "cpu,region=us"}},
		{"host = 'a'", 0, 100, []string{"cpu,host=a,region=eu"}},
		{"host != 'a'", 0, 100, []string{"cpu,host=b,region=us", "cpu,region=us"}},
		{"host !~ /^b$/", 0, 100, []string{"cpu,host=a,region=eu", "cpu,region=us"}},
		{"host =~ /./ AND region = 'us'", 0, 100, []string{"cpu,host=b,region=us"}},
		{"host = 'a' OR region = 'us'", 0, 100, []string{"cpu,host=a,region=eu", "cpu,host=b,region=us", "cpu,region=us"}},
		{"", 11, 30, []string{"cpu,host=a,region=eu", "cpu,region=us"}}, // host=b has no point in range
		{"", 50, 40, nil},
	}
	for _, tc := range tests {
		t.Run(tc.cond, func(t *testing.T) {
			req := query.ScanRequest{Measurement: "cpu", Condition: cond(t, tc.cond), Fields: []string{"usage", "nope"}, Min: tc.min, Max: tc.max}
			got := collect(t, func(fn func(*query.SeriesBatch) error) error { return r.ScanShard(ctx, 1, &req, fn) })
			if k := keysOf(got); !slices.Equal(k, tc.keys) {
				t.Fatalf("scan keys = %q, want %q", k, tc.keys)
			}
		})
	}

	req := query.ScanRequest{Measurement: "cpu", Condition: cond(t, "host = 'a'"), Fields: []string{"state", "usage"}, Min: 0, Max: 100}
	got := collect(t, func(fn func(*query.SeriesBatch) error) error { return r.ScanShard(ctx, 1, &req, fn) })
	if len(got) != 1 || len(got[0].Fields) != 2 {
		t.Fatalf("scan host=a state,usage: got %+v, want one series with two columns", got)
	}
	b := got[0]
	if want := (models.Tags{{Key: []byte("host"), Value: []byte("a")}, {Key: []byte("region"), Value: []byte("eu")}}); !reflect.DeepEqual(b.Tags, want) {
		t.Errorf("tags = %v, want %v", b.Tags, want)
	}
	st, us := b.Fields[0], b.Fields[1]
	if st.Name != "state" || st.Type != models.FieldTypeString || len(st.Points) != 2 || string(st.Points[1].Value.S) != "down" || st.Points[1].Time != 20 {
		t.Errorf("state column = %+v, want 2 string points ending with down@20", st)
	}
	wantUsage := []query.Point{{Time: 10, Value: models.FloatValue(1.5)}, {Time: 20, Value: models.FloatValue(2.5)}, {Time: 35, Value: models.FloatValue(4)}}
	if us.Name != "usage" || us.Type != models.FieldTypeFloat || !reflect.DeepEqual(us.Points, wantUsage) {
		t.Errorf("usage column = %+v, want %v", us, wantUsage)
	}
}

// rowsOf renders each series' rows as "key@time:usage/state" strings, a
// missing value as "-".
func rowsOf(bs []query.SeriesBatch) []string {
	var out []string
	for _, b := range bs {
		byTime := map[int64][]string{}
		var times []int64
		for _, f := range b.Fields {
			for _, p := range f.Points {
				if byTime[p.Time] == nil {
					byTime[p.Time] = []string{"-", "-"}
					times = append(times, p.Time)
				}
				col := 0
				if f.Name == "state" {
					col = 1
				}
				v := fmt.Sprint(p.Value.Float())
				if p.Value.Type == models.FieldTypeString {
					v = string(p.Value.S)
				}
				byTime[p.Time][col] = v
			}
		}
		slices.Sort(times)
		for _, t := range times {
			out = append(out, fmt.Sprintf("%s@%d:%s", b.Key, t, strings.Join(byTime[t], "/")))
		}
	}
	return out
}

func TestLocalShardReaderScanFilter(t *testing.T) {
	s := openTestStore(t, 1)
	// host=d has a row without usage, and its usage row after it.
	extra := "cpu,host=d,region=eu state=\"only\" 50\ncpu,host=d,region=eu usage=9 60\ncpu,host=d,region=eu state=\"late\" 90\n"
	if err := s.WriteToShard(context.Background(), 1, lp(t, readerTestData+extra)); err != nil {
		t.Fatalf("write: %v", err)
	}
	r := coordinator.NewLocalShardReader(s)
	ctx := context.Background()
	all := []string{
		"cpu,host=a,region=eu@10:1.5/up", "cpu,host=a,region=eu@20:2.5/down", "cpu,host=a,region=eu@35:4/-",
		"cpu,host=b,region=us@10:10/-", "cpu,host=b,region=us@70:-3/-",
		"cpu,host=d,region=eu@50:-/only", "cpu,host=d,region=eu@60:9/-", "cpu,host=d,region=eu@90:-/late",
		"cpu,region=us@15:7/-",
	}
	tests := []struct {
		filter string
		rows   []string
		// filtered: the filter compiles, so the batches say they hold
		// only passing rows.
		filtered bool
	}{
		{"usage::field > 2", []string{"cpu,host=a,region=eu@20:2.5/down", "cpu,host=a,region=eu@35:4/-", "cpu,host=b,region=us@10:10/-", "cpu,host=d,region=eu@60:9/-", "cpu,region=us@15:7/-"}, true},
		{"usage::field > 2 AND host::tag = 'a'", []string{"cpu,host=a,region=eu@20:2.5/down", "cpu,host=a,region=eu@35:4/-"}, true},
		// Rows without usage pass on region = 'eu' alone.
		{"(usage::field < 0 OR region::tag = 'eu')", []string{all[0], all[1], all[2], "cpu,host=b,region=us@70:-3/-", all[5], all[6], all[7]}, true},
		{"usage::field >= 100", nil, true},
		// Not a compiled form (a string field): ignored, every row comes.
		{"state::field = 'up'", all, false},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			req := query.ScanRequest{Measurement: "cpu", Fields: []string{"usage", "state"}, Min: 0, Max: 100, Filter: cond(t, tc.filter)}
			var filtered []bool
			got := rowsOf(collect(t, func(fn func(*query.SeriesBatch) error) error {
				return r.ScanShard(ctx, 1, &req, func(b *query.SeriesBatch) error {
					filtered = append(filtered, b.Filtered)
					return fn(b)
				})
			}))
			if !slices.Equal(got, tc.rows) {
				t.Fatalf("rows = %q, want %q", got, tc.rows)
			}
			for i, f := range filtered {
				if f != tc.filtered {
					t.Fatalf("batch %d: Filtered = %v, want %v", i, f, tc.filtered)
				}
			}
		})
	}
	unfiltered := query.ScanRequest{Measurement: "cpu", Fields: []string{"usage", "state"}, Min: 0, Max: 100}
	if got := rowsOf(collect(t, func(fn func(*query.SeriesBatch) error) error { return r.ScanShard(ctx, 1, &unfiltered, fn) })); !slices.Equal(got, all) {
		t.Fatalf("unfiltered rows = %q, want %q", got, all)
	}
}

// refWindows folds raw points into windows as query.WindowRequest defines
// them, with plain arithmetic.
func refWindows(pts []query.Point, every, offset int64) []query.Window {
	var out []query.Window
	for _, p := range pts {
		m := (p.Time - offset) % every
		if m < 0 {
			m += every
		}
		start := p.Time - m
		if len(out) == 0 || out[len(out)-1].Start != start {
			out = append(out, query.Window{Start: start, First: p.Value, FirstTime: p.Time, Sum: p.Value, Min: p.Value, Max: p.Value})
		} else {
			w := &out[len(out)-1]
			switch p.Value.Type {
			case models.FieldTypeFloat:
				w.Sum = models.FloatValue(w.Sum.Float() + p.Value.Float())
				w.Min = models.FloatValue(math.Min(w.Min.Float(), p.Value.Float()))
				w.Max = models.FloatValue(math.Max(w.Max.Float(), p.Value.Float()))
			case models.FieldTypeInteger:
				w.Sum = models.IntegerValue(w.Sum.Integer() + p.Value.Integer())
				w.Min = models.IntegerValue(min(w.Min.Integer(), p.Value.Integer()))
				w.Max = models.IntegerValue(max(w.Max.Integer(), p.Value.Integer()))
			}
		}
		w := &out[len(out)-1]
		w.Count++
		w.Last, w.LastTime = p.Value, p.Time
	}
	return out
}

func TestLocalShardReaderScanWindows(t *testing.T) {
	r := newLoadedReader(t)
	ctx := context.Background()
	all := query.AggregateCount | query.AggregateSum | query.AggregateMin | query.AggregateMax | query.AggregateFirst | query.AggregateLast
	for _, tc := range []struct {
		measurement, field string
		every, offset      int64
	}{
		{"cpu", "usage", 20, 0},
		{"cpu", "usage", 20, 40}, // a multiple of every: tsdb's alignment
		{"cpu", "usage", 20, 5},
		{"cpu", "usage", 30, -7},
		{"mem", "free", 25, 0},
		{"mem", "free", 25, 12},
		{"cpu", "usage", 1000, 999},
	} {
		raw := collect(t, func(fn func(*query.SeriesBatch) error) error {
			return r.ScanShard(ctx, 1, &query.ScanRequest{Measurement: tc.measurement, Fields: []string{tc.field}, Min: 0, Max: 100}, fn)
		})
		win := collect(t, func(fn func(*query.SeriesBatch) error) error {
			return r.ScanShard(ctx, 1, &query.ScanRequest{Measurement: tc.measurement, Fields: []string{tc.field}, Min: 0, Max: 100,
				Window: &query.WindowRequest{Every: tc.every, Offset: tc.offset, Aggregates: all}}, fn)
		})
		if !slices.Equal(keysOf(raw), keysOf(win)) || len(raw) == 0 {
			t.Fatalf("%+v: window scan keys %q, raw scan keys %q", tc, keysOf(win), keysOf(raw))
		}
		for i := range raw {
			want := refWindows(raw[i].Fields[0].Points, tc.every, tc.offset)
			if got := win[i].Fields[0].Windows; !reflect.DeepEqual(got, want) {
				t.Errorf("%+v series %s: windows\n got %+v\nwant %+v", tc, raw[i].Key, got, want)
			}
		}
	}
	// The whole int64 time range, as an unbounded query asks.
	for _, off := range []int64{0, 3} {
		got := collect(t, func(fn func(*query.SeriesBatch) error) error {
			return r.ScanShard(ctx, 1, &query.ScanRequest{Measurement: "mem", Fields: []string{"free"}, Min: math.MinInt64, Max: math.MaxInt64,
				Window: &query.WindowRequest{Every: 1 << 62, Offset: off, Aggregates: all}}, fn)
		})
		if len(got) != 2 || len(got[0].Fields[0].Windows) != 1 || got[0].Fields[0].Windows[0].Count != 2 || got[0].Fields[0].Windows[0].Start != off {
			t.Errorf("windows of 2^62 ns offset %d over all time = %+v, want one window of 2 values at %d for mem,host=a", off, got, off)
		}
	}
	// Windows carry their count even when only another aggregate is asked
	// for (the count says a window holds points), on both window paths.
	for _, off := range []int64{0, 5} {
		got := collect(t, func(fn func(*query.SeriesBatch) error) error {
			return r.ScanShard(ctx, 1, &query.ScanRequest{Measurement: "mem", Condition: cond(t, "host = 'a'"), Fields: []string{"free"}, Min: 0, Max: 100,
				Window: &query.WindowRequest{Every: 1000, Offset: off, Aggregates: query.AggregateLast}}, fn)
		})
		if len(got) != 1 || len(got[0].Fields[0].Windows) != 1 {
			t.Fatalf("last per 1000 ns offset %d = %+v, want one window", off, got)
		}
		if w := got[0].Fields[0].Windows[0]; w.Count != 2 || w.Last.Integer() != 50 || w.LastTime != 40 {
			t.Errorf("last per 1000 ns offset %d: window %+v, want count 2 and last 50 at 40", off, w)
		}
	}
	_, err := collectErr(r, &query.ScanRequest{Measurement: "cpu", Fields: []string{"usage"}, Max: 10, Window: &query.WindowRequest{Every: 0}})
	if !errors.Is(err, coordinator.ErrInvalidReadRequest) {
		t.Errorf("window every 0: got %v, want ErrInvalidReadRequest", err)
	}
}

// TestLocalShardReaderWindowsOwned checks that windowed batches say
// Owned and keep that promise: windows kept past the call, without a
// copy, are still the same after the scan and after more scans (which
// reuse the reader's buffers).
func TestLocalShardReaderWindowsOwned(t *testing.T) {
	r := newLoadedReader(t)
	ctx := context.Background()
	req := &query.ScanRequest{Measurement: "cpu", Fields: []string{"usage"}, Min: 0, Max: 100,
		Window: &query.WindowRequest{Every: 20, Aggregates: query.AggregateCount | query.AggregateMax | query.AggregateFirst | query.AggregateLast}}
	kept := map[string][]query.Window{}
	if err := r.ScanShard(ctx, 1, req, func(b *query.SeriesBatch) error {
		if !b.Owned {
			t.Errorf("series %s: windowed batch not Owned", b.Key)
		}
		kept[b.Key] = b.Fields[0].Windows
		return nil
	}); err != nil {
		t.Fatalf("scan: %v", err)
	}
	if len(kept) < 2 {
		t.Fatalf("scan gave %d series, want at least 2", len(kept))
	}
	for range 3 {
		want := collect(t, func(fn func(*query.SeriesBatch) error) error { return r.ScanShard(ctx, 1, req, fn) })
		for _, b := range want {
			if got := kept[b.Key]; !reflect.DeepEqual(got, b.Fields[0].Windows) {
				t.Fatalf("series %s: kept windows changed to\n%+v\nwant %+v", b.Key, got, b.Fields[0].Windows)
			}
		}
	}
}

func collectErr(r coordinator.ShardReader, req *query.ScanRequest) (int, error) {
	n := 0
	err := r.ScanShard(context.Background(), 1, req, func(*query.SeriesBatch) error { n++; return nil })
	return n, err
}

func TestLocalShardReaderErrors(t *testing.T) {
	r := newLoadedReader(t)
	ctx := context.Background()
	if err := r.ScanShard(ctx, 9, &query.ScanRequest{Measurement: "cpu", Fields: []string{"usage"}, Max: 100},
		func(*query.SeriesBatch) error { return nil }); !errors.Is(err, coordinator.ErrShardNotFound) {
		t.Errorf("scan missing shard: got %v, want ErrShardNotFound", err)
	}
	if _, err := collectErr(r, &query.ScanRequest{Measurement: "cpu", Condition: cond(t, "usage > 1"), Fields: []string{"usage"}, Max: 100}); !errors.Is(err, coordinator.ErrInvalidCondition) {
		t.Errorf("scan with field condition: got %v, want ErrInvalidCondition", err)
	}
	stop := errors.New("stop")
	if err := r.ScanShard(ctx, 1, &query.ScanRequest{Measurement: "cpu", Fields: []string{"usage"}, Max: 100},
		func(*query.SeriesBatch) error { return stop }); err != stop {
		t.Errorf("callback error: got %v, want it returned as is", err)
	}
	if _, err := r.ShardMeta(ctx, 9, &coordinator.MetaRequest{Kind: coordinator.MetaMeasurements}); !errors.Is(err, coordinator.ErrShardNotFound) {
		t.Errorf("meta of missing shard: got %v, want ErrShardNotFound", err)
	}
	if _, err := r.ShardMeta(ctx, 1, &coordinator.MetaRequest{Kind: 99}); !errors.Is(err, coordinator.ErrInvalidReadRequest) {
		t.Errorf("meta kind 99: got %v, want ErrInvalidReadRequest", err)
	}
	if err := r.DeleteFromShard(ctx, 1, &coordinator.DeleteRequest{Kind: 99}); !errors.Is(err, coordinator.ErrInvalidReadRequest) {
		t.Errorf("delete kind 99: got %v, want ErrInvalidReadRequest", err)
	}
}

func TestLocalShardReaderMeta(t *testing.T) {
	r := newLoadedReader(t)
	ctx := context.Background()
	tests := []struct {
		name string
		req  coordinator.MetaRequest
		want []string
	}{
		{"measurements", coordinator.MetaRequest{Kind: coordinator.MetaMeasurements}, []string{"cpu", "mem"}},
		{"measurements host=c", coordinator.MetaRequest{Kind: coordinator.MetaMeasurements, Condition: cond(t, "host = 'c'")}, []string{"mem"}},
		{"measurements region=us", coordinator.MetaRequest{Kind: coordinator.MetaMeasurements, Condition: cond(t, "region = 'us'")}, []string{"cpu"}},
		{"tag keys cpu", coordinator.MetaRequest{Kind: coordinator.MetaTagKeys, Measurement: "cpu"}, []string{"host", "region"}},
		{"tag keys cpu host!=a,b", coordinator.MetaRequest{Kind: coordinator.MetaTagKeys, Measurement: "cpu", Condition: cond(t, "host !~ /a|b/")}, []string{"region"}},
		{"tag values host", coordinator.MetaRequest{Kind: coordinator.MetaTagValues, Measurement: "cpu", TagKey: "host"}, []string{"a", "b"}},
		{"tag values region host!=a", coordinator.MetaRequest{Kind: coordinator.MetaTagValues, Measurement: "cpu", TagKey: "region", Condition: cond(t, "host != 'a'")}, []string{"us"}},
		{"series cpu region=us", coordinator.MetaRequest{Kind: coordinator.MetaSeriesKeys, Measurement: "cpu", Condition: cond(t, "region = 'us'")}, []string{"cpu,host=b,region=us", "cpu,region=us"}},
		{"series all host=a", coordinator.MetaRequest{Kind: coordinator.MetaSeriesKeys, Condition: cond(t, "host = 'a'")}, []string{"cpu,host=a,region=eu", "mem,host=a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := r.ShardMeta(ctx, 1, &tc.req)
			if err != nil {
				t.Fatalf("ShardMeta: %v", err)
			}
			if !slices.Equal(res.Values, tc.want) {
				t.Fatalf("ShardMeta values = %q, want %q", res.Values, tc.want)
			}
		})
	}
	res, err := r.ShardMeta(ctx, 1, &coordinator.MetaRequest{Kind: coordinator.MetaFieldKeys, Measurement: "cpu"})
	want := []query.FieldKey{{Name: "state", Type: models.FieldTypeString}, {Name: "usage", Type: models.FieldTypeFloat}}
	if err != nil || !reflect.DeepEqual(res.Fields, want) {
		t.Fatalf("field keys cpu = %v, %v; want %v", res.Fields, err, want)
	}
}

func TestLocalShardReaderDeletes(t *testing.T) {
	r := newLoadedReader(t)
	ctx := context.Background()
	scanKeys := func(m string, min, max int64) []string {
		f := map[string]string{"cpu": "usage", "mem": "free"}[m]
		return keysOf(collect(t, func(fn func(*query.SeriesBatch) error) error {
			return r.ScanShard(ctx, 1, &query.ScanRequest{Measurement: m, Fields: []string{f}, Min: min, Max: max}, fn)
		}))
	}
	// DELETE FROM cpu WHERE host = 'a' AND time <= 25: host=a keeps 35.
	if err := r.DeleteFromShard(ctx, 1, &coordinator.DeleteRequest{Kind: coordinator.DeleteRange, Measurement: "cpu",
		Condition: cond(t, "host = 'a'"), Min: 0, Max: 25}); err != nil {
		t.Fatalf("delete range: %v", err)
	}
	if got, want := scanKeys("cpu", 0, 30), []string{"cpu,host=b,region=us", "cpu,region=us"}; !slices.Equal(got, want) {
		t.Errorf("after delete range, cpu keys in [0,30] = %q, want %q", got, want)
	}
	if got, want := scanKeys("cpu", 0, 100), []string{"cpu,host=a,region=eu", "cpu,host=b,region=us", "cpu,region=us"}; !slices.Equal(got, want) {
		t.Errorf("after delete range, cpu keys in [0,100] = %q, want %q", got, want)
	}
	// DROP SERIES WHERE host != 'a' (every measurement): drops cpu host=b,
	// cpu without host and mem host=c.
	if err := r.DeleteFromShard(ctx, 1, &coordinator.DeleteRequest{Kind: coordinator.DeleteSeries, Condition: cond(t, "host != 'a'")}); err != nil {
		t.Fatalf("drop series: %v", err)
	}
	res, err := r.ShardMeta(ctx, 1, &coordinator.MetaRequest{Kind: coordinator.MetaSeriesKeys})
	if want := []string{"cpu,host=a,region=eu", "mem,host=a"}; err != nil || !slices.Equal(res.Values, want) {
		t.Errorf("after drop series, series = %q, %v; want %q", res.Values, err, want)
	}
	if got := scanKeys("mem", 0, 100); !slices.Equal(got, []string{"mem,host=a"}) {
		t.Errorf("after drop series, mem keys = %q, want [mem,host=a]", got)
	}
	if err := r.DeleteFromShard(ctx, 1, &coordinator.DeleteRequest{Kind: coordinator.DeleteMeasurement, Measurement: "cpu"}); err != nil {
		t.Fatalf("drop measurement: %v", err)
	}
	res, err = r.ShardMeta(ctx, 1, &coordinator.MetaRequest{Kind: coordinator.MetaMeasurements})
	if err != nil || !slices.Equal(res.Values, []string{"mem"}) {
		t.Errorf("after drop measurement, measurements = %q, %v; want [mem]", res.Values, err)
	}
	if got := scanKeys("cpu", 0, 100); len(got) != 0 {
		t.Errorf("after drop measurement, cpu keys = %q, want none", got)
	}
}

// TestLocalShardReaderFilterReusesPoints checks that a filtered scan
// builds each series' points in one buffer reused from series to series
// (a batch is valid only during its call), not in a new one per series:
// high-cpu-all's 100 series allocated one each.
func TestLocalShardReaderFilterReusesPoints(t *testing.T) {
	s := openTestStore(t, 1)
	var lines strings.Builder
	for h := range 8 {
		for ts := range 20 {
			fmt.Fprintf(&lines, "cpu,host=h%d usage=%d,idle=%d %d\n", h, 80+ts, ts, 10+ts)
		}
	}
	if err := s.WriteToShard(context.Background(), 1, lp(t, lines.String())); err != nil {
		t.Fatalf("write: %v", err)
	}
	r := coordinator.NewLocalShardReader(s)
	req := query.ScanRequest{Measurement: "cpu", Fields: []string{"usage", "idle"}, Min: 0, Max: 100, Filter: cond(t, "usage::field > 90")}
	var first *query.Point
	n := 0
	if err := r.ScanShard(context.Background(), 1, &req, func(b *query.SeriesBatch) error {
		if len(b.Fields) != 2 || len(b.Fields[0].Points) != 9 {
			t.Fatalf("series %s: %d fields, want 2 of 9 points", b.Key, len(b.Fields))
		}
		p := &b.Fields[0].Points[0]
		if first == nil {
			first = p
		} else if p != first {
			t.Errorf("series %s: points in a new buffer, want the first series' reused", b.Key)
		}
		n++
		return nil
	}); err != nil {
		t.Fatalf("scan: %v", err)
	}
	if n != 8 {
		t.Fatalf("scan gave %d series, want 8", n)
	}
}

// TestLocalShardReaderFilterReusedPointsClean checks that a numeric
// point built where the reused buffer held a string point of an earlier
// series carries no string bytes.
func TestLocalShardReaderFilterReusedPointsClean(t *testing.T) {
	s := openTestStore(t, 1)
	var lines strings.Builder
	for ts := range 4 {
		fmt.Fprintf(&lines, "cpu,host=a v=95,s=\"str%d\" %d\n", ts, 10+ts)
	}
	for ts := range 8 {
		fmt.Fprintf(&lines, "cpu,host=b v=95 %d\n", 10+ts)
	}
	if err := s.WriteToShard(context.Background(), 1, lp(t, lines.String())); err != nil {
		t.Fatalf("write: %v", err)
	}
	r := coordinator.NewLocalShardReader(s)
	ctx := context.Background()
	req := query.ScanRequest{Measurement: "cpu", Fields: []string{"v", "s"}, Min: 0, Max: 100, Filter: cond(t, "v::field > 90")}
	// Series come in index order: a, whose string points fill the
	// buffer's second half, then b.
	if err := r.ScanShard(ctx, 1, &req, func(b *query.SeriesBatch) error {
		for _, c := range b.Fields {
			for _, p := range c.Points {
				if (p.Value.S != nil) != (c.Type == models.FieldTypeString) {
					t.Fatalf("series %s field %s: point %+v", b.Key, c.Name, p)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("scan: %v", err)
	}
}
