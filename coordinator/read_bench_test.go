package coordinator_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/meta"
)

// BenchmarkShardScan reads the usage_user field of every series of the
// TSBS cpu-only hour (10 hosts × 360 points) from one shard: locally, and
// through the scan RPC on loopback; raw, as 1-minute windows and as
// 1-minute windows shifted by 15 s. Bytes are the points read (16 per
// point).
func BenchmarkShardScan(b *testing.B) {
	points := loadPoints(b, "tsbs-cpu-only-s10-1h.lp.gz", 1<<20)
	store := openTestStore(b, 1)
	if err := store.WriteToShard(context.Background(), 1, points); err != nil {
		b.Fatalf("write: %v", err)
	}
	local := coordinator.NewLocalShardReader(store)
	h := coordinator.NewRPCHandler(coordinator.NewConfig(), &fakeStore{}, nil, nil)
	h.SetShardReader(local)
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	d := &meta.Data{DataNodes: []meta.NodeInfo{{ID: 2, RPCAddr: strings.TrimPrefix(srv.URL, "http://")}}}
	client := coordinator.NewRPCClient(coordinator.NewConfig(), fixedMeta{d}, nil, nil)
	b.Cleanup(func() { _ = client.Close() })

	ctx := context.Background()
	raw := query.ScanRequest{Measurement: "cpu", Fields: []string{"usage_user"}, Min: 0, Max: 1 << 62}
	win := raw
	win.Window = &query.WindowRequest{Every: 60e9, Aggregates: query.AggregateCount | query.AggregateSum | query.AggregateMin | query.AggregateMax}
	shifted := raw
	shifted.Window = &query.WindowRequest{Every: 60e9, Offset: 15e9, Aggregates: win.Window.Aggregates}
	readers := []struct {
		name string
		scan func(req *query.ScanRequest, fn func(*query.SeriesBatch) error) error
	}{
		{"local", func(req *query.ScanRequest, fn func(*query.SeriesBatch) error) error {
			return local.ScanShard(ctx, 1, req, fn)
		}},
		{"rpc", func(req *query.ScanRequest, fn func(*query.SeriesBatch) error) error {
			return client.ScanShard(ctx, 2, 1, req, fn)
		}},
	}
	for _, r := range readers {
		for _, q := range []struct {
			name string
			req  *query.ScanRequest
		}{{"raw", &raw}, {"window-1m", &win}, {"window-1m-offset-15s", &shifted}} {
			b.Run(r.name+"/"+q.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(points)) * 16)
				for b.Loop() {
					n := 0
					if err := r.scan(q.req, func(sb *query.SeriesBatch) error {
						n += len(sb.Fields[0].Points) + len(sb.Fields[0].Windows)
						return nil
					}); err != nil || n == 0 {
						b.Fatalf("scan: %d values, %v", n, err)
					}
				}
			})
		}
	}
}
