package meta

import (
	"testing"
	"time"
)

// TestHeartbeatStates walks the leader's view of two data nodes through a
// leadership change: a new leader says "unknown" about a node it has not
// heard from until it has led for the timeout, then "down".
func TestHeartbeatStates(t *testing.T) {
	const timeout = 10 * time.Second
	d := &Data{DataNodes: []NodeInfo{{ID: 1}, {ID: 2}}}
	t0 := time.Unix(1_000_000, 0)
	h := newHeartbeats(timeout)
	states := func(now time.Time) map[uint64]string {
		out := make(map[uint64]string)
		for _, s := range h.states(d, now) {
			out[s.ID] = s.State
		}
		return out
	}
	want := func(now time.Time, one, two string) {
		t.Helper()
		if got := states(now); got[1] != one || got[2] != two {
			t.Errorf("at +%v: states %v, want 1:%s 2:%s", now.Sub(t0), got, one, two)
		}
	}

	h.leading(5, t0)
	h.record(DataNodeHeartbeat{NodeID: 1, Shards: 3}, t0)
	want(t0.Add(time.Second), DataNodeUp, DataNodeUnknown)
	want(t0.Add(timeout), DataNodeUp, DataNodeDown)
	want(t0.Add(timeout+time.Second), DataNodeDown, DataNodeDown)

	// Re-elected in a later term: node 1's old heartbeat is no proof of
	// death, its new ones may have gone to the other leader meanwhile.
	t1 := t0.Add(time.Minute)
	h.leading(5, t1) // same term: nothing changes
	want(t1, DataNodeDown, DataNodeDown)
	h.leading(7, t1)
	want(t1.Add(time.Second), DataNodeUnknown, DataNodeUnknown)
	h.record(DataNodeHeartbeat{NodeID: 2, Shards: 1}, t1.Add(time.Second))
	want(t1.Add(2*time.Second), DataNodeUnknown, DataNodeUp)
	want(t1.Add(timeout), DataNodeDown, DataNodeUp)

	// A deleted node's record is forgotten.
	d = &Data{DataNodes: []NodeInfo{{ID: 1}}}
	h.states(d, t1)
	if _, ok := h.last[2]; ok {
		t.Error("heartbeat of deleted node 2 still kept")
	}
}
