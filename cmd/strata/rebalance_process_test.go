package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/internal/proctest"
	"github.com/strata-db/strata/meta"
)

// rebalanceGroups is how many one-hour shard groups the rebalance test
// writes into: with RF 2 on 3 nodes, 12 replicas, 4 a node.
const rebalanceGroups = 6

// rebalanceCluster is 3 meta processes and data processes joining one by
// one, with a short anti-entropy check interval.
type rebalanceCluster struct {
	t     *testing.T
	bin   string
	cfg   string
	metas []string
	nodes map[uint64]*dataProc
	base  int64 // start of the first group, ns
}

func (c *rebalanceCluster) addNode(name string) uint64 {
	c.t.Helper()
	httpAddr, rpcAddr := proctest.FreeAddr(c.t), proctest.FreeAddr(c.t)
	p := &dataProc{httpAddr: httpAddr, Process: proctest.Start(c.t, name, c.bin, "data", "--config", c.cfg,
		"--dir", filepath.Join(c.t.TempDir(), name), "--meta", strings.Join(c.metas, ","), "--http-addr", httpAddr, "--rpc-addr", rpcAddr)}
	p.waitHealthy(c.t)
	d := c.state()
	for _, n := range d.DataNodes {
		if n.HTTPAddr == httpAddr {
			c.nodes[n.ID] = p
			return n.ID
		}
	}
	c.t.Fatalf("%s is not registered", name)
	return 0
}

func (c *rebalanceCluster) state() *meta.Data {
	c.t.Helper()
	d, err := staleState(c.metas[0])
	if err != nil {
		c.t.Fatal(err)
	}
	return d
}

// load writes batches of 50 points (tag batch=N, spread over the groups)
// through the nodes in turn until stop closes, and returns the batches
// acknowledged.
func (c *rebalanceCluster) load(stop <-chan struct{}, first int) func() []int {
	var mu sync.Mutex
	var acked []int
	var wg sync.WaitGroup
	var coords []*dataProc
	for _, p := range c.nodes {
		coords = append(coords, p)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := first; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			var b strings.Builder
			group := int64(k % rebalanceGroups)
			for i := range 50 {
				offset := (int64(k%50000)*50 + int64(i)) * int64(time.Millisecond)
				fmt.Fprintf(&b, "load,batch=%d v=%di %d\n", k, i, c.base+group*int64(time.Hour)+offset)
			}
			resp, err := http.Post("http://"+coords[k%len(coords)].httpAddr+"/write?db=db&precision=ns", "text/plain", strings.NewReader(b.String()))
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == 204 {
				mu.Lock()
				acked = append(acked, k)
				mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() []int {
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return acked
	}
}

// roots returns node id's Merkle roots by shard.
func (c *rebalanceCluster) roots(id uint64) map[uint64]string {
	resp, err := http.Get("http://" + c.nodes[id].httpAddr + data.EntropyPath)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var st antientropy.Status
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return nil
	}
	out := map[uint64]string{}
	for _, s := range st.Shards {
		out[s.Shard] = s.Root
	}
	return out
}

// check waits until every shard has 2 owners among the running nodes,
// which hold equal roots, then checks that every acknowledged batch is
// there whole and every node answers the same; it returns each node's
// replica count.
func (c *rebalanceCluster) check(acked []int) map[uint64]int {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := c.state()
		bad := ""
		roots := map[uint64]map[uint64]string{}
		for id := range c.nodes {
			roots[id] = c.roots(id)
		}
		for _, loc := range d.Shards() {
			o := loc.Shard.Owners
			if len(o) != 2 || c.nodes[o[0]] == nil || c.nodes[o[1]] == nil {
				bad = fmt.Sprintf("shard %d owners %v", loc.Shard.ID, o)
				break
			}
			if r := roots[o[0]][loc.Shard.ID]; r == "" || r != roots[o[1]][loc.Shard.ID] {
				bad = fmt.Sprintf("shard %d roots %q on node %d and %q on node %d", loc.Shard.ID, r, o[0], roots[o[1]][loc.Shard.ID], o[1])
				break
			}
		}
		if bad == "" {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("replicas did not converge: %s", bad)
		}
		time.Sleep(300 * time.Millisecond)
	}
	q := "SELECT count(v) FROM load GROUP BY batch"
	var first string
	for id, p := range c.nodes {
		ans := p.getQuery(c.t, "db", q)
		if first == "" {
			first = ans
			var res struct {
				Results []struct {
					Series []struct {
						Tags   map[string]string
						Values [][]any
					}
				}
			}
			if err := json.Unmarshal([]byte(ans), &res); err != nil || len(res.Results) == 0 {
				c.t.Fatalf("query answer %q: %v", ans, err)
			}
			got := map[string]float64{}
			for _, s := range res.Results[0].Series {
				got[s.Tags["batch"]] = s.Values[0][1].(float64)
			}
			for _, k := range acked {
				if n := got[fmt.Sprint(k)]; n != 50 {
					c.t.Fatalf("acknowledged batch %d has %v of its 50 points", k, n)
				}
			}
			continue
		}
		if ans != first {
			c.t.Fatalf("node %d answers differently:\n%s\nvs\n%s", id, ans, first)
		}
	}
	counts := map[uint64]int{}
	for _, loc := range c.state().Shards() {
		for _, o := range loc.Shard.Owners {
			counts[o]++
		}
	}
	return counts
}

