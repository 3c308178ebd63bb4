package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/proctest"
)

// TestDataNodeStartsWithoutMetaQuorum kill -9s 2 of 3 meta processes and
// restarts a data node: it serves writes to an existing shard group and
// queries at once, from the cluster state it saved, and stops cleanly.
func TestDataNodeStartsWithoutMetaQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	bin := proctest.Build(t)
	metas := startMetaCluster(t, bin, 3)
	d := startDataNode(t, bin, "data1", []string{metas[0].httpAddr, metas[1].httpAddr, metas[2].httpAddr})
	if code := d.post(t, "/query?q="+url.QueryEscape("CREATE DATABASE db"), ""); code != 200 {
		t.Fatalf("CREATE DATABASE: status %d", code)
	}
	ts := time.Now().Add(-time.Minute).UnixNano()
	if code := d.post(t, "/write?db=db", fmt.Sprintf("cpu,host=a v=1 %d", ts)); code != 204 {
		t.Fatalf("first write: status %d\n%s", code, d.Log())
	}
	if !d.Stop(20 * time.Second) {
		t.Fatalf("data1 did not stop on SIGTERM\n%s", d.Log())
	}
	metas[1].Kill()
	metas[2].Kill()

	start := time.Now()
	d.Restart()
	d.waitHealthy(t)
	if code := d.post(t, "/write?db=db", fmt.Sprintf("cpu,host=b v=2 %d", ts)); code != 204 {
		t.Fatalf("write to an existing group without a meta quorum: status %d, want 204\n%s", code, d.Log())
	}
	resp, err := http.Get("http://" + d.httpAddr + "/query?db=db&q=" + url.QueryEscape("SELECT count(v) FROM cpu"))
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"1970-01-01T00:00:00Z",2]`) {
		t.Fatalf("query without a meta quorum: %d %s; want a count of 2", resp.StatusCode, b)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("restart to first answers took %v", took)
	}
	if !strings.Contains(d.Log(), "starting from the saved cluster state") {
		t.Errorf("the node did not log that it starts from its saved state:\n%s", d.Log())
	}
	if !d.Stop(20*time.Second) || d.ExitCode() != 0 {
		t.Errorf("data1 did not exit 0 on SIGTERM (code %d)\n%s", d.ExitCode(), d.Log())
	}
}

// TestNewDataNodeWaitsForMeta starts a data node with an empty dir and
// --meta pointing nowhere: it says it waits for meta, keeps waiting, and
// exits 0 on SIGTERM.
func TestNewDataNodeWaitsForMeta(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	bin := proctest.Build(t)
	p := proctest.Start(t, "data1", bin, "data", "--dir", filepath.Join(t.TempDir(), "data1"),
		"--meta", proctest.FreeAddr(t), "--http-addr", proctest.FreeAddr(t), "--rpc-addr", proctest.FreeAddr(t))
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(p.Log(), "waiting for meta") < 2 {
		if time.Now().After(deadline) || p.ExitCode() >= 0 {
			t.Fatalf("no two 'waiting for meta' lines within 15 s (exit code %d):\n%s", p.ExitCode(), p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !p.Stop(10*time.Second) || p.ExitCode() != 0 {
		t.Errorf("waiting data node did not exit 0 on SIGTERM (code %d)\n%s", p.ExitCode(), p.Log())
	}
}
