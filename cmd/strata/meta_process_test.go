package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/proctest"
	"github.com/strata-db/strata/meta"
)

// metaProc is one `strata meta` process of a multi-process test.
type metaProc struct {
	*proctest.Process
	httpAddr string
}

// startMetaCluster starts n `strata meta` processes: the first bootstraps,
// the others join it.
func startMetaCluster(t testing.TB, bin string, n int) []*metaProc {
	t.Helper()
	var procs []*metaProc
	for i := range n {
		httpAddr, raftAddr := proctest.FreeAddr(t), proctest.FreeAddr(t)
		args := []string{"meta", "--dir", filepath.Join(t.TempDir(), fmt.Sprint("meta", i)),
			"--http-addr", httpAddr, "--raft-addr", raftAddr,
			"--log-level", "debug"}
		if i > 0 {
			args = append(args, "--join", procs[0].httpAddr)
		}
		p := &metaProc{Process: proctest.Start(t, fmt.Sprint("meta", i), bin, args...), httpAddr: httpAddr}
		procs = append(procs, p)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := proctest.WaitHTTP(ctx, "http://"+httpAddr+"/health")
		cancel()
		if err != nil {
			t.Fatalf("meta%d did not become healthy: %v\n%s", i, err, p.Log())
		}
	}
	return procs
}

// ctl runs `strata ctl --meta <addrs> args...` and fails the test unless it
// exits 0.
func ctl(t *testing.T, bin string, addrs []string, args ...string) string {
	t.Helper()
	full := append([]string{"ctl", "--meta", strings.Join(addrs, ","), "--timeout", "30s"}, args...)
	out, errOut, code := proctest.Run(t, bin, full...)
	if code != 0 {
		t.Fatalf("strata %s: exit %d: %s%s", strings.Join(full, " "), code, out, errOut)
	}
	return out
}

// staleState reads a node's own state (GET /data?consistency=stale).
func staleState(addr string) (*meta.Data, error) {
	resp, err := http.Get("http://" + addr + "/data?consistency=stale")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /data from %s: %s", addr, resp.Status)
	}
	var dr meta.DataResponse
	if err := json.NewDecoder(resp.Body).Decode(&dr); err != nil {
		return nil, fmt.Errorf("decode /data from %s: %w", addr, err)
	}
	return dr.Data, nil
}

func databaseNames(d *meta.Data) []string {
	var names []string
	for _, db := range d.Databases {
		names = append(names, db.Name)
	}
	return names
}

// leaderIndex asks the cluster who leads and returns that process's index.
func leaderIndex(t *testing.T, procs []*metaProc) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range procs {
			if p.ExitCode() != -1 {
				continue
			}
			c := meta.NewClient(meta.ClientConfig{Addrs: []string{p.httpAddr}, Timeout: 2 * time.Second})
			st, err := c.Status(context.Background(), p.httpAddr)
			c.Close()
			if err != nil || st.Leader.HTTPAddr == "" {
				continue
			}
			for i, q := range procs {
				if q.httpAddr == st.Leader.HTTPAddr && q.ExitCode() == -1 {
					return i
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no live meta leader within 30s")
	return -1
}

// TestMetaProcessesSurviveLeaderKill runs three real `strata meta`
// processes, drives them with `strata ctl`, kill -9s the leader, keeps
// writing with the two survivors, restarts the dead node from its
// directory and checks that every node then reports the same state with
// every acknowledged database in it.
func TestMetaProcessesSurviveLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	bin := proctest.Build(t)
	procs := startMetaCluster(t, bin, 3)
	addrs := []string{procs[0].httpAddr, procs[1].httpAddr, procs[2].httpAddr}

	var want []string
	for _, db := range []string{"alpha", "beta", "gamma"} {
		ctl(t, bin, addrs, "create-database", db, "--retention", "7d", "--replication", "2")
		want = append(want, db)
	}

	leader := leaderIndex(t, procs)
	procs[leader].Kill()
	t.Logf("killed leader meta%d", leader)
	start := time.Now()

	// The two survivors elect a leader and keep accepting DDL; ctl fails
	// over from the dead address by itself.
	for _, db := range []string{"delta", "epsilon"} {
		ctl(t, bin, addrs, "create-database", db)
		want = append(want, db)
	}
	ctl(t, bin, addrs, "create-retention-policy", "alpha", "short", "--duration", "1h", "--default")
	t.Logf("survivors applied 3 commands in %v", time.Since(start))

	slices.Sort(want) // the state keeps databases sorted by name
	procs[leader].Restart()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := proctest.WaitHTTP(ctx, "http://"+procs[leader].httpAddr+"/ping"); err != nil {
		t.Fatalf("restarted meta%d: %v\n%s", leader, err, procs[leader].Log())
	}

	// Every node, asked for its own local state, converges on the same
	// state holding every acknowledged change.
	var states []*meta.Data
	deadline := time.Now().Add(30 * time.Second)
	for {
		states = states[:0]
		var lastErr error
		for _, p := range procs {
			d, err := staleState(p.httpAddr)
			if err != nil {
				lastErr = err
				break
			}
			states = append(states, d)
		}
		if lastErr == nil && len(states) == 3 && states[0].Index == states[1].Index && states[1].Index == states[2].Index &&
			reflect.DeepEqual(databaseNames(states[0]), want) {
			break
		}
		if time.Now().After(deadline) {
			for i, d := range states {
				t.Logf("meta%d: index %d databases %v", i, d.Index, databaseNames(d))
			}
			t.Fatalf("nodes did not converge on databases %v within 30s (last error: %v)", want, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 1; i < 3; i++ {
		if !reflect.DeepEqual(states[0].Databases, states[i].Databases) || !reflect.DeepEqual(states[0].MetaNodes, states[i].MetaNodes) {
			t.Errorf("meta%d state differs from meta0:\n got %+v\nwant %+v", i, states[i].Databases, states[0].Databases)
		}
	}
	if rp := states[0].Database("alpha"); rp == nil || rp.DefaultRetentionPolicy != "short" {
		t.Errorf("alpha's default policy after the failover: got %+v, want short", rp)
	}

	// Graceful stop: SIGTERM makes every node exit 0 by itself.
	for i, p := range procs {
		if !p.Stop(20 * time.Second) {
			t.Errorf("meta%d did not exit within 20s of SIGTERM\n%s", i, p.Log())
		} else if code := p.ExitCode(); code != 0 {
			t.Errorf("meta%d exited %d after SIGTERM, want 0\n%s", i, code, p.Log())
		}
	}
}
