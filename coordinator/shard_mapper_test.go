package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// fakeReader implements coordinator.ShardReader and, through node, the
// RemoteShardReader of fakeRemote.
type fakeReader struct {
	ScanShardFn       func(ctx context.Context, shardID uint64, req *query.ScanRequest, fn func(*query.SeriesBatch) error) error
	ShardMetaFn       func(ctx context.Context, shardID uint64, req *coordinator.MetaRequest) (coordinator.MetaResult, error)
	DeleteFromShardFn func(ctx context.Context, shardID uint64, req *coordinator.DeleteRequest) error
}

func (f *fakeReader) ScanShard(ctx context.Context, shardID uint64, req *query.ScanRequest, fn func(*query.SeriesBatch) error) error {
	return f.ScanShardFn(ctx, shardID, req, fn)
}

func (f *fakeReader) ShardMeta(ctx context.Context, shardID uint64, req *coordinator.MetaRequest) (coordinator.MetaResult, error) {
	return f.ShardMetaFn(ctx, shardID, req)
}

func (f *fakeReader) DeleteFromShard(ctx context.Context, shardID uint64, req *coordinator.DeleteRequest) error {
	return f.DeleteFromShardFn(ctx, shardID, req)
}

// fakeNodes implements coordinator.RemoteShardReader over one fakeReader
// per node, recording the calls.
type fakeNodes struct {
	mu    sync.Mutex
	nodes map[uint64]coordinator.ShardReader
	calls []string // "node/shard"
}

func (f *fakeNodes) node(id, shard uint64) (coordinator.ShardReader, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("%d/%d", id, shard))
	r := f.nodes[id]
	if r == nil {
		return nil, fmt.Errorf("dial node %d: connection refused", id)
	}
	return r, nil
}

func (f *fakeNodes) ScanShard(ctx context.Context, nodeID, shardID uint64, req *query.ScanRequest, fn func(*query.SeriesBatch) error) error {
	r, err := f.node(nodeID, shardID)
	if err != nil {
		return err
	}
	return r.ScanShard(ctx, shardID, req, fn)
}

func (f *fakeNodes) ShardMeta(ctx context.Context, nodeID, shardID uint64, req *coordinator.MetaRequest) (coordinator.MetaResult, error) {
	r, err := f.node(nodeID, shardID)
	if err != nil {
		return coordinator.MetaResult{}, err
	}
	return r.ShardMeta(ctx, shardID, req)
}

func (f *fakeNodes) DeleteFromShard(ctx context.Context, nodeID, shardID uint64, req *coordinator.DeleteRequest) error {
	r, err := f.node(nodeID, shardID)
	if err != nil {
		return err
	}
	return r.DeleteFromShard(ctx, shardID, req)
}

func (f *fakeNodes) callList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// fixedMeta is a MetaState over fixed data.
type fixedMeta struct{ d *meta.Data }

func (m fixedMeta) Data() *meta.Data { return m.d }

var hour = time.Hour

// clusterData returns db "db" / rp "rp" with one group per hour starting
// at t0, each with the given shards (ids and owners).
func clusterData(groups ...[]meta.ShardInfo) *meta.Data {
	t0 := time.Unix(0, 0).UTC()
	rp := meta.RetentionPolicyInfo{Name: "rp", ShardGroupDuration: hour, ReplicaN: 2}
	for i, shards := range groups {
		rp.ShardGroups = append(rp.ShardGroups, meta.ShardGroupInfo{ID: uint64(i + 1),
			StartTime: t0.Add(time.Duration(i) * hour), EndTime: t0.Add(time.Duration(i+1) * hour), Shards: shards})
	}
	return &meta.Data{
		DataNodes: []meta.NodeInfo{{ID: 1}, {ID: 2}, {ID: 3}},
		Databases: []meta.DatabaseInfo{{Name: "db", DefaultRetentionPolicy: "rp", RetentionPolicies: []meta.RetentionPolicyInfo{rp}}},
	}
}

// seriesReader serves, for every shard, the given series keys (one float
// point each at the shard id), after failAfter batches failing with err
// when err is set.
func seriesReader(keys []string, failAfter int, err error) *fakeReader {
	return &fakeReader{ScanShardFn: func(ctx context.Context, shardID uint64, req *query.ScanRequest, fn func(*query.SeriesBatch) error) error {
		for i, k := range keys {
			if err != nil && i == failAfter {
				return err
			}
			b := query.SeriesBatch{Key: k, Fields: []query.FieldColumn{{Name: "v", Type: models.FieldTypeFloat,
				Points: []query.Point{{Time: int64(shardID), Value: models.FloatValue(float64(shardID))}}}}}
			if err := fn(&b); err != nil {
				return err
			}
		}
		return nil
	}}
}

