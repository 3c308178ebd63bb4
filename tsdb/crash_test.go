package tsdb_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

const (
	crashChildEnv = "STRATA_TSDB_CRASH_CHILD_DIR"
	crashStartEnv = "STRATA_TSDB_CRASH_START"
	crashHosts    = 8
	crashPerBatch = 20 // timestamps per host per batch
)

// crashValue is the value batch b writes at timestamp ts; batch b also
// overwrites the timestamps of batch b-1 with crashValue(b, ts).
func crashValue(b, ts int64) int64 { return b*1_000_003 + ts }

func crashConfig(dir string) tsdb.Config {
	cfg := testConfig(dir)
	cfg.CacheSnapshotSize = 32 << 10 // snapshots and compactions run during the test
	cfg.CompactCheckInterval = tsdb.Duration(20 * time.Millisecond)
	cfg.WAL.SegmentSize = 16 << 10
	return cfg
}

// crashBatch is batch b: for each host the timestamps of batches b-1 and
// b, and a point of a series of its own, created by the batch (its WAL
// record names the series by the index id the batch gave it).
func crashBatch(b int64) []models.Point {
	pts := []models.Point{pt(crashNewSeries(b), "v", b, models.IntegerValue(crashValue(b, b)))}
	for h := range crashHosts {
		host := "h" + strconv.Itoa(h)
		for _, base := range []int64{b - 1, b} {
			if base < 0 {
				continue
			}
			for i := range int64(crashPerBatch) {
				ts := base*crashPerBatch + i
				pts = append(pts, pt(host, "v", ts, models.IntegerValue(crashValue(b, ts))))
			}
		}
	}
	return pts
}

// crashNewSeries is the host of the series batch b creates.
func crashNewSeries(b int64) string { return "n" + strconv.FormatInt(b, 10) }

// crashDeleted is the batch whose timestamps of host h0 the child deletes
// after acknowledging batch b, if any (nothing rewrites them afterwards).
func crashDeleted(b int64) (int64, bool) {
	return b - 5, b%10 == 9 && b >= 10
}

// crashChild runs in the re-executed test binary: it writes batches until
// it is killed, printing "ack N" after batch N was acknowledged and "del D"
// after the delete of batch D's timestamps of host h0 returned.
func crashChild() {
	dir := os.Getenv(crashChildEnv)
	start, _ := strconv.ParseInt(os.Getenv(crashStartEnv), 10, 64)
	st := tsdb.NewStore(crashConfig(dir), nil, prometheus.NewRegistry())
	if err := st.Open(); err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	if err := st.CreateShard(1); err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for b := start; ; b++ {
		if err := st.WriteToShard(context.Background(), 1, crashBatch(b)); err != nil {
			fmt.Fprintln(out, "error", err)
			out.Flush()
			os.Exit(2)
		}
		fmt.Fprintln(out, "ack", b)
		out.Flush()
		if d, ok := crashDeleted(b); ok {
			err := st.Shard(1).DeleteSeriesRange([][]byte{seriesKey("h0")}, d*crashPerBatch, d*crashPerBatch+crashPerBatch-1)
			if err != nil {
				fmt.Fprintln(out, "error", err)
				out.Flush()
				os.Exit(2)
			}
			fmt.Fprintln(out, "del", d)
			out.Flush()
		}
	}
}

// runCrashChild starts a writer child at batch start, kills it with
// SIGKILL after a random delay and returns the last acknowledged batch; it
// adds the acknowledged deletes to deleted.
func runCrashChild(t *testing.T, dir string, start int64, rng *rand.Rand, deleted map[int64]bool) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashStartEnv+"="+strconv.FormatInt(start, 10))
	stdout, err := cmd.StdoutPipe()
	must(t, err, "stdout pipe")
	must(t, cmd.Start(), "start child")
	acks := make(chan int64, 1<<16)
	var mu sync.Mutex // protects deleted until the reader is done
	done := make(chan error, 1)
	go func() {
		defer close(acks)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if n, ok := strings.CutPrefix(line, "ack "); ok {
				v, _ := strconv.ParseInt(n, 10, 64)
				acks <- v
			} else if n, ok := strings.CutPrefix(line, "del "); ok {
				v, _ := strconv.ParseInt(n, 10, 64)
				mu.Lock()
				deleted[v] = true
				mu.Unlock()
			} else {
				done <- fmt.Errorf("child: %s", line)
				return
			}
		}
		done <- nil
	}()
	// Let it write for a while (at least one ack), then kill -9.
	first := time.NewTimer(10 * time.Second)
	defer first.Stop()
	var last int64
	select {
	case v, ok := <-acks:
		if !ok {
			t.Fatalf("child exited before its first ack: %v", <-done)
		}
		last = v
	case <-first.C:
		t.Fatalf("child acknowledged nothing in 10s")
	}
	time.Sleep(time.Duration(150+rng.IntN(500)) * time.Millisecond)
	must(t, cmd.Process.Kill(), "kill child")
	for v := range acks {
		last = v
	}
	if err := <-done; err != nil {
		t.Fatalf("child failed: %v", err)
	}
	_ = cmd.Wait()
	return last
}

