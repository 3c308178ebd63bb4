// Package metatest runs an in-process meta cluster for tests: n meta
// Servers on 127.0.0.1 ephemeral ports in t.TempDir(), with short raft
// timeouts, crash/restart and network-partition helpers. Everything is
// stopped by t.Cleanup.
package metatest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/strata-db/strata/meta"
)

// WaitTimeout bounds every wait of the harness.
const WaitTimeout = 15 * time.Second

// Config returns a meta config for a test node in dir on ephemeral loopback
// ports, with raft timeouts short enough for fast elections.
func Config(dir string) meta.Config {
	cfg := meta.NewConfig()
	cfg.Dir = dir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RaftAddr = "127.0.0.1:0"
	// Short enough for quick failover tests, long enough that a loaded
	// 2-core CI machine running -race does not depose healthy leaders.
	cfg.HeartbeatTimeout = meta.Duration(300 * time.Millisecond)
	cfg.ElectionTimeout = meta.Duration(300 * time.Millisecond)
	cfg.LeaderLeaseTimeout = meta.Duration(200 * time.Millisecond)
	cfg.CommitTimeout = meta.Duration(5 * time.Millisecond)
	cfg.ApplyTimeout = meta.Duration(5 * time.Second)
	cfg.LeadershipTransferTimeout = meta.Duration(2 * time.Second)
	cfg.JoinRetryInterval = meta.Duration(50 * time.Millisecond)
	cfg.LongPollTimeout = meta.Duration(5 * time.Second)
	return cfg
}

// Cluster is an in-process meta cluster. Its methods call t.Fatal on
// failure and must be called from the test goroutine.
type Cluster struct {
	t    testing.TB
	cfgs []meta.Config

	mu          sync.Mutex // protects servers, partitioned
	servers     []*meta.Server
	partitioned map[int]bool
}

// Options adjusts a cluster built by NewWithOptions.
type Options struct {
	// Configure, if set, may change node i's config before it first starts.
	Configure func(i int, cfg *meta.Config)
}

// New starts an n-node cluster: node 0 bootstraps, the others join it. It
// returns once every node is a voter and knows every other node's address.
func New(t testing.TB, n int) *Cluster {
	t.Helper()
	return NewWithOptions(t, n, Options{})
}

// NewWithOptions is New with per-node config changes.
func NewWithOptions(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t, cfgs: make([]meta.Config, n), servers: make([]*meta.Server, n), partitioned: map[int]bool{}}
	root := t.TempDir() // before the Cleanup below, so nodes stop before removal
	t.Cleanup(c.closeAll)
	for i := range n {
		cfg := Config(filepath.Join(root, fmt.Sprintf("meta%d", i)))
		if opts.Configure != nil {
			opts.Configure(i, &cfg)
		}
		if i > 0 {
			cfg.Join = []string{c.servers[0].HTTPAddr()}
		}
		c.start(i, cfg)
		if i == 0 {
			c.WaitLeader()
		}
	}
	c.WaitMembers(n)
	return c
}

func newLogger() *slog.Logger {
	if os.Getenv("STRATA_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// start opens node i with cfg and records its bound addresses in c.cfgs[i]
// so Restart reuses them.
func (c *Cluster) start(i int, cfg meta.Config) {
	c.t.Helper()
	s := meta.NewServer(cfg, newLogger(), prometheus.NewRegistry())
	if err := s.Open(); err != nil {
		c.t.Fatalf("open meta node %d: %v", i, err)
	}
	cfg.HTTPAddr, cfg.RaftAddr = s.HTTPAddr(), s.RaftAddr()
	c.mu.Lock()
	c.cfgs[i] = cfg
	c.servers[i] = s
	c.mu.Unlock()
	c.applyFilters()
}

func (c *Cluster) closeAll() {
	c.mu.Lock()
	servers := c.servers
	c.mu.Unlock()
	for i, s := range servers {
		if s != nil {
			if err := s.Abort(); err != nil {
				c.t.Errorf("close meta node %d: %v", i, err)
			}
		}
	}
}

// N returns the number of nodes (running or not).
func (c *Cluster) N() int { return len(c.cfgs) }

// Server returns node i, or nil while it is stopped.
func (c *Cluster) Server(i int) *meta.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[i]
}

// HTTPAddrs returns every node's HTTP address, running or not.
func (c *Cluster) HTTPAddrs() []string {
	out := make([]string, len(c.cfgs))
	for i, cfg := range c.cfgs {
		out[i] = cfg.HTTPAddr
	}
	return out
}

// Leader returns the running node that believes it leads, or nil.
func (c *Cluster) Leader() *meta.Server {
	i := c.LeaderIndex()
	if i < 0 {
		return nil
	}
	return c.Server(i)
}

// LeaderIndex returns the index of the node that believes it leads, or -1.
func (c *Cluster) LeaderIndex() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.servers {
		if s != nil && s.IsLeader() {
			return i
		}
	}
	return -1
}

// Followers returns the running nodes that are not the leader.
func (c *Cluster) Followers() []*meta.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*meta.Server
	for _, s := range c.servers {
		if s != nil && !s.IsLeader() {
			out = append(out, s)
		}
	}
	return out
}

