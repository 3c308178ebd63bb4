package antientropy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

const testShard = 1

// base is a time well before any settle horizon, on a window boundary.
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// testStore adapts a *tsdb.Store to antientropy.Store, as data does.
type testStore struct{ s *tsdb.Store }

func (ts testStore) Shard(id uint64) antientropy.Shard {
	sh := ts.s.Shard(id)
	if sh == nil {
		return nil
	}
	return testShardT{sh}
}

func (ts testStore) CreateShard(id uint64) error { return ts.s.CreateShard(id) }

type testShardT struct{ *tsdb.Shard }

func (s testShardT) SeriesKeys() [][]byte {
	ix := s.Index()
	var keys [][]byte
	for _, m := range ix.Measurements() {
		for _, id := range ix.MeasurementSeriesIDs(m) {
			keys = append(keys, ix.SeriesKey(id))
		}
	}
	return keys
}

type staticMeta struct{ d *meta.Data }

func (m staticMeta) Data() *meta.Data { return m.d }

// handlerPeers routes Post to the services' handlers in process.
type handlerPeers struct {
	nodes map[uint64]*antientropy.Service
}

func (p *handlerPeers) Post(ctx context.Context, node uint64, path string, body io.Reader) (io.ReadCloser, error) {
	svc := p.nodes[node]
	if svc == nil {
		return nil, fmt.Errorf("node %d is down", node)
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, path, body)
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, req)
	if rec.Code/100 != 2 {
		var a struct{ Code, Error string }
		_ = json.Unmarshal(rec.Body.Bytes(), &a)
		return nil, &antientropy.PeerError{Node: node, StatusCode: rec.Code, Code: a.Code, Message: a.Error}
	}
	return io.NopCloser(bytes.NewReader(rec.Body.Bytes())), nil
}

type fakeHints struct {
	pending map[uint64]bool
	purged  *[]antientropy.PurgedRange
}

func (h fakeHints) Pending(n uint64) bool { return h.pending[n] }

func (h fakeHints) PurgedRanges() []antientropy.PurgedRange {
	if h.purged == nil {
		return nil
	}
	return *h.purged
}

func (h fakeHints) ClearPurged(r antientropy.PurgedRange) error {
	*h.purged = slices.DeleteFunc(*h.purged, func(x antientropy.PurgedRange) bool { return x == r })
	return nil
}

// cluster is N nodes owning shard testShard, each with its own store.
type cluster struct {
	t      testing.TB
	stores map[uint64]*tsdb.Store
	svcs   map[uint64]*antientropy.Service
	regs   map[uint64]*prometheus.Registry
	peers  *handlerPeers
	cfg    antientropy.Config
	tcfg   tsdb.Config
}

func storageConfig(dir string) tsdb.Config {
	c := tsdb.NewConfig()
	c.Dir = dir
	c.CompactCheckInterval = 0
	c.CompactThroughput = 0
	c.DigestSeriesBuckets = 64
	return c
}

func newCluster(t testing.TB, n int, hints map[uint64]antientropy.Hints) *cluster {
	return newClusterBuckets(t, n, hints, 64)
}

// newClusterBuckets is newCluster with buckets digest series buckets.
func newClusterBuckets(t testing.TB, n int, hints map[uint64]antientropy.Hints, buckets int) *cluster {
	return newClusterConfig(t, n, hints, buckets, func(*antientropy.Config) {})
}