func newStorage(d *meta.Data, self uint64, local coordinator.ShardReader, remote coordinator.RemoteShardReader) *coordinator.ClusterStorage {
	return coordinator.NewClusterStorage(coordinator.NewConfig(), fixedMeta{d}, func() uint64 { return self }, local, remote, nil, prometheus.NewRegistry())
}

func scanAll(t *testing.T, s *coordinator.ClusterStorage, min, max int64) ([]string, error) {
	t.Helper()
	var got []string
	err := s.Scan(context.Background(), query.ScanRequest{Database: "db", RetentionPolicy: "rp", Measurement: "cpu", Fields: []string{"v"}, Min: min, Max: max},
		func(b *query.SeriesBatch) error {
			got = append(got, fmt.Sprintf("%s@%d", b.Key, b.Fields[0].Points[0].Time))
			return nil
		})
	slices.Sort(got)
	return got, err
}

func TestClusterStorageOwnerSelection(t *testing.T) {
	d := clusterData([]meta.ShardInfo{{ID: 3, Owners: []uint64{1, 2, 3}}, {ID: 4, Owners: []uint64{1, 2, 3}}, {ID: 5, Owners: []uint64{3, 1}}})
	all := seriesReader([]string{"cpu"}, 0, nil)

	// Node 2 reads its own shards locally and the others remotely.
	nodes := &fakeNodes{nodes: map[uint64]coordinator.ShardReader{1: all, 2: all, 3: all}}
	var localCalls atomic.Int32
	local := &fakeReader{ScanShardFn: func(ctx context.Context, shardID uint64, req *query.ScanRequest, fn func(*query.SeriesBatch) error) error {
		localCalls.Add(1)
		return all.ScanShardFn(ctx, shardID, req, fn)
	}}
	got, err := scanAll(t, newStorage(d, 2, local, nodes), 0, 1)
	if want := []string{"cpu@3", "cpu@4", "cpu@5"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("scan = %q, %v; want %q", got, err, want)
	}
	if n := localCalls.Load(); n != 2 {
		t.Errorf("local scans = %d, want 2 (shards 3 and 4)", n)
	}
	// Shard 5's remote owners [3 1] rotated by 5 % 2 = 1: node 1 first.
	if calls := nodes.callList(); !slices.Equal(calls, []string{"1/5"}) {
		t.Errorf("remote calls = %q, want [1/5]", calls)
	}

	// Node 9 owns nothing: each shard starts at owner index id % n.
	nodes = &fakeNodes{nodes: map[uint64]coordinator.ShardReader{1: all, 2: all, 3: all}}
	if _, err := scanAll(t, newStorage(d, 9, nil, nodes), 0, 1); err != nil {
		t.Fatalf("scan from node 9: %v", err)
	}
	calls := nodes.callList()
	slices.Sort(calls)
	if want := []string{"1/3", "1/5", "2/4"}; !slices.Equal(calls, want) {
		t.Errorf("remote calls from node 9 = %q, want %q", calls, want)
	}
}

func TestClusterStorageRetriesNextOwner(t *testing.T) {
	d := clusterData([]meta.ShardInfo{{ID: 2, Owners: []uint64{1, 2}}})
	keys := []string{"cpu,host=a", "cpu,host=b", "cpu,host=c"}
	// Shard 2 from node 9 starts at owner 1 (2 % 2 = 0), which dies after
	// one series; owner 2 has them all.
	nodes := &fakeNodes{nodes: map[uint64]coordinator.ShardReader{
		1: seriesReader(keys, 1, errors.New("read tcp: connection reset by peer")),
		2: seriesReader(keys, 0, nil),
	}}
	reg := prometheus.NewRegistry()
	s := coordinator.NewClusterStorage(coordinator.NewConfig(), fixedMeta{d}, func() uint64 { return 9 }, nil, nodes, nil, reg)
	got, err := scanAll(t, s, 0, 10)
	if want := []string{"cpu,host=a@2", "cpu,host=b@2", "cpu,host=c@2"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("scan with a failing owner = %q, %v; want each series once: %q", got, err, want)
	}
	if calls := nodes.callList(); !slices.Equal(calls, []string{"1/2", "2/2"}) {
		t.Errorf("calls = %q, want [1/2 2/2]", calls)
	}
	if n := metricValue(t, reg, "strata_coordinator_shard_read_retries_total", "", ""); n != 1 {
		t.Errorf("retries metric = %v, want 1", n)
	}

	// An unreachable owner (no reader) is skipped the same way.
	nodes = &fakeNodes{nodes: map[uint64]coordinator.ShardReader{2: seriesReader(keys[:1], 0, nil)}}
	got, err = scanAll(t, newStorage(d, 9, nil, nodes), 0, 10)
	if want := []string{"cpu,host=a@2"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("scan with an unreachable owner = %q, %v; want %q", got, err, want)
	}
}

