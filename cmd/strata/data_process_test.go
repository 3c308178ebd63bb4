package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/proctest"
)

// dataProc is one `strata data` process of a multi-process test.
type dataProc struct {
	*proctest.Process
	httpAddr string
}

func startDataNode(t *testing.T, bin, name string, metaAddrs []string) *dataProc {
	t.Helper()
	httpAddr, rpcAddr := proctest.FreeAddr(t), proctest.FreeAddr(t)
	p := &dataProc{httpAddr: httpAddr, Process: proctest.Start(t, name, bin, "data",
		"--dir", filepath.Join(t.TempDir(), name), "--meta", strings.Join(metaAddrs, ","),
		"--http-addr", httpAddr, "--rpc-addr", rpcAddr)}
	p.waitHealthy(t)
	return p
}

func (p *dataProc) waitHealthy(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := proctest.WaitHTTP(ctx, "http://"+p.httpAddr+"/ping"); err != nil {
		t.Fatalf("%s did not start: %v\n%s", p.Name, err, p.Log())
	}
}

// post sends body to path on the node and returns the status.
func (p *dataProc) post(t testing.TB, path, body string) int {
	t.Helper()
	resp, err := http.Post("http://"+p.httpAddr+path, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s to %s: %v", path, p.Name, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestDataProcessesSurviveKill9 runs 3 meta and 2 data processes, writes
// with RF 2, kill -9s a data node, checks what each consistency level
// answers without it, restarts it from its directory and checks it takes
// its shards' writes again (consistency=all needs it).
func TestDataProcessesSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	bin := proctest.Build(t)
	metas := startMetaCluster(t, bin, 3)
	metaAddrs := []string{metas[0].httpAddr, metas[1].httpAddr, metas[2].httpAddr}
	d1 := startDataNode(t, bin, "data1", metaAddrs)
	d2 := startDataNode(t, bin, "data2", metaAddrs)

	if code := d1.post(t, "/query?q="+url.QueryEscape("CREATE DATABASE db WITH REPLICATION 2"), ""); code != 200 {
		t.Fatalf("CREATE DATABASE: status %d", code)
	}
	var body strings.Builder
	for i := range 100 {
		fmt.Fprintf(&body, "cpu,host=h%d v=%d\n", i, i)
	}
	if code := d2.post(t, "/write?db=db&consistency=all", body.String()); code != 204 {
		t.Fatalf("write with both owners up: status %d, want 204\n%s", code, d2.Log())
	}

	d2.Kill()
	if code := d1.post(t, "/write?db=db&consistency=all", "cpu,host=x v=1"); code != 500 {
		t.Errorf("consistency=all with an owner killed: status %d, want 500", code)
	}
	if code := d1.post(t, "/write?db=db&consistency=one", "cpu,host=x v=2"); code != 204 {
		t.Errorf("consistency=one with an owner killed: status %d, want 204", code)
	}

	d2.Restart()
	d2.waitHealthy(t)
	if code := d2.post(t, "/write?db=db&consistency=all", body.String()); code != 204 {
		t.Fatalf("consistency=all after the restart: status %d, want 204\n%s", code, d2.Log())
	}
	// The restarted node still holds its shard: it reports it to ctl.
	out := ctl(t, bin, metaAddrs, "show")
	if strings.Count(out, " up ") != 2 {
		t.Errorf("ctl show after the restart does not list both data nodes up:\n%s", out)
	}
	shards := ctl(t, bin, metaAddrs, "--json", "show-shards")
	if strings.Contains(shards, `"disk_bytes": -1`) {
		t.Errorf("a shard has no reachable owner reporting its size:\n%s", shards)
	}
	for _, p := range []*dataProc{d1, d2} {
		if !p.Stop(20*time.Second) || p.ExitCode() != 0 {
			t.Errorf("%s did not exit 0 on SIGTERM (code %d)\n%s", p.Name, p.ExitCode(), p.Log())
		}
	}
}
