package coordinator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// bodyLimitLines returns n lines of about 120 bytes for shard group 1, so
// that n of them encode to well over a few KB.
func bodyLimitLines(n int) string {
	var lp bytes.Buffer
	for i := range n {
		fmt.Fprintf(&lp, "cpu,host=host_%d,region=eu-west-1 usage_user=%d.25,usage_system=%di,msg=\"line %d\" %d\n",
			i%13, i, i, i, testGroupStart.UnixNano()+int64(i)*1e9)
	}
	return lp.String()
}

// TestPointsWriter_SplitsAtRPCBodyLimit writes a chunk whose encoding is
// several times rpc-max-body-size with RF 2 through a real RPC peer that
// has the same limit: before the fix the peer refused the one oversized
// batch (413, a permanent error), so the replica never got the points.
// Now the chunk goes as several batches, each within the limit, and both
// replicas get every point in order.
func TestPointsWriter_SplitsAtRPCBodyLimit(t *testing.T) {
	for _, compress := range []bool{true, false} {
		t.Run(fmt.Sprintf("s2=%t", compress), func(t *testing.T) {
			cfg := rpcConfig()
			cfg.RPCMaxBodySize = 4 << 10
			cfg.RPCCompression = compress
			var rec recorder
			p := startPeer(t, cfg, localRecorder(2, &rec))
			d := p.data
			d.Databases[0].RetentionPolicies[0].ShardGroups = []meta.ShardGroupInfo{group(1, testGroupStart, 10, []uint64{1, 2})}
			w := newPointsWriter(t, cfg, selfID(1), staticMeta(t, d), localRecorder(1, &rec), p.client, nil, nil)
			pts := mustParse(t, bodyLimitLines(300))
			if n := len(coordinator.AppendPoints(nil, pts)); n < 4*int(cfg.RPCMaxBodySize) {
				t.Fatalf("test setup: the chunk encodes to %d bytes; want several times the limit", n)
			}
			if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll, pts); err != nil {
				t.Fatalf("WritePoints: got %v; want nil", err)
			}
			var want []string
			for i := range pts {
				want = append(want, pts[i].String())
			}
			got := map[uint64][]string{}
			batches := map[uint64]int{}
			for _, wr := range rec.all() {
				got[wr.node] = append(got[wr.node], wr.lines...)
				batches[wr.node]++
			}
			for _, node := range []uint64{1, 2} {
				if strings.Join(got[node], "") != strings.Join(want, "") {
					t.Errorf("node %d: got %d points; want all %d in order", node, len(got[node]), len(want))
				}
			}
			if batches[1] != 1 || batches[2] < 4 {
				t.Errorf("batches: local %d, remote %d; want 1 local and at least 4 remote", batches[1], batches[2])
			}
		})
	}
}

// TestPointsWriter_HandsOffBatchesWithinLimit checks that a replica write
// that fails goes to hinted handoff as batches within rpc-max-body-size, so
// that their replay is not refused as too large (it would be dropped).
func TestPointsWriter_HandsOffBatchesWithinLimit(t *testing.T) {
	cfg := testConfig()
	cfg.RPCMaxBodySize = 4 << 10
	d := testData(2, 2, group(1, testGroupStart, 10, []uint64{1, 2}))
	remote := &fakeShardWriter{WriteShardFn: func(context.Context, uint64, uint64, []models.Point) error {
		return errors.New("connection refused")
	}}
	var mu sync.Mutex
	var queued []string
	pending := false
	hh := &fakeHH{
		PendingFn: func(uint64) bool { mu.Lock(); defer mu.Unlock(); return pending },
		WriteShardFn: func(_, _ uint64, pts []models.Point) error {
			mu.Lock()
			defer mu.Unlock()
			pending = true // as the real queue: not empty once written
			for i := range pts {
				queued = append(queued, pts[i].String())
			}
			return nil
		},
	}
	var sizes []int
	sizing := &fakeHHSizes{HintedHandoff: hh, sizes: &sizes, mu: &mu}
	w := newPointsWriter(t, cfg, selfID(1), staticMeta(t, d), localRecorder(1, &recorder{}), remote, sizing, nil)
	pts := mustParse(t, bodyLimitLines(300))
	if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAny, pts); err != nil {
		t.Fatalf("WritePoints at level any: got %v; want nil", err)
	}
	w.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(queued) != len(pts) {
		t.Fatalf("hinted handoff got %d points; want all %d", len(queued), len(pts))
	}
	for i := range pts {
		if queued[i] != pts[i].String() {
			t.Fatalf("queued point %d: got %q; want %q (in order)", i, queued[i], pts[i].String())
		}
	}
	if len(sizes) < 4 {
		t.Errorf("hinted handoff got %d batches; want the chunk split in at least 4", len(sizes))
	}
	for _, n := range sizes {
		if n > int(cfg.RPCMaxBodySize) {
			t.Errorf("hinted handoff got a batch of %d bytes; want at most rpc-max-body-size %d", n, cfg.RPCMaxBodySize)
		}
	}
}

