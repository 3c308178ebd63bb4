package tsdb_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

func allTypeValues(i int) []models.Value {
	return []models.Value{
		models.FloatValue(float64(i) + 0.5),
		models.IntegerValue(int64(-i)),
		models.UnsignedValue(uint64(i) * 3),
		models.StringValue([]byte("s" + string(rune('a'+i%26)))),
		models.BooleanValue(i%2 == 0),
	}
}

var typeFields = []string{"f", "i", "u", "s", "b"}

func TestWriteReadAllTypesThroughEveryLayer(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	var want [5][]tv
	write := func(from, to int) {
		var pts []models.Point
		for i := from; i < to; i++ {
			for k, v := range allTypeValues(i) {
				pts = append(pts, pt("a", typeFields[k], int64(i)*10, v))
				want[k] = append(want[k], tv{int64(i) * 10, v})
			}
		}
		must(t, sh.WritePoints(context.Background(), pts), "write")
	}
	check := func(stage string) {
		t.Helper()
		for k, f := range typeFields {
			got := readAll(t, sh, seriesKey("a"), f, true)
			if !equalTV(got, want[k]) {
				t.Fatalf("%s: field %s ascending: got %v, want %v", stage, f, got, want[k])
			}
			desc := readAll(t, sh, seriesKey("a"), f, false)
			rev := slices.Clone(want[k])
			slices.Reverse(rev)
			if !equalTV(desc, rev) {
				t.Fatalf("%s: field %s descending: got %v, want %v", stage, f, desc, rev)
			}
		}
	}
	write(0, 50)
	check("cache")
	must(t, sh.Snapshot(), "snapshot")
	check("file")
	write(50, 100)
	check("file+cache")
	must(t, sh.Snapshot(), "snapshot")
	must(t, sh.Compact(true), "compact")
	check("compacted")
	got := readRange(t, sh, seriesKey("a"), "i", 200, 305, true)
	if len(got) != 11 || got[0].ts != 200 || got[10].ts != 300 {
		t.Fatalf("range [200,305]: got %v, want 11 values 200..300", got)
	}
}

// TestOverwriteNewerWins writes the same point twice at each stage and
// checks the newer value survives cache, snapshot, compaction and reopen.
func TestOverwriteNewerWins(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	st, sh := openShard(t, cfg)
	key := seriesKey("a")
	w := func(ts int64, v float64) {
		must(t, sh.WritePoints(context.Background(), []models.Point{pt("a", "v", ts, models.FloatValue(v))}), "write")
	}
	expect := func(stage string, want map[int64]float64) {
		t.Helper()
		got := readAll(t, sh, key, "v", true)
		if len(got) != len(want) {
			t.Fatalf("%s: got %v, want %v", stage, got, want)
		}
		for _, g := range got {
			if g.v.Float() != want[g.ts] {
				t.Fatalf("%s: at %d got %v, want %v", stage, g.ts, g.v.Float(), want[g.ts])
			}
		}
	}
	// Same batch: the later point wins.
	must(t, sh.WritePoints(context.Background(), []models.Point{pt("a", "v", 1, models.FloatValue(1)), pt("a", "v", 1, models.FloatValue(2))}), "write")
	w(2, 1)
	w(2, 2) // cache over cache
	expect("cache", map[int64]float64{1: 2, 2: 2})
	must(t, sh.Snapshot(), "snapshot")
	w(1, 3) // cache over file
	expect("cache over file", map[int64]float64{1: 3, 2: 2})
	must(t, sh.Snapshot(), "snapshot")
	expect("file over file", map[int64]float64{1: 3, 2: 2})
	w(2, 4)
	must(t, sh.Snapshot(), "snapshot")
	w(3, 5)
	must(t, sh.Snapshot(), "snapshot")
	must(t, sh.Compact(false), "level compaction")
	expect("level compaction", map[int64]float64{1: 3, 2: 4, 3: 5})
	w(3, 6)
	must(t, sh.Compact(true), "full compaction")
	expect("full compaction + cache", map[int64]float64{1: 3, 2: 4, 3: 6})
	must(t, st.Close(), "close")
	st2 := openStore(t, cfg)
	sh = st2.Shard(1)
	if sh == nil {
		t.Fatalf("shard 1 missing after reopen; got ids %v", st2.ShardIDs())
	}
	expect("reopen", map[int64]float64{1: 3, 2: 4, 3: 6})
}

func walSegments(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "1", "wal"))
	must(t, err, "read wal dir")
	n := 0
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".wal" {
			n++
		}
	}
	return n
}

