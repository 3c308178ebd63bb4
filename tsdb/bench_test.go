package tsdb_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/datasets"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

const bigDataset = "tsbs-cpu-only-s100-1d.lp.gz"

// loadBatches parses a gzipped line-protocol dataset into batches of
// linesPerBatch lines of decoded points (cloned, so they outlive the parser).
func loadBatches(tb testing.TB, name string, linesPerBatch int) [][]models.Point {
	tb.Helper()
	path := datasets.Path(tb, name)
	f, err := os.Open(path)
	must(tb, err, "open dataset")
	defer f.Close()
	zr, err := gzip.NewReader(f)
	must(tb, err, "gunzip dataset")
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var batches [][]models.Point
	var body bytes.Buffer
	var parser models.Parser
	lines := 0
	flush := func() {
		if lines == 0 {
			return
		}
		pts, err := parser.Parse(body.Bytes(), 1, 0)
		must(tb, err, "parse dataset")
		batch := make([]models.Point, len(pts))
		for i := range pts {
			batch[i] = pts[i].Clone()
		}
		batches = append(batches, batch)
		body.Reset()
		lines = 0
	}
	for sc.Scan() {
		body.Write(sc.Bytes())
		body.WriteByte('\n')
		lines++
		if lines == linesPerBatch {
			flush()
		}
	}
	must(tb, sc.Err(), "read dataset")
	flush()
	return batches
}

var (
	bigOnce    sync.Once
	bigBatches [][]models.Point
)

func bigData(b *testing.B) [][]models.Point {
	datasets.Path(b, bigDataset) // skip early when absent
	bigOnce.Do(func() { bigBatches = loadBatches(b, bigDataset, 5000) })
	return bigBatches
}

func countValues(batches [][]models.Point) int {
	n := 0
	for _, bt := range batches {
		for i := range bt {
			n += len(bt[i].Fields)
		}
	}
	return n
}

// BenchmarkIngest writes the TSBS cpu-only day (batches of 5,000 lines,
// decoded points) into one shard through the index, the fsynced WAL and the
// cache (snapshots run in the background at the default 25 MiB), from 1 or 4
// concurrent writers (group commit shares fsyncs, as a multi-worker loader
// does). One op is one batch; values/s is the figure to compare.
func BenchmarkIngest(b *testing.B) {
	batches := bigData(b)
	perBatch := countValues(batches[:1])
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			cfg := tsdb.NewConfig()
			cfg.Dir = b.TempDir()
			_, sh := openShard(b, cfg)
			b.ReportAllocs()
			b.SetBytes(int64(perBatch) * 8)
			var next atomic.Int64
			work := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range work {
						i := next.Add(1) - 1
						if err := sh.WritePoints(context.Background(), batches[int(i)%len(batches)]); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			start, cpu0 := time.Now(), cpuTime(b)
			for b.Loop() {
				work <- struct{}{}
			}
			close(work)
			wg.Wait()
			elapsed, cpu := time.Since(start), cpuTime(b)-cpu0
			select {
			case err := <-errs:
				b.Fatalf("write: %v", err)
			default:
			}
			values := float64(next.Load()) * float64(perBatch)
			b.ReportMetric(values/elapsed.Seconds(), "values/s")
			// The machine is shared and loaded: values per CPU-second of
			// this process (writers, WAL, snapshots, compactions, GC) is
			// the "on one core" figure.
			b.ReportMetric(values/cpu.Seconds(), "values/cpu-s")
		})
	}
}

// cpuTime returns the user+system CPU time this process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	must(tb, syscall.Getrusage(syscall.RUSAGE_SELF, &ru), "getrusage")
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadedShard writes the whole dataset into a fresh shard.
func loadedShard(b *testing.B) (*tsdb.Shard, int) {
	batches := bigData(b)
	cfg := tsdb.NewConfig()
	cfg.Dir = b.TempDir()
	cfg.CompactCheckInterval = 0
	_, sh := openShard(b, cfg)
	for _, bt := range batches {
		if err := sh.WritePoints(context.Background(), bt); err != nil {
			b.Fatalf("write: %v", err)
		}
	}
	return sh, countValues(batches)
}

