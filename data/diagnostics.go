package data

import (
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
)

// processStart is when this process started, for SHOW DIAGNOSTICS and
// /debug/vars ("started", "uptime").
var processStart = time.Now()

// stat is one statistic in InfluxDB 1.8's shape (monitor/service.go,
// models.Statistic): a name, tags and values. SHOW STATS prints one series
// per stat; /debug/vars one JSON member.
type stat struct {
	Name   string            `json:"name"`
	Tags   map[string]string `json:"tags"`
	Values map[string]any    `json:"values"`
}

// stats are this node's figures: Go's runtime (the columns InfluxDB's
// "runtime" module has), the cluster as this node sees it, and one "shard"
// per shard it holds.
func (h *handler) stats() []stat {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out := []stat{{Name: "runtime", Tags: map[string]string{}, Values: map[string]any{
		"Alloc": ms.Alloc, "Frees": ms.Frees, "HeapAlloc": ms.HeapAlloc, "HeapIdle": ms.HeapIdle,
		"HeapInUse": ms.HeapInuse, "HeapObjects": ms.HeapObjects, "HeapReleased": ms.HeapReleased,
		"HeapSys": ms.HeapSys, "Lookups": ms.Lookups, "Mallocs": ms.Mallocs, "NumGC": ms.NumGC,
		"NumGoroutine": runtime.NumGoroutine(), "PauseTotalNs": ms.PauseTotalNs, "Sys": ms.Sys,
		"TotalAlloc": ms.TotalAlloc,
	}}}
	if d := h.meta.Data(); d != nil {
		groups := 0
		for _, db := range d.Databases {
			for _, rp := range db.RetentionPolicies {
				groups += len(rp.ShardGroups)
			}
		}
		out = append(out, stat{Name: "cluster", Tags: map[string]string{}, Values: map[string]any{
			"metaNodes": len(d.MetaNodes), "dataNodes": len(d.DataNodes), "databases": len(d.Databases),
			"shardGroups": groups, "defaultReplication": d.DefaultReplication(), "metaIndex": d.Index,
		}})
	}
	if h.shards != nil {
		for _, s := range h.shards() {
			out = append(out, stat{Name: "shard", Tags: map[string]string{"id": strconv.FormatUint(s.ID, 10), "engine": "strata"},
				Values: map[string]any{"diskBytes": s.DiskBytes, "seriesN": s.Series}})
		}
	}
	return out
}

// statRow is a stat as a SHOW STATS series: its value names sorted.
func statRow(s stat) *query.Row {
	cols := make([]string, 0, len(s.Values))
	for k := range s.Values {
		cols = append(cols, k)
	}
	slices.Sort(cols)
	vals := make([]any, len(cols))
	for i, c := range cols {
		vals[i] = s.Values[c]
	}
	row := &query.Row{Name: s.Name, Columns: cols, Values: [][]any{vals}}
	if len(s.Tags) > 0 {
		row.Tags = s.Tags
	}
	return row
}

// showStats answers SHOW STATS [FOR 'module'].
func (h *handler) showStats(s *influxql.ShowStatsStatement, res *query.Result) {
	for _, st := range h.stats() {
		if s.Module == "" || s.Module == st.Name {
			res.Series = append(res.Series, statRow(st))
		}
	}
}

// showDiagnostics answers SHOW DIAGNOSTICS with InfluxDB 1.8's build,
// network, runtime and system series (monitor/build_info.go,
// network_info.go, go_runtime.go, system_info.go).
func (h *handler) showDiagnostics(res *query.Result) {
	host, _ := os.Hostname()
	now := time.Now().UTC()
	res.Series = []*query.Row{
		{Name: "build", Columns: []string{"Branch", "Build Time", "Commit", "Version"}, Values: [][]any{{"", "", h.build, InfluxDBVersion}}},
		{Name: "network", Columns: []string{"hostname"}, Values: [][]any{{host}}},
		{Name: "runtime", Columns: []string{"GOARCH", "GOMAXPROCS", "GOOS", "version"}, Values: [][]any{{runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.Version()}}},
		{Name: "system", Columns: []string{"PID", "currentTime", "started", "uptime"}, Values: [][]any{{os.Getpid(), now.Format(time.RFC3339Nano), processStart.UTC().Format(time.RFC3339Nano), now.Sub(processStart).String()}}},
	}
}

// serveDebugVars is InfluxDB 1.8's /debug/vars (services/httpd
// serveExpvar), which Telegraf's influxdb input reads: "system",
// "cmdline", "memstats", then every stat keyed by its name and tag values.
func (h *handler) serveDebugVars(w http.ResponseWriter, _ *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	now := time.Now().UTC()
	vars := map[string]any{
		"system":   map[string]any{"currentTime": now, "started": processStart.UTC(), "uptime": int64(now.Sub(processStart).Seconds())},
		"cmdline":  os.Args,
		"memstats": ms,
	}
	for _, s := range h.stats() {
		key := s.Name
		tagKeys := make([]string, 0, len(s.Tags))
		for k := range s.Tags {
			tagKeys = append(tagKeys, k)
		}
		slices.Sort(tagKeys)
		for _, k := range tagKeys {
			key += ":" + s.Tags[k]
		}
		vars[key] = s
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(vars)
}
