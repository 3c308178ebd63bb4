package tsdb

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// sparseDigestArrays returns n keys' values the way a million sparse
// series snapshot them: one or two values each (a tenth of them in the
// next hour window too), floats and integers, every array its own
// allocation.
func sparseDigestArrays(n int) []*tsm.Array {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC).UnixNano()
	arrs := make([]*tsm.Array, n)
	for i := range arrs {
		a := &tsm.Array{Type: models.FieldTypeFloat}
		if i%3 == 0 {
			a.Type = models.FieldTypeInteger
		}
		ts := base + rng.Int64N(int64(50*time.Minute))
		for k := range 1 + i%2 {
			a.Timestamps = append(a.Timestamps, ts)
			if a.Type == models.FieldTypeFloat {
				a.Floats = append(a.Floats, rng.Float64()*100)
			} else {
				a.Integers = append(a.Integers, rng.Int64N(1000))
			}
			ts += int64(10*time.Second) + int64(k)*int64(time.Hour)*int64(i%10/9)
		}
		arrs[i] = a
	}
	return arrs
}

// digestBenchDataFile creates a stand-in data file for digest files to
// bind to.
func digestBenchDataFile(b *testing.B, dir, name string) string {
	b.Helper()
	path := filepath.Join(dir, name+dataFileExt)
	if err := os.WriteFile(path, make([]byte, 100), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// processCPU returns the process's CPU time (user and system): on a
// shared machine it varies less than the wall clock ns/op.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDigestFileWriterSparse writes the digest file of a snapshot
// of 100 k sparse keys (issue 17, item 3).
func BenchmarkDigestFileWriterSparse(b *testing.B) {
	const keys = 100_000
	arrs := sparseDigestArrays(keys)
	path := digestBenchDataFile(b, b.TempDir(), "snap")
	window := int64(time.Hour)
	cpu := processCPU(b)
	for b.Loop() {
		w := newDigestFileWriter(path, window)
		for _, a := range arrs {
			w.addArray(a)
		}
		if err := w.finish(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N*keys), "cpu-ns/key")
}

// BenchmarkDigestMergeCopy carries the digest records of four inputs of
// 50 k sparse keys each through a compaction that copies every key's
// blocks (no key in two inputs, the million-series case).
func BenchmarkDigestMergeCopy(b *testing.B) {
	const inputs, keys = 4, 50_000
	dir := b.TempDir()
	window := int64(time.Hour)
	arrs := sparseDigestArrays(inputs * keys)
	var paths []string
	for i := range inputs {
		path := digestBenchDataFile(b, dir, "in"+strconv.Itoa(i))
		w := newDigestFileWriter(path, window)
		for _, a := range arrs[i*keys : (i+1)*keys] {
			w.addArray(a)
		}
		if err := w.finish(); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, path)
	}
	out := digestBenchDataFile(b, dir, "out")
	cpu := processCPU(b)
	for b.Loop() {
		m := &digestMerge{out: newDigestFileWriter(out, window)}
		for _, p := range paths {
			dr, err := openDigestFile(p, window)
			if err != nil {
				b.Fatal(err)
			}
			m.ins = append(m.ins, dr)
		}
		for range keys {
			for i := range inputs {
				m.next(i)
				m.copyKey(i)
			}
		}
		if m.out == nil {
			b.Fatal("digest merge abandoned")
		}
		if err := m.finish(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N*inputs*keys), "cpu-ns/key")
}

// BenchmarkDigestsSparse computes every bucket digest of a shard whose
// two data files hold 50 k sparse keys (10 k series × 5 fields, one or
// two values each): the combine a restart or a shard copy runs.
func BenchmarkDigestsSparse(b *testing.B) {
	cfg := NewConfig()
	cfg.Dir = b.TempDir()
	cfg.CompactCheckInterval = 0
	cfg.DigestWindow = Duration(time.Hour)
	sh := openTestShard(b, cfg)
	base := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC).UnixNano()
	const series = 10_000
	for half := range 2 {
		var pts []models.Point
		for i := half * series / 2; i < (half+1)*series/2; i++ {
			tags := models.Tags{{Key: []byte("host"), Value: []byte("host_" + strconv.Itoa(i))}}
			for k := range 1 + i%2 {
				ts := base + int64(i)*int64(time.Second) + int64(k)*int64(10*time.Second)
				pts = append(pts, models.Point{Measurement: []byte("cpu"), Tags: tags, Time: ts, Fields: []models.Field{
					{Key: []byte("f"), Value: models.FloatValue(float64(i) / 3)},
					{Key: []byte("i"), Value: models.IntegerValue(int64(i))},
					{Key: []byte("u"), Value: models.UnsignedValue(uint64(i))},
					{Key: []byte("b"), Value: models.BooleanValue(i%3 == 0)},
					{Key: []byte("g"), Value: models.FloatValue(float64(k))},
				}})
			}
		}
		if err := sh.WritePoints(context.Background(), pts); err != nil {
			b.Fatal(err)
		}
		if err := sh.Snapshot(); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	if _, err := sh.computeDigests(ctx, true, nil); err != nil { // digest files checked
		b.Fatal(err)
	}
	cpu := processCPU(b)
	for b.Loop() {
		if _, err := sh.computeDigests(ctx, true, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N*series*5), "cpu-ns/key")
}