// FollowerIndexes returns the indexes of running non-leader nodes.
func (c *Cluster) FollowerIndexes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for i, s := range c.servers {
		if s != nil && !s.IsLeader() {
			out = append(out, i)
		}
	}
	return out
}

// WaitLeader waits until exactly one running, unpartitioned node leads and
// every running node knows its HTTP address, and returns its index.
func (c *Cluster) WaitLeader() int {
	c.t.Helper()
	var last string
	ok := c.poll(func() bool {
		i := c.LeaderIndex()
		if i < 0 {
			last = "no leader"
			return false
		}
		c.mu.Lock()
		part := c.partitioned[i]
		servers := c.servers
		c.mu.Unlock()
		if part {
			last = fmt.Sprintf("leader %d is partitioned", i)
			return false
		}
		for j, s := range servers {
			if s == nil || c.isPartitioned(j) {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			err := s.WaitForLeader(ctx)
			cancel()
			if err != nil {
				last = fmt.Sprintf("node %d does not know the leader", j)
				return false
			}
		}
		return true
	})
	if !ok {
		c.t.Fatalf("no meta leader within %s: %s", WaitTimeout, last)
	}
	return c.LeaderIndex()
}

// WaitMembers waits until the leader has n voters and every running node's
// state lists n meta nodes.
func (c *Cluster) WaitMembers(n int) {
	c.t.Helper()
	var last string
	if !c.poll(func() bool {
		l := c.Leader()
		if l == nil {
			last = "no leader"
			return false
		}
		voters := 0
		for _, p := range l.Status().Peers {
			if p.Voter {
				voters++
			}
		}
		if voters != n {
			last = fmt.Sprintf("leader has %d voters, want %d", voters, n)
			return false
		}
		for i := range c.cfgs {
			if s := c.Server(i); s != nil && !c.isPartitioned(i) && len(s.Data().MetaNodes) != n {
				last = fmt.Sprintf("node %d knows %d meta nodes, want %d", i, len(s.Data().MetaNodes), n)
				return false
			}
		}
		return true
	}) {
		c.t.Fatalf("cluster membership did not settle within %s: %s", WaitTimeout, last)
	}
}

// WaitIndex waits until every running, unpartitioned node's state index is
// at least index.
func (c *Cluster) WaitIndex(index uint64) {
	c.t.Helper()
	if !c.poll(func() bool {
		for i := range c.cfgs {
			if s := c.Server(i); s != nil && !c.isPartitioned(i) && s.Data().Index < index {
				return false
			}
		}
		return true
	}) {
		c.t.Fatalf("nodes did not reach state index %d within %s", index, WaitTimeout)
	}
}

func (c *Cluster) poll(cond func() bool) bool {
	deadline := time.Now().Add(WaitTimeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// Kill stops node i without leadership transfer, as a crash would.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	c.stop(i, (*meta.Server).Abort)
}

// Stop closes node i gracefully (leadership transfer first).
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	c.stop(i, (*meta.Server).Close)
}

func (c *Cluster) stop(i int, fn func(*meta.Server) error) {
	c.t.Helper()
	c.mu.Lock()
	s := c.servers[i]
	c.servers[i] = nil
	c.mu.Unlock()
	if s == nil {
		c.t.Fatalf("meta node %d is not running", i)
	}
	if err := fn(s); err != nil {
		c.t.Fatalf("stop meta node %d: %v", i, err)
	}
}

// Restart starts a stopped node i again from its directory, on the same
// addresses.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if c.Server(i) != nil {
		c.t.Fatalf("meta node %d is still running", i)
	}
	cfg := c.cfgs[i]
	cfg.Join = nil
	for j, a := range c.HTTPAddrs() {
		if j != i {
			cfg.Join = append(cfg.Join, a)
		}
	}
	c.start(i, cfg)
}

// Partition cuts node i's raft traffic to and from every other node (its
// HTTP API keeps working).
func (c *Cluster) Partition(i int) {
	c.mu.Lock()
	c.partitioned[i] = true
	c.mu.Unlock()
	c.applyFilters()
}

// Heal undoes Partition(i).
func (c *Cluster) Heal(i int) {
	c.mu.Lock()
	delete(c.partitioned, i)
	c.mu.Unlock()
	c.applyFilters()
}

func (c *Cluster) isPartitioned(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.partitioned[i]
}

// applyFilters installs on each running node the raft filter the partition
// set implies: a partitioned node dials and accepts nothing; the others
// refuse to dial partitioned nodes.
func (c *Cluster) applyFilters() {
	c.mu.Lock()
	defer c.mu.Unlock()
	blocked := map[string]bool{}
	for i := range c.partitioned {
		blocked[c.cfgs[i].RaftAddr] = true
	}
	for i, s := range c.servers {
		if s == nil {
			continue
		}
		switch {
		case c.partitioned[i]:
			s.SetNetworkFilter(func(string) bool { return false })
		case len(blocked) > 0:
			s.SetNetworkFilter(func(peer string) bool { return !blocked[peer] })
		default:
			s.SetNetworkFilter(nil)
		}
	}
}
