package hh_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/hh"
	"github.com/strata-db/strata/meta"
)

// BenchmarkReplay replays the 8.64 M values of the TSBS cpu-only file
// (173 batches of 5,000 lines) from a queue on disk to a healthy data
// node over the internode RPC, and reports values/s. The ceiling is the
// same batches sent straight through the RPC client, one after another,
// into a second database of the same node, in the same run (the two
// alternate which goes first). Run it with -benchtime 2x or so: each
// iteration is the whole file, twice.
func BenchmarkReplay(b *testing.B) {
	batches, values := TSBSBatches(b, 0)
	c := clustertest.New(b, clustertest.Options{Meta: 1, Data: 1})
	mc := meta.NewClient(meta.ClientConfig{Addrs: c.Meta.HTTPAddrs()})
	ctx := context.Background()
	if err := mc.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer mc.Close()
	rpc := coordinator.NewRPCClient(coordinator.NewConfig(), mc, nil, nil)
	defer rpc.Close()
	node := c.NodeID(0)
	// shard creates database db and the shard group the file's day falls
	// in (one shard: one data node) and returns the shard's id.
	shard := func(db string) uint64 {
		c.CreateDatabase(db, 1)
		sg, err := mc.CreateShardGroup(ctx, db, "autogen", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			b.Fatal(err)
		}
		c.WaitFor("the shard group on the data node", func() bool {
			d := c.Server(0).MetaData()
			return d.ShardGroupByTimestamp(db, "autogen", sg.StartTime) != nil
		})
		return sg.Shards[0].ID
	}
	var direct, replay time.Duration
	sendDirect := func(i int) {
		sh := shard(fmt.Sprint("direct", i))
		start := time.Now()
		for _, bt := range batches {
			if err := rpc.WriteShardBatch(ctx, node, sh, bt); err != nil {
				b.Fatal(err)
			}
		}
		direct += time.Since(start)
	}
	for i := range b.N {
		if i%2 == 0 { // alternate which of the two runs first
			sendDirect(i)
		}
		sh := shard(fmt.Sprint("replay", i))
		cfg := hh.NewConfig()
		cfg.Dir = b.TempDir()
		fill := hh.NewService(cfg, &fakeSender{fn: down}, nil, nil, nil)
		if err := fill.Open(); err != nil {
			b.Fatal(err)
		}
		for _, bt := range batches {
			if err := fill.WriteShardBatch(node, sh, bt); err != nil {
				b.Fatal(err)
			}
		}
		fill.Close()
		svc := hh.NewService(cfg, rpc, nil, nil, nil)
		start := time.Now()
		if err := svc.Open(); err != nil {
			b.Fatal(err)
		}
		for svc.Pending(node) {
			time.Sleep(time.Millisecond)
		}
		replay += time.Since(start)
		st := svc.Status()
		svc.Close()
		if len(st) != 1 || st[0].LastError != "" {
			b.Fatalf("replay ended with %+v", st)
		}
		if i%2 == 1 {
			sendDirect(i)
		}
	}
	n := float64(b.N * values)
	b.ReportMetric(n/replay.Seconds(), "values/s")
	b.ReportMetric(n/direct.Seconds(), "direct-values/s")
	b.ReportMetric(direct.Seconds()/replay.Seconds(), "ratio")
}
