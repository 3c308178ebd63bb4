package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// readNode is one data node's read RPC on loopback.
type readNode struct {
	id  uint64
	srv *httptest.Server
}

// serveReads serves reader's shards over the RPC handler on loopback.
func serveReads(t *testing.T, reader coordinator.ShardReader) *httptest.Server {
	t.Helper()
	h := coordinator.NewRPCHandler(coordinator.NewConfig(), &fakeStore{}, nil, prometheus.NewRegistry())
	if reader != nil {
		h.SetShardReader(reader)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// rpcClientFor returns an RPCClient that knows the nodes' addresses.
func rpcClientFor(t *testing.T, cfg coordinator.Config, nodes ...readNode) *coordinator.RPCClient {
	t.Helper()
	d := &meta.Data{}
	for _, n := range nodes {
		d.DataNodes = append(d.DataNodes, meta.NodeInfo{ID: n.id, RPCAddr: strings.TrimPrefix(n.srv.URL, "http://")})
	}
	slices.SortFunc(d.DataNodes, func(a, b meta.NodeInfo) int { return int(a.ID) - int(b.ID) })
	c := coordinator.NewRPCClient(cfg, fixedMeta{d}, nil, prometheus.NewRegistry())
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestReadRPCRoundTrip(t *testing.T) {
	store := openTestStore(t, 1)
	// A big series (string values) spans several frames.
	var big strings.Builder
	for i := range 30000 {
		fmt.Fprintf(&big, "log,host=z msg=\"line %d of a long log with some padding\",n=%di %d\n", i, i, 1000+i)
	}
	if err := store.WriteToShard(context.Background(), 1, lp(t, readerTestData+big.String())); err != nil {
		t.Fatalf("write: %v", err)
	}
	local := coordinator.NewLocalShardReader(store)
	srv := serveReads(t, local)
	c := rpcClientFor(t, coordinator.NewConfig(), readNode{2, srv})
	ctx := context.Background()
	all := query.AggregateCount | query.AggregateSum | query.AggregateMin | query.AggregateMax | query.AggregateFirst | query.AggregateLast

	for _, req := range []query.ScanRequest{
		{Measurement: "cpu", Fields: []string{"usage", "state"}, Min: 0, Max: 100},
		{Measurement: "cpu", Condition: cond(t, "host != 'a'"), Fields: []string{"usage"}, Min: 0, Max: 100},
		{Measurement: "cpu", Fields: []string{"usage", "state"}, Min: 0, Max: 100, Filter: cond(t, "usage::field > 2 AND region::tag = 'eu'")},
		{Measurement: "cpu", Fields: []string{"usage", "state"}, Min: 0, Max: 100, Window: &query.WindowRequest{Every: 20, Offset: 5, Aggregates: all}},
		{Measurement: "mem", Fields: []string{"free"}, Min: 0, Max: 100, Window: &query.WindowRequest{Every: 25, Aggregates: all}},
		{Measurement: "log", Fields: []string{"msg", "n"}, Min: 0, Max: 1 << 40},
		{Measurement: "log", Fields: []string{"msg", "n"}, Min: 0, Max: 1 << 40, Filter: cond(t, "n::field >= 100")},
		{Measurement: "log", Fields: []string{"n", "msg"}, Min: 0, Max: 1 << 40, Window: &query.WindowRequest{Every: 7, Aggregates: all}},
	} {
		want := collect(t, func(fn func(*query.SeriesBatch) error) error { return local.ScanShard(ctx, 1, &req, fn) })
		got := collect(t, func(fn func(*query.SeriesBatch) error) error { return c.ScanShard(ctx, 2, 1, &req, fn) })
		if len(want) == 0 {
			t.Fatalf("%s: local scan found nothing", req.Measurement)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("scan %+v over rpc differs from the local scan:\n got %s\nwant %s", req, batchesSummary(got), batchesSummary(want))
		}
	}

	for _, req := range []coordinator.MetaRequest{
		{Kind: coordinator.MetaMeasurements, Condition: cond(t, "host =~ /a|z/")},
		{Kind: coordinator.MetaTagValues, Measurement: "cpu", TagKey: "host", Condition: cond(t, "region = 'us'")},
		{Kind: coordinator.MetaSeriesKeys},
		{Kind: coordinator.MetaFieldKeys, Measurement: "log"},
	} {
		want, err := local.ShardMeta(ctx, 1, &req)
		if err != nil {
			t.Fatalf("local meta: %v", err)
		}
		got, err := c.ShardMeta(ctx, 2, 1, &req)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("meta %+v over rpc = %+v, %v; want %+v", req, got, err, want)
		}
	}

	if err := c.DeleteFromShard(ctx, 2, 1, &coordinator.DeleteRequest{Kind: coordinator.DeleteSeries, Measurement: "cpu", Condition: cond(t, "host = 'b'")}); err != nil {
		t.Fatalf("delete over rpc: %v", err)
	}
	res, err := local.ShardMeta(ctx, 1, &coordinator.MetaRequest{Kind: coordinator.MetaSeriesKeys, Measurement: "cpu"})
	if want := []string{"cpu,host=a,region=eu", "cpu,region=us"}; err != nil || !slices.Equal(res.Values, want) {
		t.Errorf("series after drop over rpc = %q, %v; want %q", res.Values, err, want)
	}
}

// batchesSummary describes batches briefly: key, Filtered and the length
// of each column (a %v of the batches themselves can be gigabytes).
func batchesSummary(bs []query.SeriesBatch) string {
	var sb strings.Builder
	for _, b := range bs {
		fmt.Fprintf(&sb, "[%s filtered=%t", b.Key, b.Filtered)
		for _, c := range b.Fields {
			fmt.Fprintf(&sb, " %s:%d/%d", c.Name, len(c.Points), len(c.Windows))
		}
		sb.WriteString("] ")
	}
	return sb.String()
}

func TestReadRPCErrors(t *testing.T) {
	store := openTestStore(t, 1)
	if err := store.WriteToShard(context.Background(), 1, lp(t, readerTestData)); err != nil {
		t.Fatalf("write: %v", err)
	}
	srv := serveReads(t, coordinator.NewLocalShardReader(store))
	c := rpcClientFor(t, coordinator.NewConfig(), readNode{2, srv})
	ctx := context.Background()
	noop := func(*query.SeriesBatch) error { return nil }

	err := c.ScanShard(ctx, 2, 7, &query.ScanRequest{Measurement: "cpu", Fields: []string{"usage"}, Max: 100}, noop)
	if !errors.Is(err, coordinator.ErrShardNotFound) {
		t.Errorf("scan of a missing shard: got %v, want ErrShardNotFound", err)
	}
	if _, err := c.ShardMeta(ctx, 2, 7, &coordinator.MetaRequest{Kind: coordinator.MetaMeasurements}); !errors.Is(err, coordinator.ErrShardNotFound) {
		t.Errorf("meta of a missing shard: got %v, want ErrShardNotFound", err)
	}
	err = c.ScanShard(ctx, 2, 1, &query.ScanRequest{Measurement: "cpu", Condition: cond(t, "usage > 1"), Fields: []string{"usage"}, Max: 100}, noop)
	var re *coordinator.RPCError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest || re.Code != "bad_request" || re.NodeID != 2 {
		t.Errorf("scan with a field condition: got %v, want a 400 bad_request *RPCError from node 2", err)
	}
	if err := c.DeleteFromShard(ctx, 2, 1, &coordinator.DeleteRequest{Kind: 42}); !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		t.Errorf("delete of kind 42: got %v, want a 400 *RPCError", err)
	}
	stop := errors.New("stop")
	if err := c.ScanShard(ctx, 2, 1, &query.ScanRequest{Measurement: "cpu", Fields: []string{"usage"}, Max: 100},
		func(*query.SeriesBatch) error { return stop }); err != stop {
		t.Errorf("callback error: got %v, want it as is", err)
	}
	if err := c.ScanShard(ctx, 5, 1, &query.ScanRequest{}, noop); !errors.Is(err, coordinator.ErrNodeNotFound) {
		t.Errorf("scan on unknown node: got %v, want ErrNodeNotFound", err)
	}

	// A node that serves no reads answers 404.
	c = rpcClientFor(t, coordinator.NewConfig(), readNode{3, serveReads(t, nil)})
	if _, err := c.ShardMeta(ctx, 3, 1, &coordinator.MetaRequest{Kind: coordinator.MetaMeasurements}); !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		t.Errorf("meta from a node without reader: got %v, want a 404 *RPCError", err)
	}

	// Version and body checks, as for writes.
	for _, tc := range []struct {
		name    string
		version string
		body    string
		status  int
	}{
		{"old version", "0", "{}", http.StatusBadRequest},
		{"bad json", "1", "{", http.StatusBadRequest},
		{"bad condition", "1", `{"shard":1,"measurement":"cpu","condition":"host = "}`, http.StatusBadRequest},
		{"too large", "1", `{"measurement":"` + strings.Repeat("x", 1<<20) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+coordinator.RPCShardScanPath, strings.NewReader(tc.body))
		req.Header.Set(coordinator.RPCVersionHeader, tc.version)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}

// stallingReader delivers one series and then fails, or pauses and ends.
type stallingReader struct {
	fail  error         // returned after the first series, if set
	pause time.Duration // else slept (or until ctx ends) after the first series
}

func (s *stallingReader) ScanShard(ctx context.Context, shardID uint64, req *query.ScanRequest, fn func(*query.SeriesBatch) error) error {
	b := query.SeriesBatch{Key: "cpu,host=a", Fields: []query.FieldColumn{{Name: "v", Type: models.FieldTypeFloat, Points: []query.Point{{Time: 1, Value: models.FloatValue(1)}}}}}
	if err := fn(&b); err != nil {
		return err
	}
	if s.fail != nil {
		return s.fail
	}
	t := time.NewTimer(s.pause)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *stallingReader) ShardMeta(context.Context, uint64, *coordinator.MetaRequest) (coordinator.MetaResult, error) {
	return coordinator.MetaResult{}, nil
}

func (s *stallingReader) DeleteFromShard(context.Context, uint64, *coordinator.DeleteRequest) error {
	return nil
}

func TestReadRPCMidStreamFailures(t *testing.T) {
	ctx := context.Background()
	req := &query.ScanRequest{Measurement: "cpu", Fields: []string{"v"}, Max: 10}

	// An error after the stream started arrives as an error frame.
	srv := serveReads(t, &stallingReader{fail: errors.New("disk on fire")})
	c := rpcClientFor(t, coordinator.NewConfig(), readNode{2, srv})
	n := 0
	err := c.ScanShard(ctx, 2, 1, req, func(*query.SeriesBatch) error { n++; return nil })
	var re *coordinator.RPCError
	if n != 1 || !errors.As(err, &re) || !strings.Contains(re.Message, "disk on fire") || re.NodeID != 2 {
		t.Errorf("mid-stream error: %d batches, %v; want 1 batch and an *RPCError from node 2 carrying the message", n, err)
	}

	// A stream that stops without its end frame (the peer died).
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(coordinator.RPCVersionHeader, "1")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte{'S', 10, 0, 0})
		panic(http.ErrAbortHandler)
	}))
	t.Cleanup(cut.Close)
	c = rpcClientFor(t, coordinator.NewConfig(), readNode{3, cut})
	if err := c.ScanShard(ctx, 3, 1, req, func(*query.SeriesBatch) error { return nil }); err == nil {
		t.Errorf("truncated stream: got nil error, want a failure")
	}

	// A peer that answers and then sends nothing times out after
	// RPCTimeout without a frame.
	silent := make(chan struct{})
	mute := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(coordinator.RPCVersionHeader, "1")
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		select {
		case <-silent:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(mute.Close)
	defer close(silent)
	cfg := coordinator.NewConfig()
	cfg.RPCTimeout = meta.Duration(300 * time.Millisecond)
	c = rpcClientFor(t, cfg, readNode{4, mute})
	err = c.ScanShard(ctx, 4, 1, req, func(*query.SeriesBatch) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent peer: got %v, want an error wrapping context.DeadlineExceeded", err)
	}

	// A scan that pauses longer than RPCTimeout is kept alive by heartbeats.
	slow := serveReads(t, &stallingReader{pause: 2500 * time.Millisecond})
	cfg.RPCTimeout = meta.Duration(1800 * time.Millisecond)
	c = rpcClientFor(t, cfg, readNode{5, slow})
	n = 0
	if err := c.ScanShard(ctx, 5, 1, req, func(*query.SeriesBatch) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("slow scan with heartbeats: %d batches, %v; want 1 batch, no error", n, err)
	}
}

