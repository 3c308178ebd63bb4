package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
)

// metaWithDataNodes starts one meta node holding n registered data nodes
// that do not run (their addresses are closed local ports, so a call to
// them fails fast) and a database "db" of replication factor 1 with
// hourly shard groups; it returns the meta address and a client.
func metaWithDataNodes(t *testing.T, n int) ([]string, *meta.Client) {
	t.Helper()
	mc := metatest.New(t, 1)
	mc.WaitLeader()
	addrs := mc.HTTPAddrs()
	client := meta.NewClient(meta.ClientConfig{Addrs: addrs})
	t.Cleanup(func() { client.Close() })
	ctx := context.Background()
	for i := range n {
		if _, err := client.CreateDataNode(ctx, fmt.Sprintf("127.0.0.1:%d", 9+2*i), fmt.Sprintf("127.0.0.1:%d", 10+2*i)); err != nil {
			t.Fatalf("register data node %d: %v", i+1, err)
		}
	}
	if _, err := client.CreateDatabase(ctx, "db", &meta.RetentionPolicySpec{ShardGroupDuration: time.Hour, ReplicaN: new(1)}); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return addrs, client
}

// TestCtlRemoveDataDrainMarksNode checks that remove-data --drain marks the
// node draining in meta before it moves anything, so a shard group created
// while the drain runs (or after it failed) is never placed on the node,
// and that update-data --draining=false clears the mark. The moves here
// fail at once (the registered data nodes do not run), which leaves the
// drain unfinished as an interrupted one would.
func TestCtlRemoveDataDrainMarksNode(t *testing.T) {
	addrs, client := metaWithDataNodes(t, 3)
	ctx := context.Background()
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// groupOwners creates the group holding hour h and returns its owners.
	groupOwners := func(h int) []uint64 {
		t.Helper()
		sg, err := client.CreateShardGroup(ctx, "db", "", start.Add(time.Duration(h)*time.Hour))
		if err != nil {
			t.Fatalf("create shard group: %v", err)
		}
		var owners []uint64
		for _, sh := range sg.Shards {
			owners = append(owners, sh.Owners...)
		}
		return owners
	}
	const drained = 3
	if owners := groupOwners(0); !slices.Contains(owners, drained) {
		t.Fatalf("owners of the first group: got %v, want node %d among them (rf 1 over 3 nodes)", owners, drained)
	}

	out, err := runCtl(t, addrs, "", "remove-data", fmt.Sprint(drained), "--drain", "--wait", "5s")
	if err == nil {
		t.Fatalf("remove-data --drain with unreachable destinations: got success, want a failed move\n%s", out)
	}
	if !strings.Contains(err.Error(), "stays marked draining") {
		t.Errorf("remove-data --drain error: got %q, want it to say the node stays marked draining", err)
	}
	d, _, err := client.ReadData(ctx, meta.ReadConsistent)
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	if n := d.DataNode(drained); n == nil || !n.Draining {
		t.Fatalf("data node %d after an unfinished drain: got %+v, want it present and draining", drained, n)
	}
	for h := 1; h <= 3; h++ {
		if owners := groupOwners(h); slices.Contains(owners, drained) {
			t.Fatalf("group created after the drain started: got owners %v, want none on draining node %d", owners, drained)
		}
	}

	if out, err := runCtl(t, addrs, "", "update-data", fmt.Sprint(drained), "--draining=false"); err != nil {
		t.Fatalf("update-data --draining=false: %v\n%s", err, out)
	}
	if owners := groupOwners(4); !slices.Contains(owners, drained) {
		t.Fatalf("group created after the drain was cancelled: got owners %v, want node %d among them", owners, drained)
	}
}

// TestCtlRemoveDataDrainLastNode checks that draining the only data node
// is refused before the node is marked, so a refused drain leaves nothing
// behind.
func TestCtlRemoveDataDrainLastNode(t *testing.T) {
	addrs, client := metaWithDataNodes(t, 1)
	out, err := runCtl(t, addrs, "", "remove-data", "1", "--drain")
	if err == nil || !strings.Contains(err.Error(), "no other data node") {
		t.Fatalf("remove-data --drain of the only data node: got %v (%s), want a refusal saying no other node is left", err, out)
	}
	d, _, err := client.ReadData(context.Background(), meta.ReadConsistent)
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	if n := d.DataNode(1); n == nil || n.Draining {
		t.Fatalf("data node 1 after a refused drain: got %+v, want it present and not draining", n)
	}
}

// TestCtlReplaceDataRefusesDrainingNode checks that replace-data does not
// give a dead node's shards to a node marked draining (which rebalance
// would move away again), and says how to clear the mark.
func TestCtlReplaceDataRefusesDrainingNode(t *testing.T) {
	addrs, client := metaWithDataNodes(t, 2)
	if err := client.SetDataNodeDraining(context.Background(), 2, true); err != nil {
		t.Fatalf("mark node 2 draining: %v", err)
	}
	out, err := runCtl(t, addrs, "", "replace-data", "1", "2")
	if err == nil || !strings.Contains(err.Error(), "draining") || !strings.Contains(err.Error(), "--draining=false") {
		t.Fatalf("replace-data onto a draining node: got %v (%s), want a refusal naming the mark and how to clear it", err, out)
	}
	d, _, err := client.ReadData(context.Background(), meta.ReadConsistent)
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	if d.DataNode(1) == nil {
		t.Fatalf("data node 1 was removed by a refused replace-data")
	}
}
