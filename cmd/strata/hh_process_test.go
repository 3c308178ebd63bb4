package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/hh"
	"github.com/strata-db/strata/internal/faultproxy"
	"github.com/strata-db/strata/internal/proctest"
	"github.com/strata-db/strata/meta"
)

// hhTestConfig is the data nodes' config in the hinted-handoff process
// tests: short timeouts and retries so a scenario takes seconds, and no
// anti-entropy, so only hinted handoff can bring a missed write back.
const hhTestConfig = `
[coordinator]
  write-timeout = "2s"
  rpc-timeout = "2s"
  rpc-dial-timeout = "1s"
[hinted-handoff]
  retry-interval = "100ms"
  retry-max-interval = "500ms"
[anti-entropy]
  enabled = false
`

// hhPointsPerBatch is the size of one write of the load.
const hhPointsPerBatch = 100

// hhCluster is 3 meta and 3 data processes; database db has RF 2, so its
// one shard has two owners and one data node (the outsider) owns nothing.
// Every data node's internode RPC is advertised through a fault proxy.
type hhCluster struct {
	t        testing.TB
	meta     string // a meta node's HTTP address
	metas    []*metaProc
	data     map[uint64]*dataProc
	proxy    map[uint64]*faultproxy.Proxy
	shard    uint64
	owners   []uint64
	outsider uint64
	base     int64 // timestamp of point 0
}

// startHHCluster starts the cluster with the data nodes' config toml and
// writes point 0 at base (ns), which makes the shard group of the points
// from base on.
func startHHCluster(t testing.TB, toml string, base int64) *hhCluster {
	t.Helper()
	bin := proctest.Build(t)
	metas := startMetaCluster(t, bin, 3)
	metaAddrs := []string{metas[0].httpAddr, metas[1].httpAddr, metas[2].httpAddr}
	cfg := filepath.Join(t.TempDir(), "data.toml")
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &hhCluster{t: t, meta: metas[0].httpAddr, metas: metas, data: map[uint64]*dataProc{}, proxy: map[uint64]*faultproxy.Proxy{},
		base: base}
	byHTTP := map[string]*dataProc{}
	proxies := map[string]*faultproxy.Proxy{}
	var first *dataProc
	for i := range 3 {
		name := fmt.Sprint("data", i)
		httpAddr, rpcAddr := proctest.FreeAddr(t), proctest.FreeAddr(t)
		px, err := faultproxy.New(rpcAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { px.Close() })
		p := &dataProc{httpAddr: httpAddr, Process: proctest.Start(t, name, bin, "data", "--config", cfg,
			"--dir", filepath.Join(t.TempDir(), name), "--meta", strings.Join(metaAddrs, ","),
			"--http-addr", httpAddr, "--rpc-addr", rpcAddr, "--rpc-advertise-addr", px.Addr())}
		p.waitHealthy(t)
		byHTTP[httpAddr], proxies[httpAddr] = p, px
		if first == nil {
			first = p
		}
	}
	if code := first.post(t, "/query?q="+url.QueryEscape("CREATE DATABASE db WITH REPLICATION 2"), ""); code != 200 {
		t.Fatalf("CREATE DATABASE: status %d", code)
	}
	// The first write makes the shard group, so its owners are known.
	if code := first.post(t, "/write?db=db&precision=ns&consistency=all", c.lines(0, 1)); code != 204 {
		t.Fatalf("first write: status %d\n%s", code, first.Log())
	}
	d := c.state()
	for _, n := range d.DataNodes {
		c.data[n.ID], c.proxy[n.ID] = byHTTP[n.HTTPAddr], proxies[n.HTTPAddr]
	}
	for _, n := range d.DataNodes {
		if locs := d.ShardsOwnedBy(n.ID); len(locs) > 0 {
			c.shard, c.owners = locs[0].Shard.ID, locs[0].Shard.Owners
			break
		}
	}
	if len(c.owners) != 2 {
		t.Fatalf("shard %d has owners %v; want 2", c.shard, c.owners)
	}
	for id := range c.data {
		if id != c.owners[0] && id != c.owners[1] {
			c.outsider = id
		}
	}
	return c
}

// close kills the cluster's processes and closes its proxies.
func (c *hhCluster) close() {
	for id, p := range c.data {
		p.Kill()
		c.proxy[id].Close()
	}
	for _, m := range c.metas {
		m.Kill()
	}
}

func (c *hhCluster) state() *meta.Data {
	c.t.Helper()
	d, err := staleState(c.meta)
	if err != nil {
		c.t.Fatal(err)
	}
	return d
}

// hhBase is the time of point 0 in the tests: an hour ago, so the points
// are recent and in one shard group.
func hhBase() int64 { return time.Now().Add(-time.Hour).Truncate(time.Second).UnixNano() }

// hhValue is point i's value: distinct per point and exact in a float64.
func hhValue(i int) float64 { return float64(i) + 0.25 }