func TestSnapshotRemovesWALSegmentsAndReplayRestoresCache(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.WAL.SegmentSize = 4096
	st, sh := openShard(t, cfg)
	for i := range 200 {
		must(t, sh.WritePoints(context.Background(), []models.Point{pt("a", "v", int64(i), models.IntegerValue(int64(i)))}), "write")
	}
	if n := walSegments(t, dir); n < 2 {
		t.Fatalf("wal segments before snapshot: got %d, want >= 2", n)
	}
	must(t, sh.Snapshot(), "snapshot")
	if n := walSegments(t, dir); n != 1 {
		t.Fatalf("wal segments after snapshot: got %d, want 1 (the active one)", n)
	}
	for i := 200; i < 300; i++ {
		must(t, sh.WritePoints(context.Background(), []models.Point{pt("a", "v", int64(i), models.IntegerValue(int64(i)))}), "write")
	}
	must(t, st.Close(), "close")
	sh = openStore(t, cfg).Shard(1)
	got := readAll(t, sh, seriesKey("a"), "v", true)
	if len(got) != 300 {
		t.Fatalf("values after reopen: got %d, want 300", len(got))
	}
	for i, g := range got {
		if g.ts != int64(i) || g.v.Integer() != int64(i) {
			t.Fatalf("value %d after reopen: got %v, want %d=%d", i, g, i, i)
		}
	}
}

func TestCacheHardLimit(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.CacheSnapshotSize = 1 << 10
	cfg.CacheMaxSize = 4 << 10
	_, sh := openShard(t, cfg)
	var pts []models.Point
	for i := range 1000 {
		pts = append(pts, pt("a", "v", int64(i), models.FloatValue(1)))
	}
	err := sh.WritePoints(context.Background(), pts)
	if !errors.Is(err, tsdb.ErrCacheFull) {
		t.Fatalf("oversize batch: got %v, want ErrCacheFull", err)
	}
	if got := readAll(t, sh, seriesKey("a"), "v", true); len(got) != 0 {
		t.Fatalf("rejected batch left %d values, want 0", len(got))
	}
	// Small batches keep going: a write that finds the cache full waits
	// for the snapshot it triggers.
	for i := range 50 {
		must(t, sh.WritePoints(context.Background(), pts[i*10:i*10+10]), "small write")
	}
	if got := readAll(t, sh, seriesKey("a"), "v", true); len(got) != 500 {
		t.Fatalf("after small writes: got %d values, want 500", len(got))
	}
}

func TestDeleteSeriesRangeWithLaterWrites(t *testing.T) {
	cfg := testConfig(t.TempDir())
	st, sh := openShard(t, cfg)
	for i := range 10 {
		must(t, sh.WritePoints(context.Background(), []models.Point{
			pt("a", "v", int64(i), models.IntegerValue(int64(i))),
			pt("b", "v", int64(i), models.IntegerValue(int64(i))),
		}), "write")
		if i == 4 {
			must(t, sh.Snapshot(), "snapshot")
		}
	}
	// 0-4 in a file, 5-9 in the cache; delete 3..6 of series a.
	must(t, sh.DeleteSeriesRange([][]byte{seriesKey("a")}, 3, 6), "delete")
	must(t, sh.WritePoints(context.Background(), []models.Point{pt("a", "v", 4, models.IntegerValue(40))}), "write after delete")
	want := []int64{0, 1, 2, 4, 7, 8, 9}
	check := func(stage string) {
		t.Helper()
		got := readAll(t, sh, seriesKey("a"), "v", true)
		var ts []int64
		for _, g := range got {
			ts = append(ts, g.ts)
			if g.ts == 4 && g.v.Integer() != 40 {
				t.Fatalf("%s: value at 4: got %d, want 40 (written after the delete)", stage, g.v.Integer())
			}
		}
		if !slices.Equal(ts, want) {
			t.Fatalf("%s: series a times: got %v, want %v", stage, ts, want)
		}
		if n := len(readAll(t, sh, seriesKey("b"), "v", true)); n != 10 {
			t.Fatalf("%s: series b: got %d values, want 10 (untouched)", stage, n)
		}
	}
	check("after delete")
	must(t, st.Close(), "close")
	st = openStore(t, cfg)
	sh = st.Shard(1)
	check("reopen (wal replay of the delete)")
	must(t, sh.Snapshot(), "snapshot")
	check("snapshot")
	must(t, sh.Compact(true), "full compaction")
	check("full compaction")
	must(t, sh.Compact(true), "second full compaction")
	check("second full compaction")
}

func TestCompactionLevelsKeepData(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	n := 0
	for f := range 9 {
		var pts []models.Point
		for i := range 100 {
			ts := int64(f*50 + i) // files overlap by half
			pts = append(pts, pt("h", "v", ts, models.IntegerValue(int64(f))))
		}
		must(t, sh.WritePoints(context.Background(), pts), "write")
		must(t, sh.Snapshot(), "snapshot")
		n++
	}
	before := readAll(t, sh, seriesKey("h"), "v", true)
	must(t, sh.Compact(false), "level compaction")
	after := readAll(t, sh, seriesKey("h"), "v", true)
	if !equalTV(before, after) {
		t.Fatalf("level compaction changed data: got %d values, want %d", len(after), len(before))
	}
	// The newest file wins on overlaps: ts 449 was last written by file 8.
	last := after[len(after)-1]
	if last.ts != 8*50+99 || last.v.Integer() != 8 {
		t.Fatalf("last value: got %v, want %d=8", last, 8*50+99)
	}
	if after[60].v.Integer() != 1 {
		t.Fatalf("value at 60 (files 0 and 1 overlap): got %d, want 1", after[60].v.Integer())
	}
	must(t, sh.Compact(true), "full compaction")
	if got := readAll(t, sh, seriesKey("h"), "v", true); !equalTV(before, got) {
		t.Fatalf("full compaction changed data: got %d values, want %d", len(got), len(before))
	}
}

