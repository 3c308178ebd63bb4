package tsm_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// rawValueBytes is what one value costs uncompressed (timestamp + 8-byte
// value), the base for the MB/s figures.
const rawValueBytes = 16

const tsbsFile = "tsbs-cpu-only-s100-1d.lp.gz"

// BenchmarkWriteTSBS writes the TSBS cpu s100 1d dataset (8.64 M integer
// values, 1,000 keys) as one file; MB/s are of raw 16-byte values.
func BenchmarkWriteTSBS(b *testing.B) {
	ds := loadDataset(b, tsbsFile)
	dir := b.TempDir()
	b.ReportAllocs()
	b.SetBytes(int64(ds.values * rawValueBytes))
	var size int64
	for b.Loop() {
		path := filepath.Join(dir, "w.tsm")
		w, err := tsm.NewWriter(path)
		if err != nil {
			b.Fatalf("NewWriter: got error %v; want nil", err)
		}
		for _, c := range ds.cols {
			if err := w.WriteValues([]byte(c.series), []byte(c.field), c.arr); err != nil {
				b.Fatalf("WriteValues: got error %v; want nil", err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatalf("Close: got error %v; want nil", err)
		}
		size = w.Size()
	}
	b.ReportMetric(float64(ds.values)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
	b.ReportMetric(float64(size)/float64(ds.values), "B/value")
}

// BenchmarkDecodeBlock decodes one 1,000-value block per type.
func BenchmarkDecodeBlock(b *testing.B) {
	for _, typ := range allTypes {
		b.Run(typ.String(), func(b *testing.B) {
			blk, err := tsm.EncodeBlock(nil, genArray(typ, tsm.MaxPointsPerBlock, 1_767_225_600_000_000_000, 10_000_000_000, 1))
			if err != nil {
				b.Fatalf("EncodeBlock: got error %v; want nil", err)
			}
			var arr tsm.Array
			b.ReportAllocs()
			b.SetBytes(tsm.MaxPointsPerBlock * rawValueBytes)
			for b.Loop() {
				if err := tsm.DecodeBlock(blk, &arr); err != nil {
					b.Fatalf("DecodeBlock: got error %v; want nil", err)
				}
			}
			b.ReportMetric(float64(tsm.MaxPointsPerBlock)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
		})
	}
}

// tsbsReader writes the TSBS dataset once per benchmark and opens it.
func tsbsReader(b *testing.B) (*tsm.Reader, *dataset) {
	b.Helper()
	ds := loadDataset(b, tsbsFile)
	return mustOpen(b, writeFile(b, b.TempDir(), "tsbs.tsm", ds.cols)), ds
}

// BenchmarkAggregateTSBS computes window aggregates over every key of the
// TSBS file; values/s counts the values covered (scanned). With 1h windows
// most 1,000-value blocks (2.8 h) straddle a window edge and are decoded;
// with 1d windows every block is answered from its index statistics.
func BenchmarkAggregateTSBS(b *testing.B) {
	r, ds := tsbsReader(b)
	for _, every := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour} {
		b.Run(every.String(), func(b *testing.B) {
			keys := make([][2][]byte, len(ds.cols))
			for i, c := range ds.cols {
				keys[i] = [2][]byte{[]byte(c.series), []byte(c.field)}
			}
			var scratch tsm.Array
			var g tsm.Aggregator
			start := r.MinTime() - r.MinTime()%int64(every)
			b.ReportAllocs()
			b.SetBytes(int64(ds.values * rawValueBytes))
			for b.Loop() {
				for _, k := range keys {
					if err := g.Reset(models.FieldTypeInteger, start, r.MaxTime()+1, int64(every)); err != nil {
						b.Fatalf("Reset: got error %v; want nil", err)
					}
					if err := r.Aggregate(k[0], k[1], &g, nil, &scratch); err != nil {
						b.Fatalf("Aggregate: got error %v; want nil", err)
					}
				}
			}
			b.ReportMetric(float64(ds.values)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
		})
	}
}

// BenchmarkMergeTSBS merges the TSBS dataset split into parts files, either
// by time (adjacent ranges: partial blocks at each edge are re-blocked) or
// by interleaving (every other value in each of two files: all decoded).
func BenchmarkMergeTSBS(b *testing.B) {
	ds := loadDataset(b, tsbsFile)
	split := func(name string, parts int, pick func(i, n int) int) []*tsm.Reader {
		dir := b.TempDir()
		var readers []*tsm.Reader
		for p := range parts {
			var cols []column
			for _, c := range ds.cols {
				part := &tsm.Array{Type: c.arr.Type}
				for i := range c.arr.Len() {
					if pick(i, c.arr.Len()) == p {
						_ = part.Append(c.arr.Timestamps[i], c.arr.Value(i))
					}
				}
				cols = append(cols, column{c.series, c.field, part})
			}
			readers = append(readers, mustOpen(b, writeFile(b, dir, fmt.Sprintf("%s%d.tsm", name, p), cols)))
		}
		return readers
	}
	cases := []struct {
		name    string
		readers []*tsm.Reader
	}{
		{"time-4", split("t", 4, func(i, n int) int { return i * 4 / n })},
		{"interleaved-2", split("i", 2, func(i, _ int) int { return i % 2 })},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			out := filepath.Join(b.TempDir(), "m.tsm")
			b.ReportAllocs()
			b.SetBytes(int64(ds.values * rawValueBytes))
			for b.Loop() {
				w, err := tsm.NewWriter(out)
				if err != nil {
					b.Fatalf("NewWriter: got error %v; want nil", err)
				}
				if err := tsm.Merge(context.Background(), w, tc.readers, tsm.MergeOptions{}); err != nil {
					b.Fatalf("Merge: got error %v; want nil", err)
				}
				if err := w.Close(); err != nil {
					b.Fatalf("Close: got error %v; want nil", err)
				}
			}
			b.ReportMetric(float64(ds.values)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
		})
	}
}

// BenchmarkEntries looks up one key's index entries in the TSBS file.
func BenchmarkEntries(b *testing.B) {
	r, ds := tsbsReader(b)
	keys := make([][2][]byte, len(ds.cols))
	for i, c := range ds.cols {
		keys[i] = [2][]byte{[]byte(c.series), []byte(c.field)}
	}
	var dst []tsm.BlockMeta
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := keys[i%len(keys)]
		_, dst = r.AppendEntries(dst[:0], k[0], k[1])
		i++
	}
}

// sparseSeries and sparseFields shape the sparse benchmarks: a burst of
// new series (issue 17, a million hosts) where every (series, field) key
// holds one or two values, 1 M keys in all.
const sparseSeries = 100_000

var sparseFields = []string{
	"usage_guest", "usage_guest_nice", "usage_idle", "usage_iowait", "usage_irq",
	"usage_nice", "usage_softirq", "usage_steal", "usage_system", "usage_user",
}

// sparseColumns returns the sparse dataset in key order: integer keys of
// TSBS cpu series, one value each, two for every third series.
func sparseColumns() []column {
	cols := make([]column, 0, sparseSeries*len(sparseFields))
	const start = 1_767_225_600_000_000_000
	for s := range sparseSeries {
		series := fmt.Sprintf("cpu,arch=x64,datacenter=eu-west-1a,hostname=host_%07d,os=Ubuntu16.04LTS,rack=%d,region=eu-west-1,service=%d,service_environment=production,service_version=1,team=LON", s, s%100, s%20)
		n := 1 + s%3/2
		for f, field := range sparseFields {
			arr := &tsm.Array{Type: models.FieldTypeInteger}
			for i := range n {
				_ = arr.Append(start+int64(s)*1000+int64(i)*10_000_000_000, models.Value{Type: models.FieldTypeInteger, N: uint64(s*7 + f + i)})
			}
			cols = append(cols, column{series, field, arr})
		}
	}
	return cols
}

// BenchmarkWriteSparse writes the sparse dataset (1 M keys of one or two
// values) as one file, as a snapshot of a million new series does: the
// fields of a series pass the same key bytes (the cache's one string per
// series) to a Writer told so (StableKeys).
func BenchmarkWriteSparse(b *testing.B) {
	cols := sparseColumns()
	keys := make([][2][]byte, len(cols))
	for i, c := range cols {
		series := []byte(c.series)
		if i > 0 && cols[i-1].series == c.series {
			series = keys[i-1][0]
		}
		keys[i] = [2][]byte{series, []byte(c.field)}
	}
	path := filepath.Join(b.TempDir(), "w.tsm")
	b.ReportAllocs()
	var size, index int64
	cpu0 := processCPU()
	for b.Loop() {
		w, err := tsm.NewWriter(path)
		if err != nil {
			b.Fatalf("NewWriter: got error %v; want nil", err)
		}
		w.StableKeys()
		for i, c := range cols {
			if err := w.WriteValues(keys[i][0], keys[i][1], c.arr); err != nil {
				b.Fatalf("WriteValues: got error %v; want nil", err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatalf("Close: got error %v; want nil", err)
		}
		r, err := w.OpenReader()
		if err != nil {
			b.Fatalf("OpenReader: got error %v; want nil", err)
		}
		size, index = r.Size(), r.IndexSize()
		_ = r.Close()
	}
	reportCPU(b, cpu0, len(cols))
	b.ReportMetric(float64(size)/float64(len(cols)), "B/key")
	b.ReportMetric(float64(index)/float64(len(cols)), "index-B/key")
}

// BenchmarkWriteSnapshotSparse writes what one 25 MiB cache snapshot holds
// at a million hosts (issue 17): 42,000 TSBS cpu series of varied tags
// (strata bench's), ten integer fields each, one value per key. The keys
// are allocated in host order, as ingest creates them, and written in key
// order, so the Writer meets each series key in cold memory as a snapshot
// does. cpu-ns/key is the Writer's CPU per key, Close included.
func BenchmarkWriteSnapshotSparse(b *testing.B) {
	benchmarkWriteSnapshotSparse(b, func(w *tsm.Writer, series, field []byte, arr *tsm.Array) error {
		return w.WriteValues(series, field, arr)
	})
}

// BenchmarkWriteSnapshotSparseOne is BenchmarkWriteSnapshotSparse writing
// each key with WriteOneValue, as a snapshot does.
func BenchmarkWriteSnapshotSparseOne(b *testing.B) {
	benchmarkWriteSnapshotSparse(b, func(w *tsm.Writer, series, field []byte, arr *tsm.Array) error {
		return w.WriteOneValue(series, field, arr.Type, arr.Timestamps[0], uint64(arr.Integers[0]))
	})
}

// benchmarkWriteSnapshotSparse writes the keys of
// BenchmarkWriteSnapshotSparse with write.
func benchmarkWriteSnapshotSparse(b *testing.B, write func(w *tsm.Writer, series, field []byte, arr *tsm.Array) error) {
	const hosts = 42_000
	regions := [...]string{"ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "eu-central-1",
		"eu-west-1", "sa-east-1", "us-east-1", "us-west-1", "us-west-2"}
	rng := rand.New(rand.NewPCG(1, 2))
	series := make([][]byte, hosts)
	for h := range series {
		r := regions[rng.IntN(len(regions))]
		series[h] = fmt.Appendf(nil, "cpu,arch=%s,datacenter=%s%c,hostname=host_%d,os=%s,rack=%d,region=%s,"+
			"service=%d,service_environment=%s,service_version=%d,team=%s",
			[...]string{"x64", "x86"}[rng.IntN(2)], r, 'a'+rng.IntN(3), 420_000+h,
			[...]string{"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"}[rng.IntN(3)], rng.IntN(100), r,
			rng.IntN(20), [...]string{"production", "staging", "test"}[rng.IntN(3)], rng.IntN(2),
			[...]string{"SF", "NYC", "LON", "CHI"}[rng.IntN(4)])
	}
	slices.SortFunc(series, bytes.Compare)
	fields := make([][]byte, len(sparseFields))
	for i, f := range sparseFields {
		fields[i] = []byte(f)
	}
	arrs := make([]tsm.Array, hosts*len(fields))
	for i := range arrs {
		arrs[i] = tsm.Array{Type: models.FieldTypeInteger, Timestamps: []int64{1_767_225_600_000_000_000},
			Integers: []int64{int64(rng.IntN(101))}}
	}
	path := filepath.Join(b.TempDir(), "w.tsm")
	b.ReportAllocs()
	var size int64
	cpu0 := processCPU()
	for b.Loop() {
		w, err := tsm.NewWriter(path)
		if err != nil {
			b.Fatalf("NewWriter: got error %v; want nil", err)
		}
		w.StableKeys()
		for i := range arrs {
			if err := write(w, series[i/len(fields)], fields[i%len(fields)], &arrs[i]); err != nil {
				b.Fatalf("writing a key: got error %v; want nil", err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatalf("Close: got error %v; want nil", err)
		}
		size = w.Size()
	}
	reportCPU(b, cpu0, len(arrs))
	b.ReportMetric(float64(size)/float64(len(arrs)), "B/key")
}

// sparseReader writes the sparse dataset once per benchmark and opens it.
func sparseReader(b *testing.B) (*tsm.Reader, []column) {
	b.Helper()
	cols := sparseColumns()
	return mustOpen(b, writeFile(b, b.TempDir(), "sparse.tsm", cols)), cols
}

// BenchmarkCopySparse copies every key of the sparse file into a new one
// block by block, as a compaction does with keys only one input holds.
func BenchmarkCopySparse(b *testing.B) {
	r, cols := sparseReader(b)
	path := filepath.Join(b.TempDir(), "c.tsm")
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		w, err := tsm.NewWriter(path)
		if err != nil {
			b.Fatalf("NewWriter: got error %v; want nil", err)
		}
		it := r.Iterator()
		for it.Next() {
			for _, m := range it.Entries() {
				var raw []byte // an inline block is copied from its entry
				if !m.Inline() {
					var err error
					if raw, err = r.ReadBlock(m); err != nil {
						b.Fatalf("ReadBlock: got error %v; want nil", err)
					}
				}
				if err := w.WriteBlock(it.Series(), it.Field(), it.Type(), m, raw); err != nil {
					b.Fatalf("WriteBlock: got error %v; want nil", err)
				}
			}
		}
		if err := w.Close(); err != nil {
			b.Fatalf("Close: got error %v; want nil", err)
		}
	}
	reportCPU(b, cpu0, len(cols))
}

// BenchmarkCopyKeySparse copies every key of the sparse file into a new
// one with CopyKey, as a compaction does with keys only one input holds.
func BenchmarkCopyKeySparse(b *testing.B) {
	r, cols := sparseReader(b)
	path := filepath.Join(b.TempDir(), "c.tsm")
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		w, err := tsm.NewWriter(path)
		if err != nil {
			b.Fatalf("NewWriter: got error %v; want nil", err)
		}
		for it := r.Iterator(); it.Next(); {
			if err := w.CopyKey(it); err != nil {
				b.Fatalf("CopyKey: got error %v; want nil", err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatalf("Close: got error %v; want nil", err)
		}
	}
	reportCPU(b, cpu0, len(cols))
}

// BenchmarkReadSparse reads every key of the sparse file through the
// iterator and ReadArray, as a merge of overlapping keys or a digest does.
func BenchmarkReadSparse(b *testing.B) {
	r, cols := sparseReader(b)
	var arr tsm.Array
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		it := r.Iterator()
		for it.Next() {
			for _, m := range it.Entries() {
				if err := r.ReadArray(m, &arr); err != nil {
					b.Fatalf("ReadArray: got error %v; want nil", err)
				}
			}
		}
	}
	reportCPU(b, cpu0, len(cols))
}

// BenchmarkEntriesSparse looks up one key's index entries and values in
// the sparse file, as a query of one series does.
func BenchmarkEntriesSparse(b *testing.B) {
	r, cols := sparseReader(b)
	var dst []tsm.BlockMeta
	var arr tsm.Array
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := cols[(i*7919)%len(cols)]
		_, dst = r.AppendEntries(dst[:0], []byte(c.series), []byte(c.field))
		for _, m := range dst {
			if err := r.ReadArray(m, &arr); err != nil {
				b.Fatalf("ReadArray: got error %v; want nil", err)
			}
		}
		i++
	}
}

// reportCPU reports elapsed and CPU nanoseconds per key since cpu0.
func reportCPU(b *testing.B, cpu0 time.Duration, keys int) {
	n := float64(b.N * keys)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/key")
	b.ReportMetric(float64(processCPU()-cpu0)/n, "cpu-ns/key")
}