// newClusterConfig is newClusterBuckets with the services' configuration
// (no cpu-budget or rate-limit) changed by configure.
func newClusterConfig(t testing.TB, n int, hints map[uint64]antientropy.Hints, buckets int, configure func(*antientropy.Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, stores: map[uint64]*tsdb.Store{}, svcs: map[uint64]*antientropy.Service{},
		regs: map[uint64]*prometheus.Registry{}, peers: &handlerPeers{nodes: map[uint64]*antientropy.Service{}}}
	c.cfg = antientropy.NewConfig()
	c.cfg.CPUBudget = 1
	c.cfg.RateLimit = 0
	configure(&c.cfg)
	d := &meta.Data{}
	var owners []uint64
	for id := uint64(1); id <= uint64(n); id++ {
		owners = append(owners, id)
		d.DataNodes = append(d.DataNodes, meta.NodeInfo{ID: id, RPCAddr: fmt.Sprintf("node%d", id)})
	}
	d.Databases = []meta.DatabaseInfo{{Name: "db", RetentionPolicies: []meta.RetentionPolicyInfo{{Name: "rp", ReplicaN: n,
		ShardGroups: []meta.ShardGroupInfo{{ID: 1, StartTime: time.Unix(0, base), EndTime: time.Unix(0, base).Add(7 * 24 * time.Hour),
			Shards: []meta.ShardInfo{{ID: testShard, Owners: owners}}}}}}}}
	for _, id := range owners {
		c.tcfg = storageConfig(t.TempDir())
		c.tcfg.DigestSeriesBuckets = buckets
		st := tsdb.NewStore(c.tcfg, nil, prometheus.NewRegistry())
		if err := st.Open(); err != nil {
			t.Fatalf("open store: %v", err)
		}
		if err := st.CreateShard(testShard); err != nil {
			t.Fatalf("create shard: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		c.stores[id] = st
		var h antientropy.Hints
		if hints != nil {
			h = hints[id]
		}
		reg := prometheus.NewRegistry()
		c.regs[id] = reg
		svc := antientropy.NewService(c.cfg, antientropy.Deps{
			Node: func() uint64 { return id }, Meta: staticMeta{d}, Store: testStore{st}, Peers: c.peers, Hints: h,
			Buckets: c.tcfg.DigestSeriesBuckets, Window: time.Duration(c.tcfg.DigestWindow), Registerer: reg,
		})
		c.svcs[id] = svc
		c.peers.nodes[id] = svc
	}
	return c
}

func (c *cluster) shard(id uint64) *tsdb.Shard { return c.stores[id].Shard(testShard) }

func (c *cluster) write(id uint64, pts ...models.Point) {
	c.t.Helper()
	if err := c.shard(id).WritePoints(context.Background(), pts); err != nil {
		c.t.Fatalf("write to node %d: %v", id, err)
	}
}

// root returns node id's root over every window.
func (c *cluster) root(id uint64) tsdb.Digest {
	c.t.Helper()
	ds, err := c.shard(id).Digests(context.Background())
	if err != nil {
		c.t.Fatalf("digests: %v", err)
	}
	tr := antientropy.NewTree(c.tcfg.DigestSeriesBuckets, int64(c.tcfg.DigestWindow))
	tr.Update(ds)
	return tr.Root(1 << 62)
}

// content returns node id's live values as sorted lines.
func (c *cluster) content(id uint64) []string {
	return shardContent(c.t, c.shard(id))
}

func shardContent(t testing.TB, sh *tsdb.Shard) []string {
	t.Helper()
	var out []string
	ix := sh.Index()
	for _, m := range ix.Measurements() {
		for _, sid := range ix.MeasurementSeriesIDs(m) {
			err := sh.SeriesPoints(ix.SeriesKey(sid), -1<<63, 1<<63-1, func(p models.Point) error {
				out = append(out, p.String())
				return nil
			})
			if err != nil {
				t.Fatalf("read: %v", err)
			}
		}
	}
	sort.Strings(out)
	return out
}

func pt(host, field string, ts int64, v models.Value) models.Point {
	return models.Point{
		Measurement: []byte("cpu"),
		Tags:        models.Tags{{Key: []byte("host"), Value: []byte(host)}},
		Fields:      []models.Field{{Key: []byte(field), Value: v}},
		Time:        ts,
	}
}

func seriesKey(host string) []byte {
	return models.AppendSeriesKey(nil, []byte("cpu"), models.Tags{{Key: []byte("host"), Value: []byte(host)}})
}

// series returns n values of host's field usage, one every 10 s from start.
func series(host string, start int64, n int, v func(i int) int64) []models.Point {
	var pts []models.Point
	for i := range n {
		pts = append(pts, pt(host, "usage", start+int64(i)*int64(10*time.Second), models.IntegerValue(v(i))))
	}
	return pts
}

// counter returns the value of a metric's child by its one label value
// ("" for an unlabelled metric), 0 when absent.
func counter(t testing.TB, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
