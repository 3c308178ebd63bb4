package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/internal/proctest"
	"github.com/strata-db/strata/tsdb/models"
)

// aeCheckInterval is the anti-entropy check interval of the AE process
// tests: repairs must land within two of them.
const aeCheckInterval = 2 * time.Second

// aeCluster is 3 meta and 3 data processes with RF 2 and a short
// anti-entropy check interval; the database's one shard has two owners.
type aeCluster struct {
	t        *testing.T
	bin      string
	metas    []string
	data     map[uint64]*dataProc // by node id
	dirs     map[uint64]string
	rpc      map[uint64]string
	shard    uint64
	owners   []uint64
	outsider uint64 // the data node that does not own the shard
	base     int64  // timestamp of the first test point
}

func startAECluster(t *testing.T) *aeCluster {
	t.Helper()
	return startAEClusterWith(t, "")
}

// startAEClusterWith is startAECluster with more [anti-entropy] settings
// (TOML lines) in the data nodes' config.
func startAEClusterWith(t *testing.T, aeTOML string) *aeCluster {
	t.Helper()
	bin := proctest.Build(t)
	metas := startMetaCluster(t, bin, 3)
	metaAddrs := []string{metas[0].httpAddr, metas[1].httpAddr, metas[2].httpAddr}
	cfg := filepath.Join(t.TempDir(), "data.toml")
	// Hinted handoff off: anti-entropy alone must repair.
	toml := fmt.Sprintf("[hinted-handoff]\n  enabled = false\n[anti-entropy]\n  check-interval = %q\n  settle-horizon = \"0s\"\n%s", aeCheckInterval, aeTOML)
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &aeCluster{t: t, bin: bin, metas: metaAddrs, data: map[uint64]*dataProc{}, dirs: map[uint64]string{}, rpc: map[uint64]string{},
		base: time.Now().Add(-time.Hour).Truncate(time.Second).UnixNano()}
	byHTTP := map[string]*dataProc{}
	dirOf := map[string]string{}
	for i := range 3 {
		name := fmt.Sprint("data", i)
		httpAddr, rpcAddr := proctest.FreeAddr(t), proctest.FreeAddr(t)
		dir := filepath.Join(t.TempDir(), name)
		p := &dataProc{httpAddr: httpAddr, Process: proctest.Start(t, name, bin, "data", "--config", cfg,
			"--dir", dir, "--meta", strings.Join(metaAddrs, ","), "--http-addr", httpAddr, "--rpc-addr", rpcAddr)}
		p.waitHealthy(t)
		byHTTP[httpAddr], dirOf[httpAddr] = p, dir
	}
	var any *dataProc
	for _, p := range byHTTP {
		any = p
		break
	}
	if code := any.post(t, "/query?q="+url.QueryEscape("CREATE DATABASE db WITH REPLICATION 2"), ""); code != 200 {
		t.Fatalf("CREATE DATABASE: status %d", code)
	}
	if code := any.post(t, "/write?db=db&precision=ns", fmt.Sprintf("cpu,host=seed v=0i %d", c.base)); code != 204 {
		t.Fatalf("first write: status %d\n%s", code, any.Log())
	}
	d, err := staleState(metas[0].httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range d.DataNodes {
		c.data[n.ID], c.dirs[n.ID], c.rpc[n.ID] = byHTTP[n.HTTPAddr], dirOf[n.HTTPAddr], n.RPCAddr
	}
	locs := d.ShardsOwnedBy(d.DataNodes[0].ID)
	locs = append(locs, d.ShardsOwnedBy(d.DataNodes[1].ID)...)
	if len(locs) == 0 {
		t.Fatalf("no shard in the cluster state: %+v", d.Databases)
	}
	c.shard, c.owners = locs[0].Shard.ID, locs[0].Shard.Owners
	for id := range c.data {
		if id != c.owners[0] && id != c.owners[1] {
			c.outsider = id
		}
	}
	return c
}

// lines returns n line-protocol points of host from index first on.
func (c *aeCluster) lines(host string, first, n int) string {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "cpu,host=%s v=%di %d\n", host, i, c.base+int64(i)*int64(time.Millisecond))
	}
	return b.String()
}

// count returns the values of host (all hosts when "") one node reads
// from its own replica.
func (c *aeCluster) count(id uint64, host string) int {
	c.t.Helper()
	q := "SELECT count(v) FROM cpu"
	if host != "" {
		q += " WHERE host='" + host + "'"
	}
	body := c.data[id].getQuery(c.t, "db", q)
	var res struct {
		Results []struct {
			Series []struct{ Values [][]any }
		}
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		c.t.Fatalf("query answer %q: %v", body, err)
	}
	if len(res.Results) == 0 || len(res.Results[0].Series) == 0 {
		return 0
	}
	n, _ := res.Results[0].Series[0].Values[0][1].(float64)
	return int(n)
}

// root returns node id's root of the shard from its entropy status.
func (c *aeCluster) root(id uint64) string {
	resp, err := http.Get("http://" + c.data[id].httpAddr + data.EntropyPath)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var st antientropy.Status
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return ""
	}
	for _, s := range st.Shards {
		if s.Shard == c.shard {
			return s.Root
		}
	}
	return ""
}

