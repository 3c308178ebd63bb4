package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/proctest"
)

// TestPrometheusScrapesEveryNode runs a real Prometheus server against
// three meta and two data processes and waits until it reports every
// target up; promtool must also find every node's /metrics valid.
func TestPrometheusScrapesEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("Prometheus test skipped in -short mode")
	}
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("SKIPPED: the prometheus server is not installed (Debian package prometheus; .ci/run installs it)")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("SKIPPED: promtool is not installed (Debian package prometheus)")
	}
	bin := proctest.Build(t)
	metas := startMetaCluster(t, bin, 3)
	var metaAddrs, targets []string
	for _, m := range metas {
		metaAddrs = append(metaAddrs, m.httpAddr)
	}
	targets = append(targets, metaAddrs...)
	for i := range 2 {
		d := startDataNode(t, bin, fmt.Sprint("data", i+1), metaAddrs)
		targets = append(targets, d.httpAddr)
	}

	for _, addr := range targets {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatalf("GET %s/metrics: %v", addr, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics on %s: %v\n%s", addr, err, out)
		}
	}

	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, a := range targets {
		quoted[i] = `"` + a + `"`
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: strata\n    static_configs:\n      - targets: [%s]\n", strings.Join(quoted, ", "))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := proctest.FreeAddr(t)
	proctest.Start(t, "prometheus", promBin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr)

	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		up, body, err := promUp(promAddr)
		last = body
		if err == nil && len(up) == len(targets) {
			all := true
			for _, v := range up {
				all = all && v == "1"
			}
			if all {
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("Prometheus did not report all %d targets up within 60s; last answer: %s", len(targets), last)
}

// promUp queries Prometheus for `up` and returns instance → value.
func promUp(addr string) (map[string]string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/v1/query?query=up", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, string(b), err
	}
	up := make(map[string]string)
	for _, s := range r.Data.Result {
		if len(s.Value) == 2 {
			up[s.Metric["instance"]], _ = s.Value[1].(string)
		}
	}
	return up, string(b), nil
}
