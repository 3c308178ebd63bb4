package index

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/tsdb/models"
)

// builtState renders the state ix would have if every live series were
// indexed afresh, one at a time, in id order (as the writes build it).
func builtState(t *testing.T, ix *Index) string {
	t.Helper()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	fresh := &Index{series: newSeriesTable(), measurements: map[string]*measurement{}, nextID: 1}
	for id := uint32(1); id < uint32(len(ix.series.locs)); id++ {
		if key := ix.series.key(id); key != nil {
			if err := fresh.applySeries(id, key); err != nil {
				t.Fatalf("series %d %q: %v", id, key, err)
			}
		}
	}
	for _, m := range ix.measurements {
		for f, typ := range m.fields {
			fresh.applyField(m.name, []byte(f), typ)
		}
	}
	fresh.nextID = ix.nextID
	return state(fresh)
}

// mustOpenIndex opens the index in dir; the caller closes it.
func mustOpenIndex(t *testing.T, dir string) *Index {
	t.Helper()
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return ix
}

// snapshotNow writes a snapshot of ix and empties its log.
func snapshotNow(t *testing.T, ix *Index) {
	t.Helper()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ix.compactNow(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
}

// loadSnapshotOnly replays the snapshot in dir into an empty index without
// building any postings afterwards.
func loadSnapshotOnly(t *testing.T, dir string) *Index {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, snapshotFileName))
	if err != nil {
		t.Fatal(err)
	}
	return replaySnapshotBytes(t, data)
}

// replaySnapshotBytes replays the snapshot data into an empty index.
func replaySnapshotBytes(t *testing.T, data []byte) *Index {
	t.Helper()
	ix := &Index{series: newSeriesTable(), measurements: map[string]*measurement{}, nextID: 1}
	if err := ix.replaySnapshot(data); err != nil {
		t.Fatalf("replay snapshot: %v", err)
	}
	return ix
}

