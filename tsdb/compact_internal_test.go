package tsdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// TestTombstonesSettledOnlyAfterInputsDeleted checks that a full
// compaction marks the tombstones it applied as applied (kept for the
// retention), but not while a reader still holds (so keeps on disk) an
// input file that the tombstones concern.
func TestTombstonesSettledOnlyAfterInputsDeleted(t *testing.T) {
	cfg := NewConfig()
	cfg.Dir = t.TempDir()
	cfg.CompactCheckInterval = 0
	sh := openTestShard(t, cfg)
	key := []byte("m,t=a")
	p := models.Point{Measurement: []byte("m"), Tags: models.Tags{{Key: []byte("t"), Value: []byte("a")}},
		Fields: []models.Field{{Key: []byte("v"), Value: models.IntegerValue(1)}}}
	for ts := range int64(3) {
		p.Time = ts
		if err := sh.WritePoints(context.Background(), []models.Point{p}); err != nil {
			t.Fatalf("write: %v", err)
		}
		if err := sh.Snapshot(); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
	}
	if err := sh.DeleteSeriesRange([][]byte{key}, 1, 1); err != nil {
		t.Fatalf("delete: %v", err)
	}
	rs, err := sh.acquireRead() // a reader pins the current files
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	if err := sh.Compact(true); err != nil {
		t.Fatalf("compact: %v", err)
	}
	if ts := sh.Tombstones(); len(ts) != 1 || ts[0].Applied {
		t.Fatalf("tombstones while an input is pinned: got %+v, want one, not applied", ts)
	}
	rs.release()
	if err := sh.Compact(true); err != nil {
		t.Fatalf("compact again: %v", err)
	}
	ts := sh.Tombstones()
	if len(ts) != 1 || !ts[0].Applied || ts[0].Created == 0 || string(ts[0].SeriesKey) != string(key) {
		t.Fatalf("tombstones after inputs are gone: got %+v, want one, applied, kept for the retention", ts)
	}
	// An applied tombstone no longer triggers full compactions.
	before := sh.files[0]
	if err := sh.Compact(true); err != nil {
		t.Fatalf("compact a third time: %v", err)
	}
	if sh.files[0] != before {
		t.Fatalf("full compaction rewrote a single file with only applied tombstones")
	}
	c, err := sh.Cursor(key, []byte("v"), 0, 10, true)
	if err != nil {
		t.Fatalf("cursor: %v", err)
	}
	var got []int64
	for {
		ts, _, ok := c.Next()
		if !ok {
			break
		}
		got = append(got, ts)
	}
	if len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Fatalf("times after delete and compactions: got %v, want [0 2]", got)
	}
}

// TestCrashLeftoverCompactionInputsRemoved simulates a crash after a
// compaction output was renamed into place but before its inputs were
// deleted: on reopen the inputs are recognised by their sequence ranges and
// removed, so a later compaction cannot produce a second file of the same
// name (which would then be deleted as obsolete, losing data).
func TestCrashLeftoverCompactionInputsRemoved(t *testing.T) {
	cfg := NewConfig()
	cfg.Dir = t.TempDir()
	cfg.CompactCheckInterval = 0
	st := NewStore(cfg, nil, prometheus.NewRegistry())
	if err := st.Open(); err != nil {
		t.Fatalf("open: %v", err)
	}
	if err := st.CreateShard(1); err != nil {
		t.Fatalf("create: %v", err)
	}
	sh := st.Shard(1)
	key := []byte("m,t=a")
	write := func(ts int64) {
		p := models.Point{Measurement: []byte("m"), Tags: models.Tags{{Key: []byte("t"), Value: []byte("a")}},
			Fields: []models.Field{{Key: []byte("v"), Value: models.IntegerValue(ts)}}, Time: ts}
		if err := sh.WritePoints(context.Background(), []models.Point{p}); err != nil {
			t.Fatalf("write: %v", err)
		}
		if err := sh.Snapshot(); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
	}
	for ts := range int64(4) {
		write(ts)
	}
	// Keep copies of the level-1 inputs, as a crash before their removal would.
	var saved []string
	for _, f := range sh.files {
		if err := os.Link(f.path, f.path+".keep"); err != nil {
			t.Fatalf("link: %v", err)
		}
		saved = append(saved, f.path)
	}
	if err := sh.Compact(false); err != nil {
		t.Fatalf("compact: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, p := range saved {
		if err := os.Rename(p+".keep", p); err != nil {
			t.Fatalf("restore input: %v", err)
		}
	}
	st = NewStore(cfg, nil, prometheus.NewRegistry())
	if err := st.Open(); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st.Close()
	sh = st.Shard(1)
	if len(sh.files) != 1 || sh.files[0].level != 2 {
		t.Fatalf("files after reopen: got %d (first level %d), want the one level-2 output", len(sh.files), sh.files[0].level)
	}
	for _, p := range saved {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("leftover input %s: stat err %v, want not-exist", p, err)
		}
	}
	for ts := int64(4); ts < 8; ts++ {
		write(ts)
	}
	if err := sh.Compact(true); err != nil {
		t.Fatalf("full compaction: %v", err)
	}
	c, err := sh.Cursor(key, []byte("v"), 0, 100, true)
	if err != nil {
		t.Fatalf("cursor: %v", err)
	}
	if c.Len() != 8 {
		t.Fatalf("values after reopen and compaction: got %d, want 8", c.Len())
	}
}

