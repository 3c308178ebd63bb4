package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/datasets"
	"github.com/strata-db/strata/internal/proctest"
)

// getQuery runs q on a data node and returns the body.
func (p *dataProc) getQuery(t *testing.T, db, q string) string {
	t.Helper()
	resp, err := http.Get("http://" + p.httpAddr + "/query?" + url.Values{"db": {db}, "q": {q}}.Encode())
	if err != nil {
		t.Fatalf("query %s: %v", p.Name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestQueriesSurviveKill9 loads the TSBS devops hour into 3 data processes
// with RF 2 through `strata bench --file`, checks every node gives the same
// answers, kill -9s one data node and checks the survivors still do.
func TestQueriesSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	data := datasets.Path(t, "tsbs-devops-s10-1h.lp.gz")
	bin := proctest.Build(t)
	metas := startMetaCluster(t, bin, 3)
	metaAddrs := []string{metas[0].httpAddr, metas[1].httpAddr, metas[2].httpAddr}
	var nodes []*dataProc
	for _, name := range []string{"data1", "data2", "data3"} {
		nodes = append(nodes, startDataNode(t, bin, name, metaAddrs))
	}
	if code := nodes[0].post(t, "/query?q="+url.QueryEscape("CREATE DATABASE devops WITH REPLICATION 2"), ""); code != 200 {
		t.Fatalf("CREATE DATABASE: status %d", code)
	}
	out, errOut, code := proctest.Run(t, bin, "bench", "--url", "http://"+nodes[1].httpAddr, "--db", "devops", "--create-db=false",
		"--file", data, "--progress", "off", "--ceiling=false", "--consistency", "all")
	if code != 0 {
		t.Fatalf("strata bench: exit %d\n%s%s", code, out, errOut)
	}
	queries := []string{
		`SELECT count(usage_user) FROM cpu GROUP BY hostname`,
		`SELECT max(usage_system) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T01:00:00Z' GROUP BY time(10m)`,
		`SELECT percentile(used_percent, 95) FROM mem`,
		`SHOW SERIES FROM disk`,
	}
	want := make([]string, len(queries))
	for i, q := range queries {
		want[i] = nodes[0].getQuery(t, "devops", q)
		if !strings.Contains(want[i], `"series"`) {
			t.Fatalf("%s: got %s, want series", q, want[i])
		}
	}
	agree := func(ns ...*dataProc) {
		t.Helper()
		for _, n := range ns {
			for i, q := range queries {
				if got := n.getQuery(t, "devops", q); got != want[i] {
					t.Errorf("%s answers %s\ndifferently:\n got %s\nwant %s", n.Name, q, got, want[i])
				}
			}
		}
	}
	agree(nodes[1], nodes[2])
	nodes[2].Kill()
	agree(nodes[0], nodes[1])
}
