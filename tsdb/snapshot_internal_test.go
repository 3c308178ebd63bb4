package tsdb

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// TestSnapshotParts: a cache that grew to several snapshot sizes is written
// as several level-1 files at once, of consecutive key ranges and
// sequences, installed together; a part that fails removes the parts
// written and keeps the cache readable, and the retry writes them all;
// the split marks ingest as outrunning the snapshots; reads and a reopen
// see every value, and the next snapshot takes the sequence after the
// parts.
func TestSnapshotParts(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	cfg := NewConfig()
	cfg.Dir = t.TempDir()
	cfg.CompactCheckInterval = 0
	cfg.CacheSnapshotSize = 64 << 10
	st := NewStore(cfg, nil, prometheus.NewRegistry())
	if err := st.Open(); err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer func() { _ = st.Close() }()
	if err := st.CreateShard(1); err != nil {
		t.Fatalf("create shard: %v", err)
	}
	sh := st.Shard(1)
	const n = 1000
	write := func(sh *Shard, from int) {
		t.Helper()
		pts := make([]models.Point, n)
		for i := range pts {
			p := tenFieldPoint([]byte("cpu"), int64(from+i))
			p.Tags = models.Tags{{Key: []byte("host"), Value: []byte(fmt.Sprint("h", from+i))}}
			pts[i] = p
		}
		if err := sh.WritePoints(context.Background(), pts); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	wantValues := func(sh *Shard, series int) {
		t.Helper()
		for i := range series {
			c, err := sh.Cursor([]byte(fmt.Sprint("cpu,host=h", i)), []byte("f7"), 0, 1<<40, true)
			if err != nil {
				t.Fatalf("cursor: %v", err)
			}
			if got := c.Len(); got != 1 {
				t.Fatalf("series h%d serves %d values of f7, want 1", i, got)
			}
			c.Close()
		}
	}
	// The second part cannot be created: the whole snapshot fails.
	sh.mu.RLock()
	seq := sh.nextSeq
	sh.mu.RUnlock()
	blocked := filepath.Join(sh.dir, dataFileName(seq+1, seq+1, 1)+".tmp")
	if err := os.Mkdir(blocked, 0o755); err != nil {
		t.Fatal(err)
	}
	write(sh, 0) // past twice the snapshot size in one batch
	sh.mu.RLock()
	size := sh.cacheBytes() // the background snapshot may have swapped it out
	sh.mu.RUnlock()
	if size < 2*cfg.CacheSnapshotSize {
		t.Fatalf("cache holds %d bytes; the test needs at least %d", size, 2*cfg.CacheSnapshotSize)
	}
	if err := sh.Snapshot(); err == nil {
		t.Fatal("snapshot with a part that cannot be created succeeded")
	}
	sh.snapMu.Lock() // the background goroutine's attempt may be under way
	left, _ := filepath.Glob(filepath.Join(sh.dir, "*.tsm"))
	sh.snapMu.Unlock()
	if len(left) != 0 {
		t.Fatalf("a failed snapshot left %v", left)
	}
	wantValues(sh, n)
	if err := os.Remove(blocked); err != nil {
		t.Fatal(err)
	}
	if err := sh.Snapshot(); err != nil {
		t.Fatalf("retried snapshot: %v", err)
	}
	sh.mu.RLock()
	files, next := slices.Clone(sh.files), sh.nextSeq
	sh.mu.RUnlock()
	if len(files) != 2 || files[0].seq != seq || files[1].seq != seq+1 || next != seq+2 {
		t.Fatalf("snapshot wrote %d files, next sequence %d; want sequences %d and %d, next %d", len(files), next, seq, seq+1, seq+2)
	}
	if sh.lastBehind.Load() == 0 {
		t.Fatal("a snapshot split into parts did not mark ingest as outrunning the snapshots (sparse runs would merge during the burst)")
	}
	var last []byte
	for _, f := range files {
		if f.r.SeriesCount() < n/4 {
			t.Fatalf("%s holds %d of %d series; want the series cut in halves", f.path, f.r.SeriesCount(), n)
		}
		for key := range f.r.SeriesKeys() {
			if bytes.Compare(key, last) <= 0 {
				t.Fatalf("%s: series %q after %q: the parts' key ranges overlap or are out of order", f.path, key, last)
			}
			last = append(last[:0], key...)
		}
	}
	wantValues(sh, n)

	// A reopen opens both parts; the next snapshot follows them.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = NewStore(cfg, nil, prometheus.NewRegistry())
	if err := st.Open(); err != nil {
		t.Fatalf("reopen store: %v", err)
	}
	sh = st.Shard(1)
	wantValues(sh, n)
	sh.mu.RLock()
	next = sh.nextSeq
	sh.mu.RUnlock()
	if next != seq+2 {
		t.Fatalf("reopened shard's next sequence is %d, want %d", next, seq+2)
	}
}

// TestSnapshotPartsCount: a snapshot is one file per snapshot size its
// cache holds, bounded by the processors and maxSnapshotParts, and never
// fewer than one.
func TestSnapshotPartsCount(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, tc := range []struct {
		size, snapshot int64
		want           int
	}{
		{0, 100, 1}, {100, 100, 1}, {199, 100, 1}, {200, 100, 2}, {1000, 100, 2},
	} {
		if got := snapshotParts(tc.size, tc.snapshot); got != tc.want {
			t.Errorf("snapshotParts(%d, %d) with 2 processors = %d, want %d", tc.size, tc.snapshot, got, tc.want)
		}
	}
	runtime.GOMAXPROCS(16)
	if got := snapshotParts(1000, 100); got != maxSnapshotParts {
		t.Errorf("snapshotParts(1000, 100) with 16 processors = %d, want %d", got, maxSnapshotParts)
	}
	runtime.GOMAXPROCS(1)
	if got := snapshotParts(1000, 100); got != 1 {
		t.Errorf("snapshotParts(1000, 100) with 1 processor = %d, want 1", got)
	}
}

// newSparseTSBSCache returns a cache of n new TSBS-like series of ten
// integer fields with one value each, created in host order: their keys
// (arch and datacenter before hostname) sort them apart from it, so a walk
// in key order reads the cache in random memory order, as a snapshot at a
// million series does (issue 17).
func newSparseTSBSCache(n int) *cache {
	rng := rand.New(rand.NewPCG(1, 2))
	c := newCache()
	p := models.Point{Time: 1}
	for i, f := range []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"} {
		p.Fields = append(p.Fields, models.Field{Key: []byte(f), Value: models.IntegerValue(int64(i))})
	}
	for i := range n {
		key := fmt.Sprintf("cpu,arch=x%d,datacenter=eu-central-1%c,hostname=host_%d,os=Ubuntu16.10,rack=%d,region=eu-central-1,service=%d,service_environment=test,service_version=1,team=NYC",
			rng.IntN(3), 'a'+rng.IntN(10), i, rng.IntN(100), rng.IntN(20))
		c.writePoint(cacheRef{}, seriesHash([]byte(key)), []byte(key), &p)
	}
	return c
}