func heapInUseMB() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

func tsmBytes(b *testing.B, sh *tsdb.Shard) int64 {
	var n int64
	ents, err := os.ReadDir(sh.Path())
	must(b, err, "read shard dir")
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tsm") {
			info, err := os.Stat(filepath.Join(sh.Path(), e.Name()))
			must(b, err, "stat")
			n += info.Size()
		}
	}
	return n
}

// BenchmarkLoadAndCompact loads the dataset, reports the heap after load
// (cache only), then snapshots and fully compacts and reports bytes per
// value on disk and the heap afterwards. One op is the full compaction.
func BenchmarkLoadAndCompact(b *testing.B) {
	bigData(b)
	base := heapInUseMB()
	sh, values := loadedShard(b)
	afterLoad := heapInUseMB() - base
	must(b, sh.Snapshot(), "snapshot")
	for b.Loop() {
		must(b, sh.Compact(true), "compact")
	}
	b.ReportMetric(afterLoad, "heapMB-after-load")
	b.ReportMetric(float64(tsmBytes(b, sh))/float64(values), "bytes/value")
	b.ReportMetric(heapInUseMB()-base, "heapMB-compacted")
}

// BenchmarkWindowAggregate runs the two TSBS-style aggregate queries on the
// fully compacted dataset and reports values scanned per second.
func BenchmarkWindowAggregate(b *testing.B) {
	sh, _ := loadedShard(b)
	must(b, sh.Snapshot(), "snapshot")
	must(b, sh.Compact(true), "compact")
	start := int64(1767225600000000000) // 2026-01-01T00:00:00Z
	seen := map[string]bool{}
	var hosts [][]byte
	for _, p := range bigData(b)[0] {
		k := p.AppendSeriesKey(nil)
		if !seen[string(k)] {
			seen[string(k)] = true
			hosts = append(hosts, k)
		}
	}
	if len(hosts) != 100 {
		b.Fatalf("series: got %d, want 100", len(hosts))
	}
	// This is the last benchmark using the parsed points: drop them so the
	// GC does not rescan ~1 GB of them during the queries.
	bigBatches = nil
	runtime.GC()
	b.Run("max-1m-12h-one-series", func(b *testing.B) {
		end := start + int64(12*time.Hour) - 1
		scanned := 0
		b.ReportAllocs()
		t0, cpu0 := time.Now(), cpuTime(b)
		var ws []tsdb.Window
		for b.Loop() {
			var err error
			ws, err = sh.AppendWindowAggregate(ws[:0], hosts[0], []byte("usage_user"), start, end, int64(time.Minute), 0, tsdb.AggMax|tsdb.AggCount)
			must(b, err, "aggregate")
			for _, w := range ws {
				scanned += int(w.Count)
			}
		}
		b.ReportMetric(float64(scanned)/time.Since(t0).Seconds(), "values/s")
		b.ReportMetric(float64(scanned)/(cpuTime(b)-cpu0).Seconds(), "values/cpu-s")
	})
	// The mean query with windows aligned to the epoch, and shifted by 15
	// minutes (GROUP BY time(1h, 15m)).
	for _, q := range []struct {
		name   string
		offset int64
	}{{"mean-1h-24h-100-hosts", 0}, {"mean-1h-24h-100-hosts-offset-15m", int64(15 * time.Minute)}} {
		b.Run(q.name, func(b *testing.B) {
			end := start + int64(24*time.Hour) - 1
			scanned := 0
			b.ReportAllocs()
			t0, cpu0 := time.Now(), cpuTime(b)
			var ws []tsdb.Window
			for b.Loop() {
				for _, h := range hosts {
					var err error
					ws, err = sh.AppendWindowAggregate(ws[:0], h, []byte("usage_user"), start, end, int64(time.Hour), q.offset, tsdb.AggMean)
					must(b, err, "aggregate")
					for _, w := range ws {
						scanned += int(w.Count)
					}
				}
			}
			b.ReportMetric(float64(scanned)/time.Since(t0).Seconds(), "values/s")
			b.ReportMetric(float64(scanned)/(cpuTime(b)-cpu0).Seconds(), "values/cpu-s")
		})
	}
}

