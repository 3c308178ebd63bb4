package data_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/faultproxy"
	"github.com/strata-db/strata/meta"
)

// TestContinuousQueryStatements checks CREATE, SHOW and DROP CONTINUOUS
// QUERY against InfluxDB 1.8's answers (coordinator/query/DESIGN.md cites
// them): the stored text names db.rp of every measurement, creating the
// same query again is a no-op, another query under the name is refused,
// dropping a missing one is a no-op, and SHOW has a series per database.
func TestContinuousQueryStatements(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 1})
	c.CreateDatabase("db", 1)
	c.CreateDatabase("other", 1)
	create := `CREATE CONTINUOUS QUERY cq1 ON db BEGIN SELECT mean(v) INTO v_1m FROM cpu GROUP BY time(1m), * END`
	stored := `CREATE CONTINUOUS QUERY cq1 ON db BEGIN SELECT mean(v) INTO db.autogen.v_1m FROM db.autogen.cpu GROUP BY time(1m), * END`
	steps := []struct{ db, q, want string }{
		{"", create, `{"results":[{"statement_id":0}]}`},
		{"", create, `{"results":[{"statement_id":0}]}`},
		{"", `CREATE CONTINUOUS QUERY cq1 ON db BEGIN SELECT max(v) INTO v_1m FROM cpu GROUP BY time(1m) END`,
			`{"results":[{"statement_id":0,"error":"continuous query already exists"}]}`},
		{"", `CREATE CONTINUOUS QUERY cq2 ON nope BEGIN SELECT max(v) INTO v_1m FROM cpu GROUP BY time(1m) END`,
			`{"results":[{"statement_id":0,"error":"database not found: nope"}]}`},
		{"", `CREATE CONTINUOUS QUERY cq2 ON db BEGIN SELECT max(v) INTO db.nope.v FROM cpu GROUP BY time(1m) END`,
			`{"results":[{"statement_id":0,"error":"retention policy not found: db.nope"}]}`},
		{"", `CREATE CONTINUOUS QUERY cq3 ON db RESAMPLE EVERY 2m FOR 1h BEGIN SELECT max(v) INTO v_max FROM cpu GROUP BY time(1m) END`,
			`{"results":[{"statement_id":0}]}`},
		{"", `SHOW CONTINUOUS QUERIES`,
			`{"results":[{"statement_id":0,"series":[{"name":"db","columns":["name","query"],"values":[["cq1","` + stored + `"],["cq3","CREATE CONTINUOUS QUERY cq3 ON db RESAMPLE EVERY 2m FOR 1h BEGIN SELECT max(v) INTO db.autogen.v_max FROM db.autogen.cpu GROUP BY time(1m) END"]]},{"name":"other","columns":["name","query"]}]}]}`},
		{"", `DROP CONTINUOUS QUERY cq3 ON db`, `{"results":[{"statement_id":0}]}`},
		{"", `DROP CONTINUOUS QUERY cq3 ON db`, `{"results":[{"statement_id":0}]}`},
		{"", `SHOW CONTINUOUS QUERIES`,
			`{"results":[{"statement_id":0,"series":[{"name":"db","columns":["name","query"],"values":[["cq1","` + stored + `"]]},{"name":"other","columns":["name","query"]}]}]}`},
	}
	for _, s := range steps {
		if got := postQuery(t, c, 0, s.db, s.q); strings.TrimSpace(got) != s.want {
			t.Errorf("%s\n got %s\nwant %s", s.q, got, s.want)
		}
	}
}

