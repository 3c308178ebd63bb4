package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/proctest"
)

// startCQDataNode starts a data node whose continuous query runner ticks
// every 500 ms with a 3 s lease, so a killed runner is replaced quickly.
func startCQDataNode(t *testing.T, bin, name string, metaAddrs []string) *dataProc {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "data.toml")
	if err := os.WriteFile(cfg, []byte("[continuous-queries]\n  run-interval = \"500ms\"\n  lease-duration = \"3s\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	httpAddr, rpcAddr := proctest.FreeAddr(t), proctest.FreeAddr(t)
	p := &dataProc{httpAddr: httpAddr, Process: proctest.Start(t, name, bin, "data", "--config", cfg,
		"--dir", filepath.Join(dir, name), "--meta", strings.Join(metaAddrs, ","),
		"--http-addr", httpAddr, "--rpc-addr", rpcAddr)}
	p.waitHealthy(t)
	return p
}

// get returns the body of GET url.
func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (p *dataProc) query(t *testing.T, q string) string {
	t.Helper()
	return get(t, "http://"+p.httpAddr+"/query?"+url.Values{"db": {"db"}, "q": {q}}.Encode())
}

// TestContinuousQuerySurvivesRunnerKill rolls up `strata bench` data every
// 10 s on a 2-node RF 2 cluster, kill -9s the node running the query once
// it has run, and checks the roll-up then has every interval, each equal
// to a direct SELECT of the same aggregate.
func TestContinuousQuerySurvivesRunnerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	bin := proctest.Build(t)
	metas := startMetaCluster(t, bin, 3)
	metaAddrs := []string{metas[0].httpAddr, metas[1].httpAddr, metas[2].httpAddr}
	nodes := []*dataProc{startCQDataNode(t, bin, "data1", metaAddrs), startCQDataNode(t, bin, "data2", metaAddrs)}
	if code := nodes[0].post(t, "/query?q="+url.QueryEscape("CREATE DATABASE db WITH REPLICATION 2"), ""); code != 200 {
		t.Fatalf("CREATE DATABASE: status %d", code)
	}
	const agg = `mean(usage_user) AS usage_user, max(usage_system) AS usage_system`
	create := `CREATE CONTINUOUS QUERY roll ON db BEGIN SELECT ` + agg + ` INTO cpu_10s FROM cpu GROUP BY time(10s), * END`
	if code := nodes[0].post(t, "/query?q="+url.QueryEscape(create), ""); code != 200 {
		t.Fatalf("CREATE CONTINUOUS QUERY: status %d", code)
	}
	// Data for five 10 s windows starting at the next boundary, written
	// ahead of time so each window is complete when its run comes.
	const windows = 5
	start := time.Now().Truncate(10 * time.Second).Add(10 * time.Second)
	end := start.Add(windows * 10 * time.Second)
	out, errOut, code := proctest.Run(t, bin, "bench", "--url", "http://"+nodes[1].httpAddr, "--db", "db",
		"--hosts", "10", "--interval", "1s", "--duration", "50s", "--start", start.Format(time.RFC3339), "--progress", "off")
	if code != 0 {
		t.Fatalf("strata bench: exit %d\n%s%s", code, out, errOut)
	}
	rolled := func(p *dataProc) int {
		return strings.Count(p.query(t, `SELECT usage_user FROM cpu_10s WHERE hostname = 'host_0'`), "Z\",")
	}
	waitUntil := func(what string, deadline time.Time, cond func() bool) {
		t.Helper()
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Once the first window has rolled up, kill -9 the runner.
	waitUntil("the first window rolled up", start.Add(40*time.Second), func() bool { return rolled(nodes[0]) >= 1 })
	runner := -1
	for i, p := range nodes {
		if strings.Contains(get(t, "http://"+p.httpAddr+"/metrics"), "strata_cq_lease_held 1") {
			runner = i
		}
	}
	if runner < 0 {
		t.Fatal("no data node reports strata_cq_lease_held 1")
	}
	nodes[runner].Kill()
	survivor := nodes[1-runner]
	waitUntil("every window rolled up by the surviving node", end.Add(30*time.Second), func() bool { return rolled(survivor) == windows })

	direct := survivor.query(t, fmt.Sprintf(`SELECT %s FROM cpu WHERE time >= '%s' AND time < '%s' GROUP BY time(10s), * fill(none)`,
		agg, start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339)))
	got := survivor.query(t, `SELECT usage_user, usage_system FROM cpu_10s GROUP BY *`)
	if want := strings.ReplaceAll(direct, `"name":"cpu"`, `"name":"cpu_10s"`); got != want {
		t.Errorf("roll-up after the runner's kill -9 differs from a direct SELECT\n got %s\nwant %s", got, want)
	}
	var shown struct {
		Queries []cqView `json:"continuous_queries"`
	}
	if err := json.Unmarshal([]byte(ctl(t, bin, metaAddrs, "--json", "show-cqs")), &shown); err != nil {
		t.Fatalf("ctl --json show-cqs: %v", err)
	}
	if len(shown.Queries) != 1 || shown.Queries[0].Name != "roll" || shown.Queries[0].LastRun < end.UTC().Format(time.RFC3339) {
		t.Errorf("ctl show-cqs: %+v; want roll with a last run at or after %s", shown.Queries, end.UTC().Format(time.RFC3339))
	}
}