// BenchmarkReopen1MSeries measures opening a shard holding 1M series (one
// value each), once with the data snapshotted to a file and once with the
// data only in the WAL (replayed into the cache), in wall time and process
// CPU-seconds per open, and the heap it holds once open.
func BenchmarkReopen1MSeries(b *testing.B) {
	const series = 1_000_000
	for _, snapshot := range []bool{true, false} {
		b.Run(fmt.Sprintf("snapshotted=%v", snapshot), func(b *testing.B) {
			cfg := tsdb.NewConfig()
			cfg.Dir = b.TempDir()
			cfg.CompactCheckInterval = 0
			cfg.CacheSnapshotSize = 1 << 30
			cfg.CacheMaxSize = 2 << 30
			st := tsdb.NewStore(cfg, nil, nil)
			must(b, st.Open(), "open")
			must(b, st.CreateShard(1), "create")
			sh := st.Shard(1)
			batch := make([]models.Point, 0, 10_000)
			for i := range series {
				host := "host_" + strconv.Itoa(i)
				batch = append(batch, models.Point{
					Measurement: []byte("cpu"),
					Tags:        models.Tags{{Key: []byte("host"), Value: []byte(host)}, {Key: []byte("region"), Value: []byte("eu-west-" + strconv.Itoa(i%7))}},
					Fields:      []models.Field{{Key: []byte("usage"), Value: models.FloatValue(float64(i))}},
					Time:        int64(i),
				})
				if len(batch) == cap(batch) {
					must(b, sh.WritePoints(context.Background(), batch), "write")
					batch = batch[:0]
				}
			}
			if snapshot {
				must(b, sh.Snapshot(), "snapshot")
			}
			must(b, st.Close(), "close")
			base := heapInUseMB()
			var heap float64
			var cpu time.Duration
			for b.Loop() {
				cpu0 := cpuTime(b)
				st := tsdb.NewStore(cfg, nil, nil)
				must(b, st.Open(), "reopen")
				cpu += cpuTime(b) - cpu0
				b.StopTimer()
				heap = heapInUseMB() - base
				if n := st.Shard(1).SeriesN(); n != series {
					b.Fatalf("series after reopen: got %d, want %d", n, series)
				}
				must(b, st.Close(), "close")
				b.StartTimer()
			}
			b.ReportMetric(heap, "heapMB-open")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// BenchmarkWritePathAllocs isolates the write path (index lookup, WAL
// encode + fsynced write, cache insert) with snapshots and compactions off:
// one op writes the small TSBS file (3,600 lines, 36,000 values) as one
// batch, shifted in time each op so every value is new. allocs/op divided
// by values/op is the steady-state allocations per value.
func BenchmarkWritePathAllocs(b *testing.B) {
	batch := loadBatches(b, "tsbs-cpu-only-s10-1h.lp.gz", 5000)[0]
	cfg := testConfig(b.TempDir())
	_, sh := openShard(b, cfg)
	must(b, sh.WritePoints(context.Background(), batch), "warm-up write")
	perBatch := countValues([][]models.Point{batch})
	b.ReportAllocs()
	b.SetBytes(int64(perBatch) * 8)
	for b.Loop() {
		for i := range batch {
			batch[i].Time += int64(time.Hour)
		}
		if err := sh.WritePoints(context.Background(), batch); err != nil {
			b.Fatalf("write: %v", err)
		}
	}
	b.ReportMetric(float64(perBatch), "values/op")
}
