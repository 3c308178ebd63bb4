package loadgen_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/datasets"

	"github.com/klauspost/compress/gzip"

	"github.com/strata-db/strata/loadgen"
)

// reportValues adds a values/s metric: values handled per loop iteration.
func reportValues(b *testing.B, perOp int64) {
	b.ReportMetric(float64(perOp)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
}

// BenchmarkGenerateCPU measures generating and batching TSBS cpu data: the
// 2 M lines of issue 17's series benchmark, from 100 hosts and from 1 M
// hosts (the cost per line should not depend on the host count).
func BenchmarkGenerateCPU(b *testing.B) {
	const lines = 2_000_000
	for _, hosts := range []int{100, 1_000_000} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			cfg := loadgen.NewCPUConfig()
			cfg.Hosts = hosts
			cfg.Duration = lines / time.Duration(hosts) * cfg.Interval
			w, err := loadgen.GenerateCPU(cfg, 5000)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(w.RawBytes)
			for b.Loop() {
				if _, err := loadgen.GenerateCPU(cfg, 5000); err != nil {
					b.Fatal(err)
				}
			}
			reportValues(b, w.Values)
		})
	}
}

// BenchmarkSplitLines measures cutting a file into counted batches: the
// per-line field count is the only per-byte work.
func BenchmarkSplitLines(b *testing.B) {
	f, err := os.Open(datasets.Path(b, "tsbs-cpu-only-s10-1h.lp.gz"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		b.Fatal(err)
	}
	w := loadgen.SplitLines(data, 5000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		loadgen.SplitLines(data, 5000)
	}
	reportValues(b, w.Values)
}

// BenchmarkReadFile measures loading the standard gzipped dataset (gunzip
// plus batching); it is skipped with -short.
func BenchmarkReadFile(b *testing.B) {
	if testing.Short() {
		b.Skip("reads a 300 MB dataset")
	}
	path := datasets.Path(b, "tsbs-cpu-only-s100-1d.lp.gz")
	w, err := loadgen.ReadFile(path, 5000)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(w.RawBytes)
	for b.Loop() {
		if _, err := loadgen.ReadFile(path, 5000); err != nil {
			b.Fatal(err)
		}
	}
	reportValues(b, w.Values)
}

// BenchmarkCompress measures gzipping every body of a workload.
func BenchmarkCompress(b *testing.B) {
	cfg := loadgen.NewCPUConfig()
	w, err := loadgen.GenerateCPU(cfg, 5000)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(w.RawBytes)
	for b.Loop() {
		c := *w
		c.Batches = append([]loadgen.Batch(nil), w.Batches...)
		if err := c.Compress(); err != nil {
			b.Fatal(err)
		}
	}
	reportValues(b, w.Values)
}

// BenchmarkRunNullSink measures the runner against an in-process server
// that discards bodies: the client's own cost per value (the sink's read
// of the body shares the CPU).
func BenchmarkRunNullSink(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	gen := loadgen.NewCPUConfig()
	w, err := loadgen.GenerateCPU(gen, 5000)
	if err != nil {
		b.Fatal(err)
	}
	cfg := loadgen.NewConfig()
	cfg.URL = srv.URL
	r, err := loadgen.NewRunner(cfg, loadgen.RunnerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	b.SetBytes(w.WireBytes)
	for b.Loop() {
		if _, err := r.Run(context.Background(), w); err != nil {
			b.Fatal(err)
		}
	}
	reportValues(b, w.Values)
}

// BenchmarkLineProtocolDecode is the ceiling's own work as a benchmark:
// line-protocol/v2 decoding the generated data on one core, for comparing
// the figures above with it in the same benchmark run.
func BenchmarkLineProtocolDecode(b *testing.B) {
	w, err := loadgen.GenerateCPU(loadgen.NewCPUConfig(), 5000)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(w.RawBytes)
	for b.Loop() {
		for _, batch := range w.Batches {
			if _, _, err := decodeCount(batch.Body); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportValues(b, w.Values)
}
