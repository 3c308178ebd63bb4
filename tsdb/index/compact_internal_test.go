package index

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// mustCreate indexes lp, failing on conflicts or errors, and waits for
// the background snapshot it may have started, so tests see its files.
func mustCreate(t testing.TB, ix *Index, lp string) {
	t.Helper()
	var p models.Parser
	pts, err := p.Parse([]byte(lp), 1, 1)
	if err != nil {
		t.Fatalf("parse %q: %v", lp, err)
	}
	ids := make([]uint64, len(pts))
	if c, err := ix.CreateSeriesAndFields(pts, ids); err != nil || len(c) != 0 {
		t.Fatalf("create %q: conflicts %v, error %v", lp, c, err)
	}
	ix.compactions.Wait()
}

// state renders the index's whole content for comparisons.
func state(ix *Index) string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, "next=%d live=%d\n", ix.nextID, ix.series.live)
	for id := uint32(1); id < uint32(len(ix.series.locs)); id++ {
		if k := ix.series.key(id); k != nil {
			fmt.Fprintf(&b, "%d %s\n", id, k)
		}
	}
	for _, name := range sortedKeys(ix.measurements) {
		m := ix.measurements[name]
		fmt.Fprintf(&b, "m %s ids=%v\n", name, m.ids)
		for _, k := range sortedKeys(m.tags) {
			values := maps.Collect(m.tags[k].values.all())
			for _, v := range sortedKeys(values) {
				fmt.Fprintf(&b, "  %s=%s %v\n", k, v, m.postingsOf(values[v]))
			}
		}
		for _, f := range sortedKeys(m.fields) {
			fmt.Fprintf(&b, "  field %s %s\n", f, m.fields[f])
		}
	}
	return b.String()
}

