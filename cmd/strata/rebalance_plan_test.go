package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/meta"
)

// planState is a cluster with data nodes nodes and one group per entry of
// owners, each with one shard (ids 1, 2, …) at replication factor rf.
func planState(nodes []uint64, rf int, owners ...[]uint64) *meta.Data {
	d := &meta.Data{}
	for _, n := range nodes {
		d.DataNodes = append(d.DataNodes, meta.NodeInfo{ID: n})
	}
	rp := meta.RetentionPolicyInfo{Name: "rp", ReplicaN: rf, ShardGroupDuration: time.Hour}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, o := range owners {
		rp.ShardGroups = append(rp.ShardGroups, meta.ShardGroupInfo{ID: uint64(i + 1), StartTime: start.Add(time.Duration(i) * time.Hour),
			EndTime: start.Add(time.Duration(i+1) * time.Hour), Shards: []meta.ShardInfo{{ID: uint64(i + 1), Owners: o}}})
	}
	d.Databases = []meta.DatabaseInfo{{Name: "db", DefaultRetentionPolicy: "rp", RetentionPolicies: []meta.RetentionPolicyInfo{rp}}}
	return d
}

// applyPlan runs p's moves on d's owners in order, checking each copy
// comes from an owner to a non-owner, and returns the owners by shard.
func applyPlan(t *testing.T, d *meta.Data, p *rebalancePlan) map[uint64][]uint64 {
	t.Helper()
	owners := map[uint64][]uint64{}
	for _, loc := range d.Shards() {
		owners[loc.Shard.ID] = slices.Clone(loc.Shard.Owners)
	}
	for _, m := range p.Moves {
		o := owners[m.Shard]
		if m.Dest != 0 {
			if !slices.Contains(o, m.Source) || slices.Contains(o, m.Dest) {
				t.Fatalf("move %v with owners %v", m, o)
			}
			o = append(o, m.Dest)
		}
		if m.Remove != 0 {
			if !slices.Contains(o, m.Remove) || len(o) == 1 {
				t.Fatalf("move %v removes from owners %v", m, o)
			}
			o = slices.DeleteFunc(o, func(n uint64) bool { return n == m.Remove })
		}
		owners[m.Shard] = o
	}
	return owners
}

// loads counts the replicas per node.
func loads(owners map[uint64][]uint64) map[uint64]int {
	out := map[uint64]int{}
	for _, o := range owners {
		for _, n := range o {
			out[n]++
		}
	}
	return out
}

func TestPlanRebalance(t *testing.T) {
	both := []uint64{1, 2}
	for _, tc := range []struct {
		name      string
		state     *meta.Data
		drain     map[uint64]bool
		wantMoves int
		wantLoad  map[uint64]int
		wantLost  int
	}{
		{name: "third node added", state: planState([]uint64{1, 2, 3}, 2, both, both, both, both, both, both),
			wantMoves: 4, wantLoad: map[uint64]int{1: 4, 2: 4, 3: 4}},
		{name: "balanced stays", state: planState([]uint64{1, 2, 3}, 2, []uint64{1, 2}, []uint64{2, 3}, []uint64{3, 1}),
			wantMoves: 0, wantLoad: map[uint64]int{1: 2, 2: 2, 3: 2}},
		{name: "drain", state: planState([]uint64{1, 2, 3}, 2, []uint64{1, 2}, []uint64{2, 3}, []uint64{3, 1}, []uint64{1, 3}),
			drain: map[uint64]bool{3: true}, wantMoves: 3, wantLoad: map[uint64]int{1: 4, 2: 4}},
		{name: "node marked draining in meta (an interrupted drain) is drained by rebalance", state: markDraining(planState([]uint64{1, 2, 3}, 2, []uint64{1, 2}, []uint64{2, 3}, []uint64{3, 1}, []uint64{1, 3}), 3),
			wantMoves: 3, wantLoad: map[uint64]int{1: 4, 2: 4}},
		{name: "surplus owner of an interrupted move dropped", state: planState([]uint64{1, 2, 3}, 2, []uint64{1, 2, 3}, []uint64{1, 2}),
			wantMoves: 1, wantLoad: map[uint64]int{1: 1, 2: 2, 3: 1}},
		{name: "under-replicated shard gets a copy", state: planState([]uint64{1, 2}, 2, []uint64{1}),
			wantMoves: 1, wantLoad: map[uint64]int{1: 1, 2: 1}},
		{name: "owner gone from the cluster", state: planState([]uint64{1, 2, 3}, 2, []uint64{1, 9}, []uint64{9}),
			wantMoves: 1, wantLoad: map[uint64]int{1: 1, 2: 1, 3: 0, 9: 1}, wantLost: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			staying := 0
			for _, n := range tc.state.DataNodes {
				if !n.Draining && !tc.drain[n.ID] {
					staying++
				}
			}
			p, err := planRebalance(tc.state, tc.drain, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Moves) != tc.wantMoves || len(p.Lost) != tc.wantLost {
				t.Fatalf("moves %v, lost %v; want %d moves and %d lost", p.Moves, p.Lost, tc.wantMoves, tc.wantLost)
			}
			owners := applyPlan(t, tc.state, p)
			got := loads(owners)
			for n, want := range tc.wantLoad {
				if got[n] != want {
					t.Errorf("node %d holds %d replicas, want %d (owners %v)", n, got[n], want, owners)
				}
				if _, planned := p.After[n]; planned && p.After[n] != want {
					t.Errorf("plan says node %d ends with %d, want %d", n, p.After[n], want)
				}
			}
			for id, o := range owners {
				if len(o) < 2 && !slices.ContainsFunc(p.Lost, func(s meta.ShardInfo) bool { return s.ID == id }) && staying >= 2 {
					t.Errorf("shard %d ends with owners %v, below its replication factor", id, o)
				}
			}
			again, err := planRebalance(tc.state, tc.drain, nil)
			if err != nil || !slices.Equal(again.Moves, p.Moves) {
				t.Errorf("a second plan differs: %v", again.Moves)
			}
		})
	}
	if _, err := planRebalance(planState([]uint64{1}, 1, []uint64{1}), map[uint64]bool{1: true}, nil); err == nil {
		t.Error("draining the only data node was planned")
	}
}

