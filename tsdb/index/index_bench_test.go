package index_test

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/tsdb/index"
	"github.com/strata-db/strata/tsdb/models"
)

const benchBatch = 5000

// tsbsBatch appends to buf a TSBS cpu-only style batch: lines for hosts
// first..first+n-1 (host h has fixed tags derived from h) with 10 integer
// fields.
func tsbsBatch(buf []byte, first, n int) []byte {
	regions := []string{"us-east-1", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"}
	oses := []string{"Ubuntu15.10", "Ubuntu16.10", "Ubuntu16.04LTS"}
	envs := []string{"production", "staging", "test"}
	for h := first; h < first+n; h++ {
		r := regions[h%len(regions)]
		buf = fmt.Appendf(buf, "cpu,hostname=host_%d,region=%s,datacenter=%sa,rack=%d,os=%s,arch=x%d,team=T%d,service=%d,service_version=%d,service_environment=%s ",
			h, r, r, h%100, oses[h%3], 64+h%2*22, h%4, h%20, h%2, envs[h%3])
		buf = append(buf, "usage_user=58i,usage_system=2i,usage_idle=24i,usage_nice=61i,usage_iowait=22i,usage_irq=63i,usage_softirq=6i,usage_steal=44i,usage_guest=80i,usage_guest_nice=38i 1767225600000000000\n"...)
	}
	return buf
}

// BenchmarkCreateSeriesAndFieldsExisting is the write hot path: a batch of
// 5,000 points over 100 series that all exist (TSBS writes the same hosts
// over and over). It must not allocate or touch the disk.
func BenchmarkCreateSeriesAndFieldsExisting(b *testing.B) {
	ix := openIndex(b, b.TempDir())
	var body []byte
	for range benchBatch / 100 {
		body = tsbsBatch(body, 0, 100)
	}
	var p models.Parser
	pts, err := p.Parse(body, 1, 0)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]uint64, len(pts))
	if _, err := ix.CreateSeriesAndFields(pts, ids); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	startCPU := processCPU()
	for b.Loop() {
		if _, err := ix.CreateSeriesAndFields(pts, ids); err != nil {
			b.Fatal(err)
		}
	}
	cpu := processCPU() - startCPU
	b.ReportMetric(float64(len(pts)*10)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
	b.ReportMetric(float64(len(pts))*float64(b.N)/cpu.Seconds(), "points/cpu-s")
}

// BenchmarkCreateSeriesAndFieldsExistingMillion is the hot path at a
// million series, the second half of issue 17's load: batches of 5,000
// points of distinct existing series, in the order they were created, so
// that every lookup reads a key-table slot the cache does not hold.
func BenchmarkCreateSeriesAndFieldsExistingMillion(b *testing.B) {
	const n = 1_000_000
	ix := openIndex(b, b.TempDir())
	createSeries(b, ix, n)
	batches := make([][]models.Point, 0, n/benchBatch)
	for first := 0; first < n; first += benchBatch {
		var p models.Parser // one per batch: a parser reuses its points
		pts, err := p.Parse(tsbsBatch(nil, first, benchBatch), 1, 0)
		if err != nil {
			b.Fatal(err)
		}
		batches = append(batches, pts)
	}
	ids := make([]uint64, benchBatch)
	b.ReportAllocs()
	startCPU := processCPU()
	i := 0
	for b.Loop() {
		if _, err := ix.CreateSeriesAndFields(batches[i%len(batches)], ids); err != nil {
			b.Fatal(err)
		}
		i++
	}
	cpu := processCPU() - startCPU
	b.ReportMetric(float64(benchBatch)*float64(b.N)/cpu.Seconds(), "points/cpu-s")
}

