//go:build linux

package antientropy_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/antientropy"
	"github.com/strata-db/strata/internal/datasets"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

const tsbsDay = "tsbs-cpu-only-s100-1d.lp.gz"

// loadTSBS writes the dataset into sh in 5,000-line batches, leaving out
// the points keep rejects, then snapshots and fully compacts it, as a
// settled shard would be.
func loadTSBS(tb testing.TB, sh *tsdb.Shard, keep func(ts int64) bool) {
	tb.Helper()
	var parser models.Parser
	for _, body := range datasets.Batches(tb, tsbsDay, 5000, 0) {
		pts, err := parser.Parse(body, models.PrecisionNanosecond, 0)
		if err != nil {
			tb.Fatal(err)
		}
		kept := pts[:0]
		for _, p := range pts {
			if keep == nil || keep(p.Time) {
				kept = append(kept, p)
			}
		}
		if err := sh.WritePoints(context.Background(), kept); err != nil {
			tb.Fatal(err)
		}
	}
	if err := sh.Snapshot(); err != nil {
		tb.Fatal(err)
	}
	if err := sh.Compact(true); err != nil {
		tb.Fatal(err)
	}
}

func benchStore(tb testing.TB, dir string) *tsdb.Store {
	cfg := storageConfig(dir)
	cfg.DigestSeriesBuckets = tsdb.DefaultDigestSeriesBuckets
	st := tsdb.NewStore(cfg, nil, prometheus.NewRegistry())
	if err := st.Open(); err != nil {
		tb.Fatal(err)
	}
	return st
}

// processCPU returns the CPU time (user + system) the process has used:
// the benchmarks report it beside wall time, which the shared machine
// inflates.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCheckUnchanged is the local work of checking a shard holding
// the TSBS cpu-only day that did not change since the last check: digests
// (none dirty), tree update, root.
func BenchmarkCheckUnchanged(b *testing.B) {
	dir := b.TempDir()
	st := benchStore(b, dir)
	defer st.Close()
	if err := st.CreateShard(1); err != nil {
		b.Fatal(err)
	}
	sh := st.Shard(1)
	loadTSBS(b, sh, nil)
	ctx := context.Background()
	tr := antientropy.NewTree(tsdb.DefaultDigestSeriesBuckets, int64(time.Hour))
	ds, err := sh.Digests(ctx)
	if err != nil {
		b.Fatal(err)
	}
	tr.Update(ds)
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		ds, err := sh.Digests(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n := tr.Update(ds); n != 0 {
			b.Fatalf("%d leaves changed in an unchanged shard", n)
		}
		_ = tr.Root(1 << 62)
	}
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// BenchmarkTreeBuild is the first check after a restart: every bucket
// digest of the TSBS cpu-only day computed, and the tree built over them.
func BenchmarkTreeBuild(b *testing.B) {
	dir := b.TempDir()
	st := benchStore(b, dir)
	if err := st.CreateShard(1); err != nil {
		b.Fatal(err)
	}
	loadTSBS(b, st.Shard(1), nil)
	st.Close()
	ctx := context.Background()
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		st := benchStore(b, dir) // a reopened shard has no digests yet
		b.StartTimer()
		cpu0 := processCPU(b)
		ds, err := st.Shard(1).Digests(ctx)
		if err != nil {
			b.Fatal(err)
		}
		tr := antientropy.NewTree(tsdb.DefaultDigestSeriesBuckets, int64(time.Hour))
		tr.Update(ds)
		_ = tr.Root(1 << 62)
		cpu += processCPU(b) - cpu0
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkRepairMissed10m repairs a replica of the TSBS cpu-only day that
// missed ten minutes of it and reports the bytes the exchange moved
// against the size of the missing data in tsdb's files.
func BenchmarkRepairMissed10m(b *testing.B) {
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	lo, hi := day+int64(12*time.Hour+5*time.Minute), day+int64(12*time.Hour+15*time.Minute)
	missing := func(ts int64) bool { return ts >= lo && ts < hi }

	// The missing data alone, in a shard's files.
	ref := benchStore(b, b.TempDir())
	defer ref.Close()
	if err := ref.CreateShard(1); err != nil {
		b.Fatal(err)
	}
	loadTSBS(b, ref.Shard(1), missing)
	compressed := dataFileBytes(b, ref.Shard(1).Path())

	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c := newClusterBuckets(b, 2, nil, tsdb.DefaultDigestSeriesBuckets)
		loadTSBS(b, c.shard(1), nil)
		loadTSBS(b, c.shard(2), func(ts int64) bool { return !missing(ts) })
		c.root(1) // the digests exist before the check, as on a running node
		c.root(2)
		b.StartTimer()
		c.checkAll(1)
		b.StopTimer()
		moved := counter(b, c.regs[1], "strata_ae_bytes_total", "sent") + counter(b, c.regs[1], "strata_ae_bytes_total", "received")
		if got, want := c.root(1), c.root(2); got != want {
			b.Fatal("replicas differ after the repair")
		}
		b.ReportMetric(moved, "bytes-moved/op")
		b.ReportMetric(float64(compressed), "missing-compressed-bytes")
		b.ReportMetric(moved/float64(compressed), "moved/missing")
		b.StartTimer()
	}
}

// dataFileBytes sums the shard's data files (not its index, WAL or
// tombstones).
func dataFileBytes(tb testing.TB, dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if e.IsDir() || e.Name() == "tombstones" {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err == nil {
			n += fi.Size()
		}
	}
	return n
}
