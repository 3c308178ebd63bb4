package wal_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/tsdb/wal"
)

// benchSizes are record sizes: a small batch, and the 0.3–1 MB records of
// 5,000-line batches the engine writes.
var benchSizes = []int{4 << 10, 64 << 10, 500 << 10, 1 << 20}

func openBench(b *testing.B, noSync bool) *wal.WAL {
	b.Helper()
	cfg := wal.NewConfig()
	cfg.NoSync = noSync
	w, err := wal.Open(b.TempDir(), cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	return w
}

// BenchmarkWrite appends records one at a time from one goroutine: every
// Write is its own group, so with fsync on it measures write + fsync latency.
func BenchmarkWrite(b *testing.B) {
	for _, sync := range []bool{true, false} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("fsync=%v/size=%d", sync, size), func(b *testing.B) {
				w := openBench(b, !sync)
				rec := makeRecord(1, size)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := w.Write(rec); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkWriteParallel appends 500 KB records from parallelism×GOMAXPROCS
// goroutines, fsync on: group commit lets them share write calls and fsyncs.
// fsyncs/op is the mean number of fsyncs per Write.
func BenchmarkWriteParallel(b *testing.B) {
	const size = 500 << 10
	for _, par := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("size=%d/parallelism=%d", size, par), func(b *testing.B) {
			reg := prometheus.NewRegistry()
			w, err := wal.Open(b.TempDir(), wal.NewConfig(), nil, reg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { w.Close() })
			b.ReportAllocs()
			b.SetBytes(size)
			b.SetParallelism(par)
			rec := makeRecord(2, size)
			// Grow the group buffers to the steady-state group size first,
			// so that B/op measures steady state, not a fresh WAL.
			var warm sync.WaitGroup
			for range par * runtime.GOMAXPROCS(0) {
				warm.Go(func() {
					for range 4 {
						if _, err := w.Write(rec); err != nil {
							b.Error(err)
						}
					}
				})
			}
			warm.Wait()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := w.Write(rec); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(metricValue(b, reg, "strata_wal_fsync_duration_seconds")/float64(b.N), "fsyncs/op")
		})
	}
}

// BenchmarkReplay reads back 64 MiB of 500 KB records.
func BenchmarkReplay(b *testing.B) {
	const size, total = 500 << 10, 64 << 20
	dir := b.TempDir()
	cfg := wal.NewConfig()
	cfg.NoSync = true
	w, err := wal.Open(dir, cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	rec := makeRecord(3, size)
	n := total / size
	for range n {
		if _, err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	w, err = wal.Open(dir, cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ReportAllocs()
	b.SetBytes(int64(n * size))
	for b.Loop() {
		got := 0
		if err := w.Replay(func(uint64, []byte) error { got++; return nil }); err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("replayed %d records; want %d", got, n)
		}
	}
}
