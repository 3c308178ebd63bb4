package antientropy_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/tsdb/models"
)

func (c *cluster) checkAll(id uint64) {
	c.svcs[id].CheckAll(context.Background())
}

func (c *cluster) requireConverged(ids ...uint64) {
	c.t.Helper()
	r0 := c.root(ids[0])
	for _, id := range ids[1:] {
		if r := c.root(id); r != r0 {
			c.t.Fatalf("root of node %d %x differs from node %d's %x", id, r, ids[0], r0)
		}
		if a, b := c.content(ids[0]), c.content(id); !slices.Equal(a, b) {
			c.t.Fatalf("content of node %d (%d values) differs from node %d's (%d values)", id, len(b), ids[0], len(a))
		}
	}
}

// TestRepairBothWays: each replica holds values the other lacks, and one
// timestamp holds different values; one exchange gives both the union,
// the greater value winning the conflict, and moves only what differs.
func TestRepairBothWays(t *testing.T) {
	c := newCluster(t, 2, nil)
	common := series("a", base, 360, func(i int) int64 { return int64(i) })
	c.write(1, common...)
	c.write(2, common...)
	c.write(1, series("b", base, 100, func(i int) int64 { return 1 })...)
	c.write(2, series("c", base+int64(2*time.Hour), 50, func(i int) int64 { return 2 })...)
	c.write(1, pt("a", "usage", base, models.IntegerValue(100)))
	c.write(2, pt("a", "usage", base, models.IntegerValue(50)))
	c.write(2, pt("a", "usage", base+int64(30*time.Minute)+5, models.IntegerValue(9))) // one extra inside "a"

	c.checkAll(1)
	c.requireConverged(1, 2)
	got := c.content(2)
	win := pt("a", "usage", base, models.IntegerValue(100))
	if !slices.Contains(got, win.String()) {
		t.Fatalf("conflict not resolved to the greater value 100")
	}
	if n := len(got); n != 360+100+50+1 {
		t.Fatalf("union holds %d values; want %d", n, 360+100+50+1)
	}
	reg := c.regs[1]
	in := counter(t, reg, "strata_ae_points_repaired_total", "in")
	out := counter(t, reg, "strata_ae_points_repaired_total", "out")
	// Node 1 lacks c (50) and the extra a (1); node 2 lacks b (100) and
	// takes the winning a (1). Slices move whole, so a's slice around
	// the extra value is re-sent, but values equal on both sides are not.
	if in != 51 || out != 101 {
		t.Fatalf("points repaired in=%v out=%v; want in=51 out=101", in, out)
	}
	// A second check finds nothing to do.
	c.checkAll(1)
	if n := counter(t, reg, "strata_ae_checks_total", "equal"); n != 1 {
		t.Fatalf("second check: %v equal checks; want 1", n)
	}
}

// TestDeleteNotResurrected: node 2 deleted a series node 1 missed; the
// exchange deletes it on node 1 rather than copying it back, and values
// written after the delete survive.
func TestDeleteNotResurrected(t *testing.T) {
	for _, initiator := range []uint64{1, 2} {
		c := newCluster(t, 2, nil)
		pts := series("gone", base, 100, func(i int) int64 { return int64(i) })
		keep := series("kept", base, 100, func(i int) int64 { return int64(i) })
		c.write(1, append(pts, keep...)...)
		c.write(2, append(pts, keep...)...)
		if err := c.shard(2).DeleteSeriesRange([][]byte{seriesKey("gone")}, base, base+int64(500*time.Second)); err != nil {
			t.Fatal(err)
		}
		after := pt("gone", "usage", base+int64(10*time.Second), models.IntegerValue(-5)) // re-written after the delete
		c.write(2, after)
		// The initiator must be the lower id for CheckAll; node 2 uses a manual repair.
		if initiator == 1 {
			c.checkAll(1)
		} else {
			repairAndWait(t, c.svcs[2])
		}
		c.requireConverged(1, 2)
		got := c.content(1)
		if !slices.Contains(got, after.String()) {
			t.Fatalf("initiator %d: value written after the delete is missing", initiator)
		}
		if n := len(got); n != 100+1+49 { // kept, the re-write, and "gone" after 500 s
			t.Fatalf("initiator %d: %d values after repair; want 150 (deleted values came back or kept ones went)", initiator, n)
		}
		if ts := c.shard(1).Tombstones(); len(ts) != 1 || ts[0].Created != c.shard(2).Tombstones()[0].Created {
			t.Fatalf("initiator %d: node 1 holds tombstones %+v; want node 2's one with its Created time", initiator, ts)
		}
	}
}

