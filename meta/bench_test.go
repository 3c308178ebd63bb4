package meta_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
)

// BenchmarkDDL measures commands per second through raft on a 3-node
// loopback cluster, sent over HTTP to the leader (serial) or to all nodes
// from 16 goroutines (parallel; raft batches them). Shard-group timestamps
// cycle over 1,000 hours so the state (which Apply clones) stays bounded.
func BenchmarkDDL(b *testing.B) {
	for _, tc := range []struct {
		name     string
		parallel bool
		cmd      func(i int64) (meta.CommandType, any)
	}{
		{"create_database/serial", false, func(i int64) (meta.CommandType, any) {
			return meta.CmdCreateDatabase, meta.CreateDatabasePayload{Name: fmt.Sprintf("db%d", i)}
		}},
		{"create_shard_group/serial", false, func(i int64) (meta.CommandType, any) {
			return meta.CmdCreateShardGroup, meta.CreateShardGroupPayload{Database: "db", Timestamp: time.Unix((i%1000)*3600, 0)}
		}},
		{"create_shard_group/parallel16", true, func(i int64) (meta.CommandType, any) {
			return meta.CmdCreateShardGroup, meta.CreateShardGroupPayload{Database: "db", Timestamp: time.Unix((i%1000)*3600, 0)}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := metatest.New(b, 3)
			c.WaitLeader()
			ctx := context.Background()
			addrs := []string{c.Leader().HTTPAddr()}
			if tc.parallel {
				addrs = c.HTTPAddrs()
			}
			setup := meta.NewClient(meta.ClientConfig{Addrs: addrs})
			defer setup.Close()
			if _, err := setup.CreateDataNode(ctx, "d1:8086", "d1:8088"); err != nil {
				b.Fatal(err)
			}
			if _, err := setup.CreateDatabase(ctx, "db", &meta.RetentionPolicySpec{ShardGroupDuration: time.Hour}); err != nil {
				b.Fatal(err)
			}
			typ, payload := tc.cmd(0)
			sample, _ := meta.NewCommand(typ, "0123456789abcdef0123456789abcdef", payload)
			enc, _ := json.Marshal(sample)
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			var seq atomic.Int64
			exec := func(cl *meta.Client) {
				typ, payload := tc.cmd(seq.Add(1))
				cmd, err := meta.NewCommand(typ, "", payload)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := cl.Execute(ctx, cmd); err != nil {
					b.Fatal(err)
				}
			}
			start := time.Now()
			if tc.parallel {
				b.SetParallelism(8) // 8 × GOMAXPROCS(2) = 16 goroutines
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					cl := meta.NewClient(meta.ClientConfig{Addrs: addrs})
					defer cl.Close()
					for pb.Next() {
						exec(cl)
					}
				})
			} else {
				for b.Loop() {
					exec(setup)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "cmds/s")
		})
	}
}

// BenchmarkRead measures GET /data latency per consistency mode against
// the leader of a 3-node cluster whose state has 100 databases, and a
// stale read served by a follower.
func BenchmarkRead(b *testing.B) {
	c := metatest.New(b, 3)
	c.WaitLeader()
	ctx := context.Background()
	leader := c.Leader().HTTPAddr()
	setup := meta.NewClient(meta.ClientConfig{Addrs: []string{leader}})
	defer setup.Close()
	for i := range 100 {
		if _, err := setup.CreateDatabase(ctx, fmt.Sprintf("db%03d", i), nil); err != nil {
			b.Fatal(err)
		}
	}
	d, _, err := setup.ReadData(ctx, meta.ReadConsistent)
	if err != nil {
		b.Fatal(err)
	}
	size, _ := json.Marshal(d)
	c.WaitIndex(d.Index)
	for _, tc := range []struct {
		name string
		addr string
		rc   meta.ReadConsistency
	}{
		{"stale/follower", c.Followers()[0].HTTPAddr(), meta.ReadStale},
		{"stale/leader", leader, meta.ReadStale},
		{"default/leader", leader, meta.ReadDefault},
		{"consistent/leader", leader, meta.ReadConsistent},
		{"consistent/via_follower", c.Followers()[0].HTTPAddr(), meta.ReadConsistent},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cl := meta.NewClient(meta.ClientConfig{Addrs: []string{tc.addr}})
			defer cl.Close()
			b.SetBytes(int64(len(size)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := cl.ReadData(ctx, tc.rc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkServerReadData measures the read path without HTTP: the cost of
// each consistency check on the leader.
func BenchmarkServerReadData(b *testing.B) {
	c := metatest.New(b, 3)
	c.WaitLeader()
	l := c.Leader()
	for _, rc := range []meta.ReadConsistency{meta.ReadStale, meta.ReadDefault, meta.ReadConsistent} {
		b.Run(string(rc), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.ReadData(context.Background(), rc, 0, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
