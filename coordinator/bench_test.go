package coordinator_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/internal/cputime"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// benchBatch is the first 5,000 lines of the TSBS cpu-only benchmark file
// (100 hosts × 50 timestamps, 10 integer fields each), the batch size
// TSBS's loader sends, as parsed from a /write body.
func benchBatch(b *testing.B) (pts []models.Point, lpBytes, values int) {
	pts = loadParsedPoints(b, "tsbs-cpu-only-s100-1d.lp.gz", 5000)
	for i := range pts {
		lpBytes += len(pts[i].AppendLine(nil))
		values += len(pts[i].Fields)
	}
	return pts, lpBytes, values
}

func reportValues(b *testing.B, values int) {
	b.ReportMetric(float64(values)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
}

var noopStore = &fakeStore{WriteToShardFn: func(uint64, []models.Point) error { return nil }}

func BenchmarkPointsWriter_WritePoints(b *testing.B) {
	pts, lpBytes, values := benchBatch(b)
	// One 1h group covering the batch (it spans 500 s from midnight).
	groupAt := func(owners ...[]uint64) meta.ShardGroupInfo {
		return group(1, time.Unix(0, pts[0].Time).UTC().Truncate(time.Hour), 10, owners...)
	}
	run := func(b *testing.B, w *coordinator.PointsWriter) {
		b.ReportAllocs()
		b.SetBytes(int64(lpBytes))
		for b.Loop() {
			if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, pts); err != nil {
				b.Fatalf("WritePoints: %v", err)
			}
		}
		reportValues(b, values)
	}
	b.Run("rf1-1shard", func(b *testing.B) {
		d := testData(1, 1, groupAt([]uint64{1}))
		run(b, newPointsWriter(b, coordinator.NewConfig(), selfID(1), staticMeta(b, d), noopStore, nil, nil, nil))
	})
	b.Run("rf1-2shards", func(b *testing.B) {
		d := testData(2, 1, groupAt([]uint64{1}, []uint64{1}))
		run(b, newPointsWriter(b, coordinator.NewConfig(), selfID(1), staticMeta(b, d), noopStore, nil, nil, nil))
	})
	for _, s2 := range []bool{false, true} {
		name := "rf2-rpc"
		if s2 {
			name += "-s2"
		}
		b.Run(name, func(b *testing.B) {
			cfg := coordinator.NewConfig()
			cfg.RPCCompression = s2
			p := startPeer(b, cfg, noopStore)
			p.data.Databases[0].RetentionPolicies[0].ShardGroups = []meta.ShardGroupInfo{groupAt([]uint64{1, 2})}
			w := newPointsWriter(b, cfg, selfID(1), staticMeta(b, p.data), noopStore, p.client, nil, prometheus.NewRegistry())
			run(b, w)
		})
	}
}

// reportThreadCPU runs loop on a locked OS thread and reports its CPU time
// per op ("cpu-ns/op"), steadier than wall time on a shared machine.
func reportThreadCPU(b *testing.B, loop func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := cputime.Thread()
	loop()
	b.ReportMetric(float64((cputime.Thread()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func BenchmarkAppendPoints(b *testing.B) {
	pts, _, values := benchBatch(b)
	buf := coordinator.AppendPoints(nil, pts)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	reportThreadCPU(b, func() {
		for b.Loop() {
			buf = coordinator.AppendPoints(buf[:0], pts)
		}
	})
	reportValues(b, values)
}

func BenchmarkDecodePoints(b *testing.B) {
	pts, _, values := benchBatch(b)
	buf := coordinator.AppendPoints(nil, pts)
	dst := make([]models.Point, 0, len(pts))
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		var err error
		if dst, err = coordinator.DecodePoints(buf, dst); err != nil {
			b.Fatal(err)
		}
	}
	reportValues(b, values)
}

func BenchmarkPointsDecoder(b *testing.B) {
	pts, _, values := benchBatch(b)
	buf := coordinator.AppendPoints(nil, pts)
	var d coordinator.PointsDecoder
	var dst []models.Point
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	reportThreadCPU(b, func() {
		for b.Loop() {
			var err error
			if dst, err = d.Decode(buf, dst); err != nil {
				b.Fatal(err)
			}
		}
	})
	reportValues(b, values)
}