// TestRebalanceProcesses adds a third data node to a 2-node RF 2 cluster
// under a steady write load and runs `strata ctl rebalance` (interrupted
// after its first move, then again), then drains it again with
// `remove-data --drain` and replaces a killed node with `replace-data`. After each, every acknowledged
// point is on both owners of its shard (equal Merkle roots), every node
// answers queries the same, and the shares are even.
func TestRebalanceProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	bin := proctest.Build(t)
	var metas []string
	for _, m := range startMetaCluster(t, bin, 3) {
		metas = append(metas, m.httpAddr)
	}
	cfg := filepath.Join(t.TempDir(), "data.toml")
	// Copies slowed down (each shard's seed is ~16 KB of stream), so an
	// interrupt lands mid-rebalance.
	toml := fmt.Sprintf("[anti-entropy]\n  check-interval = %q\n  settle-horizon = \"0s\"\n  copy-rate-limit = 32000\n", aeCheckInterval)
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &rebalanceCluster{t: t, bin: bin, cfg: cfg, metas: metas, nodes: map[uint64]*dataProc{},
		base: time.Now().Add(-rebalanceGroups * time.Hour).Truncate(time.Hour).UnixNano()}
	c.addNode("data0")
	c.addNode("data1")
	var any *dataProc
	for _, p := range c.nodes {
		any = p
	}
	if code := any.post(t, "/query?q="+url.QueryEscape("CREATE DATABASE db WITH REPLICATION 2 SHARD DURATION 1h"), ""); code != 200 {
		t.Fatalf("CREATE DATABASE: status %d", code)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for g := range int64(rebalanceGroups) {
		var b strings.Builder
		for i := range int64(2000) {
			fmt.Fprintf(&b, "seed v=%di %d\n", rng.Int64(), c.base+g*int64(time.Hour)+i*int64(time.Millisecond))
		}
		if code := any.post(t, "/write?db=db&precision=ns&consistency=all", b.String()); code != 204 {
			t.Fatalf("seed write: status %d", code)
		}
	}
	stop := make(chan struct{})
	wait := c.load(stop, 0)
	third := c.addNode("data2")

	t.Run("rebalance", func(t *testing.T) {
		c.t = t
		if out := ctl(t, bin, metas, "rebalance", "--dry-run"); !strings.Contains(out, "4 moves") {
			t.Fatalf("rebalance --dry-run printed:\n%s", out)
		}
		if counts := c.state().ShardsOwnedBy(third); len(counts) != 0 {
			t.Fatalf("a dry run moved shards: node %d owns %v", third, counts)
		}
		// Interrupted after its first move, then run again.
		p := proctest.Start(t, "rebalance", bin, "ctl", "--meta", strings.Join(metas, ","), "rebalance", "--parallel", "1")
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.Log(), "[1/4]"); {
			if time.Now().After(deadline) {
				t.Fatalf("rebalance made no move:\n%s", p.Log())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !p.Stop(20 * time.Second) {
			t.Fatalf("rebalance did not stop on SIGTERM:\n%s", p.Log())
		}
		if p.ExitCode() == 0 || !strings.Contains(p.Log(), "interrupted after") || strings.Contains(p.Log(), "[4/4]") {
			t.Fatalf("interrupted rebalance: exit %d\n%s", p.ExitCode(), p.Log())
		}
		out := ctl(t, bin, metas, "rebalance")
		time.Sleep(300 * time.Millisecond) // writes after the last move too
		close(stop)
		acked := wait()
		if !strings.Contains(out, "done:") {
			t.Fatalf("rebalance after the interrupted one printed:\n%s", out)
		}
		counts := c.check(acked)
		for id := range c.nodes {
			if counts[id] != 4 {
				t.Fatalf("after the rebalance the nodes own %v replicas, want 4 each", counts)
			}
		}
		if out := ctl(t, bin, metas, "rebalance"); !strings.Contains(out, "nothing to move") {
			t.Fatalf("a second rebalance printed:\n%s", out)
		}
	})

	t.Run("remove-data --drain", func(t *testing.T) {
		c.t = t
		stop := make(chan struct{})
		wait := c.load(stop, 100000)
		out := ctl(t, bin, metas, "remove-data", fmtID(third), "--drain")
		time.Sleep(300 * time.Millisecond)
		close(stop)
		acked := wait()
		if !strings.Contains(out, fmt.Sprintf("removed data node %d", third)) {
			t.Fatalf("remove-data --drain printed:\n%s", out)
		}
		if slices.ContainsFunc(c.state().DataNodes, func(n meta.NodeInfo) bool { return n.ID == third }) {
			t.Fatalf("node %d is still in the cluster", third)
		}
		p := c.nodes[third]
		delete(c.nodes, third)
		counts := c.check(acked)
		for id := range c.nodes {
			if counts[id] != rebalanceGroups {
				t.Fatalf("after the drain the nodes own %v replicas, want %d each", counts, rebalanceGroups)
			}
		}
		p.Stop(20 * time.Second)
	})
	t.Run("replace-data", func(t *testing.T) {
		c.t = t
		var dead uint64
		for id := range c.nodes {
			dead = max(dead, id)
		}
		c.nodes[dead].Kill()
		delete(c.nodes, dead)
		repl := c.addNode("data3")
		out := ctl(t, bin, metas, "replace-data", fmtID(dead), fmtID(repl))
		if !strings.Contains(out, fmt.Sprintf("node %d replaced node %d: %d shard(s) copied", repl, dead, rebalanceGroups)) {
			t.Fatalf("replace-data printed:\n%s", out)
		}
		if slices.ContainsFunc(c.state().DataNodes, func(n meta.NodeInfo) bool { return n.ID == dead }) {
			t.Fatalf("node %d is still in the cluster", dead)
		}
		counts := c.check(nil)
		if counts[repl] != rebalanceGroups {
			t.Fatalf("after the replacement the nodes own %v replicas, want %d on node %d", counts, rebalanceGroups, repl)
		}

		// The new node "came back" elsewhere: meta takes the new address.
		n := c.state().DataNode(repl)
		host, _, _ := strings.Cut(n.RPCAddr, ":")
		moved := host + ":1"
		ctl(t, bin, metas, "update-data", n.RPCAddr, moved)
		if got := c.state().DataNode(repl); got.RPCAddr != moved || got.HTTPAddr != n.HTTPAddr {
			t.Fatalf("after update-data node %d has rpc %s http %s, want %s and %s", repl, got.RPCAddr, got.HTTPAddr, moved, n.HTTPAddr)
		}
		ctl(t, bin, metas, "update-data", moved, n.RPCAddr)
	})
}