func repairAndWait(t *testing.T, svc *antientropy.Service) {
	t.Helper()
	if err := svc.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if err := svc.Repair(testShard); err != nil {
		t.Fatalf("repair: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := svc.Status()
		if st.Repair != nil && !st.Repair.Running {
			if st.Repair.Error != "" {
				t.Fatalf("repair failed: %s", st.Repair.Error)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("repair still running: %+v", st.Repair)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMissingShardStreamed: an owner holding an empty shard gets it whole,
// tombstones included, and an empty initiator pulls it whole.
func TestMissingShardStreamed(t *testing.T) {
	for _, holder := range []uint64{1, 2} {
		c := newCluster(t, 2, nil)
		c.write(holder, testData()...)
		if err := c.shard(holder).DeleteSeriesRange([][]byte{seriesKey("a")}, base, base+int64(time.Hour)); err != nil {
			t.Fatal(err)
		}
		c.checkAll(1)
		c.requireConverged(1, 2)
		other := 3 - holder
		if n := len(c.shard(other).Tombstones()); n != 1 {
			t.Fatalf("holder %d: the streamed shard has %d tombstones; want 1", holder, n)
		}
		if n := counter(t, c.regs[1], "strata_ae_checks_total", "streamed"); n != 1 {
			t.Fatalf("holder %d: %v streamed checks; want 1", holder, n)
		}
	}
}

// TestSettleHorizonAndHints: a window newer than the settle horizon waits,
// and so does everything while hinted handoff holds data for the peer.
func TestSettleHorizonAndHints(t *testing.T) {
	hints := map[uint64]antientropy.Hints{1: fakeHints{pending: map[uint64]bool{2: true}}, 2: fakeHints{}}
	c := newCluster(t, 2, hints)
	c.write(2, series("old", base, 10, func(i int) int64 { return 1 })...)
	c.checkAll(1)
	if n := len(c.content(1)); n != 0 {
		t.Fatalf("repaired %d values while hints for the peer are pending; want 0", n)
	}

	c = newCluster(t, 2, nil)
	now := time.Now().UnixNano()
	c.write(2, series("hot", now, 3, func(i int) int64 { return 1 })...)
	c.checkAll(1)
	if n := len(c.content(1)); n != 0 {
		t.Fatalf("repaired %d values of a window newer than the settle horizon; want 0", n)
	}
	c.write(1, series("old", base, 10, func(i int) int64 { return 1 })...)
	c.write(2, series("old", base, 10, func(i int) int64 { return 1 })...)
	c.write(2, pt("old", "usage", base+1, models.IntegerValue(1)))
	c.checkAll(1)
	if got := c.content(1); len(got) != 11 {
		t.Fatalf("node 1 holds %d values; want the 11 settled ones and not the hot ones", len(got))
	}
}

// TestEverythingDeletedIsNotMissing: a replica whose data was all deleted
// holds tombstones, not nothing: the exchange deletes the data on the
// other side instead of streaming it back.
func TestEverythingDeletedIsNotMissing(t *testing.T) {
	for _, initiator := range []uint64{1, 2} {
		c := newCluster(t, 2, nil)
		pts := series("x", base, 50, func(i int) int64 { return int64(i) })
		c.write(1, pts...)
		c.write(2, pts...)
		if err := c.shard(2).DeleteSeriesRange([][]byte{seriesKey("x")}, -1<<63, 1<<63-1); err != nil {
			t.Fatal(err)
		}
		if initiator == 1 {
			c.checkAll(1)
		} else {
			repairAndWait(t, c.svcs[2])
		}
		for _, id := range []uint64{1, 2} {
			if n := len(c.content(id)); n != 0 {
				t.Fatalf("initiator %d: node %d holds %d deleted values; want 0", initiator, id, n)
			}
		}
	}
}

// TestStreamKeepsReceiverDeletes: a shard stream does not bring back values
// the receiver deleted (a tombstone it holds and the stream lacks).
func TestStreamKeepsReceiverDeletes(t *testing.T) {
	src, dst := openTestShard(t), openTestShard(t)
	pts := series("y", base, 40, func(i int) int64 { return int64(i) })
	if err := src.WritePoints(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	if err := dst.WritePoints(context.Background(), pts); err != nil {
		t.Fatal(err)
	}
	if err := dst.DeleteSeriesRange([][]byte{seriesKey("y")}, base, base+int64(100*time.Second)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := antientropy.WriteShardStream(context.Background(), &buf, testShardT{src}, 1<<20, nil); err != nil {
		t.Fatal(err)
	}
	st, err := antientropy.ReadShardStream(context.Background(), &buf, testShardT{dst})
	if err != nil {
		t.Fatal(err)
	}
	if st.Values != 40 {
		t.Fatalf("stream carried %d values; want 40", st.Values)
	}
	if n := len(shardContent(t, dst)); n != 40-11 {
		t.Fatalf("receiver holds %d values; want 29 (its deleted 11 not brought back)", n)
	}
}

// TestPurgedRangeChecked: a range hinted handoff dropped for a node is
// checked with that node even from the higher id, and cleared once an
// exchange covered it.
func TestPurgedRangeChecked(t *testing.T) {
	purged := []antientropy.PurgedRange{{Node: 1, Shard: testShard, Min: base, Max: base + int64(time.Minute)}}
	c := newCluster(t, 2, map[uint64]antientropy.Hints{2: fakeHints{purged: &purged}})
	c.write(2, series("dropped", base, 6, func(i int) int64 { return int64(i) })...)
	c.checkAll(2)
	c.requireConverged(1, 2)
	if len(purged) != 0 {
		t.Fatalf("purged ranges after the exchange: %+v; want none", purged)
	}
}

// TestSyncFromNonOwner: a node that does not hold the shard (a copy's
// destination) gets it whole from the peer with Sync, tombstones
// included, then the next Sync finds the roots equal.
func TestSyncFromNonOwner(t *testing.T) {
	c := newCluster(t, 2, nil)
	c.write(1, testData()...)
	if err := c.shard(1).DeleteSeriesRange([][]byte{seriesKey("a")}, base, base+int64(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := c.stores[2].DeleteShard(testShard); err != nil {
		t.Fatal(err)
	}
	state, n, err := c.svcs[2].Sync(context.Background(), testShard, 1)
	if err != nil || state != "streamed" || n == 0 {
		t.Fatalf("first Sync: %q, %d values, %v; want streamed", state, n, err)
	}
	c.requireConverged(1, 2)
	if got := len(c.shard(2).Tombstones()); got != 1 {
		t.Fatalf("the copy has %d tombstones; want 1", got)
	}
	if state, _, err := c.svcs[2].Sync(context.Background(), testShard, 1); err != nil || state != "equal" {
		t.Fatalf("second Sync: %q, %v; want equal", state, err)
	}
}

// TestCopyExchangeNotHeldToBudget: a shard copy's exchange sleeps under
// cpu-budget on neither node, while a background exchange does on both.
func TestCopyExchangeNotHeldToBudget(t *testing.T) {
	c := newClusterConfig(t, 2, nil, 64, func(cfg *antientropy.Config) { cfg.CPUBudget = 0.5 })
	c.write(1, testData()...)
	c.write(2, series("z", base, 50, func(i int) int64 { return int64(i) })...)
	slept := func(id uint64) float64 { return counter(t, c.regs[id], "strata_ae_budget_sleep_seconds_total", "") }
	if state, _, err := c.svcs[2].Sync(context.Background(), testShard, 1); err != nil || state != "repaired" {
		t.Fatalf("copy exchange: %q, %v; want repaired", state, err)
	}
	if s1, s2 := slept(1), slept(2); s1 != 0 || s2 != 0 {
		t.Fatalf("a copy exchange slept %vs on its source and %vs on its destination; want 0 on both", s1, s2)
	}
	c.write(2, pt("z", "usage", base+1, models.IntegerValue(-7)))
	c.checkAll(1)
	if s1, s2 := slept(1), slept(2); s1 == 0 || s2 == 0 {
		t.Fatalf("a background exchange slept %vs on its initiator and %vs on the answering node; want both > 0", s1, s2)
	}
}
