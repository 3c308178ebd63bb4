package main

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/strata-db/strata/meta"
)

// shardMove is one step of a rebalance, drain or replacement: Dest (when
// not 0) gets a verified copy of Shard from Source and becomes an owner,
// then Remove (when not 0) stops owning it. A removal never runs before
// its copy has succeeded.
type shardMove struct {
	Shard    uint64 `json:"shard"`
	Database string `json:"database"`
	Policy   string `json:"retention_policy"`
	Source   uint64 `json:"source,omitempty"`
	Dest     uint64 `json:"dest,omitempty"`
	Remove   uint64 `json:"remove,omitempty"`
}

// String describes the move for the plan and the progress line.
func (m shardMove) String() string {
	switch {
	case m.Dest != 0 && m.Remove != 0:
		return fmt.Sprintf("shard %d: node %d -> node %d (copy from %d)", m.Shard, m.Remove, m.Dest, m.Source)
	case m.Dest != 0:
		return fmt.Sprintf("shard %d: new replica on node %d (copy from %d)", m.Shard, m.Dest, m.Source)
	default:
		return fmt.Sprintf("shard %d: drop surplus replica on node %d", m.Shard, m.Remove)
	}
}

// rebalancePlan is what a rebalance will do: the moves, each node's shard
// count before and after, and the shards it cannot keep at their
// replication factor (no owner is left to copy from).
type rebalancePlan struct {
	Moves  []shardMove      `json:"moves"`
	Before map[uint64]int   `json:"before"`
	After  map[uint64]int   `json:"after"`
	Lost   []meta.ShardInfo `json:"lost,omitempty"`
}

// planRebalance plans moves that leave every shard of a live group with
// min(replication factor, data nodes) owners among the data nodes neither
// in drain nor marked draining in meta, and every such node with an even share of the replicas (counts
// differing by at most one). Owners draining, and owners no longer in
// the cluster, give their replicas up; surplus replicas (a rebalance
// interrupted between a copy and its removal) are dropped from the most
// loaded owner. Older shards move first. A copy's source is an owner not
// in down (meta's view of the data nodes' heartbeats) when the shard has
// one: a copy from a node that does not answer can only fail. The plan is
// deterministic.
func planRebalance(d *meta.Data, drain, down map[uint64]bool) (*rebalancePlan, error) {
	var nodes []uint64
	present := map[uint64]bool{}
	for _, n := range d.DataNodes {
		present[n.ID] = true
		if !drain[n.ID] && !n.Draining {
			nodes = append(nodes, n.ID)
		}
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("no data node would be left to hold the shards")
	}
	p := &rebalancePlan{Before: map[uint64]int{}, After: map[uint64]int{}}
	load := map[uint64]int{}
	for _, n := range nodes {
		load[n] = 0
	}
	shards := d.Shards()
	slices.SortFunc(shards, func(a, b meta.ShardLocation) int { return cmp.Compare(a.Shard.ID, b.Shard.ID) })
	// owners[i] is shard i's owners as the plan goes.
	owners := make([][]uint64, len(shards))
	for i, loc := range shards {
		owners[i] = slices.Clone(loc.Shard.Owners)
		for _, o := range owners[i] {
			if present[o] {
				p.Before[o]++
			}
			if _, ok := load[o]; ok {
				load[o]++
			}
		}
	}
	move := func(i int, m shardMove) {
		m.Shard, m.Database, m.Policy = shards[i].Shard.ID, shards[i].Database, shards[i].RetentionPolicy
		p.Moves = append(p.Moves, m)
		if m.Dest != 0 {
			owners[i] = append(owners[i], m.Dest)
			load[m.Dest]++
		}
		if m.Remove != 0 {
			owners[i] = slices.DeleteFunc(owners[i], func(o uint64) bool { return o == m.Remove })
			if _, ok := load[m.Remove]; ok {
				load[m.Remove]--
			}
		}
	}
	// leastLoaded is the node with the fewest replicas outside skip.
	leastLoaded := func(skip []uint64) uint64 {
		var best uint64
		for _, n := range nodes {
			if !slices.Contains(skip, n) && (best == 0 || load[n] < load[best]) {
				best = n
			}
		}
		return best
	}

	// Replication first: each shard gets want owners among nodes.
	for i, loc := range shards {
		want := min(max(loc.Want, 1), len(nodes))
		var keep, leaving []uint64
		for _, o := range owners[i] {
			if _, ok := load[o]; ok {
				keep = append(keep, o)
			} else {
				leaving = append(leaving, o)
			}
		}
		// Copy from a staying owner when there is one, else from a
		// leaving one that is still in the cluster.
		source := liveSource(keep, 0, down)
		if source == 0 {
			source = liveSource(slices.DeleteFunc(slices.Clone(leaving), func(o uint64) bool { return !present[o] }), 0, down)
		}
		for range want - len(keep) {
			if source == 0 {
				p.Lost = append(p.Lost, loc.Shard)
				break
			}
			m := shardMove{Source: source, Dest: leastLoaded(owners[i])}
			if len(leaving) > 0 {
				m.Remove, leaving = leaving[0], leaving[1:]
			}
			move(i, m)
		}
		if source == 0 {
			continue
		}
		for _, o := range leaving {
			move(i, shardMove{Remove: o})
		}
		for len(keep) > want {
			slices.SortStableFunc(keep, func(a, b uint64) int { return cmp.Compare(load[b], load[a]) })
			move(i, shardMove{Remove: keep[0]})
			keep = keep[1:]
		}
	}

	// Then balance: move a replica from the most to the least loaded node
	// while their counts differ by more than one.
	for {
		hi, lo := nodes[0], nodes[0]
		for _, n := range nodes {
			if load[n] > load[hi] {
				hi = n
			}
			if load[n] < load[lo] {
				lo = n
			}
		}
		if load[hi]-load[lo] <= 1 {
			break
		}
		i := slices.IndexFunc(owners, func(o []uint64) bool { return slices.Contains(o, hi) && !slices.Contains(o, lo) })
		if i < 0 {
			panic("BUG: the most loaded node owns no shard the least loaded one lacks")
		}
		move(i, shardMove{Source: liveSource(slices.DeleteFunc(slices.Clone(owners[i]), func(o uint64) bool { return !present[o] }), hi, down), Dest: lo, Remove: hi})
	}
	for _, n := range nodes {
		p.After[n] = load[n]
	}
	return p, nil
}

// liveSource picks the owner to copy from among owners: prefer when it is
// one of them and not down, else the first owner not down, else prefer
// or the first owner (0 when there is none).
func liveSource(owners []uint64, prefer uint64, down map[uint64]bool) uint64 {
	if prefer != 0 && slices.Contains(owners, prefer) && !down[prefer] {
		return prefer
	}
	if i := slices.IndexFunc(owners, func(o uint64) bool { return !down[o] }); i >= 0 {
		return owners[i]
	}
	if prefer != 0 && slices.Contains(owners, prefer) {
		return prefer
	}
	if len(owners) > 0 {
		return owners[0]
	}
	return 0
}
