package main

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/proctest"
)

// TestCopyShardProcesses copies the shard of a 3-node RF 2 cluster to the
// node that does not own it while writes go on, through `strata ctl
// copy-shard`; then removes the two old owners with `remove-shard`, and
// the copy alone must answer every acknowledged value. Removing the last
// owner is refused without --force.
func TestCopyShardProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	c := startAECluster(t)
	src, dest := c.owners[0], c.outsider
	coord := c.data[src]
	const seeded = 3000
	if code := coord.post(t, "/write?db=db&precision=ns&consistency=all", c.lines("a", 0, seeded)); code != 204 {
		t.Fatalf("seed write: status %d", code)
	}

	// Writes during the copy, each batch acknowledged by every owner of
	// the moment.
	var mu sync.Mutex
	acked := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i += 20 {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := http.Post("http://"+coord.httpAddr+"/write?db=db&precision=ns&consistency=all", "text/plain",
				strings.NewReader(c.lines("w", i, 20)))
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != 204 {
				// Later batches must not count past a refused one.
				return
			}
			mu.Lock()
			acked = i + 20
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	out := ctl(t, c.bin, c.metas, "copy-shard", fmtID(src), fmtID(dest), fmtID(c.shard))
	time.Sleep(300 * time.Millisecond) // some writes after the owner change too
	close(stop)
	wg.Wait()
	if !strings.Contains(out, "copied shard") {
		t.Fatalf("copy-shard printed %q", out)
	}
	d, err := staleState(c.metas[0])
	if err != nil {
		t.Fatal(err)
	}
	if owners := d.ShardOwners(c.shard); !slices.Contains(owners, dest) || len(owners) != 3 {
		t.Fatalf("owners after the copy: %v, want %v and %d", owners, c.owners, dest)
	}
	if st := ctl(t, c.bin, c.metas, "copy-shard-status"); !strings.Contains(st, "done") {
		t.Fatalf("copy-shard-status printed %q", st)
	}
	mu.Lock()
	wrote := acked
	mu.Unlock()
	if wrote == 0 {
		t.Fatal("no write was acknowledged during the copy")
	}

	// The replicas converge (writes acknowledged around the owner change
	// may need the periodic exchange), then the copy is left alone.
	deadline := time.Now().Add(2*aeCheckInterval + 5*time.Second)
	for c.root(dest) == "" || c.root(dest) != c.root(src) || c.root(dest) != c.root(c.owners[1]) {
		if time.Now().After(deadline) {
			t.Fatalf("roots did not converge: src %s, dest %s, other %s\n%s", c.root(src), c.root(dest), c.root(c.owners[1]), c.data[dest].Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	ctl(t, c.bin, c.metas, "remove-shard", fmtID(c.owners[0]), fmtID(c.shard))
	ctl(t, c.bin, c.metas, "remove-shard", fmtID(c.owners[1]), fmtID(c.shard))
	full := []string{"ctl", "--meta", strings.Join(c.metas, ","), "remove-shard", fmtID(dest), fmtID(c.shard)}
	stdout, stderr, code := proctest.Run(t, c.bin, full...)
	if code == 0 || !strings.Contains(stdout+stderr, "only owner") {
		t.Fatalf("removing the last owner: exit %d, %s%s; want a refusal", code, stdout, stderr)
	}
	if d, err = staleState(c.metas[0]); err != nil {
		t.Fatal(err)
	}
	if owners := d.ShardOwners(c.shard); !slices.Equal(owners, []uint64{dest}) {
		t.Fatalf("owners after the removals: %v, want [%d]", owners, dest)
	}
	if n := c.count(dest, "a"); n != seeded {
		t.Fatalf("node %d alone holds %d values of a, want %d", dest, n, seeded)
	}
	if n := c.count(dest, "w"); n < wrote {
		t.Fatalf("node %d alone holds %d values written during the copy, want at least the %d acknowledged", dest, n, wrote)
	}
}

func fmtID(id uint64) string { return strconv.FormatUint(id, 10) }
