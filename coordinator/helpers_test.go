package coordinator_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/datasets"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// fakeMeta implements coordinator.MetaClient with function fields.
type fakeMeta struct {
	DataFn             func() *meta.Data
	CreateShardGroupFn func(ctx context.Context, db, rp string, t time.Time) (*meta.ShardGroupInfo, error)
}

func (f *fakeMeta) Data() *meta.Data { return f.DataFn() }

func (f *fakeMeta) CreateShardGroup(ctx context.Context, db, rp string, t time.Time) (*meta.ShardGroupInfo, error) {
	return f.CreateShardGroupFn(ctx, db, rp, t)
}

// fakeStore implements coordinator.TSDBStore.
type fakeStore struct {
	WriteToShardFn func(shardID uint64, points []models.Point) error
}

func (f *fakeStore) WriteToShard(_ context.Context, shardID uint64, points []models.Point) error {
	return f.WriteToShardFn(shardID, points)
}

// fakeShardWriter implements coordinator.ShardWriter. It decodes each
// batch at the time of the call and hands WriteShardFn the points, so a
// test sees exactly what would have been sent.
type fakeShardWriter struct {
	WriteShardFn func(ctx context.Context, nodeID, shardID uint64, points []models.Point) error
}

func (f *fakeShardWriter) WriteShardBatch(ctx context.Context, nodeID, shardID uint64, batch []byte) error {
	pts, err := coordinator.DecodePoints(batch, nil)
	if err != nil {
		return fmt.Errorf("fake shard writer: %w", err)
	}
	return f.WriteShardFn(ctx, nodeID, shardID, pts)
}

// fakeHH implements coordinator.HintedHandoff; like fakeShardWriter, it
// decodes each batch when it is called.
type fakeHH struct {
	WriteShardFn func(nodeID, shardID uint64, points []models.Point) error
	PendingFn    func(nodeID uint64) bool
}

func (f *fakeHH) WriteShardBatch(nodeID, shardID uint64, batch []byte) error {
	pts, err := coordinator.DecodePoints(batch, nil)
	if err != nil {
		return fmt.Errorf("fake hinted handoff: %w", err)
	}
	return f.WriteShardFn(nodeID, shardID, pts)
}

func (f *fakeHH) Pending(nodeID uint64) bool { return f.PendingFn(nodeID) }

// partialErr is a store-side partial write error that is not the
// coordinator's own type, as tsdb's is.
type partialErr struct{ dropped int }

func (e *partialErr) Error() string {
	return "partial write: field type conflict: input field \"v\" is type string, already exists as type float dropped=2"
}
func (e *partialErr) PartialWrite() int { return e.dropped }

// recorder collects the (node, shard, points) writes it sees.
type recorder struct {
	mu     sync.Mutex
	writes []write
}

type write struct {
	node, shard uint64
	lines       []string
}

func (r *recorder) add(node, shard uint64, pts []models.Point) {
	w := write{node: node, shard: shard}
	for i := range pts {
		w.lines = append(w.lines, pts[i].String())
	}
	r.mu.Lock()
	r.writes = append(r.writes, w)
	r.mu.Unlock()
}

func (r *recorder) all() []write {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]write(nil), r.writes...)
}

const (
	testDB = "db0"
	testRP = "rp0"
)

var testGroupStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// testData returns a state with data nodes 1..nodes and database db0 whose
// default policy rp0 (infinite retention, 1h groups, replication rf) holds
// groups.
func testData(nodes, rf int, groups ...meta.ShardGroupInfo) *meta.Data {
	d := &meta.Data{Index: 1}
	for i := 1; i <= nodes; i++ {
		d.DataNodes = append(d.DataNodes, meta.NodeInfo{ID: uint64(i), HTTPAddr: "127.0.0.1:1", RPCAddr: "127.0.0.1:1"})
	}
	d.Databases = []meta.DatabaseInfo{{
		Name:                   testDB,
		DefaultRetentionPolicy: testRP,
		RetentionPolicies: []meta.RetentionPolicyInfo{{
			Name: testRP, ShardGroupDuration: time.Hour, ReplicaN: rf, ShardGroups: groups,
		}},
	}}
	return d
}