// BenchmarkSnapshotWalk is a snapshot's walk of 400,000 new TSBS-like
// series (newSparseTSBSCache) feeding a data file writer, as at a million
// series (issue 17). cpu-ns/series is the process's CPU time.
func BenchmarkSnapshotWalk(b *testing.B) {
	const n = 400_000
	c := newSparseTSBSCache(n)
	series := c.sorted()
	path := filepath.Join(b.TempDir(), "snap.tsm")
	runtime.GC()
	cpu0 := processCPU(b)
	for b.Loop() {
		w, err := tsm.NewWriter(path)
		if err != nil {
			b.Fatal(err)
		}
		w.StableKeys()
		if err := series.forEach(w.WriteValues); err != nil {
			b.Fatal(err)
		}
		if err := w.Remove(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N)/n, "cpu-ns/series")
}

// BenchmarkSnapshotFile writes a snapshot the size of those of the
// million-series load (issue 17): 50,000 new TSBS-like series
// (newSparseTSBSCache) to a level-1 file and its digest file (sort, walk,
// writers). cpu-ns/key is the process's CPU time a key.
func BenchmarkSnapshotFile(b *testing.B) {
	const n = 50_000
	cfg := NewConfig()
	cfg.Dir = b.TempDir()
	cfg.CompactCheckInterval = 0
	sh := openTestShard(b, cfg)
	c := newSparseTSBSCache(n)
	runtime.GC()
	cpu0 := processCPU(b)
	seq := uint64(1000)
	for b.Loop() {
		files, err := sh.writeSnapshot(&snapState{c: c, seq: seq, parts: 1})
		if err != nil {
			b.Fatal(err)
		}
		seq++
		for _, f := range files {
			f.obsolete.Store(true)
			f.release()
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N)/(10*n), "cpu-ns/key")
}
