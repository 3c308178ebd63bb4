package data_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/strata-db/strata/data/clustertest"
)

// TestDiagnosticsAndStats: SHOW DIAGNOSTICS, SHOW STATS and /debug/vars
// answer in InfluxDB 1.8's shapes with this node's figures.
func TestDiagnosticsAndStats(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 1})
	type series struct {
		Name    string            `json:"name"`
		Tags    map[string]string `json:"tags"`
		Columns []string          `json:"columns"`
		Values  [][]any           `json:"values"`
	}
	parse := func(body string) map[string]series {
		t.Helper()
		var r struct {
			Results []struct {
				Series []series `json:"series"`
				Error  string   `json:"error"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Results) != 1 || r.Results[0].Error != "" {
			t.Fatalf("answer %s: %v", body, err)
		}
		out := make(map[string]series)
		for _, s := range r.Results[0].Series {
			out[s.Name] = s
		}
		return out
	}
	diag := parse(postQuery(t, c, 0, "", "SHOW DIAGNOSTICS"))
	for name, cols := range map[string]string{
		"build":   "Branch,Build Time,Commit,Version",
		"network": "hostname",
		"runtime": "GOARCH,GOMAXPROCS,GOOS,version",
		"system":  "PID,currentTime,started,uptime",
	} {
		if got := strings.Join(diag[name].Columns, ","); got != cols || len(diag[name].Values) != 1 {
			t.Errorf("SHOW DIAGNOSTICS %s: got columns %q values %v; want %q and one row (InfluxDB 1.8)", name, got, diag[name].Values, cols)
		}
	}
	stats := parse(postQuery(t, c, 0, "", "SHOW STATS"))
	if rt := stats["runtime"]; !strings.Contains(strings.Join(rt.Columns, ","), "HeapAlloc") || !strings.Contains(strings.Join(rt.Columns, ","), "NumGoroutine") {
		t.Errorf("SHOW STATS runtime: got columns %v; want InfluxDB's runtime columns", rt.Columns)
	}
	cl := stats["cluster"]
	for i, col := range cl.Columns {
		if col == "dataNodes" && cl.Values[0][i] != float64(1) {
			t.Errorf("SHOW STATS cluster dataNodes: got %v; want 1", cl.Values[0][i])
		}
	}
	if only := parse(postQuery(t, c, 0, "", "SHOW STATS FOR 'cluster'")); len(only) != 1 || only["cluster"].Name != "cluster" {
		t.Errorf("SHOW STATS FOR 'cluster': got %v; want only the cluster series", only)
	}
	resp, err := http.Get(c.URL(0) + "/debug/vars")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var vars map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		t.Fatalf("/debug/vars: %v", err)
	}
	for _, k := range []string{"system", "cmdline", "memstats", "runtime", "cluster"} {
		if _, ok := vars[k]; !ok {
			t.Errorf("/debug/vars has no %q; got keys of %d members", k, len(vars))
		}
	}
	var rt struct {
		Name   string         `json:"name"`
		Tags   map[string]any `json:"tags"`
		Values map[string]any `json:"values"`
	}
	if err := json.Unmarshal(vars["runtime"], &rt); err != nil || rt.Name != "runtime" || rt.Values["HeapAlloc"] == nil {
		t.Errorf("/debug/vars runtime: got %s; want {name, tags, values} as Telegraf's influxdb input reads", vars["runtime"])
	}
}