// createSeries indexes n distinct TSBS-style series in batches of 5,000 and
// returns the wall time spent inside CreateSeriesAndFields and the process
// CPU time of the whole run: making and parsing the batches too (about a
// sixth of it), so that the index's background snapshot counts wherever
// it runs; the run ends when that snapshot does.
func createSeries(b *testing.B, ix *index.Index, n int) (wall, cpu time.Duration) {
	var (
		p    models.Parser
		body []byte
		ids  = make([]uint64, benchBatch)
	)
	startCPU := processCPU()
	for first := 0; first < n; first += benchBatch {
		body = tsbsBatch(body[:0], first, min(benchBatch, n-first))
		pts, err := p.Parse(body, 1, 0)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if c, err := ix.CreateSeriesAndFields(pts, ids); err != nil || len(c) != 0 {
			b.Fatalf("create: conflicts %v, error %v", c, err)
		}
		wall += time.Since(start)
	}
	ix.WaitCompaction()
	return wall, processCPU() - startCPU
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

var benchSizes = []int{100_000, 1_000_000}

// BenchmarkCreateSeries creates N new series (one op = the whole N, one
// fsync per 5,000-series batch) and reports series/s (wall), series per
// CPU-second and the heap the index holds per series.
func BenchmarkCreateSeries(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			var spent, spentCPU time.Duration
			var perSeries float64
			for b.Loop() {
				b.StopTimer()
				before := heapInUse()
				ix, err := index.Open(b.TempDir(), nil)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				wall, cpu := createSeries(b, ix, n)
				spent += wall
				spentCPU += cpu
				b.StopTimer()
				perSeries = float64(heapInUse()-before) / float64(n)
				if ix.SeriesN() != n {
					b.Fatalf("SeriesN: got %d; want %d", ix.SeriesN(), n)
				}
				ix.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/spent.Seconds(), "series/s")
			b.ReportMetric(float64(n)*float64(b.N)/spentCPU.Seconds(), "series/cpu-s")
			b.ReportMetric(perSeries, "heap-B/series")
		})
	}
}

// BenchmarkCreateSeriesTwoWriters is issue 17's load on the index alone:
// two writers, as strata bench runs them, each making, parsing and
// creating every other batch of 5,000 new series until a million exist
// (one op). It reports series/s (wall time, so it shows how long the
// writers wait for each other) and series per CPU-second of the process.
func BenchmarkCreateSeriesTwoWriters(b *testing.B) {
	const n = 1_000_000
	var spent, spentCPU time.Duration
	for b.Loop() {
		b.StopTimer()
		ix, err := index.Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start, startCPU := time.Now(), processCPU()
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Go(func() {
				var (
					p    models.Parser
					body []byte
					ids  = make([]uint64, benchBatch)
				)
				for first := w * benchBatch; first < n; first += 2 * benchBatch {
					body = tsbsBatch(body[:0], first, benchBatch)
					pts, err := p.Parse(body, 1, 0)
					if err != nil {
						b.Error(err)
						return
					}
					if c, err := ix.CreateSeriesAndFields(pts, ids); err != nil || len(c) != 0 {
						b.Errorf("create: conflicts %v, error %v", c, err)
						return
					}
				}
			})
		}
		wg.Wait()
		ix.WaitCompaction()
		spent += time.Since(start)
		spentCPU += processCPU() - startCPU
		b.StopTimer()
		if ix.SeriesN() != n {
			b.Fatalf("SeriesN: got %d; want %d", ix.SeriesN(), n)
		}
		ix.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/spent.Seconds(), "series/s")
	b.ReportMetric(float64(n)*float64(b.N)/spentCPU.Seconds(), "series/cpu-s")
}

// BenchmarkReopen measures Open of an index holding N series (replaying its
// log), in wall time per op and process CPU seconds ("cpu-s/op"), and the
// heap the reopened index holds per series.
func BenchmarkReopen(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			dir := b.TempDir()
			ix, err := index.Open(dir, nil)
			if err != nil {
				b.Fatal(err)
			}
			createSeries(b, ix, n)
			ix.Close()
			b.ReportAllocs()
			var perSeries float64
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				before := heapInUse()
				b.StartTimer()
				startCPU := processCPU()
				ix, err := index.Open(dir, nil)
				if err != nil {
					b.Fatal(err)
				}
				cpu += processCPU() - startCPU
				b.StopTimer()
				perSeries = float64(heapInUse()-before) / float64(n)
				if ix.SeriesN() != n {
					b.Fatalf("SeriesN after reopen: got %d; want %d", ix.SeriesN(), n)
				}
				ix.Close()
				b.StartTimer()
			}
			b.ReportMetric(perSeries, "heap-B/series")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}