// reopenSame closes ix, opens its directory again and reports an error
// (saying when) unless the reopened index has the same state; it returns
// the reopened index.
func reopenSame(t *testing.T, ix *Index, when string) *Index {
	t.Helper()
	want := state(ix)
	ix.Close()
	reopened, err := Open(ix.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := state(reopened); got != want {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", when, got, want)
	}
	return reopened
}

// setCompactBytes sets the log size past which ix writes a snapshot.
func setCompactBytes(ix *Index, n int64) {
	ix.mu.Lock()
	ix.compactBytes = n
	ix.mu.Unlock()
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func TestCompactionAndCrashBetweenFiles(t *testing.T) {
	dir := t.TempDir()
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, ix, "cpu,host=a,dc=x usage=1 1\ncpu,host=b,dc=y usage=1 1\nmem,host=a free=1i 1")
	if err := ix.DropSeries([]uint64{1}); err != nil {
		t.Fatal(err)
	}
	if err := ix.DropMeasurement([]byte("mem")); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, ix, "mem,host=a free=1 1\ncpu,host=c usage=1 1")
	oldLog, err := os.ReadFile(filepath.Join(dir, logFileName))
	if err != nil {
		t.Fatal(err)
	}
	want := state(ix)

	// Force a snapshot on the next creation.
	setCompactBytes(ix, 1)
	mustCreate(t, ix, "cpu,host=d usage=1 1")
	want2 := state(ix)
	if _, err := os.Stat(filepath.Join(dir, snapshotFileName)); err != nil {
		t.Fatalf("snapshot not written: %v", err)
	}
	newLog, err := os.ReadFile(filepath.Join(dir, logFileName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(newLog, logMagic) {
		t.Errorf("log after snapshot: got %d bytes; want just the header", len(newLog))
	}
	// Writes after the snapshot go to the new log.
	setCompactBytes(ix, defaultCompactBytes)
	mustCreate(t, ix, "cpu,host=e usage=1 1")
	want3 := state(ix)
	ix.Close()

	ix, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := state(ix); got != want3 {
		t.Errorf("after snapshot + log reopen:\ngot:\n%s\nwant:\n%s", got, want3)
	}
	ix.Close()

	// Crash after the snapshot was renamed but before the log was reset:
	// the new snapshot plus the whole old log must give the same state.
	full := append(bytes.Clone(oldLog), newLog[len(logMagic):]...)
	if err := os.WriteFile(filepath.Join(dir, logFileName), full, 0o644); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := state(ix); got != want2 {
		t.Errorf("snapshot + old log:\ngot:\n%s\nwant:\n%s", got, want2)
	}
	ix.Close()
	_ = want
}

func TestRecordRoundTrip(t *testing.T) {
	recs := []record{
		{typ: recSeriesCreated, id: 7, key: []byte("cpu,host=a")},
		{typ: recFieldCreated, measurement: []byte("cpu"), field: []byte("usage"), fieldType: models.FieldTypeFloat},
		{typ: recSeriesDropped, id: maxSeriesID},
		{typ: recMeasurementDropped, measurement: []byte("m e")},
		{typ: recNextID, id: 9},
		{typ: recSnapshotEnd, id: 4},
		{typ: recMeasurementSeries, measurement: []byte("cpu"), entries: appendIDs(nil, []uint32{1, 5, 300})},
		{typ: recTagValues, measurement: []byte("cpu"), field: []byte("host"), id: 2, entries: []byte{2, 'a', 1, 1}},
	}
	var buf []byte
	for i := range recs {
		buf = appendRecord(buf, &recs[i])
	}
	for i, want := range recs {
		got, n, err := decodeRecord(buf, maxSnapshotRecordSize)
		if err != nil {
			t.Fatalf("record %d: got error %v", i, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("record %d: got %+v; want %+v", i, got, want)
		}
		// Every proper prefix is a torn record.
		for cut := 0; cut < n; cut++ {
			if _, _, err := decodeRecord(buf[:cut], maxRecordSize); !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrCorrupt) {
				t.Errorf("record %d cut at %d: got %v; want ErrUnexpectedEOF or ErrCorrupt", i, cut, err)
			}
		}
		buf = buf[n:]
	}
}

// FuzzDecodeRecord checks the log record decoder on arbitrary bytes: it never
// panics, every error is ErrCorrupt or io.ErrUnexpectedEOF, and a decoded
// record re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range []record{
		{typ: recSeriesCreated, id: 1, key: []byte("cpu,host=a")},
		{typ: recFieldCreated, measurement: []byte("cpu"), field: []byte("f"), fieldType: models.FieldTypeString},
		{typ: recSeriesDropped, id: 3},
		{typ: recMeasurementDropped, measurement: []byte("cpu")},
		{typ: recNextID, id: 300},
		{typ: recSnapshotEnd, id: 2},
		{typ: recMeasurementSeries, measurement: []byte("cpu"), entries: appendIDs(nil, []uint32{1, 2})},
		{typ: recTagValues, measurement: []byte("cpu"), field: []byte("host"), id: 1, entries: []byte{2, 'a', 1, 1}},
	} {
		f.Add(appendRecord(nil, &r))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b, maxSnapshotRecordSize)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v is neither ErrCorrupt nor io.ErrUnexpectedEOF", err)
			}
			return
		}
		if n < recHeaderSize || n > len(b) {
			t.Fatalf("decoded size %d out of range for %d bytes", n, len(b))
		}
		if again := appendRecord(nil, &r); !bytes.Equal(again, b[:n]) {
			// Uvarints have non-canonical encodings; accept those only.
			r2, _, err := decodeRecord(again, maxSnapshotRecordSize)
			if err != nil || fmt.Sprint(r2) != fmt.Sprint(r) {
				t.Fatalf("re-encoded record differs: %+v vs %+v (%v)", r2, r, err)
			}
		}
	})
}

// FuzzReplayLog checks that Open never panics on an arbitrary log and either
// succeeds or fails with ErrCorrupt, and that what it keeps survives a
// reopen.
func FuzzReplayLog(f *testing.F) {
	var seed []byte
	seed = append(seed, logMagic...)
	seed = appendRecord(seed, &record{typ: recFieldCreated, measurement: []byte("cpu"), field: []byte("f"), fieldType: models.FieldTypeFloat})
	seed = appendRecord(seed, &record{typ: recSeriesCreated, id: 1, key: []byte("cpu,host=a")})
	seed = appendRecord(seed, &record{typ: recSeriesCreated, id: 2, key: []byte("cpu,host=b")})
	seed = appendRecord(seed, &record{typ: recSeriesDropped, id: 1})
	seed = appendRecord(seed, &record{typ: recMeasurementDropped, measurement: []byte("cpu")})
	f.Add(seed)
	f.Add(logMagic[:3])
	f.Fuzz(func(t *testing.T, b []byte) {
		ix, dir := openFuzzed(t, logFileName, b)
		if ix == nil {
			return
		}
		want := state(ix)
		ix.Close()
		ix, err := Open(dir, nil)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer ix.Close()
		if got := state(ix); got != want {
			t.Fatalf("state changed on reopen:\ngot:\n%s\nwant:\n%s", got, want)
		}
	})
}

