package data_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/faultproxy"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// batch builds line protocol for hosts series × n timestamps with a float
// and an integer field, starting at t0; it returns the body and the
// expected one-field lines (canonical, sorted).
func batch(hosts, n int, t0 time.Time) (string, []string) {
	var body strings.Builder
	var want []string
	for i := range n {
		ts := t0.Add(time.Duration(i) * time.Second).UnixNano()
		for h := range hosts {
			fmt.Fprintf(&body, "cpu,host=h%03d,region=r%d usage=%d.5,count=%di %d\n", h, h%3, i, h*i, ts)
			want = append(want,
				fmt.Sprintf("cpu,host=h%03d,region=r%d usage=%d.5 %d", h, h%3, i, ts),
				fmt.Sprintf("cpu,host=h%03d,region=r%d count=%di %d", h, h%3, h*i, ts))
		}
	}
	sort.Strings(want)
	return body.String(), want
}

func params(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// TestReplicationPlacesPointsOnTheirOwners writes to each data node in
// turn (owners and non-owners alike) on a 3-node RF 2 cluster and checks,
// by reading every node's shards, that each point lands on exactly the two
// owners of the shard its series routes to and nowhere else.
func TestReplicationPlacesPointsOnTheirOwners(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 3})
	c.CreateDatabase("db", 2)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	var want []string
	for i := range c.N() {
		body, lines := batch(40, 5, t0.Add(time.Duration(i)*time.Minute))
		// Level all: a write answers as soon as its level is met, and this
		// test reads every replica right after.
		if code, resp := c.Write(i, params("db", "db", "consistency", "all"), body); code != 204 {
			t.Fatalf("write to data node %d: got %d %s, want 204", i, code, resp)
		}
		want = append(want, lines...)
	}
	sort.Strings(want)

	d := c.Server(0).MetaData()
	held := make([]map[uint64][]string, c.N())
	for i := range c.N() {
		held[i] = c.ShardPoints(i)
	}
	var union []string
	for _, db := range d.Databases {
		for _, rp := range db.RetentionPolicies {
			for _, sg := range rp.ShardGroups {
				for _, sh := range sg.Shards {
					if len(sh.Owners) != 2 {
						t.Fatalf("shard %d has owners %v, want 2", sh.ID, sh.Owners)
					}
					var replicas [][]string
					for i := range c.N() {
						pts, has := held[i][sh.ID]
						owner := slices.Contains(sh.Owners, c.NodeID(i))
						switch {
						case owner && !has:
							t.Errorf("shard %d: owner node %d does not hold it", sh.ID, c.NodeID(i))
						case !owner && has && len(pts) > 0:
							t.Errorf("shard %d: non-owner node %d holds %d values", sh.ID, c.NodeID(i), len(pts))
						case owner:
							replicas = append(replicas, pts)
						}
					}
					if len(replicas) == 2 && !slices.Equal(replicas[0], replicas[1]) {
						t.Errorf("shard %d: the two replicas differ (%d and %d values)", sh.ID, len(replicas[0]), len(replicas[1]))
					}
					if len(replicas) > 0 {
						for _, line := range replicas[0] {
							checkRouting(t, d, &sg, sh.ID, line)
						}
						union = append(union, replicas[0]...)
					}
				}
			}
		}
	}
	sort.Strings(union)
	if !slices.Equal(union, want) {
		for i := range min(len(union), len(want)) {
			if union[i] != want[i] {
				t.Errorf("first difference at %d: got %q, want %q", i, union[i], want[i])
				break
			}
		}
		t.Fatalf("values held across the cluster: got %d, want %d (every written value exactly once per shard)", len(union), len(want))
	}
}

// checkRouting fails unless the series of line routes to shard id.
func checkRouting(t *testing.T, d *meta.Data, sg *meta.ShardGroupInfo, id uint64, line string) {
	t.Helper()
	var p models.Parser
	pts, err := p.Parse([]byte(line), 1, 0)
	if err != nil || len(pts) != 1 {
		t.Fatalf("parse stored line %q: %v", line, err)
	}
	if got := d.ShardFor(sg, pts[0].AppendSeriesKey(nil)); got.ID != id {
		t.Errorf("%q is stored in shard %d but routes to shard %d", line, id, got.ID)
	}
}