// TestCrashAcknowledgedWritesSurvive kills a writing child process with
// SIGKILL at random moments; after each crash every acknowledged point must
// be there with its exact (latest acknowledged) value.
func TestCrashAcknowledgedWritesSurvive(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	next := int64(0)
	// skipped batches were possibly half-written before a crash and never
	// retried; the batch after them overwrites their timestamps.
	skipped := map[int64]bool{}
	// deleted: acknowledged deletes of h0's batch timestamps; maybeDeleted:
	// deletes that may or may not have run before a kill.
	deleted, maybeDeleted := map[int64]bool{}, map[int64]bool{}
	for round := range 3 {
		last := runCrashChild(t, dir, next, rng, deleted)
		if d, ok := crashDeleted(last); ok && !deleted[d] {
			maybeDeleted[d] = true
		}
		if last < next {
			t.Fatalf("round %d: no batch acknowledged", round)
		}
		st := tsdb.NewStore(crashConfig(dir), nil, prometheus.NewRegistry())
		must(t, st.Open(), "reopen after crash")
		sh := st.Shard(1)
		if sh == nil {
			t.Fatalf("round %d: shard 1 missing after crash", round)
		}
		for h := range crashHosts {
			got := readAll(t, sh, seriesKey("h"+strconv.Itoa(h)), "v", true)
			byTS := make(map[int64]int64, len(got))
			for _, g := range got {
				byTS[g.ts] = g.v.Integer()
			}
			for ts := int64(0); ts < (last+1)*crashPerBatch; ts++ {
				b := ts / crashPerBatch
				v, ok := byTS[ts]
				if h == 0 && deleted[b] {
					if ok {
						t.Fatalf("round %d: ts %d of h0 (batch %d) was deleted (acknowledged) but holds %d", round, ts, b, v)
					}
					continue
				}
				if h == 0 && maybeDeleted[b] && !ok {
					continue
				}
				switch {
				case !ok:
					t.Fatalf("round %d host %d: acknowledged ts %d (batch %d, last ack %d) missing", round, h, ts, b, last)
				case b < last && skipped[b+1] && v != crashValue(b, ts) && v != crashValue(b+1, ts):
					t.Fatalf("round %d host %d ts %d: got %d, want %d or the unacked overwrite %d", round, h, ts, v, crashValue(b, ts), crashValue(b+1, ts))
				case b < last && !skipped[b+1] && v != crashValue(b+1, ts):
					t.Fatalf("round %d host %d ts %d: got %d, want %d (overwrite by acked batch %d)", round, h, ts, v, crashValue(b+1, ts), b+1)
				case b == last && v != crashValue(b, ts) && v != crashValue(b+1, ts):
					t.Fatalf("round %d host %d ts %d: got %d, want %d or the unacked overwrite %d", round, h, ts, v, crashValue(b, ts), crashValue(b+1, ts))
				}
			}
		}
		for b := int64(0); b <= last; b++ {
			if skipped[b] {
				continue
			}
			got := readAll(t, sh, seriesKey(crashNewSeries(b)), "v", true)
			if len(got) != 1 || got[0].ts != b || got[0].v.Integer() != crashValue(b, b) {
				t.Fatalf("round %d: series %s of acknowledged batch %d: got %v, want [%d=%d]", round, crashNewSeries(b), b, got, b, crashValue(b, b))
			}
		}
		must(t, st.Close(), "close")
		t.Logf("round %d: batches %d..%d acknowledged and verified (%d deletes of h0 ranges)", round, next, last, len(deleted))
		skipped[last+1] = true
		next = last + 2 // skip the possibly half-written batch
	}
}