// markDraining marks data node id of d draining, as remove-data --drain does.
func markDraining(d *meta.Data, id uint64) *meta.Data {
	d.DataNode(id).Draining = true
	return d
}

// TestPlanCopiesFromLiveOwners checks that a copy is planned from an owner
// meta does not see as down whenever the shard has one, in the replication
// and the balancing phases and in a replacement: a copy from a node that
// does not answer can only fail, every time the command is run again.
func TestPlanCopiesFromLiveOwners(t *testing.T) {
	down := map[uint64]bool{1: true}
	both := []uint64{1, 2}
	for name, state := range map[string]*meta.Data{
		"balance onto a new node": planState([]uint64{1, 2, 3}, 2, both, both, both, both, both, both),
		"restore the replication": planState([]uint64{1, 2, 3}, 3, both, both),
	} {
		p, err := planRebalance(state, nil, down)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Moves) == 0 {
			t.Fatalf("%s: no moves planned", name)
		}
		for _, m := range p.Moves {
			if m.Dest != 0 && m.Source == 1 {
				t.Errorf("%s: move %v copies from node 1, which is down, while node 2 also owns the shard", name, m)
			}
		}
		applyPlan(t, state, p)
	}
	moves, _ := replacementMoves(planState([]uint64{1, 2, 3, 4}, 3, []uint64{1, 2, 3}), 2, 4, down)
	if len(moves) != 1 || moves[0].Source != 3 {
		t.Errorf("replacement of node 2 with node 1 down: got %v, want a copy from node 3", moves)
	}
}

func TestMovedAddrs(t *testing.T) {
	n := meta.NodeInfo{ID: 4, HTTPAddr: "10.0.0.1:8086", RPCAddr: "10.0.0.1:8088"}
	for _, tc := range []struct {
		old, new       string
		wantH, wantR   string
		wantErrContain string
	}{
		{old: "10.0.0.1:8088", new: "10.0.0.9:8088", wantH: "10.0.0.9:8086", wantR: "10.0.0.9:8088"},
		{old: "10.0.0.1:8086", new: "10.0.0.1:9086", wantH: "10.0.0.1:9086", wantR: "10.0.0.1:8088"},
		{old: "10.0.0.2:8088", new: "10.0.0.9:8088", wantErrContain: "neither"},
		{old: "10.0.0.1:8088", new: "10.0.0.9", wantErrContain: "HOST:PORT"},
	} {
		h, r, err := movedAddrs(n, tc.old, tc.new)
		if tc.wantErrContain != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErrContain) {
				t.Errorf("%s -> %s: %v, want an error with %q", tc.old, tc.new, err, tc.wantErrContain)
			}
			continue
		}
		if err != nil || h != tc.wantH || r != tc.wantR {
			t.Errorf("%s -> %s: http %s rpc %s (%v), want %s and %s", tc.old, tc.new, h, r, err, tc.wantH, tc.wantR)
		}
	}
}

func TestReplacementMoves(t *testing.T) {
	d := planState([]uint64{1, 2, 3, 4}, 2, []uint64{1, 2}, []uint64{2, 3}, []uint64{2}, []uint64{2, 4})
	moves, orphans := replacementMoves(d, 2, 4, nil)
	want := []shardMove{
		{Shard: 1, Database: "db", Policy: "rp", Source: 1, Dest: 4, Remove: 2},
		{Shard: 2, Database: "db", Policy: "rp", Source: 3, Dest: 4, Remove: 2},
		{Shard: 4, Database: "db", Policy: "rp", Remove: 2},
	}
	if !slices.Equal(moves, want) || !slices.Equal(orphans, []uint64{3}) {
		t.Fatalf("moves %v orphans %v; want %v and [3]", moves, orphans, want)
	}
}