// lines returns points first..first+n-1 of the test series as line
// protocol: ten hosts, one point per millisecond.
func (c *hhCluster) lines(first, n int) string {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "m,host=h%d v=%v %d\n", i%10, hhValue(i), c.base+int64(i)*int64(time.Millisecond))
	}
	return b.String()
}

// hhLoad writes batches of points one after another through the first
// entry node that answers, until stopped, and records which batches were
// acknowledged.
type hhLoad struct {
	stop  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex // protects acked, next
	acked []int      // first point of each acknowledged batch
	next  int
}

func (c *hhCluster) startLoad(level string, entries ...uint64) *hhLoad {
	l := &hhLoad{stop: make(chan struct{}), next: hhPointsPerBatch}
	client := &http.Client{Timeout: 10 * time.Second}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			select {
			case <-l.stop:
				return
			default:
			}
			l.mu.Lock()
			first := l.next
			l.next += hhPointsPerBatch
			l.mu.Unlock()
			body := c.lines(first, hhPointsPerBatch)
			for _, id := range entries {
				resp, err := client.Post("http://"+c.data[id].httpAddr+"/write?db=db&precision=ns&consistency="+level, "text/plain", strings.NewReader(body))
				if err != nil {
					continue // the entry is down: try the next one
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusNoContent {
					l.mu.Lock()
					l.acked = append(l.acked, first)
					l.mu.Unlock()
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return l
}

// end stops the load and returns the acknowledged batches.
func (l *hhLoad) end() []int {
	close(l.stop)
	l.wg.Wait()
	return l.acked
}

// queues returns node id's hinted-handoff queues.
func (c *hhCluster) queues(id uint64) ([]hh.QueueStatus, error) {
	resp, err := http.Get("http://" + c.data[id].httpAddr + data.HHPath)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st []hh.QueueStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("decode %s of node %d: %w", data.HHPath, id, err)
	}
	return st, nil
}

// queued returns the records node holder keeps for node target.
func (c *hhCluster) queued(holder, target uint64) int64 {
	c.t.Helper()
	st, err := c.queues(holder)
	if err != nil {
		c.t.Fatalf("hinted-handoff status of node %d: %v", holder, err)
	}
	for _, q := range st {
		if q.NodeID == target {
			return q.Records
		}
	}
	return 0
}

// inFlightBytes returns node id's remote_write_in_flight_bytes gauge for
// node target (-1 while the metrics cannot be read).
func (c *hhCluster) inFlightBytes(id, target uint64) float64 {
	c.t.Helper()
	resp, err := http.Get("http://" + c.data[id].httpAddr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	prefix := fmt.Sprintf(`strata_coordinator_remote_write_in_flight_bytes{node="%d"} `, target)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return f
		}
	}
	return 0 // no write to target yet: the gauge has no series
}

// waitFor polls cond every 100 ms until it holds or within passes.
func (c *hhCluster) waitFor(what string, within time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitDrained waits until every node's queues are empty.
func (c *hhCluster) waitDrained(within time.Duration) {
	c.t.Helper()
	var last string
	deadline := time.Now().Add(within)
	for {
		last = ""
		for id := range c.data {
			st, err := c.queues(id)
			if err != nil {
				last += fmt.Sprintf("node %d: %v; ", id, err)
				continue
			}
			for _, q := range st {
				if q.Records != 0 || q.Bytes != 0 {
					last += fmt.Sprintf("node %d keeps %d records (%d bytes) for node %d, %s %s; ", id, q.Records, q.Bytes, q.NodeID, q.State, q.LastError)
				}
			}
		}
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("queues not drained within %v: %s", within, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// hhState serves a fixed cluster state to the RPC client of checkOwners.
type hhState struct{ d *meta.Data }

func (s hhState) Data() *meta.Data { return s.d }

// checkOwners reads the shard from each owner alone (the scan RPC, which
// reads that node's replica and nothing else) and checks every point of
// the acknowledged batches is there with its exact value.
func (c *hhCluster) checkOwners(acked []int) {
	c.t.Helper()
	if len(acked) == 0 {
		c.t.Fatal("no write was acknowledged")
	}
	rpc := coordinator.NewRPCClient(coordinator.NewConfig(), hhState{c.state()}, nil, nil)
	defer rpc.Close()
	maxPoint := 0
	for _, first := range acked {
		maxPoint = max(maxPoint, first+hhPointsPerBatch)
	}
	for _, owner := range c.owners {
		got := map[int64]float64{}
		req := &query.ScanRequest{Database: "db", RetentionPolicy: "autogen", Measurement: "m", Fields: []string{"v"},
			Min: c.base, Max: c.base + int64(maxPoint)*int64(time.Millisecond)}
		err := rpc.ScanShard(context.Background(), owner, c.shard, req, func(b *query.SeriesBatch) error {
			for _, col := range b.Fields {
				for _, p := range col.Points {
					got[p.Time] = math.Float64frombits(p.Value.N)
				}
			}
			return nil
		})
		if err != nil {
			c.t.Fatalf("scan shard %d on node %d: %v", c.shard, owner, err)
		}
		missing, wrong := 0, 0
		for _, first := range acked {
			for i := first; i < first+hhPointsPerBatch; i++ {
				v, ok := got[c.base+int64(i)*int64(time.Millisecond)]
				switch {
				case !ok:
					missing++
				case v != hhValue(i):
					wrong++
				}
			}
		}
		if missing > 0 || wrong > 0 {
			c.t.Errorf("owner %d: of %d acknowledged points, %d missing and %d with another value", owner,
				len(acked)*hhPointsPerBatch, missing, wrong)
		}
	}
}

// hhFault makes an owner unreachable and brings it back.
type hhFault struct {
	name       string
	start, end func(c *hhCluster, id uint64)
}

var hhFaults = []hhFault{
	{"kill -9",
		func(c *hhCluster, id uint64) { c.data[id].Kill() },
		func(c *hhCluster, id uint64) { c.data[id].Restart(); c.data[id].waitHealthy(c.t) }},
	{"black-holed link",
		func(c *hhCluster, id uint64) { c.proxy[id].SetMode(faultproxy.Blackhole) },
		func(c *hhCluster, id uint64) { c.proxy[id].SetMode(faultproxy.Pass) }},
	{"SIGSTOP",
		func(c *hhCluster, id uint64) { c.data[id].Signal(syscall.SIGSTOP) },
		func(c *hhCluster, id uint64) { c.data[id].Signal(syscall.SIGCONT) }},
}

// TestHintedHandoffProcesses runs a steady consistency=one write load
// through the data node that owns nothing (falling back to an owner while
// it is down) on 3 data processes with RF 2. One owner fails (kill -9, a
// black-holed link, SIGSTOP); the writes keep being acknowledged; the
// node holding the owner's queue is killed with kill -9 and restarted, and
// its queue survives; the owner comes back; every queue drains to zero
// with no manual step, and each owner alone holds every acknowledged point
// with its exact value.
func TestHintedHandoffProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	for _, f := range hhFaults {
		t.Run(f.name, func(t *testing.T) {
			c := startHHCluster(t, hhTestConfig, hhBase())
			victim, holder, other := c.owners[1], c.outsider, c.owners[0]
			load := c.startLoad("one", holder, other)
			time.Sleep(500 * time.Millisecond)
			f.start(c, victim)
			c.waitFor(fmt.Sprintf("node %d to queue writes for node %d", holder, victim), 10*time.Second,
				func() bool { return c.queued(holder, victim) > 0 })
			// Copies for the victim sent before the first timeout are still
			// in flight, in the holder's memory only, until their own
			// timeouts queue them; a kill -9 before then loses them from
			// hinted handoff (anti-entropy, off here, repairs that). This
			// test is about the queue, so the kill waits for them.
			c.waitFor(fmt.Sprintf("node %d's copies for node %d to be queued", holder, victim), 10*time.Second,
				func() bool { return c.inFlightBytes(holder, victim) == 0 })
			time.Sleep(500 * time.Millisecond)

			c.data[holder].Kill()
			time.Sleep(500 * time.Millisecond) // writes go through the other owner meanwhile
			c.data[holder].Restart()
			c.data[holder].waitHealthy(t)
			if n := c.queued(holder, victim); n == 0 {
				t.Fatalf("node %d's queue for node %d did not survive kill -9", holder, victim)
			}
			time.Sleep(500 * time.Millisecond)

			f.end(c, victim)
			time.Sleep(500 * time.Millisecond)
			acked := load.end()
			c.waitDrained(30 * time.Second)
			c.checkOwners(acked)
		})
	}
}

// TestHintedHandoffProcessesConsistencyAny kills both owners: writes at
// consistency=any are still acknowledged (queued on the node that took
// them), and once the owners are back each holds every point.
func TestHintedHandoffProcessesConsistencyAny(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	c := startHHCluster(t, hhTestConfig, hhBase())
	for _, id := range c.owners {
		c.data[id].Kill()
	}
	entry := c.data[c.outsider]
	var acked []int
	for first := hhPointsPerBatch; first <= 10*hhPointsPerBatch; first += hhPointsPerBatch {
		if code := entry.post(t, "/write?db=db&precision=ns&consistency=any", c.lines(first, hhPointsPerBatch)); code != 204 {
			t.Fatalf("consistency=any with both owners down: status %d, want 204\n%s", code, entry.Log())
		}
		acked = append(acked, first)
	}
	if code := entry.post(t, "/write?db=db&precision=ns&consistency=one", c.lines(0, 1)); code != 500 {
		t.Errorf("consistency=one with both owners down: status %d, want 500", code)
	}
	for _, id := range c.owners {
		if n := c.queued(c.outsider, id); n == 0 {
			t.Errorf("node %d keeps no record for node %d", c.outsider, id)
		}
		c.data[id].Restart()
		c.data[id].waitHealthy(t)
	}
	c.waitDrained(30 * time.Second)
	c.checkOwners(acked)
}
