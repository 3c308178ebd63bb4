package meta

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestFSM_ShardOwners(t *testing.T) {
	tf := newTestFSM(t)
	tf.addNodes(2)
	tf.mustOK(CmdCreateDatabase, CreateDatabasePayload{Name: "db", RetentionPolicy: &RetentionPolicySpec{ShardGroupDuration: time.Hour, ReplicaN: ptr(1)}})
	sg := tf.mustOK(CmdCreateShardGroup, CreateShardGroupPayload{Database: "db", Timestamp: tf.now}).ShardGroup
	sh := sg.Shards[0]
	owner := sh.Owners[0]
	other := uint64(3) - owner // nodes are 1 and 2

	owners := func() []uint64 { return tf.data().ShardOwners(sh.ID) }
	// Adding twice leaves one entry.
	tf.mustOK(CmdAddShardOwner, AddShardOwnerPayload{Shard: sh.ID, Node: other})
	tf.mustOK(CmdAddShardOwner, AddShardOwnerPayload{Shard: sh.ID, Node: other})
	if got := owners(); len(got) != 2 || !slices.Contains(got, other) {
		t.Fatalf("owners after adding node %d twice: %v", other, got)
	}
	// Removing twice is fine; the second is a no-op.
	tf.mustOK(CmdRemoveShardOwner, RemoveShardOwnerPayload{Shard: sh.ID, Node: owner})
	tf.mustOK(CmdRemoveShardOwner, RemoveShardOwnerPayload{Shard: sh.ID, Node: owner})
	if got := owners(); !slices.Equal(got, []uint64{other}) {
		t.Fatalf("owners after removing node %d: %v, want [%d]", owner, got, other)
	}
	// The last owner stays unless forced.
	r := tf.apply(CmdRemoveShardOwner, "", RemoveShardOwnerPayload{Shard: sh.ID, Node: other})
	if !errors.Is(r.Err(), ErrLastShardOwner) {
		t.Fatalf("removing the last owner: %+v, want last_shard_owner", r)
	}
	if got := owners(); !slices.Equal(got, []uint64{other}) {
		t.Fatalf("owners after a refused removal: %v", got)
	}
	tf.mustOK(CmdRemoveShardOwner, RemoveShardOwnerPayload{Shard: sh.ID, Node: other, Force: true})
	if got := owners(); len(got) != 0 {
		t.Fatalf("owners after a forced removal: %v, want none", got)
	}
	// Unknown shard or node.
	if r := tf.apply(CmdAddShardOwner, "", AddShardOwnerPayload{Shard: 999, Node: owner}); r.Code != "shard_not_found" {
		t.Fatalf("unknown shard: %+v", r)
	}
	if r := tf.apply(CmdAddShardOwner, "", AddShardOwnerPayload{Shard: sh.ID, Node: 99}); r.Code != "data_node_not_found" {
		t.Fatalf("unknown node: %+v", r)
	}
}
