package data_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/meta"
)

// postQuery sends q to node i's /query with POST and returns the body.
func postQuery(t *testing.T, c *clustertest.Cluster, i int, db, q string) string {
	t.Helper()
	resp, err := http.PostForm(c.URL(i)+"/query", url.Values{"db": {db}, "q": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestQueryDDLAndDeletes runs cluster-state statements and deletes through
// /query and checks their effect and InfluxDB's answer shapes.
func TestQueryDDLAndDeletes(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 2})
	steps := []struct {
		q, want string
	}{
		{`CREATE DATABASE shop WITH DURATION 30d REPLICATION 2 SHARD DURATION 1d NAME month`, `{"results":[{"statement_id":0}]}`},
		{`CREATE RETENTION POLICY week ON shop DURATION 7d REPLICATION 1`, `{"results":[{"statement_id":0}]}`},
		{`ALTER RETENTION POLICY week ON shop DURATION 14d DEFAULT`, `{"results":[{"statement_id":0}]}`},
		{`SHOW RETENTION POLICIES ON shop`, `{"results":[{"statement_id":0,"series":[{"columns":["name","duration","shardGroupDuration","replicaN","default"],"values":[["month","720h0m0s","24h0m0s",2,false],["week","336h0m0s","24h0m0s",1,true]]}]}]}`},
		{`SHOW DATABASES`, `{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["shop"]]}]}]}`},
		{`CREATE RETENTION POLICY bad ON nope DURATION 1h REPLICATION 1`, `"error":`},
		// Dropping the default policy leaves none, as in InfluxDB.
		{`DROP RETENTION POLICY week ON shop; SHOW RETENTION POLICIES ON shop`, `[["month","720h0m0s","24h0m0s",2,false]]`},
		{`ALTER RETENTION POLICY month ON shop DEFAULT; SHOW RETENTION POLICIES ON shop`, `[["month","720h0m0s","24h0m0s",2,true]]`},
	}
	for _, s := range steps {
		if got := postQuery(t, c, 0, "", s.q); !strings.Contains(got, s.want) {
			t.Errorf("%s\n got %s\nwant %s", s.q, got, s.want)
		}
	}
	c.WaitFor("shop on every node", func() bool {
		for i := range c.N() {
			if d := c.Server(i).MetaData(); d == nil || d.Database("shop") == nil {
				return false
			}
		}
		return true
	})

	ts := time.Now().Add(-time.Hour).Truncate(time.Second)
	body := ""
	for i := range 10 {
		body += "orders,store=a n=1 " + strconv.FormatInt(ts.Add(time.Duration(i)*time.Minute).UnixNano(), 10) + "\n"
		body += "visits,store=a n=1 " + strconv.FormatInt(ts.Add(time.Duration(i)*time.Minute).UnixNano(), 10) + "\n"
	}
	if code, resp := c.Write(0, params("db", "shop"), body); code != 204 {
		t.Fatalf("write: %d %s", code, resp)
	}
	if got := postQuery(t, c, 1, "shop", `SHOW SHARDS`); !strings.Contains(got, `"name":"shop"`) || !strings.Contains(got, `"owners"`) {
		t.Errorf("SHOW SHARDS: got %s", got)
	}
	if got := postQuery(t, c, 0, "shop", `SELECT count(n) FROM orders`); !strings.Contains(got, `10]]`) {
		t.Fatalf("count before DELETE: got %s, want 10", got)
	}
	del := `DELETE FROM orders WHERE time < '` + ts.Add(5*time.Minute).UTC().Format(time.RFC3339) + `'`
	if got := postQuery(t, c, 0, "shop", del); strings.Contains(got, "error") {
		t.Fatalf("%s: %s", del, got)
	}
	for i := range c.N() { // both owners applied it
		if got := postQuery(t, c, i, "shop", `SELECT count(n) FROM orders`); !strings.Contains(got, `5]]`) {
			t.Errorf("count after DELETE on node %d: got %s, want 5", i, got)
		}
	}
	if got := postQuery(t, c, 1, "shop", `DROP MEASUREMENT visits`); strings.Contains(got, "error") {
		t.Fatalf("DROP MEASUREMENT: %s", got)
	}
	for i := range c.N() {
		if got := postQuery(t, c, i, "shop", `SHOW MEASUREMENTS`); strings.Contains(got, "visits") || !strings.Contains(got, "orders") {
			t.Errorf("SHOW MEASUREMENTS after DROP on node %d: got %s", i, got)
		}
	}
	// GET runs statements that write, with InfluxDB 1.8's warning.
	resp, err := http.Get(c.URL(0) + "/query?" + url.Values{"db": {"shop"}, "q": {"DROP MEASUREMENT orders"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	getBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(getBody), `"level":"warning","text":"deprecated use of 'DROP MEASUREMENT orders' in a read only context`) {
		t.Errorf("GET DROP MEASUREMENT: got %s; want InfluxDB's read-only warning", getBody)
	}
	if got := postQuery(t, c, 0, "shop", `SHOW MEASUREMENTS`); strings.Contains(got, "orders") {
		t.Errorf("GET DROP MEASUREMENT left the measurement: %s", got)
	}
	resp, err = http.Post(c.URL(0)+"/api/v2/query", "application/json", strings.NewReader(`{"query":"from(bucket:\"x\")"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("/api/v2/query (Flux): got %d, want 501", resp.StatusCode)
	}
}

// TestNoDefaultRetentionPolicy: after the default policy is dropped, a
// query or write that names none says so and how to fix it.
func TestNoDefaultRetentionPolicy(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 1})
	if got := postQuery(t, c, 0, "", `CREATE DATABASE nodef; CREATE RETENTION POLICY other ON nodef DURATION 1d REPLICATION 1; DROP RETENTION POLICY autogen ON nodef`); strings.Contains(got, "error") {
		t.Fatalf("setup: %s", got)
	}
	c.WaitFor("nodef without a default policy", func() bool {
		d := c.Server(0).MetaData()
		return d != nil && d.Database("nodef") != nil && d.Database("nodef").DefaultRetentionPolicy == ""
	})
	const want = `database \"nodef\" has no default retention policy: name one with rp= or set one with ALTER RETENTION POLICY … DEFAULT`
	for _, q := range []string{`SHOW MEASUREMENTS`, `SELECT * FROM cpu`} {
		if got := postQuery(t, c, 0, "nodef", q); !strings.Contains(got, want) {
			t.Errorf("%s:\n got %s\nwant the error %s", q, got, want)
		}
	}
	code, resp := c.Write(0, params("db", "nodef"), "cpu v=1\n")
	if code != http.StatusNotFound || !strings.Contains(resp, want) {
		t.Errorf("write without rp: got %d %s; want 404 with %s", code, resp, want)
	}
	if code, resp := c.Write(0, params("db", "nodef", "rp", "other"), "cpu v=1\n"); code != http.StatusNoContent {
		t.Errorf("write with rp=other: got %d %s; want 204", code, resp)
	}
}

// TestCreateDatabaseTakesMetaDefaultReplication: CREATE DATABASE without a
// replication factor gets the cluster's default kept in meta.
func TestCreateDatabaseTakesMetaDefaultReplication(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 2})
	mc := meta.NewClient(meta.ClientConfig{Addrs: c.Meta.HTTPAddrs()})
	defer mc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.WaitTimeout)
	defer cancel()
	if err := mc.SetDefaultReplication(ctx, 2); err != nil {
		t.Fatalf("set default replication: %v", err)
	}
	if got := postQuery(t, c, 0, "", `CREATE DATABASE rf; CREATE DATABASE rf1 WITH REPLICATION 1; CREATE DATABASE rfw WITH DURATION 7d`); strings.Contains(got, "error") {
		t.Fatalf("CREATE DATABASE: %s", got)
	}
	for db, want := range map[string]string{"rf": `["autogen","0s","168h0m0s",2,true]`, "rf1": `["autogen","0s","168h0m0s",1,true]`, "rfw": `["autogen","168h0m0s","24h0m0s",2,true]`} {
		if got := postQuery(t, c, 0, "", `SHOW RETENTION POLICIES ON `+db); !strings.Contains(got, want) {
			t.Errorf("SHOW RETENTION POLICIES ON %s: got %s; want %s", db, got, want)
		}
	}
}

// TestQueryBindParams: /query's params bind $names in q, as InfluxDB 1.8
// (and python-influxdb's bind_params) send them.
func TestQueryBindParams(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 1})
	c.CreateDatabase("bp", 1)
	if code, resp := c.Write(0, params("db", "bp"), "cpu,host=a v=1 1000000000\ncpu,host=b v=2.5 2000000000\n"); code != 204 {
		t.Fatalf("write: %d %s", code, resp)
	}
	q := func(p string) (int, string) {
		resp, err := http.PostForm(c.URL(0)+"/query", url.Values{"db": {"bp"}, "q": {`SELECT v FROM cpu WHERE host = $host AND v > $min`}, "params": {p}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	want := `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","v"],"values":[["1970-01-01T00:00:02Z",2.5]]}]}]}`
	for _, p := range []string{`{"host":"b","min":1}`, `{"host":"b","min":1.5}`} {
		if code, got := q(p); code != 200 || strings.TrimSpace(got) != want {
			t.Errorf("params %s: got %d %s; want %s", p, code, got, want)
		}
	}
	if code, got := q(`{"host":`); code != 400 || !strings.Contains(got, "error parsing query parameters") {
		t.Errorf("bad params: got %d %s; want 400 error parsing query parameters", code, got)
	}
	if code, got := q(`{"host":"b"}`); code != 400 || !strings.Contains(got, "missing parameter: min") {
		t.Errorf("a missing parameter: got %d %s; want 400 naming it", code, got)
	}
}
