package tsdb_test

import (
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// TestConcurrentWritesReadsAndCompactions runs writers, readers, deletes
// and the background snapshot/compaction loop at once (run it with -race),
// then checks every series holds exactly its last written values.
func TestConcurrentWritesReadsAndCompactions(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.CacheSnapshotSize = 16 << 10
	cfg.CompactCheckInterval = tsdb.Duration(5 * time.Millisecond)
	cfg.CompactFullWriteColdDuration = tsdb.Duration(20 * time.Millisecond)
	st, sh := openShard(t, cfg)
	const writers, rounds, perRound = 4, 40, 50
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				key := seriesKey("w" + strconv.Itoa(r))
				if _, err := sh.Cursor(key, []byte("v"), 0, math.MaxInt64, r == 0); err != nil {
					t.Errorf("cursor: %v", err)
					return
				}
				if _, err := sh.WindowAggregate(key, []byte("v"), 0, 1<<20, 100, 0, tsdb.AggAll); err != nil {
					t.Errorf("aggregate: %v", err)
					return
				}
				if _, err := sh.Digests(context.Background()); err != nil {
					t.Errorf("digests: %v", err)
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host := "w" + strconv.Itoa(w)
			for r := range rounds {
				pts := make([]models.Point, 0, perRound)
				for i := range perRound {
					// Each round rewrites the previous round's timestamps too.
					ts := int64(max(r-1, 0)*perRound + i*2)
					pts = append(pts, pt(host, "v", ts, models.IntegerValue(int64(r))))
				}
				if err := sh.WritePoints(context.Background(), pts); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				if w == 0 && r == rounds/2 {
					if err := sh.DeleteSeriesRange([][]byte{seriesKey("w0")}, 0, 9); err != nil {
						t.Errorf("delete: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if t.Failed() {
		return
	}
	must(t, sh.Compact(true), "final compaction")
	for w := range writers {
		got := readAll(t, sh, seriesKey("w"+strconv.Itoa(w)), "v", true)
		want := map[int64]int64{}
		for r := range rounds {
			for i := range perRound {
				want[int64(max(r-1, 0)*perRound+i*2)] = int64(r)
			}
			if w == 0 && r == rounds/2 {
				for ts := range int64(10) {
					delete(want, ts)
				}
			}
		}
		if len(got) != len(want) {
			t.Fatalf("writer %d: got %d values, want %d", w, len(got), len(want))
		}
		for _, g := range got {
			if want[g.ts] != g.v.Integer() {
				t.Fatalf("writer %d ts %d: got %d, want %d", w, g.ts, g.v.Integer(), want[g.ts])
			}
		}
	}
	must(t, st.Close(), "close")
}

// TestWritesProceedDuringCompaction throttles compaction to a crawl and
// checks that writes, snapshots and reads all complete while it runs, and
// that closing the shard aborts it.
func TestWritesProceedDuringCompaction(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.CompactThroughput = 1 // byte per second: the compaction stalls in its throttle
	st, sh := openShard(t, cfg)
	for f := range 3 {
		var pts []models.Point
		for h := range 50 {
			pts = append(pts, pt("h"+strconv.Itoa(h), "v", int64(f), models.IntegerValue(int64(f))))
		}
		must(t, sh.WritePoints(context.Background(), pts), "write")
		must(t, sh.Snapshot(), "snapshot")
	}
	done := make(chan error, 1)
	go func() { done <- sh.Compact(true) }()
	for i := range 20 {
		must(t, sh.WritePoints(context.Background(), []models.Point{pt("h1", "v", int64(100+i), models.IntegerValue(1))}), "write during compaction")
	}
	must(t, sh.Snapshot(), "snapshot during compaction")
	if got := readAll(t, sh, seriesKey("h1"), "v", true); len(got) != 23 {
		t.Fatalf("values during compaction: got %d, want 23", len(got))
	}
	select {
	case err := <-done:
		t.Fatalf("throttled compaction finished early: %v", err)
	default:
	}
	must(t, st.Close(), "close")
	if err := <-done; err == nil {
		t.Fatalf("compaction interrupted by Close: got nil error, want an abort")
	}
}

// TestBackgroundPlannerCompactsLevels checks that the background planner
// alone turns four level-1 snapshots into one level-2 file.
func TestBackgroundPlannerCompactsLevels(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.CompactCheckInterval = tsdb.Duration(5 * time.Millisecond)
	_, sh := openShard(t, cfg)
	for f := range 4 {
		must(t, sh.WritePoints(context.Background(), []models.Point{pt("a", "v", int64(f), models.IntegerValue(int64(f)))}), "write")
		must(t, sh.Snapshot(), "snapshot")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ents, err := os.ReadDir(sh.Path())
		must(t, err, "read dir")
		var tsm []string
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".tsm") {
				tsm = append(tsm, e.Name())
			}
		}
		if len(tsm) == 1 && strings.HasSuffix(tsm[0], "-02.tsm") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("data files after 10s: got %v, want one level-2 file", tsm)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := readAll(t, sh, seriesKey("a"), "v", true); len(got) != 4 {
		t.Fatalf("values after background compaction: got %d, want 4", len(got))
	}
}