// TestMergeBufsReuse merges random sorted arrays (following, overlapping,
// overwriting, of another type, empty) many times with one mergeBufs and
// checks each result against a map-based merge, and that no input changes,
// not even past its length (inputs are windows of one shared array).
func TestMergeBufsReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var bufs mergeBufs
	for round := range 500 {
		n := rng.IntN(5)
		// All inputs are windows of one backing array: writing past an
		// input's length would change the next input.
		var backing tsm.Array
		backing.Type = models.FieldTypeString
		type span struct{ lo, hi int }
		spans := make([]span, n)
		types := make([]models.FieldType, n)
		base := int64(rng.IntN(100))
		for i := range spans {
			lo := backing.Len()
			ts := base + int64(rng.IntN(50)) - 25
			if rng.IntN(2) == 0 {
				base += 30 // the next input follows this one
			}
			for range rng.IntN(20) {
				ts += 1 + int64(rng.IntN(3))
				backing.Timestamps = append(backing.Timestamps, ts)
				backing.Strings = append(backing.Strings, []byte(fmt.Sprintf("r%d-%d-%d", round, i, ts)))
			}
			spans[i] = span{lo, backing.Len()}
			types[i] = models.FieldTypeString
			if rng.IntN(8) == 0 {
				types[i] = models.FieldTypeInteger // an older type: skipped unless newest
			}
		}
		arrs := make([]tsm.Array, n)
		want := map[int64]string{}
		wantType := models.FieldTypeUnknown
		for i := n - 1; i >= 0; i-- {
			if spans[i].hi > spans[i].lo {
				wantType = types[i]
				break
			}
		}
		for i, s := range spans {
			a := backing.Slice(s.lo, s.hi)
			if types[i] == models.FieldTypeInteger {
				a = tsm.Array{Type: models.FieldTypeInteger, Timestamps: a.Timestamps[:len(a.Timestamps):len(a.Timestamps)]}
				for range a.Timestamps {
					a.Integers = append(a.Integers, int64(i))
				}
			}
			arrs[i] = a
			if types[i] == wantType {
				for j, ts := range a.Timestamps {
					if wantType == models.FieldTypeString {
						want[ts] = string(a.Strings[j])
					} else {
						want[ts] = strconv.FormatInt(a.Integers[j], 10)
					}
				}
			}
		}
		var before tsm.Array
		before.Reset(backing.Type)
		appendShared(&before, &backing)
		got := bufs.merge(arrs)
		if len(want) > 0 && got.Type != wantType || got.Len() != len(want) {
			t.Fatalf("round %d: got %d values of %s, want %d of %s", round, got.Len(), got.Type, len(want), wantType)
		}
		for j, ts := range got.Timestamps {
			v := ""
			if got.Type == models.FieldTypeString {
				v = string(got.Strings[j])
			} else {
				v = strconv.FormatInt(got.Integers[j], 10)
			}
			if w, ok := want[ts]; !ok || w != v || j > 0 && got.Timestamps[j-1] >= ts {
				t.Fatalf("round %d: value %d at %d = %q, want %q (present %v), ascending", round, j, ts, v, w, ok)
			}
		}
		for j := range backing.Timestamps {
			if backing.Timestamps[j] != before.Timestamps[j] || string(backing.Strings[j]) != string(before.Strings[j]) {
				t.Fatalf("round %d: input value %d changed by the merge", round, j)
			}
		}
	}
}