func TestStoreLifecycle(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	st := openStore(t, cfg)
	for _, id := range []uint64{3, 1, 2} {
		must(t, st.CreateShard(id), "create")
	}
	must(t, st.CreateShard(2), "create again (idempotent)")
	if got := st.ShardIDs(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("ShardIDs: got %v, want [1 2 3]", got)
	}
	must(t, st.WriteToShard(context.Background(), 2, []models.Point{pt("a", "v", 1, models.FloatValue(1))}), "write")
	if err := st.WriteToShard(context.Background(), 9, nil); !errors.Is(err, tsdb.ErrShardNotFound) {
		t.Fatalf("write to missing shard: got %v, want ErrShardNotFound", err)
	}
	must(t, st.DeleteShard(3), "delete")
	if err := st.DeleteShard(3); !errors.Is(err, tsdb.ErrShardNotFound) {
		t.Fatalf("delete twice: got %v, want ErrShardNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "3")); !os.IsNotExist(err) {
		t.Fatalf("shard dir 3 after delete: stat err %v, want not-exist", err)
	}
	if st.DiskSize() <= 0 {
		t.Fatalf("DiskSize: got %d, want > 0", st.DiskSize())
	}
	must(t, st.Close(), "close")
	must(t, st.Close(), "close twice")
	if err := st.CreateShard(5); !errors.Is(err, tsdb.ErrStoreClosed) {
		t.Fatalf("create on closed store: got %v, want ErrStoreClosed", err)
	}
	st2 := openStore(t, cfg)
	if got := st2.ShardIDs(); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("ShardIDs after reopen: got %v, want [1 2]", got)
	}
	if got := readAll(t, st2.Shard(2), seriesKey("a"), "v", true); len(got) != 1 || got[0].v.Float() != 1 {
		t.Fatalf("shard 2 after reopen: got %v, want [1=1]", got)
	}
	sh := st2.Shard(1)
	must(t, st2.Close(), "close")
	if err := sh.WritePoints(context.Background(), []models.Point{pt("a", "v", 1, models.FloatValue(1))}); !errors.Is(err, tsdb.ErrEngineClosed) {
		t.Fatalf("write to closed shard: got %v, want ErrEngineClosed", err)
	}
	if _, err := sh.Cursor(seriesKey("a"), []byte("v"), 0, math.MaxInt64, true); !errors.Is(err, tsdb.ErrEngineClosed) {
		t.Fatalf("cursor on closed shard: got %v, want ErrEngineClosed", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*tsdb.Config)
		ok   bool
	}{
		{"defaults with dir", func(*tsdb.Config) {}, true},
		{"no dir", func(c *tsdb.Config) { c.Dir = "" }, false},
		{"max below snapshot", func(c *tsdb.Config) { c.CacheMaxSize = c.CacheSnapshotSize - 1 }, false},
		{"zero window", func(c *tsdb.Config) { c.DigestWindow = 0 }, false},
		{"zero buckets", func(c *tsdb.Config) { c.DigestSeriesBuckets = 0 }, false},
		{"bad wal", func(c *tsdb.Config) { c.WAL.SegmentSize = 1 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tsdb.NewConfig()
			c.Dir = "x"
			tc.mod(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate: got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestTwoStoresShareOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := tsdb.NewStore(testConfig(t.TempDir()), nil, reg)
	b := tsdb.NewStore(testConfig(t.TempDir()), nil, reg)
	must(t, a.Open(), "open a")
	defer a.Close()
	must(t, b.Open(), "open b")
	defer b.Close()
	must(t, a.CreateShard(1), "create a")
	must(t, b.CreateShard(1), "create b")
	must(t, a.WriteToShard(context.Background(), 1, []models.Point{pt("x", "v", 1, models.FloatValue(1))}), "write a")
	must(t, b.WriteToShard(context.Background(), 1, []models.Point{pt("x", "v", 1, models.FloatValue(1))}), "write b")
	mfs, err := reg.Gather()
	must(t, err, "gather")
	for _, mf := range mfs {
		if mf.GetName() == "strata_tsdb_values_written_total" {
			if got := mf.GetMetric()[0].GetCounter().GetValue(); got != 2 {
				t.Fatalf("values written across both stores: got %v, want 2", got)
			}
			return
		}
	}
	t.Fatalf("strata_tsdb_values_written_total not registered")
}
