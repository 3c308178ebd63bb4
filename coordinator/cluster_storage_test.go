package coordinator_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// TestClusterStorageDatasetEveryNode writes the TSBS devops hour to three
// nodes with RF 2 (routed as the write path routes), then asks every node
// the same questions through its ClusterStorage (local shards read
// locally, the others over the read RPC on loopback): the answers match
// each other and the input, and still do with one node stopped.
func TestClusterStorageDatasetEveryNode(t *testing.T) {
	points := loadPoints(t, "tsbs-devops-s10-1h.lp.gz", 1<<20)
	t0 := time.Unix(0, points[0].Time).UTC().Truncate(time.Hour)

	// Three 20-minute groups, one shard each, owners rotating over nodes
	// so that, with node 3 stopped, nodes 1 and 2 each try it first for
	// the shard they do not own (shard id % 2 picks the first remote).
	rp := meta.RetentionPolicyInfo{Name: "rp", ShardGroupDuration: 20 * time.Minute, ReplicaN: 2}
	for i := range 3 {
		start := t0.Add(time.Duration(i) * 20 * time.Minute)
		rp.ShardGroups = append(rp.ShardGroups, meta.ShardGroupInfo{ID: uint64(i + 1), StartTime: start, EndTime: start.Add(20 * time.Minute),
			Shards: []meta.ShardInfo{{ID: uint64(i + 1), Owners: []uint64{uint64((i+1)%3 + 1), uint64(i%3 + 1)}}}})
	}
	d := &meta.Data{Databases: []meta.DatabaseInfo{{Name: "db", DefaultRetentionPolicy: "rp", RetentionPolicies: []meta.RetentionPolicyInfo{rp}}}}

	type node struct {
		id     uint64
		reader *coordinator.LocalShardReader
		srv    readNode
	}
	var nodes []*node
	for id := uint64(1); id <= 3; id++ {
		var owned []uint64
		for _, g := range rp.ShardGroups {
			if slices.Contains(g.Shards[0].Owners, id) {
				owned = append(owned, g.Shards[0].ID)
			}
		}
		store := openTestStore(t, owned...)
		n := &node{id: id, reader: coordinator.NewLocalShardReader(store)}
		n.srv = readNode{id, serveReads(t, n.reader)}
		d.DataNodes = append(d.DataNodes, meta.NodeInfo{ID: id, RPCAddr: strings.TrimPrefix(n.srv.srv.URL, "http://")})
		nodes = append(nodes, n)

		// Route and write this node's share, as the write path does.
		batches := map[uint64][]models.Point{}
		var key []byte
		for _, p := range points {
			for gi := range rp.ShardGroups {
				g := &rp.ShardGroups[gi]
				if p.Time >= g.StartTime.UnixNano() && p.Time < g.EndTime.UnixNano() {
					key = p.AppendSeriesKey(key[:0])
					sh := d.ShardFor(g, key)
					if slices.Contains(sh.Owners, id) {
						batches[sh.ID] = append(batches[sh.ID], p)
					}
				}
			}
		}
		for shard, pts := range batches {
			if err := store.WriteToShard(context.Background(), shard, pts); err != nil {
				t.Fatalf("write shard %d on node %d: %v", shard, id, err)
			}
		}
	}

	// Reference figures from the input.
	var wantCount int64
	var wantSum int64
	for _, p := range points {
		if string(p.Measurement) != "cpu" {
			continue
		}
		for _, f := range p.Fields {
			if string(f.Key) == "usage_user" {
				wantCount++
				wantSum += f.Value.Integer()
			}
		}
	}

	min, max := t0.UnixNano(), t0.Add(time.Hour).UnixNano()-1
	// answers renders every answer of one node as text.
	answers := func(s *coordinator.ClusterStorage) (string, int64, int64) {
		ctx := context.Background()
		var b strings.Builder
		ms, err := s.MeasurementNames(ctx, "db", "rp", nil, min, max)
		fmt.Fprintf(&b, "measurements %v %v\n", ms, err)
		tv, err := s.TagValues(ctx, "db", "rp", "cpu", "hostname", cond(t, "region =~ /^us-/"), min, max)
		fmt.Fprintf(&b, "hosts in us %v %v\n", tv, err)
		fk, err := s.FieldKeys(ctx, "db", "rp", "mem", min, max)
		fmt.Fprintf(&b, "mem fields %v %v\n", fk, err)
		sk, err := s.SeriesKeys(ctx, "db", "rp", "disk", nil, min, max)
		fmt.Fprintf(&b, "disk series %d %v\n", len(sk), err)

		var lines []string
		var count, sum int64
		all := query.AggregateCount | query.AggregateSum | query.AggregateMin | query.AggregateMax | query.AggregateFirst | query.AggregateLast
		err = s.Scan(ctx, query.ScanRequest{Database: "db", RetentionPolicy: "rp", Measurement: "cpu", Fields: []string{"usage_user", "usage_idle"},
			Min: min, Max: max, Window: &query.WindowRequest{Every: int64(7 * time.Minute), Offset: int64(time.Minute), Aggregates: all}},
			func(sb *query.SeriesBatch) error {
				for _, c := range sb.Fields {
					for _, w := range c.Windows {
						lines = append(lines, fmt.Sprintf("%s %s %d %d %d %d %d", sb.Key, c.Name, w.Start, w.Count, w.Sum.Integer(), w.Min.Integer(), w.Last.Integer()))
						if c.Name == "usage_user" {
							count += w.Count
							sum += w.Sum.Integer()
						}
					}
				}
				return nil
			})
		fmt.Fprintf(&b, "cpu windows err %v\n", err)
		err = s.Scan(ctx, query.ScanRequest{Database: "db", RetentionPolicy: "rp", Measurement: "mem", Condition: cond(t, "hostname = 'host_3' OR hostname = 'host_7'"),
			Fields: []string{"used_percent"}, Min: min + int64(10*time.Minute), Max: max - int64(10*time.Minute)},
			func(sb *query.SeriesBatch) error {
				for _, c := range sb.Fields {
					for _, p := range c.Points {
						lines = append(lines, fmt.Sprintf("%s %s %d %v", sb.Key, c.Name, p.Time, math.Float64frombits(p.Value.N)))
					}
				}
				return nil
			})
		fmt.Fprintf(&b, "mem raw err %v\n", err)
		slices.Sort(lines)
		b.WriteString(strings.Join(lines, "\n"))
		return b.String(), count, sum
	}

	run := func(label string, alive []*node) {
		var first string
		for _, n := range alive {
			client := coordinator.NewRPCClient(coordinator.NewConfig(), fixedMeta{d}, nil, nil)
			s := coordinator.NewClusterStorage(coordinator.NewConfig(), fixedMeta{d}, func() uint64 { return n.id }, n.reader, client, nil, nil)
			got, count, sum := answers(s)
			_ = client.Close()
			if count != wantCount || sum != wantSum {
				t.Errorf("%s: node %d: cpu usage_user count %d sum %d, want %d and %d", label, n.id, count, sum, wantCount, wantSum)
			}
			if strings.Contains(got, "error") || strings.Contains(got, "failed") || strings.Contains(got, "unavailable") {
				t.Fatalf("%s: node %d answered with an error:\n%.2000s", label, n.id, got)
			}
			if first == "" {
				first = got
				if !strings.Contains(got, "measurements [cpu disk diskio kernel mem net nginx postgresl redis] <nil>") {
					t.Errorf("%s: measurements line missing or wrong in:\n%.300s", label, got)
				}
				continue
			}
			if got != first {
				t.Errorf("%s: node %d answers differ from node %d's", label, n.id, alive[0].id)
			}
		}
	}
	run("all nodes up", nodes)
	nodes[2].srv.srv.Close() // node 3 stops
	run("node 3 down", nodes[:2])
}