// TestSnapshotHandOver checks that records appended to the log while a
// snapshot is being written outside the lock end up in the new log.
func TestSnapshotHandOver(t *testing.T) {
	dir := t.TempDir()
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, ix, "cpu,host=a usage=1 1\ncpu,host=b usage=1 1")
	// Step 1 of maybeCompact: encode and write under the lock, remember
	// the offset.
	ix.mu.Lock()
	f, _, err := ix.writeSnapshot(filepath.Join(dir, snapshotFileName+tmpSuffix))
	off := ix.log.size
	ix.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	// Meanwhile other writers go on.
	mustCreate(t, ix, "cpu,host=c usage=1 1\nmem,host=a free=1i 1")
	if err := ix.DropSeries([]uint64{1}); err != nil {
		t.Fatal(err)
	}
	// Steps 2 and 3.
	if err := syncClose(f); err != nil {
		t.Fatal(err)
	}
	ix.mu.Lock()
	if err := ix.switchLog(off); err != nil {
		t.Fatal(err)
	}
	ix.mu.Unlock()
	mustCreate(t, ix, "cpu,host=d usage=1 1")
	ix = reopenSame(t, ix, "after hand-over and reopen")
	defer ix.Close()
	if _, ok := ix.SeriesID([]byte("cpu,host=a")); ok {
		t.Errorf("series dropped during the snapshot came back")
	}
}