// fakeHHSizes records the size of every batch handed to hinted handoff.
type fakeHHSizes struct {
	coordinator.HintedHandoff
	mu    *sync.Mutex
	sizes *[]int
}

func (f *fakeHHSizes) WriteShardBatch(nodeID, shardID uint64, batch []byte) error {
	f.mu.Lock()
	*f.sizes = append(*f.sizes, len(batch))
	f.mu.Unlock()
	return f.HintedHandoff.WriteShardBatch(nodeID, shardID, batch)
}

// TestPointsWriter_PointOverRPCBodyLimit checks a single point too large for
// any RPC is not sent (the peer would refuse it) nor queued (a replay would
// be refused too): that owner fails with ErrBodyTooLarge, the other points
// of the chunk still reach it, and the local replica takes them all.
func TestPointsWriter_PointOverRPCBodyLimit(t *testing.T) {
	cfg := rpcConfig()
	cfg.RPCMaxBodySize = 4 << 10
	var rec recorder
	p := startPeer(t, cfg, localRecorder(2, &rec))
	d := p.data
	d.Databases[0].RetentionPolicies[0].ShardGroups = []meta.ShardGroupInfo{group(1, testGroupStart, 10, []uint64{1, 2})}
	hh := &fakeHH{
		PendingFn: func(uint64) bool { return false },
		WriteShardFn: func(uint64, uint64, []models.Point) error {
			t.Error("hinted handoff got a batch its replay could never deliver")
			return nil
		},
	}
	w := newPointsWriter(t, cfg, selfID(1), staticMeta(t, d), localRecorder(1, &rec), p.client, hh, nil)
	random := make([]byte, 6<<10) // incompressible, so s2 cannot hide it
	for i := range random {
		random[i] = 'a' + byte(rand.IntN(26))
	}
	lp := bodyLimitLines(50) + fmt.Sprintf("cpu,host=big v=\"%s\" %d\n", random, testGroupStart.UnixNano()+1) + bodyLimitLines(50)
	pts := mustParse(t, lp)
	err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll, pts)
	if !errors.Is(err, coordinator.ErrBodyTooLarge) || !strings.Contains(err.Error(), "rpc-max-body-size") {
		t.Fatalf("WritePoints at level all: got %v; want ErrBodyTooLarge naming rpc-max-body-size", err)
	}
	counts := map[uint64]int{}
	for _, wr := range rec.all() {
		counts[wr.node] += len(wr.lines)
	}
	if counts[1] != len(pts) || counts[2] != len(pts)-1 {
		t.Errorf("points stored: local %d, remote %d; want %d and %d (all but the oversized one)", counts[1], counts[2], len(pts), len(pts)-1)
	}
}

// TestRPC_IncompressibleBatchAtLimit checks a batch of exactly
// rpc-max-body-size bytes that s2 cannot shrink is accepted with
// compression on: the client sends it uncompressed rather than as an s2
// body a little over the limit.
func TestRPC_IncompressibleBatchAtLimit(t *testing.T) {
	cfg := rpcConfig()
	cfg.RPCMaxBodySize = 8 << 10
	var rec recorder
	p := startPeer(t, cfg, localRecorder(2, &rec))
	pt := models.Point{Measurement: []byte("m"), Fields: []models.Field{{Key: []byte("v")}}, Time: 1}
	// Grow the string until the batch is exactly at the limit.
	s := make([]byte, 0, cfg.RPCMaxBodySize)
	for {
		pt.Fields[0].Value = models.StringValue(s)
		if n := len(coordinator.AppendPoints(nil, []models.Point{pt})); n >= int(cfg.RPCMaxBodySize) {
			if n != int(cfg.RPCMaxBodySize) {
				t.Fatalf("test setup: batch of %d bytes; want exactly %d", n, cfg.RPCMaxBodySize)
			}
			break
		}
		s = append(s, 'a'+byte(rand.IntN(26)))
	}
	if err := p.client.WriteShardBatch(context.Background(), 2, 1, coordinator.AppendPoints(nil, []models.Point{pt})); err != nil {
		t.Fatalf("WriteShardBatch of a batch at the limit: got %v; want nil", err)
	}
	if w := rec.all(); len(w) != 1 || len(w[0].lines) != 1 {
		t.Fatalf("peer stored %v; want the one point", w)
	}
}