func TestClusterStorageOverRPC(t *testing.T) {
	// Nodes 1 and 2 both own shard 2 (the same data); node 9 asks.
	var servers []readNode
	for _, id := range []uint64{1, 2} {
		store := openTestStore(t, 2)
		if err := store.WriteToShard(context.Background(), 2, lp(t, readerTestData)); err != nil {
			t.Fatalf("write: %v", err)
		}
		servers = append(servers, readNode{id, serveReads(t, coordinator.NewLocalShardReader(store))})
	}
	d := clusterData([]meta.ShardInfo{{ID: 2, Owners: []uint64{1, 2}}})
	for _, n := range servers {
		for i := range d.DataNodes {
			if d.DataNodes[i].ID == n.id {
				d.DataNodes[i].RPCAddr = strings.TrimPrefix(n.srv.URL, "http://")
			}
		}
	}
	client := coordinator.NewRPCClient(coordinator.NewConfig(), fixedMeta{d}, nil, nil)
	t.Cleanup(func() { _ = client.Close() })
	s := coordinator.NewClusterStorage(coordinator.NewConfig(), fixedMeta{d}, func() uint64 { return 9 }, nil, client, nil, nil)
	ctx := context.Background()
	scan := func() ([]string, error) {
		var keys []string
		err := s.Scan(ctx, query.ScanRequest{Database: "db", RetentionPolicy: "rp", Measurement: "cpu", Fields: []string{"usage"}, Min: 0, Max: 100},
			func(b *query.SeriesBatch) error {
				keys = append(keys, fmt.Sprintf("%s:%d", b.Key, len(b.Fields[0].Points)))
				return nil
			})
		slices.Sort(keys)
		return keys, err
	}
	want := []string{"cpu,host=a,region=eu:3", "cpu,host=b,region=us:2", "cpu,region=us:1"}
	if got, err := scan(); err != nil || !slices.Equal(got, want) {
		t.Fatalf("scan over rpc = %q, %v; want %q", got, err, want)
	}
	// Shard 2 is read from node 1 first (2 % 2 = 0); stop it.
	servers[0].srv.Close()
	if got, err := scan(); err != nil || !slices.Equal(got, want) {
		t.Fatalf("scan with node 1 down = %q, %v; want %q", got, err, want)
	}
	tags, err := s.TagValues(ctx, "db", "rp", "cpu", "region", nil, 0, 100)
	if err != nil || !slices.Equal(tags, []string{"eu", "us"}) {
		t.Errorf("tag values with node 1 down = %q, %v; want [eu us]", tags, err)
	}
	// A delete needs every owner.
	err = s.DropMeasurement(ctx, "db", "mem")
	var se *coordinator.ShardOwnersError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "owner 1") {
		t.Errorf("drop measurement with node 1 down: got %v, want a *ShardOwnersError naming owner 1", err)
	}
}