// TestConcurrentWritesWithSnapshots runs writers, droppers and readers while
// small log limits force many snapshots, then checks a reopen sees the same
// state. Run with -race.
func TestConcurrentWritesWithSnapshots(t *testing.T) {
	dir := t.TempDir()
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	setCompactBytes(ix, 2048)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p models.Parser
			for i := range 150 {
				lp := fmt.Sprintf("cpu,w=%d,host=h%d usage=1 1\nmem,w=%d free=%di 1", w, i, w, i)
				pts, err := p.Parse([]byte(lp), 1, 1)
				if err != nil {
					t.Errorf("parse: %v", err)
					return
				}
				ids := make([]uint64, len(pts))
				if c, err := ix.CreateSeriesAndFields(pts, ids); err != nil || len(c) != 0 {
					t.Errorf("create: conflicts %v, error %v", c, err)
					return
				}
				if i%3 == 0 {
					if err := ix.DropSeries(ids[:1]); err != nil {
						t.Errorf("drop: %v", err)
						return
					}
				}
				ix.MatchSeries([]byte("cpu"), TagMatch{Key: "w", Op: NotEqual, Value: "1"})
			}
		}()
	}
	wg.Wait()
	ix.compactions.Wait()
	if _, err := os.Stat(filepath.Join(dir, snapshotFileName)); err != nil {
		t.Fatalf("no snapshot was written: %v", err)
	}
	want := state(ix)
	if n := ix.SeriesN(); n != 4*100+4 {
		t.Errorf("SeriesN: got %d; want %d", n, 4*100+4)
	}
	ix.Close()
	ix, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if got := state(ix); got != want {
		t.Errorf("state after reopen differs:\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestLogFailureIsSticky checks that after a failed log write the index
// refuses changes (its log's content is unknown) while reads still work,
// and that a reopen recovers.
func TestLogFailureIsSticky(t *testing.T) {
	dir := t.TempDir()
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, ix, "cpu,host=a usage=1 1")
	ix.mu.Lock()
	ix.log.f.Close() // the next write fails
	ix.mu.Unlock()
	var p models.Parser
	pts, _ := p.Parse([]byte("cpu,host=b usage=1 1"), 1, 1)
	if _, err := ix.CreateSeriesAndFields(pts, make([]uint64, 1)); err == nil {
		t.Fatalf("create with a broken log: got nil error")
	}
	if _, ok := ix.SeriesID([]byte("cpu,host=b")); ok || ix.SeriesN() != 1 {
		t.Errorf("series of a failed write is visible (found %v, SeriesN %d)", ok, ix.SeriesN())
	}
	pts, _ = p.Parse([]byte("cpu,host=c usage=1 1"), 1, 1)
	if _, err := ix.CreateSeriesAndFields(pts, make([]uint64, 1)); err == nil {
		t.Errorf("create after a log failure: got nil error; want the sticky failure")
	}
	if err := ix.DropSeries([]uint64{1}); err == nil {
		t.Errorf("drop after a log failure: got nil error")
	}
	if _, ok := ix.SeriesID([]byte("cpu,host=a")); !ok {
		t.Errorf("reads fail after a log failure")
	}
	pts, _ = p.Parse([]byte("cpu,host=a usage=2 2"), 1, 1)
	if _, err := ix.CreateSeriesAndFields(pts, make([]uint64, 1)); err != nil {
		t.Errorf("hot path for an existing series after a log failure: got %v; want nil", err)
	}
	ix.Close()
	ix, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	mustCreate(t, ix, "cpu,host=b usage=1 1")
	if ix.SeriesN() != 2 {
		t.Errorf("SeriesN after reopen: got %d; want 2", ix.SeriesN())
	}
}

// TestReplayStopsAtDamageBeforeTheTail checks that only a torn tail is
// truncated: a complete record that does not decode or apply, or a
// checksum failure with records after it, fails Open with ErrCorrupt and
// leaves the log as it was, so the records after it are not lost. (A
// series key of 10 MB used to be logged, refused by the reader on restart
// and truncated with every later series of the shard.)
func TestReplayStopsAtDamageBeforeTheTail(t *testing.T) {
	good := func(id uint64, host string) []byte {
		return appendRecord(nil, &record{typ: recSeriesCreated, id: id, key: []byte("cpu,host=" + host)})
	}
	field := appendRecord(nil, &record{typ: recFieldCreated, measurement: []byte("cpu"), field: []byte("f"), fieldType: models.FieldTypeFloat})
	longKey := appendRecord(nil, &record{typ: recSeriesCreated, id: 2, key: []byte("cpu,host=" + strings.Repeat("y", models.MaxKeyLength))})
	flipped := good(2, "b")
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name    string
		records [][]byte
		torn    bool // opens, keeping the series before the damage
	}{
		{"key past the limit, then more", [][]byte{field, good(1, "a"), longKey, good(3, "c")}, false},
		{"key past the limit at the end", [][]byte{field, good(1, "a"), longKey}, false},
		{"id beyond the next id, then more", [][]byte{field, good(1, "a"), good(9, "b"), good(3, "c")}, false},
		{"checksum failure, then more", [][]byte{field, good(1, "a"), flipped, good(3, "c")}, false},
		{"zeros, then more", [][]byte{field, good(1, "a"), make([]byte, 20), good(3, "c")}, false},
		{"checksum failure at the end", [][]byte{field, good(1, "a"), flipped}, true},
		{"zeros at the end", [][]byte{field, good(1, "a"), make([]byte, 20)}, true},
		{"cut short at the end", [][]byte{field, good(1, "a"), good(2, "b")[:12]}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, logFileName)
			log := slices.Concat(append([][]byte{logMagic}, tc.records...)...)
			if err := os.WriteFile(path, log, 0o644); err != nil {
				t.Fatal(err)
			}
			ix, err := Open(dir, nil)
			if !tc.torn {
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "record 3 at offset") {
					t.Fatalf("Open: got %v; want ErrCorrupt naming record 3", err)
				}
				if after, _ := os.ReadFile(path); !bytes.Equal(after, log) {
					t.Fatalf("log changed from %d to %d bytes; want it left as it was", len(log), len(after))
				}
				return
			}
			if err != nil {
				t.Fatalf("Open with a torn tail: %v", err)
			}
			defer ix.Close()
			if _, ok := ix.SeriesID([]byte("cpu,host=a")); !ok {
				t.Fatal("the series before the torn tail is lost")
			}
			if st, _ := os.Stat(path); st.Size() != int64(len(log)-len(tc.records[2])) {
				t.Fatalf("log is %d bytes after open; want the torn tail cut (%d)", st.Size(), len(log)-len(tc.records[2]))
			}
		})
	}
}