// planTestShard returns the directory of shard 1 of a store without
// background compaction, in which a test writes level-1 files, and open,
// which opens the store and returns it and the shard.
func planTestShard(t *testing.T) (shardDir string, open func() (*Store, *Shard)) {
	t.Helper()
	cfg := NewConfig()
	cfg.Dir = t.TempDir()
	cfg.CompactCheckInterval = 0
	shardDir = filepath.Join(cfg.Dir, "1")
	if err := os.MkdirAll(shardDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return shardDir, func() (*Store, *Shard) {
		st := NewStore(cfg, nil, prometheus.NewRegistry())
		if err := st.Open(); err != nil {
			t.Fatalf("open: %v", err)
		}
		return st, st.Shard(1)
	}
}

// TestPlanSparseLevelRuns checks the planner's rule for level-1 files of
// many keys of few values (a burst of new series): such a run waits until
// it is sparseLevelRun files long (sparseMaxRun while ingest outruns the
// snapshots), or the shard has been idle for sparseIdle, and is then
// merged whole; dense files are still merged in runs of levelRun.
func TestPlanSparseLevelRuns(t *testing.T) {
	shardDir, open := planTestShard(t)
	// writeL1 writes the level-1 file of sequence seq: keys of one value
	// each, or of sparseValuesPerKey values (dense).
	writeL1 := func(seq uint64, keys, values int) { writeLevel1(t, shardDir, seq, keys, values) }
	// Four dense files, then sparseLevelRun-1 sparse ones.
	for seq := uint64(1); seq <= 4; seq++ {
		writeL1(seq, 10, sparseValuesPerKey)
	}
	for seq := uint64(5); seq < 5+sparseLevelRun-1; seq++ {
		writeL1(seq, sparseMinKeys, 1)
	}
	st, sh := open()
	inputs, level := sh.planLevel()
	if len(inputs) != 4 || inputs[0].seq != 1 || level != 2 || sparse(inputs[0]) {
		t.Fatalf("first plan: %d inputs from seq %d to level %d; want the 4 dense files to level 2", len(inputs), inputs[0].seq, level)
	}
	if err := sh.compact(inputs, level, false); err != nil {
		t.Fatalf("compact: %v", err)
	}
	if inputs, _ := sh.planLevel(); inputs != nil {
		t.Fatalf("plan with %d sparse files: got %d inputs from seq %d; want none", sparseLevelRun-1, len(inputs), inputs[0].seq)
	}
	sh.lastWrite.Store(time.Now().Add(-sparseIdle).UnixNano())
	if inputs, _ := sh.planLevel(); len(inputs) != sparseLevelRun-1 {
		t.Fatalf("plan with %d sparse files, shard idle: got %d inputs; want all of them", sparseLevelRun-1, len(inputs))
	}
	sh.lastWrite.Store(time.Now().UnixNano())
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Two more: the run is full and merges sparseLevelRun files (the last
	// waits for the next run). The files opened through the list of
	// validated files (not walked) are sparse still: the list gives their
	// value counts.
	writeL1(5+sparseLevelRun-1, sparseMinKeys, 1)
	writeL1(5+sparseLevelRun, sparseMinKeys, 1)
	st, sh = open()
	defer st.Close()
	// Ingest outrunning the snapshots holds the run back until it is
	// sparseMaxRun long; then it merges whole.
	sh.lastBehind.Store(time.Now().UnixNano())
	if inputs, _ := sh.planLevel(); inputs != nil {
		t.Fatalf("plan with %d sparse files, ingest behind: got %d inputs; want none", sparseLevelRun+1, len(inputs))
	}
	sh.lastBehind.Store(time.Now().Add(-sparseHot).UnixNano())
	inputs, level = sh.planLevel()
	if len(inputs) != sparseLevelRun+1 || inputs[0].seq != 5 || level != 2 {
		t.Fatalf("plan with %d sparse files: got %d inputs from seq %d to level %d; want all from seq 5 to level 2",
			sparseLevelRun+1, len(inputs), inputs[0].seq, level)
	}
}

// writeLevel1 writes the level-1 file of sequence seq in dir: keys keys of
// values values each.
func writeLevel1(t *testing.T, dir string, seq uint64, keys, values int) {
	t.Helper()
	w, err := tsm.NewWriter(filepath.Join(dir, dataFileName(seq, seq, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		var a tsm.Array
		for v := range values {
			if err := a.Append(int64(seq)*100+int64(v), models.IntegerValue(int64(k))); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteValues([]byte(fmt.Sprintf("m,host=h%06d", k)), []byte("v"), &a); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPlanMediumLevelRuns checks the planner's rule for medium-sparse
// level-1 files (many keys of sparseValuesPerKey to mediumValuesPerKey
// values, the snapshots of ten thousand series): such a run waits until it
// is mediumLevelRun files long or the shard has been idle for sparseIdle,
// and merges at most mediumLevelRun files into level 3; a file of mediumValuesPerKey
// values a key is dense and merges in runs of levelRun.
func TestPlanMediumLevelRuns(t *testing.T) {
	shardDir, open := planTestShard(t)
	for seq := uint64(1); seq < mediumLevelRun; seq++ {
		writeLevel1(t, shardDir, seq, sparseMinKeys, sparseValuesPerKey)
	}
	st, sh := open()
	if c := sizeClass(sh.files[0]); c != classMedium {
		t.Fatalf("file of %d values a key: class %d; want medium", sparseValuesPerKey, c)
	}
	if inputs, _ := sh.planLevel(); inputs != nil {
		t.Fatalf("plan with %d medium files: got %d inputs from seq %d; want none", mediumLevelRun-1, len(inputs), inputs[0].seq)
	}
	sh.lastWrite.Store(time.Now().Add(-sparseIdle).UnixNano())
	if inputs, level := sh.planLevel(); len(inputs) != mediumLevelRun-1 || level != 3 {
		t.Fatalf("plan with %d medium files, shard idle: got %d inputs to level %d; want all of them to level 3", mediumLevelRun-1, len(inputs), level)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Two more: the run merges mediumLevelRun files (the last waits).
	writeLevel1(t, shardDir, mediumLevelRun, sparseMinKeys, sparseValuesPerKey)
	writeLevel1(t, shardDir, mediumLevelRun+1, sparseMinKeys, sparseValuesPerKey)
	st, sh = open()
	inputs, level := sh.planLevel()
	if len(inputs) != mediumLevelRun || inputs[0].seq != 1 || level != 3 {
		t.Fatalf("plan with %d medium files: got %d inputs from seq %d to level %d; want %d from seq 1 to level 3",
			mediumLevelRun+1, len(inputs), inputs[0].seq, level, mediumLevelRun)
	}
	if err := sh.compact(inputs, level, false); err != nil {
		t.Fatalf("compact: %v", err)
	}
	// Files of mediumValuesPerKey values a key merge in runs of levelRun.
	for seq := uint64(mediumLevelRun + 2); seq < mediumLevelRun+2+levelRun; seq++ {
		writeLevel1(t, shardDir, seq, sparseMinKeys, mediumValuesPerKey)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, sh = open()
	defer st.Close()
	inputs, level = sh.planLevel()
	if len(inputs) != levelRun || inputs[0].seq != mediumLevelRun+2 || level != 2 {
		t.Fatalf("plan with %d dense files after a medium one: got %d inputs from seq %d to level %d; want the dense ones to level 2",
			levelRun, len(inputs), inputs[0].seq, level)
	}
}

// TestPlanAlternatingClasses checks that level-1 files whose size classes
// alternate, so that no run of one class grows, are merged once
// sparseMaxRun of them are adjacent, even while ingest outruns the
// snapshots.
func TestPlanAlternatingClasses(t *testing.T) {
	shardDir, open := planTestShard(t)
	write := func(seq uint64) {
		if seq%2 == 0 {
			writeLevel1(t, shardDir, seq, sparseMinKeys, 1) // sparse
		} else {
			writeLevel1(t, shardDir, seq, 10, 1) // dense
		}
	}
	for seq := uint64(1); seq < sparseMaxRun; seq++ {
		write(seq)
	}
	st, sh := open()
	sh.lastBehind.Store(time.Now().UnixNano())
	if inputs, _ := sh.planLevel(); inputs != nil {
		t.Fatalf("plan with %d alternating files: got %d inputs; want none", sparseMaxRun-1, len(inputs))
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	write(sparseMaxRun)
	write(sparseMaxRun + 1)
	st, sh = open()
	defer st.Close()
	sh.lastBehind.Store(time.Now().UnixNano())
	inputs, level := sh.planLevel()
	if len(inputs) != sparseMaxRun || inputs[0].seq != 1 || level != 2 {
		t.Fatalf("plan with %d alternating files: got %d inputs to level %d; want the first %d to level 2",
			sparseMaxRun+1, len(inputs), level, sparseMaxRun)
	}
}

// TestSparseRunsBounded checks that a shard that never goes idle while a
// burst of new series snapshots to sparse level-1 files, its ingest
// outrunning the snapshots all along, keeps their count bounded: after each
// planner step fewer than sparseMaxRun level-1 files remain.
func TestSparseRunsBounded(t *testing.T) {
	cfg := NewConfig()
	cfg.Dir = t.TempDir()
	cfg.CompactCheckInterval = 0
	cfg.CompactThroughput = 0
	sh := openTestShard(t, cfg)
	host := 0
	// snapshot installs a level-1 file of sparseMinKeys new series of one
	// value, as a snapshot during the burst would.
	snapshot := func() {
		sh.mu.Lock()
		id := fileID{minSeq: sh.nextSeq, seq: sh.nextSeq, level: 1}
		sh.nextSeq++
		sh.mu.Unlock()
		w, err := tsm.NewWriter(filepath.Join(sh.dir, dataFileName(id.minSeq, id.seq, id.level)))
		if err != nil {
			t.Fatal(err)
		}
		for range sparseMinKeys {
			var a tsm.Array
			if err := a.Append(int64(id.seq), models.FloatValue(1)); err != nil {
				t.Fatal(err)
			}
			if err := w.WriteValues(fmt.Appendf(nil, "m,host=h%08d", host), []byte("v"), &a); err != nil {
				t.Fatal(err)
			}
			host++
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := openWrittenFile(w, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := sh.replaceFiles(nil, []*dataFile{f}); err != nil {
			t.Fatal(err)
		}
		sh.lastWrite.Store(time.Now().UnixNano())
		sh.lastBehind.Store(time.Now().UnixNano())
	}
	levels := func() map[int]int {
		sh.mu.RLock()
		defer sh.mu.RUnlock()
		n := map[int]int{}
		for _, f := range sh.files {
			n[f.level]++
		}
		return n
	}
	for i := range sparseMaxRun + 1 {
		snapshot()
		for {
			inputs, level := sh.planLevel()
			if inputs == nil {
				break
			}
			if err := sh.compact(inputs, level, false); err != nil {
				t.Fatal(err)
			}
		}
		if n := levels(); n[1] >= sparseMaxRun {
			t.Fatalf("after %d snapshots: files by level %v; want fewer than %d at level 1", i+1, n, sparseMaxRun)
		}
	}
	if n := levels(); n[1] != 1 || n[2] != 1 {
		t.Fatalf("files by level %v; want one run merged into level 2 and one level-1 file", n)
	}
}

// TestIngestBehindSnapshots checks what marks ingest as outrunning the
// snapshots (sparseHot): a write that leaves the live cache full while a
// snapshot is being written does; one that fills it with no snapshot
// running does not.
func TestIngestBehindSnapshots(t *testing.T) {
	cfg := NewConfig()
	cfg.Dir = t.TempDir()
	cfg.CompactCheckInterval = 0
	cfg.CacheSnapshotSize = 1 << 10
	sh := openTestShard(t, cfg)
	// Hold the snapshot lock so that the snapshot the full cache requests
	// waits, and the test decides whether one is being written.
	sh.snapMu.Lock()
	defer sh.snapMu.Unlock()
	write := func(n int) {
		var pts []models.Point
		for i := range n {
			pts = append(pts, models.Point{Measurement: []byte("m"), Time: int64(i + 1),
				Fields: []models.Field{{Key: []byte("v"), Value: models.FloatValue(1)}}})
		}
		if err := sh.WritePoints(context.Background(), pts); err != nil {
			t.Fatal(err)
		}
	}
	write(100)
	if sh.lastBehind.Load() != 0 {
		t.Fatal("a write that filled the cache with no snapshot running marked ingest behind")
	}
	sh.mu.Lock()
	sh.snap = &snapState{c: newCache(), seq: sh.nextSeq}
	sh.mu.Unlock()
	write(100)
	sh.mu.Lock()
	sh.snap = nil
	sh.mu.Unlock()
	if time.Since(time.Unix(0, sh.lastBehind.Load())) > time.Minute {
		t.Fatal("a write that left the cache full during a snapshot did not mark ingest behind")
	}
}

// TestSparseBurstMarked checks what marks a burst of new series
// (sparseHot) at the snapshots: a snapshot of sparse files whose cache
// filled within sparseBurstFill of the previous snapshot does; the first
// snapshot, a slow one and one of dense files do not. The planner then
// holds a sparse run back as when ingest outruns the snapshots.
func TestSparseBurstMarked(t *testing.T) {
	cfg := NewConfig()
	cfg.Dir = t.TempDir()
	cfg.CompactCheckInterval = 0
	cfg.CompactThroughput = 0
	sh := openTestShard(t, cfg)
	host := 0
	// write writes series new series of values values each, and snapshots.
	write := func(series, values int) {
		t.Helper()
		var pts []models.Point
		for range series {
			for v := range values {
				pts = append(pts, models.Point{Measurement: []byte("m"), Time: int64(v + 1),
					Tags:   models.Tags{{Key: []byte("host"), Value: fmt.Appendf(nil, "h%08d", host)}},
					Fields: []models.Field{{Key: []byte("v"), Value: models.FloatValue(1)}}})
			}
			host++
		}
		for i := 0; i < len(pts); i += 5000 {
			if err := sh.WritePoints(context.Background(), pts[i:min(i+5000, len(pts))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := sh.Snapshot(); err != nil {
			t.Fatal(err)
		}
	}
	write(sparseMinKeys, 1)
	if sh.lastBurst.Load() != 0 {
		t.Fatal("the first snapshot marked a burst")
	}
	write(10, sparseValuesPerKey) // dense, right after
	if sh.lastBurst.Load() != 0 {
		t.Fatal("a dense snapshot marked a burst")
	}
	sh.snapMu.Lock()
	sh.snapEnded = time.Now().Add(-sparseBurstFill)
	sh.snapMu.Unlock()
	write(sparseMinKeys, 1) // sparse, its cache filled slowly
	if sh.lastBurst.Load() != 0 {
		t.Fatal("a sparse snapshot of a cache that filled slowly marked a burst")
	}
	write(sparseMinKeys, 1) // sparse, right after
	if time.Since(time.Unix(0, sh.lastBurst.Load())) > time.Minute {
		t.Fatal("a sparse snapshot right after the last one did not mark a burst")
	}
	if sh.lastBehind.Load() != 0 {
		t.Fatal("the test's writes marked ingest behind; the burst mark is not what it checks")
	}
	for range sparseLevelRun - 2 { // a full sparse run
		write(sparseMinKeys, 1)
	}
	if inputs, _ := sh.planLevel(); inputs != nil {
		t.Fatalf("plan during a burst: %d inputs; want the sparse run held back", len(inputs))
	}
	sh.lastBurst.Store(time.Now().Add(-sparseHot).UnixNano())
	if inputs, _ := sh.planLevel(); len(inputs) != sparseLevelRun {
		t.Fatalf("plan once the burst is over: %d inputs; want the %d sparse files", len(inputs), sparseLevelRun)
	}
}