// FuzzReadRPCHandler posts arbitrary bodies to the read endpoints: the
// handler never panics and answers every request with a status.
func FuzzReadRPCHandler(f *testing.F) {
	store := openTestStore(f, 1)
	if err := store.WriteToShard(context.Background(), 1, lp(f, readerTestData)); err != nil {
		f.Fatalf("write: %v", err)
	}
	h := coordinator.NewRPCHandler(coordinator.NewConfig(), &fakeStore{}, nil, nil)
	h.SetShardReader(coordinator.NewLocalShardReader(store))
	paths := []string{coordinator.RPCShardScanPath, coordinator.RPCShardMetaPath, coordinator.RPCShardDeletePath}
	f.Add(uint8(0), `{"shard":1,"measurement":"cpu","fields":["usage"],"min":0,"max":100,"condition":"host = 'a' OR region =~ /u/"}`)
	f.Add(uint8(0), `{"shard":1,"measurement":"cpu","fields":["usage","state"],"max":100,"window":{"every":7,"offset":-3,"aggregates":63}}`)
	f.Add(uint8(1), `{"shard":1,"kind":3,"measurement":"cpu","tag_key":"host","condition":"region != 'x'"}`)
	f.Add(uint8(1), `{"shard":1,"kind":5,"measurement":"cpu"}`)
	f.Add(uint8(2), `{"shard":1,"kind":3,"measurement":"mem","condition":"host = 'c'","min":0,"max":10}`)
	f.Add(uint8(0), `{"shard":1,"condition":"((("}`)
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		req := httptest.NewRequest(http.MethodPost, paths[int(which)%len(paths)], strings.NewReader(body))
		req.Header.Set(coordinator.RPCVersionHeader, "1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 0 {
			t.Fatalf("no status for %q", body)
		}
	})
}