func TestClusterStorageAllOwnersFail(t *testing.T) {
	d := clusterData([]meta.ShardInfo{{ID: 2, Owners: []uint64{1, 2}}})
	nodes := &fakeNodes{nodes: map[uint64]coordinator.ShardReader{1: seriesReader([]string{"cpu"}, 0, context.DeadlineExceeded)}}
	_, err := scanAll(t, newStorage(d, 9, nil, nodes), 0, 10)
	var se *coordinator.ShardOwnersError
	if !errors.As(err, &se) || !errors.Is(err, coordinator.ErrShardUnavailable) {
		t.Fatalf("scan with every owner down: got %v, want a *ShardOwnersError wrapping ErrShardUnavailable", err)
	}
	if se.ShardID != 2 || len(se.Errs) != 2 || !strings.Contains(err.Error(), "owner 1") || !strings.Contains(err.Error(), "owner 2") {
		t.Errorf("error = %q (shard %d, %d owner errors), want shard 2 naming owners 1 and 2", err, se.ShardID, len(se.Errs))
	}

	// Every owner lacking the shard: it has no data yet.
	missing := &fakeReader{ScanShardFn: func(context.Context, uint64, *query.ScanRequest, func(*query.SeriesBatch) error) error {
		return fmt.Errorf("shard 2: %w", coordinator.ErrShardNotFound)
	}}
	nodes = &fakeNodes{nodes: map[uint64]coordinator.ShardReader{1: missing, 2: missing}}
	got, err := scanAll(t, newStorage(d, 9, nil, nodes), 0, 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("scan of a shard no owner holds = %q, %v; want nothing, no error", got, err)
	}
}

func TestClusterStorageShardGroupSelection(t *testing.T) {
	d := clusterData(
		[]meta.ShardInfo{{ID: 1, Owners: []uint64{1}}},
		[]meta.ShardInfo{{ID: 2, Owners: []uint64{1}}},
		[]meta.ShardInfo{{ID: 3, Owners: []uint64{1}}, {ID: 4, Owners: []uint64{1}}},
	)
	d.Databases[0].RetentionPolicies[0].ShardGroups[1].DeletedAt = time.Unix(100, 0)
	local := seriesReader([]string{"cpu"}, 0, nil)
	s := newStorage(d, 1, local, nil)
	h := int64(hour)
	for _, tc := range []struct {
		min, max int64
		want     []string
	}{
		{0, 3*h - 1, []string{"cpu@1", "cpu@3", "cpu@4"}}, // group 2 deleted
		{h, 2*h - 1, nil},
		{2 * h, 2 * h, []string{"cpu@3", "cpu@4"}},
		{h - 1, h - 1, []string{"cpu@1"}},
		{3 * h, 4 * h, nil},
		{5, 4, nil},
	} {
		got, err := scanAll(t, s, tc.min, tc.max)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("scan [%d, %d] = %q, %v; want %q", tc.min, tc.max, got, err, tc.want)
		}
	}
	ctx := context.Background()
	for _, tc := range []struct {
		db, rp string
		want   error
	}{{"nope", "rp", coordinator.ErrDatabaseNotFound}, {"db", "nope", coordinator.ErrRetentionPolicyNotFound}} {
		err := s.Scan(ctx, query.ScanRequest{Database: tc.db, RetentionPolicy: tc.rp, Max: 1}, func(*query.SeriesBatch) error { return nil })
		if !errors.Is(err, tc.want) {
			t.Errorf("scan %s.%s: got %v, want %v", tc.db, tc.rp, err, tc.want)
		}
	}
	if _, err := newStorage(nil, 1, local, nil).MeasurementNames(ctx, "db", "rp", nil, 0, 1); !errors.Is(err, coordinator.ErrMetaNotReady) {
		t.Errorf("without meta state: got %v, want ErrMetaNotReady", err)
	}
}

