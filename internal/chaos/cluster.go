package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/hh"
	"github.com/strata-db/strata/internal/clock"
	"github.com/strata-db/strata/internal/disktest"
	"github.com/strata-db/strata/internal/faultproxy"
	"github.com/strata-db/strata/internal/proctest"
	"github.com/strata-db/strata/meta"
)

// Timing of the campaign's data nodes. The checkers' convergence bound is
// stated in terms of these.
const (
	// WriteTimeout is the coordinator write-timeout: pauses are drawn
	// shorter and longer than it.
	WriteTimeout = 2 * time.Second
	// HHRetryMax is hinted handoff's longest pause between replay tries.
	HHRetryMax = time.Second
	// AECheckInterval is the anti-entropy check period.
	AECheckInterval = 2 * time.Second
	// ConvergenceBound is how long after the last fault heals (writers
	// stopped) every acknowledged write must be on every owner with equal
	// Merkle roots: a restarted node's start, HH replay at HHRetryMax and
	// a few AE rounds, with room for a machine loaded by other work.
	ConvergenceBound = 90 * time.Second
)

// dataConfig is the data nodes' TOML: short timeouts so a fault cycle
// takes seconds, AE comparing every window (the campaign's points are an
// hour old anyway), pprof on for the goroutine checker.
var dataConfig = fmt.Sprintf(`
[http]
  pprof-enabled = true
[coordinator]
  write-timeout = %q
  rpc-timeout = %q
  rpc-dial-timeout = "1s"
[hinted-handoff]
  retry-interval = "100ms"
  retry-max-interval = %q
[anti-entropy]
  check-interval = %q
  settle-horizon = "0s"
`, WriteTimeout, WriteTimeout, HHRetryMax, AECheckInterval)

// metaNode is one `strata meta` process.
type metaNode struct {
	*proctest.Process
	httpAddr string
}

// dataNode is one `strata data` process; its internode RPC is advertised
// through proxy, so link faults apply to every connection other nodes make
// to it.
type dataNode struct {
	*proctest.Process
	id       uint64
	httpAddr string
	proxy    *faultproxy.Proxy
	// tmpfs is the size-limited file system holding the node's directory,
	// or "" when the node's directory is an ordinary one.
	tmpfs string
	// dir is the node's --dir, where the clock-jump fault writes its
	// clock.FaultFile.
	dir string
}

// cluster is the campaign's processes.
type cluster struct {
	t     testing.TB
	metas []*metaNode
	data  []*dataNode
	mc    *meta.Client
}

// startCluster starts 3 meta and n data processes. With tmpfsBytes > 0 the
// first data node's directory is a tmpfs of that size (the disk-full
// fault's target) when this sandbox lets us mount one; the returned note
// says what happened.
func startCluster(t testing.TB, bin string, n int, tmpfsBytes int64) (*cluster, string) {
	t.Helper()
	c := &cluster{t: t}
	for i := range 3 {
		httpAddr, raftAddr := proctest.FreeAddr(t), proctest.FreeAddr(t)
		args := []string{"meta", "--dir", filepath.Join(t.TempDir(), fmt.Sprint("meta", i)),
			"--http-addr", httpAddr, "--raft-addr", raftAddr}
		if i > 0 {
			args = append(args, "--join", c.metas[0].httpAddr)
		}
		m := &metaNode{Process: proctest.Start(t, fmt.Sprint("meta", i), bin, args...), httpAddr: httpAddr}
		c.metas = append(c.metas, m)
		if err := waitUp("http://"+httpAddr+"/health", 60*time.Second); err != nil {
			t.Fatalf("meta%d: %v\n%s", i, err, m.Log())
		}
	}
	c.mc = meta.NewClient(meta.ClientConfig{Addrs: c.metaAddrs(), Timeout: 10 * time.Second, RetryInterval: 100 * time.Millisecond})
	t.Cleanup(func() { c.mc.Close() })

	cfg := filepath.Join(t.TempDir(), "data.toml")
	if err := os.WriteFile(cfg, []byte(dataConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	// Data nodes follow their clock fault file (the clock-jump fault).
	t.Setenv(clock.FaultEnv, "1")
	note := "disk-full: not requested"
	byHTTP := map[string]*dataNode{}
	for i := range n {
		name := fmt.Sprint("data", i)
		dir := filepath.Join(t.TempDir(), name)
		var mnt string
		if i == 0 && tmpfsBytes > 0 {
			var err error
			if mnt, err = disktest.MountTmpfs(t, tmpfsBytes); err != nil {
				note = "disk-full: skipped, cannot mount a tmpfs here: " + err.Error()
			} else {
				note = fmt.Sprintf("disk-full: data0's directory is a %d MiB tmpfs, filled by a ballast file", tmpfsBytes>>20)
				dir = filepath.Join(mnt, name)
			}
		}
		httpAddr, rpcAddr := proctest.FreeAddr(t), proctest.FreeAddr(t)
		px, err := faultproxy.New(rpcAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { px.Close() })
		d := &dataNode{httpAddr: httpAddr, proxy: px, tmpfs: mnt, dir: dir,
			Process: proctest.Start(t, name, bin, "data", "--config", cfg, "--dir", dir,
				"--meta", strings.Join(c.metaAddrs(), ","), "--http-addr", httpAddr,
				"--rpc-addr", rpcAddr, "--rpc-advertise-addr", px.Addr())}
		if err := waitUp("http://"+httpAddr+"/ping", 60*time.Second); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, d.Log())
		}
		c.data = append(c.data, d)
		byHTTP[httpAddr] = d
	}
	st, err := c.state()
	if err != nil {
		t.Fatal(err)
	}
	for _, ni := range st.DataNodes {
		if d := byHTTP[ni.HTTPAddr]; d != nil {
			d.id = ni.ID
		}
	}
	for _, d := range c.data {
		if d.id == 0 {
			t.Fatalf("%s is not in the cluster state", d.Name)
		}
	}
	return c, note
}