// TestConsistencyLevelsWithAnOwnerDown cuts one owner's RPC link and
// checks each consistency level's answer on RF 2 and RF 3 databases.
func TestConsistencyLevelsWithAnOwnerDown(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 3})
	c.CreateDatabase("rf2", 2)
	c.CreateDatabase("rf3", 3)
	ts := time.Now().Add(-time.Minute).UnixNano()
	// Make the shard groups exist while everyone is up.
	for _, db := range []string{"rf2", "rf3"} {
		if code, resp := c.Write(0, params("db", db), fmt.Sprintf("m,k=v f=1 %d", ts)); code != 204 {
			t.Fatalf("initial write to %s: %d %s", db, code, resp)
		}
	}
	// Find a remote owner of the rf2 shard as seen from node 0 and cut it.
	d := c.Server(0).MetaData()
	sg := d.ShardGroupByTimestamp("rf2", "autogen", time.Unix(0, ts))
	sh := d.ShardFor(sg, []byte("m,k=v"))
	var cut int = -1
	for _, o := range sh.Owners {
		if o != c.NodeID(0) {
			cut = c.Index(o)
			break
		}
	}
	writer := 0
	if !slices.Contains(sh.Owners, c.NodeID(0)) {
		// Node 0 owns nothing here: cut one owner and write through node 0.
		cut = c.Index(sh.Owners[0])
	}
	c.SetLink(cut, faultproxy.Refuse)
	t.Logf("shard %d owners %v; writing via node %d with node %d cut", sh.ID, sh.Owners, c.NodeID(writer), c.NodeID(cut))

	tests := []struct {
		db, level string
		want      int
	}{
		{"rf2", "any", 204},
		{"rf2", "one", 204},
		{"rf2", "quorum", 500}, // quorum of 2 is 2
		{"rf2", "all", 500},
		{"rf3", "one", 204},
		{"rf3", "quorum", 204}, // 2 of 3 still answer
		{"rf3", "all", 500},
	}
	for i, tc := range tests {
		t.Run(tc.db+"/"+tc.level, func(t *testing.T) {
			body := fmt.Sprintf("m,k=v f=%d %d", i+2, ts)
			code, resp := c.Write(writer, params("db", tc.db, "consistency", tc.level), body)
			if code != tc.want {
				t.Fatalf("got %d %s, want %d", code, resp, tc.want)
			}
			if code == 500 && !strings.Contains(resp, "consistency level "+tc.level) {
				t.Errorf("error body %s does not name the failed level %q", resp, tc.level)
			}
		})
	}
}

// TestRestartedNodeServesItsShards stops a data node and restarts it from
// its directory: it keeps its id and every point it held.
func TestRestartedNodeServesItsShards(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 2})
	c.CreateDatabase("db", 2)
	body, want := batch(20, 3, time.Now().Add(-time.Hour).Truncate(time.Second))
	if code, resp := c.Write(0, params("db", "db", "consistency", "all"), body); code != 204 {
		t.Fatalf("write: %d %s", code, resp)
	}
	id := c.NodeID(1)
	before := c.ShardPoints(1)
	c.Stop(1)
	c.Restart(1)
	if got := c.NodeID(1); got != id {
		t.Fatalf("restarted node id: got %d, want %d", got, id)
	}
	after := c.ShardPoints(1)
	var all []string
	for sid, pts := range before {
		if !slices.Equal(after[sid], pts) {
			t.Errorf("shard %d after restart: %d values, before %d", sid, len(after[sid]), len(pts))
		}
		all = append(all, pts...)
	}
	sort.Strings(all)
	if !slices.Equal(all, want) {
		t.Errorf("node 1 held %d values, want all %d (RF 2 on 2 nodes)", len(all), len(want))
	}
	// And it takes writes again, as an owner.
	if code, resp := c.Write(1, params("db", "db", "consistency", "all"), "cpu,host=new usage=1"); code != 204 {
		t.Fatalf("write with consistency=all after restart: %d %s", code, resp)
	}
}