func TestClusterStorageParallelDeliversSerially(t *testing.T) {
	const shards = 4
	var infos []meta.ShardInfo
	for i := range shards {
		infos = append(infos, meta.ShardInfo{ID: uint64(i + 1), Owners: []uint64{1}})
	}
	d := clusterData(infos)
	var inFlight atomic.Int32
	allIn := make(chan struct{})
	local := &fakeReader{ScanShardFn: func(ctx context.Context, shardID uint64, req *query.ScanRequest, fn func(*query.SeriesBatch) error) error {
		if inFlight.Add(1) == shards {
			close(allIn)
		}
		select { // every shard is read at the same time, or this times out
		case <-allIn:
		case <-time.After(10 * time.Second):
			return errors.New("shards were not read in parallel")
		}
		for i := range 200 {
			b := query.SeriesBatch{Key: fmt.Sprintf("cpu,s=%d,i=%d", shardID, i)}
			if err := fn(&b); err != nil {
				return err
			}
		}
		return nil
	}}
	s := newStorage(d, 1, local, nil)
	var inFn atomic.Int32
	n := 0
	err := s.Scan(context.Background(), query.ScanRequest{Database: "db", RetentionPolicy: "rp", Measurement: "cpu", Max: 1},
		func(*query.SeriesBatch) error {
			if inFn.Add(1) != 1 {
				return errors.New("fn called concurrently")
			}
			n++
			time.Sleep(time.Microsecond)
			inFn.Add(-1)
			return nil
		})
	if err != nil || n != shards*200 {
		t.Fatalf("parallel scan: %d batches, %v; want %d, no error", n, err, shards*200)
	}

	// An error from fn stops the scan, is returned as is, and is not
	// retried on another owner.
	stop := errors.New("stop")
	d = clusterData([]meta.ShardInfo{{ID: 7, Owners: []uint64{1, 2}}})
	nodes := &fakeNodes{nodes: map[uint64]coordinator.ShardReader{2: seriesReader([]string{"a", "b"}, 0, nil)}}
	err = newStorage(d, 1, seriesReader([]string{"a", "b"}, 0, nil), nodes).Scan(context.Background(),
		query.ScanRequest{Database: "db", RetentionPolicy: "rp", Measurement: "cpu", Max: 1}, func(*query.SeriesBatch) error { return stop })
	if err != stop {
		t.Errorf("fn error: got %v, want it returned as is", err)
	}
	if calls := nodes.callList(); len(calls) != 0 {
		t.Errorf("fn error retried on %q, want no remote call", calls)
	}
}

func TestClusterStorageMetadataUnion(t *testing.T) {
	d := clusterData([]meta.ShardInfo{{ID: 1, Owners: []uint64{1}}, {ID: 2, Owners: []uint64{2}}})
	answers := map[uint64]coordinator.MetaResult{
		1: {Values: []string{"cpu", "mem"}, Fields: []query.FieldKey{{Name: "v", Type: models.FieldTypeFloat}, {Name: "w", Type: models.FieldTypeInteger}}},
		2: {Values: []string{"disk", "mem"}, Fields: []query.FieldKey{{Name: "v", Type: models.FieldTypeFloat}, {Name: "v", Type: models.FieldTypeString}}},
	}
	var (
		mu     sync.Mutex // protects gotReq (shards are read in parallel)
		gotReq coordinator.MetaRequest
	)
	reader := &fakeReader{ShardMetaFn: func(ctx context.Context, shardID uint64, req *coordinator.MetaRequest) (coordinator.MetaResult, error) {
		mu.Lock()
		defer mu.Unlock()
		gotReq = *req
		return answers[shardID], nil
	}}
	nodes := &fakeNodes{nodes: map[uint64]coordinator.ShardReader{2: reader}}
	s := newStorage(d, 1, reader, nodes)
	ctx := context.Background()
	names, err := s.MeasurementNames(ctx, "db", "rp", cond(t, "host = 'a'"), 0, 1)
	if want := []string{"cpu", "disk", "mem"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("MeasurementNames = %q, %v; want %q", names, err, want)
	}
	if gotReq.Kind != coordinator.MetaMeasurements || gotReq.Condition == nil || gotReq.Condition.String() != "host = 'a'" {
		t.Errorf("request = %+v, want measurements with the condition", gotReq)
	}
	fields, err := s.FieldKeys(ctx, "db", "rp", "cpu", 0, 1)
	wantFields := []query.FieldKey{{Name: "v", Type: models.FieldTypeFloat}, {Name: "v", Type: models.FieldTypeString}, {Name: "w", Type: models.FieldTypeInteger}}
	if err != nil || !slices.Equal(fields, wantFields) {
		t.Errorf("FieldKeys = %v, %v; want %v", fields, err, wantFields)
	}
	if _, err := s.TagValues(ctx, "db", "rp", "cpu", "host", nil, 0, 1); err != nil || gotReq.Kind != coordinator.MetaTagValues || gotReq.TagKey != "host" || gotReq.Measurement != "cpu" {
		t.Errorf("TagValues request = %+v, %v; want tag values of cpu.host", gotReq, err)
	}
}