// waitRepaired waits up to within for both owners to hold want values of
// host (each counted on the owner alone) and equal roots.
func (c *aeCluster) waitRepaired(host string, want int, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	a, b := c.owners[0], c.owners[1]
	for {
		na, nb := c.count(a, host), c.count(b, host)
		ra, rb := c.root(a), c.root(b)
		if na == want && nb == want && ra == rb && ra != "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("after %v: node %d holds %d and node %d %d values of %q, want %d; roots %s and %s\n%s\n%s",
				within, a, na, b, nb, host, want, ra, rb, c.data[a].Log(), c.data[b].Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAntiEntropyProcesses runs the anti-entropy scenarios on real
// processes (3 data nodes, RF 2, hinted handoff disabled): each ends with equal
// roots and every acknowledged value on each owner alone.
func TestAntiEntropyProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	c := startAECluster(t)
	victim, healthy := c.data[c.owners[1]], c.owners[0]
	// The repair bound: two check intervals, plus the restarted node's
	// start (its tree is built lazily on the first check).
	bound := 2*aeCheckInterval + 3*time.Second

	t.Run("kill -9 during writes", func(t *testing.T) {
		c.t = t
		coord := c.data[c.outsider]
		var mu sync.Mutex
		acked := 0
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i += 50 {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Post("http://"+coord.httpAddr+"/write?db=db&precision=ns&consistency=one", "text/plain",
					strings.NewReader(c.lines("a", i, 50)))
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 204 {
						mu.Lock()
						acked = i + 50
						mu.Unlock()
					}
				}
			}
		}()
		time.Sleep(500 * time.Millisecond)
		victim.Kill()
		time.Sleep(time.Second)
		close(stop)
		wg.Wait()
		victim.Restart()
		victim.waitHealthy(t)
		// Every batch up to the last acknowledged one was acknowledged
		// (writes are sequential and an owner stayed up).
		c.waitRepaired("a", acked, bound)
	})

	t.Run("shard directory deleted", func(t *testing.T) {
		c.t = t
		if !victim.Stop(20 * time.Second) {
			t.Fatalf("%s did not stop", victim.Name)
		}
		dir := filepath.Join(c.dirs[c.owners[1]], "shards", strconv.FormatUint(c.shard, 10))
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("shard directory: %v", err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		victim.Restart()
		victim.waitHealthy(t)
		c.waitRepaired("", c.count(healthy, ""), bound)
	})

	t.Run("written to one replica only", func(t *testing.T) {
		c.t = t
		// Through the internode shard-write RPC to one owner: the other
		// never sees these values.
		var parser models.Parser
		pts, err := parser.Parse([]byte(c.lines("local", 0, 500)), models.PrecisionNanosecond, 0)
		if err != nil {
			t.Fatal(err)
		}
		batch := coordinator.AppendPoints(nil, pts)
		req, _ := http.NewRequest(http.MethodPost, "http://"+c.rpc[c.owners[1]]+coordinator.RPCShardWritePath+"?shard="+strconv.FormatUint(c.shard, 10), bytes.NewReader(batch))
		req.Header.Set(coordinator.RPCVersionHeader, strconv.Itoa(coordinator.RPCProtocolVersion))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 204 {
			t.Fatalf("shard write to one owner: %v %v", err, resp)
		}
		resp.Body.Close()
		c.waitRepaired("local", 500, bound)
	})

	t.Run("series deleted during an outage", func(t *testing.T) {
		c.t = t
		if code := c.data[c.outsider].post(t, "/write?db=db&precision=ns&consistency=all", c.lines("doomed", 0, 300)); code != 204 {
			t.Fatalf("write: status %d", code)
		}
		if !victim.Stop(20 * time.Second) {
			t.Fatalf("%s did not stop", victim.Name)
		}
		// The delete reaches the live owner only (and reports the other).
		c.data[c.outsider].post(t, "/query?db=db&q="+url.QueryEscape("DROP SERIES FROM cpu WHERE host='doomed'"), "")
		if n := c.count(healthy, "doomed"); n != 0 {
			t.Fatalf("the live owner still holds %d deleted values", n)
		}
		victim.Restart()
		victim.waitHealthy(t)
		c.waitRepaired("doomed", 0, bound)
		// And it stays deleted over further rounds.
		time.Sleep(2 * aeCheckInterval)
		c.waitRepaired("doomed", 0, time.Second)
	})
	t.Run("ctl entropy", func(t *testing.T) {
		c.t = t
		out := ctl(t, c.bin, c.metas, "entropy", "repair", strconv.FormatUint(c.shard, 10))
		if !strings.Contains(out, fmt.Sprintf("repaired shard %d", c.shard)) {
			t.Fatalf("entropy repair printed:\n%s", out)
		}
		var show struct {
			Shards []struct {
				Shard uint64
				Node  uint64
				State string
				Root  string
			}
		}
		if err := json.Unmarshal([]byte(ctl(t, c.bin, c.metas, "--json", "entropy", "show")), &show); err != nil {
			t.Fatal(err)
		}
		roots := map[string]bool{}
		for _, r := range show.Shards {
			if r.Shard == c.shard {
				roots[r.Root] = true
			}
		}
		if len(show.Shards) != 2 || len(roots) != 1 {
			t.Fatalf("entropy show: %+v; want the shard on its 2 owners with one root", show.Shards)
		}
		if out := ctl(t, c.bin, c.metas, "entropy", "kill-repair"); !strings.Contains(out, "no repair was running") {
			t.Fatalf("kill-repair with nothing running printed %q", out)
		}
		resp, err := http.Get("http://" + c.data[healthy].httpAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		for _, m := range []string{"strata_ae_checks_total", "strata_ae_buckets_compared_total", "strata_ae_differing_buckets_total",
			"strata_ae_series_repaired_total", "strata_ae_points_repaired_total", "strata_ae_bytes_total", "strata_ae_exchange_duration_seconds"} {
			if !strings.Contains(b.String(), m) {
				t.Errorf("/metrics lacks %s", m)
			}
		}
	})
	for _, p := range c.data {
		if !p.Stop(20 * time.Second) {
			t.Errorf("%s did not stop", p.Name)
		}
	}
}
