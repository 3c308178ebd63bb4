package data_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/hh"
	"github.com/strata-db/strata/internal/faultproxy"
	"github.com/strata-db/strata/meta"
)

// hhStatus reads data node i's hinted-handoff queues from its endpoint.
func hhStatus(t *testing.T, c *clustertest.Cluster, i int) []hh.QueueStatus {
	t.Helper()
	resp, err := http.Get(c.URL(i) + data.HHPath)
	if err != nil {
		t.Fatalf("GET %s: %v", data.HHPath, err)
	}
	defer resp.Body.Close()
	var st []hh.QueueStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, decode error %v", data.HHPath, resp.StatusCode, err)
	}
	return st
}

// queued returns the records node i holds for node id.
func queued(t *testing.T, c *clustertest.Cluster, i int, id uint64) int64 {
	t.Helper()
	for _, q := range hhStatus(t, c, i) {
		if q.NodeID == id {
			return q.Records
		}
	}
	return 0
}

// TestHintedHandoffReplaysAfterHeal cuts one owner of an RF 2 database,
// writes at consistency one through the other, and checks the writes wait
// in the writer's queue, survive its restart, and reach the cut owner once
// its link heals, leaving both replicas equal.
func TestHintedHandoffReplaysAfterHeal(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 2, Configure: func(_ int, cfg *data.Config) {
		cfg.HintedHandoff.RetryInterval = meta.Duration(50 * time.Millisecond)
		cfg.HintedHandoff.RetryMaxInterval = meta.Duration(200 * time.Millisecond)
	}})
	c.CreateDatabase("db", 2)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	body, _ := batch(5, 1, t0)
	if code, resp := c.Write(0, params("db", "db"), body); code != 204 {
		t.Fatalf("first write: %d %s", code, resp)
	}
	c.SetLink(1, faultproxy.Refuse)
	for i := range 10 {
		body, _ := batch(20, 3, t0.Add(time.Duration(i+1)*time.Minute))
		if code, resp := c.Write(0, params("db", "db", "consistency", "one"), body); code != 204 {
			t.Fatalf("write %d with node 1 cut: %d %s", i, code, resp)
		}
	}
	// The writes answered at level one; node 1's part is queued when its
	// RPC fails, maybe just after.
	c.WaitFor("a record queued for the cut node", func() bool { return queued(t, c, 0, c.NodeID(1)) > 0 })
	c.Stop(0)
	c.Restart(0)
	if n := queued(t, c, 0, c.NodeID(1)); n == 0 {
		t.Fatal("the queue did not survive the restart of its node")
	}
	c.SetLink(1, faultproxy.Pass)
	c.WaitFor("node 0's queue to drain", func() bool { return queued(t, c, 0, c.NodeID(1)) == 0 })
	a, b := c.ShardPoints(0), c.ShardPoints(1)
	if len(a) == 0 {
		t.Fatal("node 0 holds no shard")
	}
	for id, pts := range a {
		if !slices.Equal(pts, b[id]) {
			t.Errorf("shard %d: node 0 holds %d values, node 1 %d after replay", id, len(pts), len(b[id]))
		}
	}
	st := hhStatus(t, c, 0)
	if len(st) != 1 || st[0].PointsReplayed == 0 || st[0].State != hh.StateEmpty {
		t.Errorf("status after replay = %+v; want one empty queue with points replayed", st)
	}
}

// TestHintedHandoffQueueOfRemovedNode checks that removing a data node
// from the cluster deletes the queue other nodes kept for it.
func TestHintedHandoffQueueOfRemovedNode(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Data: 2})
	c.CreateDatabase("db", 2)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	c.SetLink(1, faultproxy.Refuse)
	body, _ := batch(5, 2, t0)
	if code, resp := c.Write(0, params("db", "db", "consistency", "any"), body); code != 204 {
		t.Fatalf("write with node 1 cut: %d %s", code, resp)
	}
	gone := c.NodeID(1)
	// Level any met by node 0 itself: node 1's part is queued when its RPC
	// fails, maybe just after the answer.
	c.WaitFor("a record queued for the cut node", func() bool { return queued(t, c, 0, gone) > 0 })
	c.Stop(1)
	mc := meta.NewClient(meta.ClientConfig{Addrs: c.Meta.HTTPAddrs()})
	defer mc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.WaitTimeout)
	defer cancel()
	if err := mc.DeleteDataNode(ctx, gone); err != nil {
		t.Fatalf("remove data node %d: %v", gone, err)
	}
	c.WaitFor("the removed node's queue to be deleted", func() bool { return len(hhStatus(t, c, 0)) == 0 })
}