func TestClusterStorageDeletesReachEveryOwner(t *testing.T) {
	d := clusterData([]meta.ShardInfo{{ID: 1, Owners: []uint64{1, 2}}}, []meta.ShardInfo{{ID: 2, Owners: []uint64{2, 3}}})
	var mu sync.Mutex
	var got []string
	recorder := func(node uint64, err error) *fakeReader {
		return &fakeReader{DeleteFromShardFn: func(ctx context.Context, shardID uint64, req *coordinator.DeleteRequest) error {
			mu.Lock()
			got = append(got, fmt.Sprintf("%d/%d kind=%d m=%s", node, shardID, req.Kind, req.Measurement))
			mu.Unlock()
			return err
		}}
	}
	nodes := &fakeNodes{nodes: map[uint64]coordinator.ShardReader{2: recorder(2, nil), 3: recorder(3, fmt.Errorf("x: %w", coordinator.ErrShardNotFound))}}
	s := newStorage(d, 1, recorder(1, nil), nodes)
	ctx := context.Background()
	if err := s.DropMeasurement(ctx, "db", "cpu"); err != nil {
		t.Fatalf("DropMeasurement: %v", err)
	}
	slices.Sort(got)
	if want := []string{"1/1 kind=1 m=cpu", "2/1 kind=1 m=cpu", "2/2 kind=1 m=cpu", "3/2 kind=1 m=cpu"}; !slices.Equal(got, want) {
		t.Errorf("drop measurement calls = %q, want %q", got, want)
	}

	// DELETE over the first hour reaches only shard 1's owners.
	got = nil
	if err := s.DeleteSeries(ctx, "db", "cpu", cond(t, "host = 'a'"), 0, int64(hour)-1); err != nil {
		t.Fatalf("DeleteSeries: %v", err)
	}
	slices.Sort(got)
	if want := []string{"1/1 kind=3 m=cpu", "2/1 kind=3 m=cpu"}; !slices.Equal(got, want) {
		t.Errorf("delete calls = %q, want %q", got, want)
	}

	// An unreachable owner fails the delete, naming it.
	nodes.nodes = map[uint64]coordinator.ShardReader{2: recorder(2, nil)}
	err := s.DropSeries(ctx, "db", "", cond(t, "host = 'a'"))
	var se *coordinator.ShardOwnersError
	if !errors.As(err, &se) || se.ShardID != 2 || !strings.Contains(err.Error(), "owner 3") {
		t.Fatalf("drop series with owner 3 down: got %v, want a *ShardOwnersError for shard 2 naming owner 3", err)
	}
	if err := s.DropSeries(ctx, "db", "", cond(t, "v > 1")); !errors.Is(err, coordinator.ErrInvalidCondition) {
		t.Errorf("drop series on a field: got %v, want ErrInvalidCondition", err)
	}
	if err := s.DropMeasurement(ctx, "nope", "cpu"); !errors.Is(err, coordinator.ErrDatabaseNotFound) {
		t.Errorf("drop in unknown db: got %v, want ErrDatabaseNotFound", err)
	}
}

// TestClusterStoragePanicFailsOnlyTheQuery checks that a panic while reading
// a shard (a storage bug reached by one query's input) becomes that query's
// error instead of ending the process: `SELECT first(v) … GROUP BY time`
// over a string field once took a whole node down from a read goroutine.
// Both ways of reading are covered: one shard (on the caller's goroutine)
// and several (on read goroutines).
func TestClusterStoragePanicFailsOnlyTheQuery(t *testing.T) {
	for _, groups := range [][][]meta.ShardInfo{
		{{{ID: 2, Owners: []uint64{1}}}},
		{{{ID: 2, Owners: []uint64{1}}}, {{ID: 3, Owners: []uint64{1}}}},
	} {
		d := clusterData(groups...)
		local := &fakeReader{ScanShardFn: func(context.Context, uint64, *query.ScanRequest, func(*query.SeriesBatch) error) error {
			var windows []int
			_ = windows[len(windows)] // index out of range
			return nil
		}}
		_, err := scanAll(t, newStorage(d, 1, local, nil), 0, int64(2*hour))
		if err == nil || !strings.Contains(err.Error(), "internal error reading shard") || !strings.Contains(err.Error(), "index out of range") {
			t.Fatalf("scan of %d shard groups whose shard read panics: got %v; want an internal error naming the panic", len(groups), err)
		}
	}
}
