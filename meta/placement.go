package meta

import (
	"fmt"
	"slices"
	"time"
)

// createShardGroup returns the live group of db/rp containing t, creating
// and placing one if there is none.
//
// A new group spans [t.Truncate(d), +d) on UTC time, where d is the policy's
// shard-group duration (Go's Truncate counts from year 1, a Monday, so 7-day
// groups start on Mondays, as in InfluxDB). If a truncated group ends inside
// that span the new group starts where it ends; if a later group starts
// inside it the new group ends where that one starts, so live groups never
// overlap.
//
// Placement: with n data nodes not draining (sorted by id; all data nodes
// when every one drains, so writes keep a place to go) and
// rf = min(ReplicaN, n), the group gets max(1, n/rf) shards; shard i is
// owned by nodes (offset + i*rf + j) mod n for j in [0, rf), where
// offset = group id mod n rotates from one group to the next.
func (d *Data) createShardGroup(db, rp string, t time.Time) (*ShardGroupInfo, error) {
	rpi, err := d.mustRetentionPolicy(db, rp)
	if err != nil {
		return nil, err
	}
	t = t.UTC()
	if sg := rpi.shardGroupByTimestamp(t); sg != nil {
		return sg, nil
	}
	if len(d.DataNodes) == 0 {
		return nil, fmt.Errorf("create shard group for %q.%q at %s: %w", db, rpi.Name, t.Format(time.RFC3339Nano), ErrNoDataNodes)
	}

	start := t.Truncate(rpi.ShardGroupDuration)
	end := start.Add(rpi.ShardGroupDuration)
	for _, sg := range rpi.ShardGroups {
		if sg.Deleted() || !sg.EndTime.After(sg.StartTime) || !sg.EndTime.After(start) || !sg.StartTime.Before(end) {
			continue // deleted, empty, or not overlapping
		}
		if !sg.EndTime.After(t) {
			start = sg.EndTime // an earlier (truncated) group reaches into the span
		} else {
			end = sg.StartTime // a later group starts inside the span
		}
	}

	d.MaxShardGroupID++
	sg := ShardGroupInfo{ID: d.MaxShardGroupID, StartTime: start, EndTime: end}
	nodes := d.placementNodes()
	n := len(nodes)
	rf := min(rpi.ReplicaN, n)
	shardN := max(1, n/rf)
	offset := int(sg.ID % uint64(n))
	sg.Shards = make([]ShardInfo, shardN)
	for i := range sg.Shards {
		d.MaxShardID++
		owners := make([]uint64, rf)
		for j := range owners {
			owners[j] = nodes[(offset+i*rf+j)%n]
		}
		sg.Shards[i] = ShardInfo{ID: d.MaxShardID, Owners: owners}
	}

	i, _ := slices.BinarySearchFunc(rpi.ShardGroups, sg, func(a, b ShardGroupInfo) int {
		if c := a.StartTime.Compare(b.StartTime); c != 0 {
			return c
		}
		return cmpUint64(a.ID, b.ID)
	})
	rpi.ShardGroups = slices.Insert(rpi.ShardGroups, i, sg)
	return &rpi.ShardGroups[i], nil
}

// placementNodes returns the ids of the data nodes new shard groups go to:
// those not draining, or every data node when all of them drain.
func (d *Data) placementNodes() []uint64 {
	ids := make([]uint64, 0, len(d.DataNodes))
	for _, n := range d.DataNodes {
		if !n.Draining {
			ids = append(ids, n.ID)
		}
	}
	if len(ids) == 0 {
		for _, n := range d.DataNodes {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
