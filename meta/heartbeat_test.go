package meta_test

import (
	"testing"
	"time"

	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
)

// TestCluster_DataNodeStatesAcrossLeaderChange sends data node heartbeats
// through a follower (forwarded to the leader), kills the leader, and
// checks the new leader's view: both nodes unknown (never down) until it
// hears from them, the one still heartbeating up at once, the silent one
// down only after data-node-timeout of leading.
func TestCluster_DataNodeStatesAcrossLeaderChange(t *testing.T) {
	const timeout = 2 * time.Second
	c := metatest.NewWithOptions(t, 3, metatest.Options{Configure: func(_ int, cfg *meta.Config) {
		cfg.DataNodeTimeout = meta.Duration(timeout)
	}})
	c.WaitLeader()
	ctx := ctxT(t)
	cl := newClient(t, c.HTTPAddrs()...)
	live, err := cl.CreateDataNode(ctx, "live:8086", "live:8088")
	if err != nil {
		t.Fatal(err)
	}
	silent, err := cl.CreateDataNode(ctx, "silent:8086", "silent:8088")
	if err != nil {
		t.Fatal(err)
	}
	beat := func(cl *meta.Client, id uint64) {
		t.Helper()
		if err := cl.Heartbeat(ctx, meta.DataNodeHeartbeat{NodeID: id, Shards: 1}); err != nil {
			t.Fatalf("heartbeat of node %d: %v", id, err)
		}
	}
	states := func() (string, string) {
		t.Helper()
		list, err := cl.DataNodeStates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[uint64]string{}
		for _, s := range list {
			got[s.ID] = s.State
		}
		return got[live.ID], got[silent.ID]
	}
	viaFollower := newClient(t, c.Followers()[0].HTTPAddr())
	beat(viaFollower, live.ID)
	beat(viaFollower, silent.ID)
	if l, s := states(); l != meta.DataNodeUp || s != meta.DataNodeUp {
		t.Fatalf("after heartbeats through a follower: live %s, silent %s; want both up", l, s)
	}
	if err := viaFollower.Heartbeat(ctx, meta.DataNodeHeartbeat{NodeID: 999}); err == nil {
		t.Error("heartbeat of unknown data node 999 accepted")
	}

	c.Kill(c.LeaderIndex())
	c.WaitLeader()
	elected := time.Now()
	if l, s := states(); l != meta.DataNodeUnknown || s != meta.DataNodeUnknown {
		t.Fatalf("new leader before any heartbeat: live %s, silent %s; want both unknown", l, s)
	}
	for {
		beat(cl, live.ID)
		l, s := states()
		if l != meta.DataNodeUp {
			t.Fatalf("live node %s right after its heartbeat to the new leader", l)
		}
		if s == meta.DataNodeDown {
			if d := time.Since(elected); d < timeout {
				t.Errorf("silent node down %v after the election, before data-node-timeout %v", d, timeout)
			}
			return
		}
		if s != meta.DataNodeUnknown {
			t.Fatalf("silent node %s; want unknown until timeout, then down", s)
		}
		if time.Since(elected) > 10*timeout {
			t.Fatalf("silent node still unknown %v after the election", time.Since(elected))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
