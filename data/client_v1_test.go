package data_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	client "github.com/influxdata/influxdb1-client/v2"

	"github.com/strata-db/strata/data/clustertest"
)

// TestInfluxDBv1ClientWritesAndQueries drives a 2-node cluster with the
// InfluxDB 1.x Go client library: write a batch through its normal API,
// then read it back with InfluxQL queries, plain and chunked.
func TestInfluxDBv1ClientWritesAndQueries(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 2})
	cl, err := client.NewHTTPClient(client.HTTPConfig{Addr: c.URL(1), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, version, err := cl.Ping(5 * time.Second); err != nil || version == "" {
		t.Fatalf("Ping: version %q, err %v", version, err)
	}
	resp, err := cl.Query(client.NewQuery("CREATE DATABASE app WITH REPLICATION 2", "", ""))
	if err != nil || resp.Error() != nil {
		t.Fatalf("CREATE DATABASE: %v %v", err, resp.Error())
	}
	c.WaitFor("database app on every node", func() bool {
		for i := range c.N() {
			if d := c.Server(i).MetaData(); d == nil || d.Database("app") == nil {
				return false
			}
		}
		return true
	})
	bp, _ := client.NewBatchPoints(client.BatchPointsConfig{Database: "app", Precision: "s", WriteConsistency: "all"})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 60 {
		p, _ := client.NewPoint("req", map[string]string{"host": fmt.Sprint("h", i%3)}, map[string]any{"ms": float64(i), "n": i}, t0.Add(time.Duration(i)*time.Second))
		bp.AddPoint(p)
	}
	if err := cl.Write(bp); err != nil {
		t.Fatalf("Write: %v", err)
	}

	// Read back through the other node.
	c0, _ := client.NewHTTPClient(client.HTTPConfig{Addr: c.URL(0)})
	defer c0.Close()
	resp, err = c0.Query(client.NewQuery(`SELECT sum(n), max(ms) FROM req WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:01:00Z' GROUP BY host`, "app", "s"))
	if err != nil || resp.Error() != nil {
		t.Fatalf("Query: %v %v", err, resp.Error())
	}
	got := map[string]string{}
	for _, s := range resp.Results[0].Series {
		got[s.Tags["host"]] = fmt.Sprint(s.Values[0][1:])
	}
	// host hK holds i ≡ K (mod 3): sums 570, 590, 610; max ms 57, 58, 59.
	want := map[string]string{"h0": "[570 57]", "h1": "[590 58]", "h2": "[610 59]"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("sum and max per host: got %v, want %v", got, want)
	}

	q := client.NewQuery(`SELECT ms FROM req`, "app", "")
	q.Chunked, q.ChunkSize = true, 25
	cr, err := c0.QueryAsChunk(q)
	if err != nil {
		t.Fatalf("QueryAsChunk: %v", err)
	}
	rows := 0
	for {
		r, err := cr.NextResponse()
		if err == io.EOF {
			break
		}
		if err != nil || r.Error() != nil {
			t.Fatalf("chunk: %v %v", err, r.Error())
		}
		for _, res := range r.Results {
			for _, s := range res.Series {
				rows += len(s.Values)
			}
		}
	}
	if rows != 60 {
		t.Errorf("chunked rows: got %d, want 60", rows)
	}
}

// TestGrafanaQueries sends what Grafana's InfluxDB (InfluxQL) data source
// sends, with its parameters, and checks the answers' shape.
func TestGrafanaQueries(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 2})
	c.CreateDatabase("telegraf", 2)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var body strings.Builder
	for i := range 60 { // 10 minutes of 10 s points
		fmt.Fprintf(&body, "cpu,host=a,cpu=cpu0 usage_idle=%d.5 %d\n", 90+i%5, t0.Add(time.Duration(i)*10*time.Second).UnixNano())
	}
	if code, resp := c.Write(0, params("db", "telegraf", "consistency", "all"), body.String()); code != 204 {
		t.Fatalf("write: %d %s", code, resp)
	}
	get := func(q, epoch string) map[string]any {
		t.Helper()
		v := url.Values{"db": {"telegraf"}, "q": {q}}
		if epoch != "" {
			v.Set("epoch", epoch)
		}
		resp, err := http.Get(c.URL(1) + "/query?" + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s: undecodable answer: %v", q, err)
		}
		return out
	}
	firstSeries := func(out map[string]any) map[string]any {
		results, _ := out["results"].([]any)
		if len(results) == 0 {
			return nil
		}
		series, _ := results[0].(map[string]any)["series"].([]any)
		if len(series) == 0 {
			return nil
		}
		s, _ := series[0].(map[string]any)
		return s
	}
	for _, tc := range []struct{ q, column string }{
		{`SHOW MEASUREMENTS LIMIT 100`, "name"},
		{`SHOW TAG KEYS`, "tagKey"},
		{`SHOW TAG VALUES WITH KEY = "host"`, "value"},
		{`SHOW FIELD KEYS`, "fieldKey"},
		{`SHOW RETENTION POLICIES on "telegraf"`, "name"},
	} {
		s := firstSeries(get(tc.q, ""))
		if s == nil || !strings.Contains(fmt.Sprint(s["columns"]), tc.column) || len(s["values"].([]any)) == 0 {
			t.Errorf("%s: got %v; want values with a %q column", tc.q, s, tc.column)
		}
	}
	from, to := t0.UnixMilli(), t0.Add(20*time.Minute-time.Millisecond).UnixMilli()
	q := fmt.Sprintf(`SELECT mean("usage_idle") FROM "cpu" WHERE time >= %dms and time <= %dms GROUP BY time(5m) fill(null)`, from, to)
	s := firstSeries(get(q, "ms"))
	if s == nil {
		t.Fatalf("%s: no series", q)
	}
	values := s["values"].([]any)
	if len(values) != 4 {
		t.Fatalf("%s: %d windows, want 4: %v", q, len(values), values)
	}
	// 10 minutes of data in a 20-minute range: the first two 5 m windows
	// hold data, the last two are empty and filled with null; times are
	// epoch ms numbers.
	first := values[0].([]any)
	if first[0] != float64(from) || first[1] != 92.5 {
		t.Errorf("first window: got %v, want [%d 92.5]", first, from)
	}
	if last := values[3].([]any); last[1] != nil {
		t.Errorf("empty window with fill(null): got %v, want a null value", last)
	}
}