// snapshotWorkload writes series to ix that cover each kind of posting a
// snapshot stores: inline ids (host), lists longer than maxChunkIDs (one
// region), escaped tag values (stored as bytes), values whose first series
// was dropped, a dropped measurement and a second measurement.
func snapshotWorkload(t *testing.T, ix *Index) {
	t.Helper()
	var b strings.Builder
	for i := range 2*maxChunkIDs + 100 {
		region := "r" + strconv.Itoa(i%3)
		if i%2 == 0 {
			region = "big"
		}
		fmt.Fprintf(&b, "cpu,host=h%d,region=%s,os=a\\ b%d usage=1 1\n", i, region, i%5)
		if i%1000 == 0 {
			fmt.Fprintf(&b, "mem,host=h%d free=1i 1\ndisk,host=h%d used=1i 1\n", i, i)
		}
	}
	mustCreate(t, ix, b.String())
	// Drop the first series of some lists, so their values' bytes alias
	// the key of a dropped series.
	if err := ix.DropSeries([]uint64{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if err := ix.DropMeasurement([]byte("disk")); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, ix, "disk,host=late used=1i 1\ncpu,host=h0,region=r9 usage=1 1")
}

// TestSnapshotStoresPostings checks that a snapshot holds the tag postings
// and measurement series lists themselves: replaying it alone, with nothing
// built afterwards, gives the state the writes built; and that Open of it
// (with a log written after it) gives that state too.
func TestSnapshotStoresPostings(t *testing.T) {
	dir := t.TempDir()
	ix := mustOpenIndex(t, dir)
	snapshotWorkload(t, ix)
	want := state(ix)
	if built := builtState(t, ix); built != want {
		t.Fatalf("the writes' state differs from a fresh build:\ngot:\n%s\nwant:\n%s", want, built)
	}
	snapshotNow(t, ix)
	loaded := loadSnapshotOnly(t, dir)
	if got := state(loaded); got != want {
		t.Errorf("snapshot replayed alone:\ngot:\n%s\nwant:\n%s", got, want)
	}
	if loaded.measurements["cpu"].tags["host"].values.len() == 0 {
		t.Fatal("no host postings loaded")
	}
	// Values stored as places in series keys alias the key slab again.
	cpu := loaded.measurements["cpu"]
	for v, r := range cpu.tags["host"].values.all() {
		id, _ := r.inline()
		if _, ok := loaded.offsetInKey(v, id); !ok && v != "h0" {
			t.Errorf("host value %q of series %d does not alias its key", v, id)
			break
		}
	}
	// A log after the snapshot: new series, drops of loaded ones and of a
	// series with an escaped value.
	mustCreate(t, ix, "cpu,host=new,region=big usage=1 1\ncpu,host=new2,region=r1 usage=1 1")
	if err := ix.DropSeries([]uint64{5, 7}); err != nil {
		t.Fatal(err)
	}
	ix = reopenSame(t, ix, "snapshot and log reopened")
	defer ix.Close()
	if built := builtState(t, ix); built != state(ix) {
		t.Errorf("reopened state differs from a fresh build:\ngot:\n%s\nwant:\n%s", state(ix), built)
	}
}

// encodeSnapshotV1 encodes ix in snapshot format 1 (fields, next id and
// series keys, no postings), as indexes written before format 2 hold.
func encodeSnapshotV1(ix *Index) []byte {
	buf := bytes.Clone(snapshotMagicV1)
	var n uint64
	for _, name := range sortedKeys(ix.measurements) {
		m := ix.measurements[name]
		for _, f := range sortedKeys(m.fields) {
			buf = appendRecord(buf, &record{typ: recFieldCreated, measurement: m.name, field: []byte(f), fieldType: m.fields[f]})
			n++
		}
	}
	buf = appendRecord(buf, &record{typ: recNextID, id: uint64(ix.nextID)})
	n++
	for id := uint32(1); id < uint32(len(ix.series.locs)); id++ {
		if key := ix.series.key(id); key != nil {
			buf = appendRecord(buf, &record{typ: recSeriesCreated, id: uint64(id), key: key})
			n++
		}
	}
	return appendRecord(buf, &record{typ: recSnapshotEnd, id: n})
}

// TestOpenSnapshotFormat1 checks that a format 1 snapshot (no postings)
// still opens, with its postings rebuilt, and that the next snapshot is
// written in format 2.
func TestOpenSnapshotFormat1(t *testing.T) {
	dir := t.TempDir()
	ix := mustOpenIndex(t, dir)
	snapshotWorkload(t, ix)
	want := state(ix)
	v1 := encodeSnapshotV1(ix)
	ix.Close()
	if err := os.WriteFile(filepath.Join(dir, snapshotFileName), v1, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, logFileName), logMagic, 0o644); err != nil {
		t.Fatal(err)
	}
	ix = mustOpenIndex(t, dir)
	if got := state(ix); got != want {
		t.Errorf("format 1 snapshot opened:\ngot:\n%s\nwant:\n%s", got, want)
	}
	snapshotNow(t, ix)
	ix.Close()
	snap, _ := os.ReadFile(filepath.Join(dir, snapshotFileName))
	if !bytes.HasPrefix(snap, snapshotMagic) {
		t.Errorf("snapshot after a format 1 open starts %q; want %q", snap[:8], snapshotMagic)
	}
	if got := state(loadSnapshotOnly(t, dir)); got != want {
		t.Errorf("format 2 snapshot of a format 1 index:\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestCloseWritesSnapshot checks that Close folds a log past
// closeSnapshotBytes into a snapshot and leaves a short log, and leaves a
// short log alone.
func TestCloseWritesSnapshot(t *testing.T) {
	dir := t.TempDir()
	ix := mustOpenIndex(t, dir)
	mustCreate(t, ix, "cpu,host=a usage=1 1")
	ix.Close()
	if _, err := os.Stat(filepath.Join(dir, snapshotFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("snapshot after closing a short log: %v; want none", err)
	}
	ix = mustOpenIndex(t, dir)
	var b strings.Builder
	for i := 0; b.Len() < closeSnapshotBytes; i++ {
		fmt.Fprintf(&b, "cpu,host=h%d,region=r%d usage=1 1\n", i, i%4)
	}
	mustCreate(t, ix, b.String())
	ix = reopenSame(t, ix, "reopened after close")
	defer ix.Close()
	logData, err := os.ReadFile(filepath.Join(dir, logFileName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(logData, logMagic) {
		t.Errorf("log after close: %d bytes; want just the header", len(logData))
	}
	if got, want := state(loadSnapshotOnly(t, dir)), state(ix); got != want {
		t.Errorf("snapshot written at close:\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestDiscardWritesNoSnapshot checks that Discard (a shard being deleted)
// closes a log past closeSnapshotBytes without folding it into a snapshot.
func TestDiscardWritesNoSnapshot(t *testing.T) {
	dir := t.TempDir()
	ix := mustOpenIndex(t, dir)
	var b strings.Builder
	for i := 0; b.Len() < closeSnapshotBytes; i++ {
		fmt.Fprintf(&b, "cpu,host=h%d usage=1 1\n", i)
	}
	mustCreate(t, ix, b.String())
	if err := ix.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, snapshotFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("snapshot after Discard: %v; want none", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, logFileName)); err != nil || fi.Size() <= int64(len(logMagic)) {
		t.Fatalf("log after Discard: %v, %v; want it kept as it was", fi, err)
	}
}

// TestSnapshotCorruption checks that a format 2 snapshot whose postings
// name what it does not hold fails Open with ErrCorrupt (and no panic).
func TestSnapshotCorruption(t *testing.T) {
	head := func(recs ...*record) []byte {
		buf := bytes.Clone(snapshotMagic)
		base := []*record{
			{typ: recFieldCreated, measurement: []byte("cpu"), field: []byte("f"), fieldType: models.FieldTypeFloat},
			{typ: recNextID, id: 3},
			{typ: recSeriesCreated, id: 1, key: []byte("cpu,host=a")},
			{typ: recSeriesCreated, id: 2, key: []byte("cpu,host=b")},
		}
		n := uint64(0)
		for _, r := range append(base, recs...) {
			buf = appendRecord(buf, r)
			n++
		}
		return appendRecord(buf, &record{typ: recSnapshotEnd, id: n})
	}
	series := func(ids ...uint32) *record {
		return &record{typ: recMeasurementSeries, measurement: []byte("cpu"), entries: appendIDs(nil, ids)}
	}
	values := func(name string, entries ...byte) *record {
		return &record{typ: recTagValues, measurement: []byte(name), field: []byte("host"), id: 2, entries: entries}
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"series listed twice", head(series(1, 2), series(2))},
		{"series not listed", head(series(1))},
		{"id not a series", head(series(1, 2, 3))},
		{"ids not ascending", head(series(2, 1))},
		{"tag values of an unknown measurement", head(series(1, 2), values("mem", 2, 'a', 1, 1))},
		{"tag value of a missing series", head(series(1, 2), values("cpu", 2, 'a', 1, 7))},
		{"tag value outside its key", head(series(1, 2), values("cpu", 3, 1, 10, 1, 1))},
		{"empty tag value", head(series(1, 2), values("cpu", 0, 1, 1))},
		{"id list longer than the record", head(series(1, 2), values("cpu", 2, 'a', 5, 1))},
		{"series record out of order", func() []byte {
			buf := bytes.Clone(snapshotMagic)
			for _, r := range []*record{{typ: recNextID, id: 3}, {typ: recSeriesCreated, id: 2, key: []byte("cpu,host=b")},
				{typ: recSeriesCreated, id: 1, key: []byte("cpu,host=a")}} {
				buf = appendRecord(buf, r)
			}
			return appendRecord(buf, &record{typ: recSnapshotEnd, id: 3})
		}()},
		{"tag values record without values", head(series(1, 2), values("cpu"))},
		{"continued entry without a list before it", head(series(1, 2), values("cpu", 2, 'a', 1, 1, 0, 1, 2))},
		{"value twice", head(series(1, 2), values("cpu", 2, 'a', 1, 1, 2, 'a', 1, 2))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, snapshotFileName), tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			ix, err := Open(dir, nil)
			if err == nil {
				ix.Close()
				t.Fatalf("Open: got no error; want ErrCorrupt")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: got %v; want ErrCorrupt", err)
			}
		})
	}
	// The same records, consistent, open.
	dir := t.TempDir()
	good := head(series(1, 2), values("cpu", 2, 'a', 1, 1, 2, 'b', 1, 2))
	if err := os.WriteFile(filepath.Join(dir, snapshotFileName), good, 0o644); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("Open of a consistent snapshot: %v", err)
	}
	defer ix.Close()
	if built := builtState(t, ix); built != state(ix) {
		t.Errorf("hand-written snapshot:\ngot:\n%s\nwant:\n%s", state(ix), built)
	}
}

// FuzzReplaySnapshot checks that Open never panics on an arbitrary
// snapshot and either fails with ErrCorrupt or opens an index whose
// postings are those its series keys give.
func FuzzReplaySnapshot(f *testing.F) {
	dir := f.TempDir()
	ix, err := Open(dir, nil)
	if err != nil {
		f.Fatal(err)
	}
	mustCreate(f, ix, "cpu,host=a,dc=x usage=1 1\ncpu,host=b,dc=x usage=1 1\nmem,host=a\\ b free=1i 1")
	ix.mu.Lock()
	f.Add(ix.encodeSnapshot(nil).bytes())
	ix.mu.Unlock()
	ix.Close()
	f.Fuzz(func(t *testing.T, b []byte) {
		if ix, _ := openFuzzed(t, snapshotFileName, b); ix != nil {
			ix.Close()
		}
	})
}

const (
	crashChildEnv  = "STRATA_INDEX_CRASH_CHILD_DIR"
	crashStartEnv  = "STRATA_INDEX_CRASH_START"
	crashStart2Env = "STRATA_INDEX_CRASH_START2"
	crashBatch     = 200 // series per batch
)

// crashLines is batch b of the crash test: crashBatch new series.
func crashLines(b int) string {
	var s strings.Builder
	for i := b * crashBatch; i < (b+1)*crashBatch; i++ {
		fmt.Fprintf(&s, "cpu,host=h%d,region=r%d,rack=%d usage=1 1\n", i, i%7, i%100)
	}
	return s.String()
}

// crashLines2 is batch b of the crash test's second writer: crashBatch new
// series of the same measurement and tags as crashLines', other hosts.
func crashLines2(b int) string {
	return strings.ReplaceAll(crashLines(b), "host=h", "host=g")
}

// crashKey2 is the key of the first series of the second writer's batch b.
func crashKey2(b int) string {
	i := b * crashBatch
	return fmt.Sprintf("cpu,host=g%d,rack=%d,region=r%d", i, i%100, i%7)
}

// crashDropped is the first series key of batch b, which the child drops
// after the batch is acknowledged when b is a multiple of 3.
func crashDropped(b int) string {
	return fmt.Sprintf("cpu,host=h%d,rack=0,region=r%d", b*crashBatch, (b*crashBatch)%7)
}

// crashChild writes batches into the index in dir, with snapshots every
// few batches, printing "ack B" when batch B's series are durable and
// "drop B" when the drop of its first series is; meanwhile a second writer
// writes crashLines2 batches from start2 on, printing "ack2 B". It runs
// until killed.
func crashChild(dir string, start, start2 int) {
	ix, err := Open(dir, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	setCompactBytes(ix, 16<<10)
	var outMu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	say := func(a ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintln(out, a...)
		out.Flush()
	}
	// create creates the series of lines, exiting on any failure.
	create := func(p *models.Parser, lines string) {
		pts, err := p.Parse([]byte(lines), 1, 1)
		if err != nil {
			say("error", err)
			os.Exit(2)
		}
		if c, err := ix.CreateSeriesAndFields(pts, make([]uint64, len(pts))); err != nil || len(c) != 0 {
			say("error", c, err)
			os.Exit(2)
		}
	}
	go func() {
		var p models.Parser
		for b := start2; ; b++ {
			create(&p, crashLines2(b))
			say("ack2", b)
		}
	}()
	var p models.Parser
	for b := start; ; b++ {
		create(&p, crashLines(b))
		say("ack", b)
		if b%3 == 0 {
			id, _ := ix.SeriesID([]byte(crashDropped(b)))
			if err := ix.DropSeries([]uint64{id}); err != nil {
				say("error", err)
				os.Exit(2)
			}
			say("drop", b)
		}
	}
}

// TestCrashDuringSnapshot kills (SIGKILL) a process where two writers
// create series in an index that snapshots every 16 KiB of log, at random
// moments, most of them while a snapshot is being written, and checks after
// each kill that the index opens with every acknowledged series, without
// the dropped ones, and with postings equal to those its keys give.
func TestCrashDuringSnapshot(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		start, _ := strconv.Atoi(os.Getenv(crashStartEnv))
		start2, _ := strconv.Atoi(os.Getenv(crashStart2Env))
		crashChild(dir, start, start2)
		return
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	acked, acked2, dropped := -1, -1, map[int]bool{}
	midSnapshot := 0
	for round := 0; round < 10 || midSnapshot == 0 && round < 30; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringSnapshot$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashStartEnv+"="+strconv.Itoa(acked+1),
			crashStart2Env+"="+strconv.Itoa(acked2+1))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Let it write a few snapshots, then kill it at a random moment; in
		// odd rounds, the moment a snapshot is seen being written (a random
		// moment alone can miss every snapshot on a busy machine).
		kill := time.After(time.Duration(100+rand.IntN(500)) * time.Millisecond)
		var poll <-chan time.Time
		ticker := time.NewTicker(time.Millisecond)
		if round%2 == 1 {
			kill = time.After(5 * time.Second)
			poll = ticker.C
		}
	read:
		for {
			select {
			case <-poll:
				if _, err := os.Stat(filepath.Join(dir, snapshotFileName+tmpSuffix)); err == nil {
					midSnapshot++
					cmd.Process.Kill()
					kill, poll = nil, nil
				}
			case line, ok := <-lines:
				if !ok {
					break read
				}
				var b int
				switch {
				case strings.HasPrefix(line, "ack "):
					b, _ = strconv.Atoi(line[4:])
					acked = b
				case strings.HasPrefix(line, "ack2 "):
					acked2, _ = strconv.Atoi(line[5:])
				case strings.HasPrefix(line, "drop "):
					b, _ = strconv.Atoi(line[5:])
					dropped[b] = true
				default:
					t.Fatalf("child: %s", line)
				}
			case <-kill:
				if _, err := os.Stat(filepath.Join(dir, snapshotFileName+tmpSuffix)); err == nil {
					midSnapshot++
				}
				cmd.Process.Kill()
				kill, poll = nil, nil
			}
		}
		ticker.Stop()
		cmd.Wait()

		ix, err := Open(dir, nil)
		if err != nil {
			t.Fatalf("round %d: open after kill: %v", round, err)
		}
		for b := 0; b <= acked; b++ {
			second := fmt.Sprintf("cpu,host=h%d,rack=1,region=r%d", b*crashBatch+1, (b*crashBatch+1)%7)
			if _, ok := ix.SeriesID([]byte(second)); !ok {
				t.Fatalf("round %d: series %s of acknowledged batch %d is lost", round, second, b)
			}
			_, ok := ix.SeriesID([]byte(crashDropped(b)))
			if dropped[b] && ok {
				t.Fatalf("round %d: series %s came back after its drop returned", round, crashDropped(b))
			}
			if b%3 != 0 && !ok {
				t.Fatalf("round %d: series %s of acknowledged batch %d is lost", round, crashDropped(b), b)
			}
		}
		for b := 0; b <= acked2; b++ {
			if _, ok := ix.SeriesID([]byte(crashKey2(b))); !ok {
				t.Fatalf("round %d: series %s of the second writer's acknowledged batch %d is lost", round, crashKey2(b), b)
			}
		}
		if got, want := state(ix), builtState(t, ix); got != want {
			t.Fatalf("round %d: postings differ from a fresh build:\ngot:\n%s\nwant:\n%s", round, got, want)
		}
		ix.Close()
	}
	t.Logf("%d + %d batches acknowledged; %d kills landed while a snapshot was being written", acked+1, acked2+1, midSnapshot)
	if midSnapshot == 0 {
		t.Errorf("no kill landed during a snapshot; the test did not exercise the crash")
	}
}

// TestSnapshotLoadKeepsNoBytesOfTheFile checks that nothing loaded from a
// snapshot refers to the bytes it was loaded from: Open maps the file and
// unmaps it after the load, so a key, name or tag value left pointing into
// it would read freed memory. The test overwrites the buffer after the
// load and expects the same state.
func TestSnapshotLoadKeepsNoBytesOfTheFile(t *testing.T) {
	dir := t.TempDir()
	ix := mustOpenIndex(t, dir)
	snapshotWorkload(t, ix)
	mustCreate(t, ix, "cpu,host=f1 a=1,b=2i,c=\"s\",d=true 1")
	want := state(ix)
	snapshotNow(t, ix)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, snapshotFileName))
	if err != nil {
		t.Fatal(err)
	}
	loaded := replaySnapshotBytes(t, data)
	for i := range data {
		data[i] = 0xA5
	}
	if got := state(loaded); got != want {
		t.Errorf("state after the snapshot's bytes were overwritten:\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestSnapshotLoadAcrossSlabs checks a load whose keys fill several slabs,
// copied partly by the helper goroutine and partly by the load itself (a
// queue of one slab): the keys and the values aliasing them are those
// written.
func TestSnapshotLoadAcrossSlabs(t *testing.T) {
	defer func(q int) { keyJobQueue = q }(keyJobQueue)
	keyJobQueue = 1
	dir := t.TempDir()
	ix := mustOpenIndex(t, dir)
	pad := strings.Repeat("p", 4000)
	var b strings.Builder
	for i := range 2000 { // about 8 MB of keys: 8 slabs
		fmt.Fprintf(&b, "cpu,host=h%d,pad=%s%d,region=r%d usage=1 1\n", i, pad, i, i%3)
	}
	mustCreate(t, ix, b.String())
	want := state(ix)
	snapshotNow(t, ix)
	if n := len(ix.series.slabs); n < 4 {
		t.Fatalf("keys in %d slabs; the test wants several", n)
	}
	if got := state(loadSnapshotOnly(t, dir)); got != want {
		t.Errorf("snapshot loaded across slabs:\ngot:\n%s\nwant:\n%s", got, want)
	}
	reopenSame(t, ix, "reopened across slabs").Close()
}

// TestSnapshotChecksums checks that a snapshot record whose checksum fails
// is refused even when its bytes are intact (the checksums are checked
// apart from the decoding), and that of two defects the one first in the
// file decides the error, as when each record was checked before its
// decoding.
func TestSnapshotChecksums(t *testing.T) {
	records := []*record{
		{typ: recFieldCreated, measurement: []byte("cpu"), field: []byte("f"), fieldType: models.FieldTypeFloat},
		{typ: recNextID, id: 3},
		{typ: recSeriesCreated, id: 1, key: []byte("cpu,host=a")},
		{typ: recSeriesCreated, id: 2, key: []byte("cpu,host=b")},
		{typ: recMeasurementSeries, measurement: []byte("cpu"), entries: appendIDs(nil, []uint32{1, 2})},
		{typ: recTagValues, measurement: []byte("cpu"), field: []byte("host"), id: 2, entries: []byte{2, 'a', 1, 1, 2, 'b', 1, 2}},
		{typ: recSnapshotEnd, id: 6},
	}
	// encode encodes rs with the checksum of record badSum (if any) wrong.
	encode := func(rs []*record, badSum int) []byte {
		buf := bytes.Clone(snapshotMagic)
		for i, r := range rs {
			start := len(buf)
			buf = appendRecord(buf, r)
			if i == badSum {
				buf[start+4] ^= 1
			}
		}
		return buf
	}
	openErr := func(data []byte) error {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, snapshotFileName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		ix, err := Open(dir, nil)
		if err == nil {
			ix.Close()
		}
		return err
	}
	if err := openErr(encode(records, -1)); err != nil {
		t.Fatalf("intact snapshot: %v", err)
	}
	for i := range records {
		if err := openErr(encode(records, i)); !errors.Is(err, errChecksum) {
			t.Errorf("checksum of record %d (type %d) wrong: got %v; want a checksum error", i, records[i].typ, err)
		}
	}
	// Record 3 names an id past the next id: a defect the decoding finds.
	bad := slices.Clone(records)
	bad[3] = &record{typ: recSeriesCreated, id: 7, key: []byte("cpu,host=b")}
	if err := openErr(encode(bad, 5)); err == nil || errors.Is(err, errChecksum) {
		t.Errorf("bad record 3, checksum of record 5 wrong: got %v; want record 3's error", err)
	}
	for _, i := range []int{2, 3} {
		if err := openErr(encode(bad, i)); !errors.Is(err, errChecksum) {
			t.Errorf("bad record 3, checksum of record %d wrong: got %v; want a checksum error", i, err)
		}
	}
}

// TestSnapshotWrittenAsEncoded checks that a snapshot streamed to its file
// a chunk at a time through one reused buffer (writeSnapshot) holds the
// bytes of the whole encoding, over several chunks, and that a write error
// is reported.
func TestSnapshotWrittenAsEncoded(t *testing.T) {
	dir := t.TempDir()
	ix := mustOpenIndex(t, dir)
	defer ix.Close()
	pad := strings.Repeat("p", 1000)
	var b strings.Builder
	for i := range 4000 { // about 4 MB of series records: 4 chunks
		fmt.Fprintf(&b, "cpu,host=h%d,pad=%s,region=r%d usage=1 1\n", i, pad, i%3)
	}
	mustCreate(t, ix, b.String())
	ix.mu.Lock()
	defer ix.mu.Unlock()
	want := ix.encodeSnapshot(nil).bytes()
	if len(want) < 3*snapshotBufChunk {
		t.Fatalf("snapshot of %d bytes; the test wants several chunks", len(want))
	}
	path := filepath.Join(dir, "streamed")
	f, size, err := ix.writeSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := syncClose(f); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || size != int64(len(want)) {
		t.Errorf("streamed snapshot: %d bytes (size %d), equal %v; want the %d bytes of the encoding",
			len(got), size, bytes.Equal(got, want), len(want))
	}
	failing := errors.New("disk full")
	if snap := ix.encodeSnapshot(failingWriter{failing}); !errors.Is(snap.err, failing) {
		t.Errorf("encode to a failing writer: error %v; want %v", snap.err, failing)
	}
}

// failingWriter fails every write with err.
type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

// TestSnapshotLeavesOutSeriesAfterItsCut encodes a snapshot the way a
// background one does, while series are created after its cut (new values,
// tag keys, a measurement and a field, and new series of existing values):
// it must equal the snapshot of an index that holds only the series before
// the cut.
func TestSnapshotLeavesOutSeriesAfterItsCut(t *testing.T) {
	var before, after strings.Builder
	for i := range 300 {
		fmt.Fprintf(&before, "cpu,host=h%d,region=r%d usage=1 1\n", i, i%3)
	}
	fmt.Fprintf(&before, "mem,host=h0 free=1 1\n")
	for i := 300; i < 600; i++ {
		fmt.Fprintf(&after, "cpu,host=h%d,rack=k%d,region=r%d usage=1,idle=2 1\n", i, i%2, i%5)
		fmt.Fprintf(&after, "disk,host=h%d used=1 1\n", i)
	}
	want := mustOpenIndex(t, t.TempDir())
	defer want.Close()
	mustCreate(t, want, before.String())
	ix := mustOpenIndex(t, t.TempDir())
	defer ix.Close()
	mustCreate(t, ix, before.String())

	ix.rlockPostings()
	buf, cut := ix.encodeHead(nil)
	ix.runlockPostings()
	created := make(chan struct{})
	go func() {
		defer close(created)
		mustCreate(t, ix, after.String())
	}()
	encodeSeries(buf, cut)
	<-created
	ix.rlockPostings()
	ix.encodePostings(buf, cut)
	ix.runlockPostings()

	want.mu.RLock()
	defer want.mu.RUnlock()
	if got, want := buf.bytes(), want.encodeSnapshot(nil).bytes(); !bytes.Equal(got, want) {
		t.Errorf("snapshot with series after its cut: %d bytes; want the %d bytes of the index before the cut", len(got), len(want))
	}
}

// TestSnapshotValuesInOrderNotCopied checks that a snapshot reads tag
// values already in the order of their first series straight from the
// map, without gathering a copy of them (32 bytes a value, 32 MB at a
// million host names), and yields them all, in that order; values out of
// order (moved by a drop) are still sorted (TestSnapshotStoresPostings).
func TestSnapshotValuesInOrderNotCopied(t *testing.T) {
	ix := mustOpenIndex(t, t.TempDir())
	defer ix.Close()
	const hosts = 5000
	var b strings.Builder
	for i := range hosts {
		fmt.Fprintf(&b, "cpu,host=h%d,dc=d%d usage=1 1\n", i, i%3)
	}
	mustCreate(t, ix, b.String())
	ix.rlockPostings()
	defer ix.runlockPostings()
	m := ix.measurements["cpu"]
	tv := m.tags["host"]
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, values := m.valuesByFirstID(tv, ix.nextID)
	got, last := 0, uint32(0)
	for sv := range values {
		if sv.first <= last {
			t.Fatalf("value %q of first series %d after one of %d", sv.value, sv.first, last)
		}
		got, last = got+1, sv.first
	}
	runtime.ReadMemStats(&after)
	if n != hosts || got != hosts {
		t.Fatalf("valuesByFirstID: count %d, yielded %d, want %d", n, got, hosts)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<10 {
		t.Errorf("reading %d values in order allocated %d bytes, want no copy of them", hosts, alloc)
	}
	// A cut below the last series leaves out the values created after it.
	if n, _ := m.valuesByFirstID(tv, 101); n != 100 {
		t.Errorf("values of the first 100 series: %d", n)
	}
}