func (c *cluster) metaAddrs() []string {
	var addrs []string
	for _, m := range c.metas {
		addrs = append(addrs, m.httpAddr)
	}
	return addrs
}

// state reads the cluster state from any live meta node.
func (c *cluster) state() (*meta.Data, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, _, err := c.mc.ReadData(ctx, meta.ReadDefault)
	return d, err
}

// leader returns the meta node leading now, waiting up to 30 s for the
// live nodes to agree on one (an election may be under way), or nil.
func (c *cluster) leader() *metaNode {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.metas {
			if m.PID() == 0 {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := c.mc.Status(ctx, m.httpAddr)
			cancel()
			if err != nil || st.Leader.HTTPAddr == "" {
				continue
			}
			for _, l := range c.metas {
				if l.httpAddr == st.Leader.HTTPAddr && l.PID() != 0 {
					return l
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// restartData restarts a killed data node and waits until it answers.
func (c *cluster) restartData(d *dataNode) error {
	return supervise(d.Process, "http://"+d.httpAddr+"/ping")
}

// restartMeta restarts a killed meta node and waits until it answers.
func (c *cluster) restartMeta(m *metaNode) error {
	return supervise(m.Process, "http://"+m.httpAddr+"/ping")
}

// supervise starts a stopped process and waits up to a minute for url to
// answer, starting it again a second after each exit, as a service
// manager would (a node may refuse to start while its disk is full).
func supervise(p *proctest.Process, url string) error {
	deadline := time.Now().Add(time.Minute)
	var err error
	for starts := 1; ; starts++ {
		p.Restart()
		for time.Now().Before(deadline) && p.PID() != 0 {
			if err = waitUp(url, time.Second); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering a minute after %d starts: %w", starts, err)
		}
		time.Sleep(time.Second)
	}
}

// waitUp polls url until it answers below 500 or within passes.
func waitUp(url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	return proctest.WaitHTTP(ctx, url)
}

// getJSON decodes a 200 answer of url into out.
func getJSON(url string, out any) error {
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// queuedRecords is the number of hinted-handoff records node d keeps for
// any other node.
func (d *dataNode) queuedRecords() (int64, error) {
	var st []hh.QueueStatus
	if err := getJSON("http://"+d.httpAddr+data.HHPath, &st); err != nil {
		return 0, err
	}
	var n int64
	for _, q := range st {
		n += q.Records
	}
	return n, nil
}

// roots returns node d's Merkle root of each shard it holds.
func (d *dataNode) roots() (map[uint64]string, error) {
	var st antientropy.Status
	if err := getJSON("http://"+d.httpAddr+data.EntropyPath, &st); err != nil {
		return nil, err
	}
	out := map[uint64]string{}
	for _, s := range st.Shards {
		out[s.Shard] = s.Root
	}
	return out, nil
}

// resources samples the open file descriptors (from /proc) and goroutines
// (from /debug/pprof) of the running process.
func (d *dataNode) resources() (pid, fds, goroutines int, err error) {
	pid = d.PID()
	if pid == 0 {
		return 0, 0, 0, errors.New(d.Name + " is not running")
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + d.httpAddr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(resp.Body, head)
	// The first line reads "goroutine profile: total N".
	line, _, _ := strings.Cut(string(head[:n]), "\n")
	_, total, ok := strings.Cut(line, "total ")
	if !ok {
		return 0, 0, 0, fmt.Errorf("%s: goroutine profile starts %q", d.Name, line)
	}
	goroutines, err = strconv.Atoi(strings.TrimSpace(total))
	return pid, len(ents), goroutines, err
}