// group returns a 1h group starting at start whose shards have the given
// owners, with shard ids firstShard, firstShard+1, ...
func group(id uint64, start time.Time, firstShard uint64, owners ...[]uint64) meta.ShardGroupInfo {
	g := meta.ShardGroupInfo{ID: id, StartTime: start, EndTime: start.Add(time.Hour)}
	for i, o := range owners {
		g.Shards = append(g.Shards, meta.ShardInfo{ID: firstShard + uint64(i), Owners: o})
	}
	return g
}

// staticMeta serves d and fails shard group creation.
func staticMeta(t testing.TB, d *meta.Data) *fakeMeta {
	return &fakeMeta{
		DataFn: func() *meta.Data { return d },
		CreateShardGroupFn: func(ctx context.Context, db, rp string, ts time.Time) (*meta.ShardGroupInfo, error) {
			t.Errorf("unexpected CreateShardGroup(%q, %q, %s)", db, rp, ts)
			return nil, meta.ErrShardGroupNotFound
		},
	}
}

func testConfig() coordinator.Config {
	c := coordinator.NewConfig()
	c.WriteTimeout = meta.Duration(5 * time.Second)
	return c
}

// newPointsWriter returns coordinator.NewPointsWriter(...) closed when tb
// ends, so its background writes never outlive the test.
func newPointsWriter(tb testing.TB, cfg coordinator.Config, nodeID func() uint64, mc coordinator.MetaClient, local coordinator.TSDBStore,
	remote coordinator.ShardWriter, hh coordinator.HintedHandoff, reg prometheus.Registerer) *coordinator.PointsWriter {
	w := coordinator.NewPointsWriter(cfg, nodeID, mc, local, remote, hh, nil, reg)
	tb.Cleanup(func() { w.Close() })
	return w
}

func selfID(id uint64) func() uint64 { return func() uint64 { return id } }

// mustParse parses line protocol (ns timestamps), failing the test on any
// bad line; the points are cloned so they outlive the parser.
func mustParse(t testing.TB, lp string) []models.Point {
	t.Helper()
	var p models.Parser
	pts, err := p.Parse([]byte(lp), models.PrecisionNanosecond, 0)
	if err != nil {
		t.Fatalf("parse %q: got error %v, want none", lp, err)
	}
	out := make([]models.Point, len(pts))
	for i := range pts {
		out[i] = pts[i].Clone()
	}
	return out
}

// loadPoints parses up to max lines of a gzipped line-protocol dataset into
// cloned points.
func loadPoints(tb testing.TB, name string, max int) []models.Point {
	tb.Helper()
	pts := loadParsedPoints(tb, name, max)
	out := make([]models.Point, len(pts))
	for i := range pts {
		out[i] = pts[i].Clone()
	}
	return out
}

// loadParsedPoints returns the first max lines of a dataset as the
// line-protocol parser gives them to the write path: the points of a
// series share their Measurement and Tags slices.
func loadParsedPoints(tb testing.TB, name string, max int) []models.Point {
	tb.Helper()
	f, err := os.Open(datasets.Path(tb, name))
	if err != nil {
		tb.Fatalf("open dataset: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatalf("gunzip dataset: %v", err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var body []byte
	n := 0
	for n < max && sc.Scan() {
		body = append(append(body, sc.Bytes()...), '\n')
		n++
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read dataset: %v", err)
	}
	var p models.Parser
	pts, err := p.Parse(body, models.PrecisionNanosecond, 0)
	if err != nil {
		tb.Fatalf("parse dataset: %v", err)
	}
	return pts
}

// metricValue returns the value of the counter or gauge name whose label
// has value (label "" for an unlabelled series), or 0 when absent.
func metricValue(t testing.TB, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}