// TestReopenRebuildsPostings checks that the postings Open builds after
// replaying (see buildPostings) equal those the writes built one series at a
// time: across a snapshot and a log, with series and a measurement dropped
// in each, and with more series than presizeProbe, so that the map of a tag
// with a value per series (host) is re-allocated mid-build while one with
// few values (region) is not.
func TestReopenRebuildsPostings(t *testing.T) {
	dir := t.TempDir()
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	batch := func(first, n int) string {
		var b strings.Builder
		for i := first; i < first+n; i++ {
			fmt.Fprintf(&b, "cpu,host=h%d,region=r%d usage=1 1\n", i, i%3)
			if i%500 == 0 {
				fmt.Fprintf(&b, "mem,host=h%d free=1i 1\n", i)
			}
		}
		return b.String()
	}
	mustCreate(t, ix, batch(0, 2000))
	// Drops before the snapshot: a single-series value and a whole
	// measurement.
	if err := ix.DropSeries([]uint64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := ix.DropMeasurement([]byte("mem")); err != nil {
		t.Fatal(err)
	}
	setCompactBytes(ix, 1)
	mustCreate(t, ix, batch(2000, 500))
	if _, err := os.Stat(filepath.Join(dir, snapshotFileName)); err != nil {
		t.Fatalf("snapshot not written: %v", err)
	}
	setCompactBytes(ix, defaultCompactBytes)
	// After the snapshot, in the log: more series, drops that empty a
	// region's list down to nothing and a re-created measurement.
	mustCreate(t, ix, batch(2500, 1500))
	r1 := TagMatch{Key: "region", Op: Equal, Value: "r1"}
	if err := ix.DropSeries(ix.MatchSeries([]byte("cpu"), r1)); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, ix, "mem,host=h1 free=1i 1\ncpu,host=h1,region=r1 usage=1 1")
	ix = reopenSame(t, ix, "after reopen")
	defer ix.Close()
	if got := ix.MatchSeries([]byte("cpu"), r1); len(got) != 1 {
		t.Errorf("cpu series with region=r1 after reopen: got %d; want 1 (the re-created one)", len(got))
	}
}

// openFuzzed writes b as the file name of a fresh directory and opens an
// index there; Open may refuse it only with ErrCorrupt, and then openFuzzed
// returns a nil index.
func openFuzzed(t *testing.T, name string, b []byte) (*Index, string) {
	t.Helper()
	if len(b) > 1<<16 {
		t.Skip("input too large")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, nil)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Open: error %v is not ErrCorrupt", err)
		}
		return nil, dir
	}
	return ix, dir
}

// TestLogGrowsToSnapshotSize checks that after a snapshot larger than
// compactBytes the log may grow to snapshotGrowth times the snapshot's
// size before the next one (a burst of new series no longer re-encodes the whole index every
// compactBytes of log), that the next snapshot comes once it does, and
// that a reopen loads the snapshot's size as the limit.
func TestLogGrowsToSnapshotSize(t *testing.T) {
	dir := t.TempDir()
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ix.Close() }()
	series := func(first, n int) string {
		var b strings.Builder
		for i := first; i < first+n; i++ {
			fmt.Fprintf(&b, "cpu,host=h%d,region=r%d usage=1 1\n", i, i%3)
		}
		return b.String()
	}
	const limit = 4 << 10
	setCompactBytes(ix, limit)
	mustCreate(t, ix, series(0, 2000))
	snapPath := filepath.Join(dir, snapshotFileName)
	st, err := os.Stat(snapPath)
	if err != nil {
		t.Fatalf("snapshot not written: %v", err)
	}
	if st.Size() < 4*limit {
		t.Fatalf("snapshot of %d bytes; the test needs one well over %d", st.Size(), limit)
	}
	logSize := func() int64 {
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		return ix.log.size
	}
	// Past compactBytes, under snapshotGrowth times the snapshot's size:
	// no snapshot.
	next := 2000
	for logSize() <= st.Size()+limit {
		mustCreate(t, ix, series(next, 10))
		next += 10
		if st2, err := os.Stat(snapPath); err != nil || !os.SameFile(st, st2) {
			t.Fatalf("snapshot rewritten with a log of %d bytes (limit %d, snapshot %d bytes): %v", logSize(), limit, st.Size(), err)
		}
	}
	ix = reopenSame(t, ix, "reopen with a log under the snapshot's size")
	setCompactBytes(ix, limit)
	if got := logSize(); got <= limit {
		t.Fatalf("log of %d bytes after reopen; want the one over %d left by the writes", got, limit)
	}
	mustCreate(t, ix, series(next, 10))
	next += 10
	if st2, err := os.Stat(snapPath); err != nil || !os.SameFile(st, st2) {
		t.Fatalf("snapshot rewritten after reopen with a log of %d bytes (snapshot %d bytes): %v", logSize(), st.Size(), err)
	}
	// Past snapshotGrowth times the snapshot's size: the next snapshot.
	for logSize() <= snapshotGrowth*st.Size() && logSize() > limit {
		mustCreate(t, ix, series(next, 50))
		next += 50
	}
	if st2, err := os.Stat(snapPath); err != nil || os.SameFile(st, st2) {
		t.Fatalf("no new snapshot once the log passed %d times the snapshot's %d bytes: %v", snapshotGrowth, st.Size(), err)
	}
	if got := logSize(); got != int64(len(logMagic)) {
		t.Errorf("log after the snapshot: %d bytes; want just its header", got)
	}
	ix = reopenSame(t, ix, "reopen after the second snapshot")
}
