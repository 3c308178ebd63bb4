// Package clustertest runs an in-process Strata cluster for tests: meta
// nodes (meta/metatest) and data nodes on 127.0.0.1 ephemeral ports in
// t.TempDir(). Every data node's internode RPC address is a fault proxy,
// so a test can refuse, black-hole or slow the writes other nodes send it,
// and a node can be stopped and restarted from its directory.
// Everything is stopped by t.Cleanup.
package clustertest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/internal/faultproxy"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// WaitTimeout bounds every wait of the harness.
const WaitTimeout = 20 * time.Second

// WriteTimeout and RPCTimeout are every data node's coordinator
// write-timeout and rpc-timeout unless Options.Configure changes them.
// They are longer than a production node's: under the race detector on a
// loaded 2-core machine a 5,000-line batch at consistency all, or the
// first write of a database creating its shard group through meta, can
// take several seconds, which would fail the write rather than what the
// test checks. A test about timing out sets its own.
const (
	WriteTimeout = 30 * time.Second
	RPCTimeout   = 20 * time.Second
)

// Options configures a Cluster.
type Options struct {
	// Meta and Data are the node counts (defaults 3 and 2).
	Meta, Data int
	// Configure, if set, may change data node i's config before it first
	// starts.
	Configure func(i int, cfg *data.Config)
	// MetaConfigure, if set, may change meta node i's config before it
	// first starts.
	MetaConfigure func(i int, cfg *meta.Config)
	// InternalSharedSecret, if set, is every meta and data node's
	// internal-shared-secret (the harness's own meta calls prove it too).
	InternalSharedSecret string
}

// Cluster is an in-process cluster. Its methods call t.Fatal on failure.
type Cluster struct {
	t      testing.TB
	Meta   *metatest.Cluster
	nodes  []*Node
	secret string
}

// Node is one data node of a Cluster.
type Node struct {
	cfg    data.Config
	server *data.Server
	proxy  *faultproxy.Proxy
}

// New starts the meta nodes, then the data nodes, and waits until every
// data node is registered.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Meta == 0 {
		opts.Meta = 3
	}
	if opts.Data == 0 {
		opts.Data = 2
	}
	c := &Cluster{t: t, secret: opts.InternalSharedSecret, Meta: metatest.NewWithOptions(t, opts.Meta, metatest.Options{
		Configure: func(i int, cfg *meta.Config) {
			cfg.InternalSharedSecret = opts.InternalSharedSecret
			if opts.MetaConfigure != nil {
				opts.MetaConfigure(i, cfg)
			}
		},
	})}
	c.Meta.WaitLeader()
	for i := range opts.Data {
		cfg := data.NewConfig()
		cfg.Dir = filepath.Join(t.TempDir(), fmt.Sprint("data", i))
		cfg.HTTPAddr = "127.0.0.1:0"
		cfg.RPCAddr = "127.0.0.1:0"
		cfg.Meta = c.Meta.HTTPAddrs()
		cfg.ShutdownTimeout = meta.Duration(5 * time.Second)
		cfg.Coordinator.WriteTimeout = meta.Duration(WriteTimeout)
		cfg.Coordinator.RPCTimeout = meta.Duration(RPCTimeout)
		cfg.Storage.WAL.NoSync = true
		cfg.InternalSharedSecret = opts.InternalSharedSecret
		if opts.Configure != nil {
			opts.Configure(i, &cfg)
		}
		// The proxy's target is set once the node has bound its port.
		p, err := faultproxy.New("127.0.0.1:1")
		if err != nil {
			t.Fatalf("start fault proxy for data node %d: %v", i, err)
		}
		t.Cleanup(func() { p.Close() })
		cfg.RPCAdvertiseAddr = p.Addr()
		n := &Node{cfg: cfg, proxy: p}
		c.nodes = append(c.nodes, n)
		c.start(n)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			if n.server != nil {
				n.server.Close()
			}
		}
	})
	c.waitDataNodes(opts.Data)
	return c
}

func (c *Cluster) start(n *Node) {
	c.t.Helper()
	s := data.NewServer(n.cfg, "test", nil, prometheus.NewRegistry())
	if err := s.Open(); err != nil {
		c.t.Fatalf("start data node in %s: %v", n.cfg.Dir, err)
	}
	n.server = s
	n.proxy.SetTarget(s.BoundRPCAddr())
	// A restart binds the same HTTP port, so clients keep their URLs.
	n.cfg.HTTPAddr = s.HTTPAddr()
}

