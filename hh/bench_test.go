package hh_test

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/hh"
	"github.com/strata-db/strata/internal/datasets"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// TSBSBatches returns the first n batches of 5,000 lines of the TSBS
// cpu-only file, encoded by coordinator.AppendPoints as the write path
// hands them to hinted handoff, and the values (field values) they hold.
func TSBSBatches(tb testing.TB, n int) (batches [][]byte, values int) {
	tb.Helper()
	var p models.Parser
	for _, body := range datasets.Batches(tb, "tsbs-cpu-only-s100-1d.lp.gz", 5000, n*5000) {
		pts, err := p.Parse(body, models.PrecisionNanosecond, 0)
		if err != nil {
			tb.Fatalf("parse dataset: %v", err)
		}
		for i := range pts {
			values += len(pts[i].Fields)
		}
		batches = append(batches, coordinator.AppendPoints(nil, pts))
	}
	return batches, values
}

// BenchmarkEnqueue measures durable enqueues (each fsynced before it
// returns) of TSBS batches into one queue, from 1 and from 4 concurrent
// writers (which share fsyncs through group commit). The node is down and
// replay is held off, so only appends run.
func BenchmarkEnqueue(b *testing.B) {
	batches, values := TSBSBatches(b, 40)
	perBatch := values / len(batches)
	var size int
	for _, bt := range batches {
		size += len(bt)
	}
	// The ceiling: the same bytes appended to a plain file, one write and
	// one fsync per batch.
	b.Run("file-ceiling", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "ceiling"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(int64(size / len(batches)))
		for i := range b.N {
			if _, err := f.Write(batches[i%len(batches)]); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "values/s")
	})
	for _, writers := range []int{1, 4} {
		b.Run(map[int]string{1: "writers=1", 4: "writers=4"}[writers], func(b *testing.B) {
			cfg := hh.NewConfig()
			cfg.Dir = b.TempDir()
			cfg.RetryInterval = meta.Duration(time.Hour)
			cfg.RetryMaxInterval = cfg.RetryInterval
			svc := hh.NewService(cfg, &fakeSender{fn: down}, nil, nil, nil)
			if err := svc.Open(); err != nil {
				b.Fatal(err)
			}
			defer svc.Close()
			b.SetBytes(int64(size / len(batches)))
			b.ReportAllocs()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range writers {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if err := svc.WriteShardBatch(2, 1, batches[i%int64(len(batches))]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "values/s")
		})
	}
}
