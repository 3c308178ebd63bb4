package tsdb

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// benchFields are the ten field names of a TSBS cpu point.
var benchFields = []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
	"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}

// sparseFiles writes one data file per element of hostsOf, each holding
// one value per field of every host hostsOf(i) lists, at time ts(i), the
// way a burst of new series snapshots (issue 17).
func sparseFiles(tb testing.TB, nFiles int, hostsOf func(file int) []int, ts func(file int) int64) (*Shard, []*dataFile) {
	tb.Helper()
	cfg := NewConfig()
	cfg.Dir = tb.TempDir()
	cfg.CompactCheckInterval = 0
	cfg.CacheSnapshotSize = 1 << 30
	cfg.CacheMaxSize = 2 << 30
	cfg.CompactThroughput = 0
	st := NewStore(cfg, nil, prometheus.NewRegistry())
	if err := st.Open(); err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	if err := st.CreateShard(1); err != nil {
		tb.Fatalf("create shard: %v", err)
	}
	s := st.Shard(1)
	for i := range nFiles {
		var pts []models.Point
		for _, h := range hostsOf(i) {
			p := models.Point{
				Measurement: []byte("cpu"),
				Tags:        models.Tags{{Key: []byte("hostname"), Value: fmt.Appendf(nil, "host_%07d", h)}},
				Time:        ts(i),
			}
			for j, f := range benchFields {
				p.Fields = append(p.Fields, models.Field{Key: []byte(f), Value: models.FloatValue(float64(h*10 + j))})
			}
			pts = append(pts, p)
		}
		if err := s.WritePoints(context.Background(), pts); err != nil {
			tb.Fatalf("write: %v", err)
		}
		if err := s.Snapshot(); err != nil {
			tb.Fatalf("snapshot: %v", err)
		}
	}
	s.mu.RLock()
	files := slices.Clone(s.files)
	s.mu.RUnlock()
	if len(files) != nFiles {
		tb.Fatalf("%d files, want %d", len(files), nFiles)
	}
	return s, files
}

// BenchmarkCompactSparse merges sparse level-1 files of 20,000 new series
// × 10 fields in all, one value per key, as a million-series load makes
// them: "disjoint" gives each of two files a contiguous range of hosts
// (the load's snapshots: long runs of keys from one input), "disjoint16"
// the same over sixteen files (a sparse level-1 run), "alternating" puts
// even hosts in one file and odd in the other (runs of one series), and
// "same" writes every host to both files at two times (every key merges).
// One op is one merge, with its digest file.
func BenchmarkCompactSparse(b *testing.B) {
	const hosts = 20_000
	layouts := []struct {
		name    string
		files   int
		hostsOf func(int) []int
		ts      func(int) int64
	}{
		{"disjoint", 2, func(f int) []int { return hostRange(f*hosts/2, (f+1)*hosts/2, 1) }, func(int) int64 { return 1e9 }},
		{"disjoint16", 16, func(f int) []int { return hostRange(f*hosts/16, (f+1)*hosts/16, 1) }, func(int) int64 { return 1e9 }},
		{"alternating", 2, func(f int) []int { return hostRange(f, hosts, 2) }, func(int) int64 { return 1e9 }},
		{"same", 2, func(int) []int { return hostRange(0, hosts/2, 1) }, func(f int) int64 { return int64(f+1) * 1e10 }},
	}
	for _, l := range layouts {
		b.Run(l.name, func(b *testing.B) {
			s, inputs := sparseFiles(b, l.files, l.hostsOf, l.ts)
			path := filepath.Join(b.TempDir(), dataFileName(1, uint64(l.files), 2))
			keys := 0
			cpu := processCPU(b)
			for b.Loop() {
				w, err := tsm.NewWriter(path)
				if err != nil {
					b.Fatal(err)
				}
				dm := newDigestMerge(inputs, path, s.dig.window)
				if err := s.mergeInto(w, dm, inputs, nil, time.Now()); err != nil {
					b.Fatal(err)
				}
				keys = w.KeyCount()
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				if err := dm.finish(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU(b)-cpu).Nanoseconds())/float64(b.N*keys), "cpu-ns/key")
		})
	}
}

// hostRange returns the hosts from, from+step, ... below to.
func hostRange(from, to, step int) []int {
	var hs []int
	for h := from; h < to; h += step {
		hs = append(hs, h)
	}
	return hs
}

// BenchmarkReadSparseFiles reads one field of one series (a point query)
// from 64,000 series written as 64 sparse level-1 files, then from the
// same data compacted into 16 files and into one: what leaving a burst's
// files unmerged costs a query.
func BenchmarkReadSparseFiles(b *testing.B) {
	const hosts, nFiles = 64_000, 64
	s, files := sparseFiles(b, nFiles, func(f int) []int { return hostRange(f*hosts/nFiles, (f+1)*hosts/nFiles, 1) },
		func(int) int64 { return 1e9 })
	read := func(b *testing.B) {
		cpu := processCPU(b)
		h := 0
		for b.Loop() {
			key := fmt.Appendf(nil, "cpu,hostname=host_%07d", h%hosts)
			a, err := s.ReadArray(key, []byte("usage_user"), 0, 2e9)
			if err != nil || a.Len() != 1 {
				b.Fatalf("read %s: %d values, %v", key, a.Len(), err)
			}
			h += 7919
		}
		b.ReportMetric(float64((processCPU(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	b.Run("files=64", read)
	for i := 0; i < nFiles; i += 4 {
		if err := s.compact(files[i:i+4], 2, false); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("files=16", read)
	if err := s.Compact(true); err != nil {
		b.Fatal(err)
	}
	b.Run("files=1", read)
}