func (c *Cluster) waitDataNodes(n int) {
	c.t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for {
		ok := true
		for _, node := range c.nodes {
			if node.server == nil {
				continue
			}
			if d := node.server.MetaData(); d == nil || len(d.DataNodes) < n {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("data nodes did not all see %d registered data nodes within %v", n, WaitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// N is the number of data nodes.
func (c *Cluster) N() int { return len(c.nodes) }

// Server returns data node i (nil while stopped).
func (c *Cluster) Server(i int) *data.Server { return c.nodes[i].server }

// URL is data node i's client API base URL.
func (c *Cluster) URL(i int) string { return "http://" + c.nodes[i].cfg.HTTPAddr }

// Dir is data node i's directory.
func (c *Cluster) Dir(i int) string { return c.nodes[i].cfg.Dir }

// NodeID is data node i's cluster id.
func (c *Cluster) NodeID(i int) uint64 { return c.nodes[i].server.NodeID() }

// Index returns the harness index of the data node with cluster id id.
func (c *Cluster) Index(id uint64) int {
	for i, n := range c.nodes {
		if n.server != nil && n.server.NodeID() == id {
			return i
		}
	}
	c.t.Fatalf("no running data node has id %d", id)
	return -1
}

// Stop closes data node i gracefully.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	n := c.nodes[i]
	if n.server == nil {
		return
	}
	if err := n.server.Close(); err != nil {
		c.t.Errorf("stop data node %d: %v", i, err)
	}
	n.server = nil
	n.proxy.SetMode(faultproxy.Refuse)
}

// Restart starts a stopped data node i from its directory.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	n := c.nodes[i]
	if n.server != nil {
		c.t.Fatalf("restart of running data node %d", i)
	}
	n.proxy.SetMode(faultproxy.Pass)
	c.start(n)
}

// SetLink changes how node i's internode RPC port treats what the other
// nodes send it: faultproxy.Pass, Refuse or Blackhole.
func (c *Cluster) SetLink(i int, m faultproxy.Mode) { c.nodes[i].proxy.SetMode(m) }

// CreateDatabase creates db with replication factor rf through meta and
// waits until every running data node knows it.
func (c *Cluster) CreateDatabase(db string, rf int) {
	c.t.Helper()
	mc := meta.NewClient(meta.ClientConfig{Addrs: c.Meta.HTTPAddrs(), InternalSharedSecret: c.secret})
	defer mc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	if _, err := mc.CreateDatabase(ctx, db, &meta.RetentionPolicySpec{ReplicaN: &rf}); err != nil {
		c.t.Fatalf("create database %s: %v", db, err)
	}
	c.WaitFor(fmt.Sprintf("database %s on every data node", db), func() bool {
		for _, n := range c.nodes {
			if n.server == nil {
				continue
			}
			if d := n.server.MetaData(); d == nil || d.Database(db) == nil {
				return false
			}
		}
		return true
	})
}

// WaitFor polls cond until it holds or WaitTimeout passes.
func (c *Cluster) WaitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s", WaitTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Write posts body to data node i's /write with the given query
// parameters (db is required) and returns the status and response body.
func (c *Cluster) Write(i int, params url.Values, body string) (int, string) {
	c.t.Helper()
	resp, err := http.Post(c.URL(i)+"/write?"+params.Encode(), "text/plain", strings.NewReader(body))
	if err != nil {
		c.t.Fatalf("POST /write to data node %d: %v", i, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// ShardPoints returns, per shard id, every point data node i holds, as
// sorted canonical line protocol: what a test compares across replicas.
func (c *Cluster) ShardPoints(i int) map[uint64][]string {
	c.t.Helper()
	store := c.nodes[i].server.Store()
	out := make(map[uint64][]string)
	for _, id := range store.ShardIDs() {
		sh := store.Shard(id)
		if sh == nil {
			continue
		}
		lines, err := shardLines(sh)
		if err != nil {
			c.t.Fatalf("read shard %d on data node %d: %v", id, i, err)
		}
		out[id] = lines
	}
	return out
}

// shardLines reads every point of a shard as line protocol, one line per
// field value, sorted.
func shardLines(sh *tsdb.Shard) ([]string, error) {
	ix := sh.Index()
	var lines []string
	var buf []byte
	for _, m := range ix.Measurements() {
		for _, id := range ix.MeasurementSeriesIDs(m) {
			key := ix.SeriesKey(id)
			err := sh.SeriesPoints(key, minTime, maxTime, func(p models.Point) error {
				for _, f := range p.Fields {
					one := models.Point{Measurement: p.Measurement, Tags: p.Tags, Fields: []models.Field{f}, Time: p.Time}
					buf = one.AppendLine(buf[:0])
					lines = append(lines, strings.TrimSuffix(string(buf), "\n"))
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	sort.Strings(lines)
	return lines, nil
}

// Time bounds that cover every representable point.
const (
	minTime = -1 << 63
	maxTime = 1<<63 - 1
)
