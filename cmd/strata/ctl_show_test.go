package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/meta"
)

// TestCtlShowStateFromHeartbeats checks that `strata ctl show` reports
// data nodes as the meta leader sees them: a node whose advertised HTTP
// address this machine cannot resolve is up while it heartbeats, and a
// stopped node turns down once meta's data-node-timeout passes.
func TestCtlShowStateFromHeartbeats(t *testing.T) {
	const unresolvable = "data-1.strata-test.invalid:8086"
	c := clustertest.New(t, clustertest.Options{Data: 2,
		MetaConfigure: func(_ int, cfg *meta.Config) { cfg.DataNodeTimeout = meta.Duration(2 * time.Second) },
		Configure: func(i int, cfg *data.Config) {
			cfg.HeartbeatInterval = meta.Duration(100 * time.Millisecond)
			if i == 1 {
				cfg.HTTPAdvertiseAddr = unresolvable
			}
		}})
	c.CreateDatabase("db", 2)
	if code, body := c.Write(0, map[string][]string{"db": {"db"}}, "cpu v=1"); code != 204 {
		t.Fatalf("write: %d %s", code, body)
	}
	addrs := c.Meta.HTTPAddrs()
	stopped, hidden := c.NodeID(0), c.NodeID(1)

	var last string
	show := func() map[uint64]dataNodeView {
		t.Helper()
		out, err := runCtl(t, addrs, "", "--json", "show")
		last = out
		if err != nil {
			t.Fatalf("ctl show: %v\n%s", err, out)
		}
		var view clusterView
		if err := json.Unmarshal([]byte(out), &view); err != nil {
			t.Fatalf("ctl show --json: %v\n%s", err, out)
		}
		byID := make(map[uint64]dataNodeView)
		for _, n := range view.DataNodes {
			byID[n.ID] = n
		}
		return byID
	}
	waitFor := func(what string, cond func(map[uint64]dataNodeView) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond(show()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20s; last ctl show: %s", what, last)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	waitFor("both nodes up, each with the shard it holds", func(v map[uint64]dataNodeView) bool {
		return v[stopped].State == meta.DataNodeUp && v[stopped].Shards == 1 &&
			v[hidden].State == meta.DataNodeUp && v[hidden].Shards == 1 && v[hidden].HTTPAddr == unresolvable
	})
	c.Stop(0)
	stoppedAt := time.Now()
	waitFor("the stopped node down, the other still up", func(v map[uint64]dataNodeView) bool {
		return v[stopped].State == meta.DataNodeDown && v[hidden].State == meta.DataNodeUp
	})
	// Its last heartbeat came at most one interval before the stop.
	if d := time.Since(stoppedAt); d < 2*time.Second-200*time.Millisecond {
		t.Errorf("stopped node reported down %v after it stopped, before the 2s data-node-timeout", d)
	}
}
