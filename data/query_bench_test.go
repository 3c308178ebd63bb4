package data_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/datasets"

	"github.com/strata-db/strata/data/clustertest"
)

// tsbsQueries are the TSBS cpu-only query shapes of issue 5, over the
// first 12 hours of tsbs-cpu-only-s100-1d (2026-01-01, 100 hosts).
func tsbsQueries() []struct{ name, q string } {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := func(d time.Duration) string {
		return fmt.Sprintf("time >= '%s' AND time < '%s'", t0.Format(time.RFC3339), t0.Add(d).Format(time.RFC3339))
	}
	fields := []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}
	maxOf := func(n int) string {
		var s []string
		for _, f := range fields[:n] {
			s = append(s, "max("+f+")")
		}
		return strings.Join(s, ", ")
	}
	var hosts8 []string
	for i := range 8 {
		hosts8 = append(hosts8, fmt.Sprintf("hostname = 'host_%d'", i*11))
	}
	return []struct{ name, q string }{
		{"single-groupby-1-1-1", "SELECT max(usage_user) FROM cpu WHERE hostname = 'host_7' AND " + rng(time.Hour) + " GROUP BY time(1m)"},
		{"single-groupby-5-1-12", "SELECT " + maxOf(5) + " FROM cpu WHERE hostname = 'host_7' AND " + rng(12*time.Hour) + " GROUP BY time(1m)"},
		{"cpu-max-all-8", "SELECT " + maxOf(10) + " FROM cpu WHERE (" + strings.Join(hosts8, " OR ") + ") AND " + rng(8*time.Hour) + " GROUP BY time(1h)"},
		{"double-groupby-1", "SELECT mean(usage_user) FROM cpu WHERE " + rng(12*time.Hour) + " GROUP BY time(1h), hostname"},
		{"high-cpu-1", "SELECT * FROM cpu WHERE usage_user > 90.0 AND hostname = 'host_7' AND " + rng(12*time.Hour)},
		{"high-cpu-all", "SELECT * FROM cpu WHERE usage_user > 90.0 AND " + rng(12*time.Hour)},
		{"lastpoint", "SELECT * FROM cpu GROUP BY hostname ORDER BY time DESC LIMIT 1"},
	}
}

// BenchmarkTSBSQueries loads tsbs-cpu-only-s100-1d into an in-process
// cluster shaped like `strata local` (2 data nodes, RF 2) and into a
// single data node, then times each TSBS query shape over HTTP /query
// (wall and process CPU time per query).
//
//	go test -run XXX -bench TSBSQueries -benchtime 3s ./data
func BenchmarkTSBSQueries(b *testing.B) {
	path := datasets.Path(b, "tsbs-cpu-only-s100-1d.lp.gz")
	for _, shape := range []struct {
		name      string
		nodes, rf int
	}{{"local-2-nodes-rf2", 2, 2}, {"one-node", 1, 1}} {
		b.Run(shape.name, func(b *testing.B) {
			c := clustertest.New(b, clustertest.Options{Data: shape.nodes})
			c.CreateDatabase("tsbs", shape.rf)
			writeFile(b, c, 0, "tsbs", path)
			for _, q := range tsbsQueries() {
				b.Run(q.name, func(b *testing.B) {
					u := c.URL(0) + "/query?" + url.Values{"db": {"tsbs"}, "q": {q.q}}.Encode()
					body := get(b, u)
					if !strings.Contains(body, `"series"`) || strings.Contains(body, `"error"`) {
						b.Fatalf("%s answered %.300s", q.name, body)
					}
					b.ReportAllocs()
					cpu0 := cpuTime(b)
					for b.Loop() {
						get(b, u)
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/query")
					// The process's CPU per query (client, server and any
					// background work): steadier than wall time on a busy
					// machine.
					b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N)/1000, "cpu-ms/query")
				})
			}
		})
	}
}

func get(b *testing.B, u string) string {
	resp, err := http.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