// TestContinuousQueryRollsUp runs a 1 s continuous query over points
// written ahead of time and checks the roll-up equals a direct SELECT of
// the same aggregate, window by window. The write is acknowledged at
// consistency one, so without settle-delay (here the write timeout) a
// run on the other node could read its copy before replication reached
// it and miss points.
func TestContinuousQueryRollsUp(t *testing.T) {
	// Short enough that the four windows roll up within the harness's
	// wait, long enough for the copy to reach the other node under load.
	const timeout = 5 * time.Second
	c := clustertest.New(t, clustertest.Options{Data: 2, Configure: func(_ int, cfg *data.Config) {
		cfg.Coordinator.WriteTimeout = meta.Duration(timeout)
		cfg.ContinuousQueries.RunInterval = meta.Duration(100 * time.Millisecond)
		cfg.ContinuousQueries.LeaseDuration = meta.Duration(time.Second)
		cfg.ContinuousQueries.SettleDelay = cfg.Coordinator.WriteTimeout
	}})
	c.CreateDatabase("db", 2)
	if got := postQuery(t, c, 0, "db", `CREATE CONTINUOUS QUERY roll ON db BEGIN SELECT mean(v), count(v) INTO roll FROM cpu GROUP BY time(1s), * END`); !strings.Contains(got, `"statement_id":0}`) {
		t.Fatalf("create: %s", got)
	}
	start := time.Now().Truncate(time.Second).Add(2 * time.Second)
	var body strings.Builder
	for i := range 40 {
		for h := range 3 {
			fmt.Fprintf(&body, "cpu,host=h%d v=%d %d\n", h, i*(h+1), start.Add(time.Duration(i)*100*time.Millisecond).UnixNano())
		}
	}
	if code, resp := c.Write(1, params("db", "db"), body.String()); code != 204 {
		t.Fatalf("write: %d %s", code, resp)
	}
	end := start.Add(4 * time.Second)
	// Both answers are read from node 1, so the wait is on node 1 too: the
	// roll-up's own writes are acknowledged at consistency one, and node 1
	// may get its copy of the last window after node 0 has it.
	c.WaitFor("the four 1 s windows rolled up on node 1", func() bool {
		return strings.Count(queryNode(t, c, 1, "db", `SELECT count FROM roll WHERE host = 'h0'`), "Z\",") == 4
	})
	direct := queryNode(t, c, 1, "db", fmt.Sprintf(`SELECT mean(v), count(v) FROM cpu WHERE time >= '%s' AND time < '%s' GROUP BY time(1s), * fill(none)`,
		start.UTC().Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano)))
	rolled := queryNode(t, c, 1, "db", `SELECT mean, count FROM roll GROUP BY *`)
	if strings.ReplaceAll(direct, `"name":"cpu"`, `"name":"roll"`) != rolled {
		t.Errorf("roll-up differs from the direct SELECT\n rolled %s\n direct %s", rolled, direct)
	}
}

// TestContinuousQueryWaitsForReplication holds back the copy of a write
// acknowledged at consistency one on its way to the node running the
// continuous query until after its interval has ended, and checks the
// roll-up still equals a direct SELECT: the run waits settle-delay, so it
// does not read that node's copy before the write reaches it and record
// the interval as done without the points.
func TestContinuousQueryWaitsForReplication(t *testing.T) {
	const timeout = 5 * time.Second
	c := clustertest.New(t, clustertest.Options{Data: 2, Configure: func(i int, cfg *data.Config) {
		cfg.Coordinator.WriteTimeout = meta.Duration(timeout)
		cfg.Coordinator.RPCTimeout = meta.Duration(timeout)
		cfg.ContinuousQueries.Enabled = i == 0 // node 0 runs the query, reading its own copy
		cfg.ContinuousQueries.RunInterval = meta.Duration(100 * time.Millisecond)
		cfg.ContinuousQueries.LeaseDuration = meta.Duration(time.Second)
		cfg.ContinuousQueries.SettleDelay = cfg.Coordinator.WriteTimeout
	}})
	c.CreateDatabase("db", 2)
	if got := postQuery(t, c, 0, "db", `CREATE CONTINUOUS QUERY roll ON db BEGIN SELECT count(v) INTO roll FROM cpu GROUP BY time(1s) END`); !strings.Contains(got, `"statement_id":0}`) {
		t.Fatalf("create: %s", got)
	}
	start := time.Now().Truncate(time.Second).Add(time.Second)
	// A first point on both nodes, so node 0 holds the shard and reads it.
	if code, resp := c.Write(1, params("db", "db", "consistency", "all"), fmt.Sprintf("cpu v=0 %d\n", start.UnixNano())); code != 204 {
		t.Fatalf("write at consistency all: %d %s", code, resp)
	}
	c.SetLink(0, faultproxy.Blackhole)
	time.Sleep(time.Until(start))
	var body strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&body, "cpu v=%d %d\n", i, start.Add(time.Duration(i)*50*time.Millisecond).UnixNano())
	}
	if code, resp := c.Write(1, params("db", "db"), body.String()); code != 204 {
		t.Fatalf("write at consistency one: %d %s", code, resp)
	}
	// Node 0 gets its copy after the interval has ended, well within the
	// write timeout.
	time.Sleep(time.Until(start.Add(1600 * time.Millisecond)))
	c.SetLink(0, faultproxy.Pass)
	c.WaitFor("the interval rolled up", func() bool {
		return strings.Contains(queryNode(t, c, 1, "db", `SELECT count FROM roll`), start.UTC().Format(time.RFC3339))
	})
	direct := queryNode(t, c, 1, "db", fmt.Sprintf(`SELECT count(v) FROM cpu WHERE time >= '%s' AND time < '%s' GROUP BY time(1s) fill(none)`,
		start.UTC().Format(time.RFC3339Nano), start.Add(time.Second).UTC().Format(time.RFC3339Nano)))
	rolled := queryNode(t, c, 1, "db", `SELECT count FROM roll`)
	if want := strings.ReplaceAll(direct, `"name":"cpu","columns":["time","count"]`, `"name":"roll","columns":["time","count"]`); rolled != want || !strings.Contains(direct, ",11]") {
		t.Errorf("roll-up of an interval whose points reached the runner's copy late\n rolled %s\n direct %s (want count 11)", rolled, direct)
	}
}