// TestWriteEdgeCasesEndToEnd sends InfluxDB's documented edge cases through
// a 2-node RF 2 cluster and checks both the answer and what the owners
// store.
func TestWriteEdgeCasesEndToEnd(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 2})
	c.CreateDatabase("db", 2)
	tests := []struct {
		name       string
		params     url.Values
		body       string
		wantStatus int
		wantErr    string
	}{
		{name: "all field types", params: params("db", "db"), body: "types f=1.5,i=-2i,u=3u,s=\"x y\",b=t 1000", wantStatus: 204},
		{name: "escapes", params: params("db", "db"), body: `esc\,m,t\ k=v\=1 f\,k="q\"s" 1000`, wantStatus: 204},
		{name: "duplicate point, last wins", params: params("db", "db"), body: "dup v=1 1000\ndup v=2 1000", wantStatus: 204},
		{name: "type conflict", params: params("db", "db"), body: "types f=\"now a string\" 2000\ntypes i=5i 2000", wantStatus: 400,
			wantErr: `partial write: field type conflict: input field "f" on measurement "types" is type string, already exists as type float dropped=1`},
		{name: "invalid utf-8", params: params("db", "db"), body: "bad v=\"\xff\" 1000\nok v=1 1000", wantStatus: 400, wantErr: "partial write"},
		{name: "precision ms", params: params("db", "db", "precision", "ms"), body: "prec v=1 5", wantStatus: 204},
		{name: "empty body", params: params("db", "db"), body: "", wantStatus: 204},
	}
	for _, tc := range tests {
		tc.params.Set("consistency", "all") // both owners hold it when answered
		code, resp := c.Write(0, tc.params, tc.body)
		var body struct{ Error string }
		if resp != "" {
			if err := json.Unmarshal([]byte(resp), &body); err != nil {
				t.Errorf("%s: answer %q is not InfluxDB's JSON error body: %v", tc.name, resp, err)
			}
		}
		if code != tc.wantStatus || !strings.Contains(body.Error, tc.wantErr) {
			t.Errorf("%s: got %d %s; want %d containing %q", tc.name, code, resp, tc.wantStatus, tc.wantErr)
		}
	}
	want := []string{
		`dup v=2 1000`,
		`esc\,m,t\ k=v\=1 f\,k="q\"s" 1000`,
		`ok v=1 1000`,
		`prec v=1 5000000`,
		`types b=true 1000`,
		`types f=1.5 1000`,
		`types i=-2i 1000`,
		`types i=5i 2000`,
		`types s="x y" 1000`,
		`types u=3u 1000`,
	}
	for i := range c.N() {
		var got []string
		for _, lines := range c.ShardPoints(i) {
			got = append(got, lines...)
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("data node %d stores:\n%q\nwant:\n%q", i, got, want)
		}
	}
}

// TestWriteLargeBodyInChunks sends a body of several parse chunks with bad
// lines and field type conflicts in different chunks: every good line is
// stored, and the answer sums what each chunk dropped, as one Parse of the
// whole body would.
func TestWriteLargeBodyInChunks(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 1})
	c.CreateDatabase("db", 1)
	const lines = 2*data.WriteChunkLines + 1
	var body strings.Builder
	for i := range lines {
		switch i {
		case 7, 2*data.WriteChunkLines + 0: // bad syntax, in the first and the last chunk
			fmt.Fprintf(&body, "big v= %d\n", i)
		case data.WriteChunkLines + 3, 2*data.WriteChunkLines - 1: // type conflicts, in the second chunk and at its end
			fmt.Fprintf(&body, "big v=\"s\" %d\n", i)
		default:
			fmt.Fprintf(&body, "big v=%d.5 %d\n", i, i)
		}
	}
	code, resp := c.Write(0, params("db", "db"), body.String())
	if code != 400 || !strings.Contains(resp, `is type string, already exists as type float dropped=2; partial write:`) ||
		!strings.Contains(resp, "dropped=2") || !strings.Contains(resp, "line 8") {
		t.Fatalf("got %d %s; want 400 with both conflicts (dropped=2) and both bad lines (dropped=2, line 8 first)", code, resp)
	}
	stored := 0
	for _, pts := range c.ShardPoints(0) {
		stored += len(pts)
	}
	if stored != lines-4 {
		t.Fatalf("stored %d values; want %d (all but 2 bad lines and 2 conflicts)", stored, lines-4)
	}
}
