package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/internal/proctest"
)

// copyStatus returns node id's status of its copy of the cluster's
// shard; ok is false when the node does not answer or has no such copy.
func (c *aeCluster) copyStatus(id uint64) (data.CopyShardStatus, bool) {
	resp, err := http.Get("http://" + c.data[id].httpAddr + data.CopyShardStatusPath)
	if err != nil {
		return data.CopyShardStatus{}, false
	}
	defer resp.Body.Close()
	var sts []data.CopyShardStatus
	if json.NewDecoder(resp.Body).Decode(&sts) != nil {
		return data.CopyShardStatus{}, false
	}
	for _, st := range sts {
		if st.Shard == c.shard {
			return st, true
		}
	}
	return data.CopyShardStatus{}, false
}

// waitCopyRunning waits until node id's copy has run for a while, so a
// kill lands mid-copy; it fails the test when the copy ended first.
func (c *aeCluster) waitCopyRunning(id uint64) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st, ok := c.copyStatus(id)
		if ok && !st.Running {
			c.t.Fatalf("the copy ended before the kill: %+v", st)
		}
		if ok && time.Since(st.Started) > 300*time.Millisecond {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("the copy did not start")
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// owns reports whether meta lists node id as an owner of the shard.
func (c *aeCluster) owns(id uint64) bool {
	c.t.Helper()
	d, err := staleState(c.metas[0])
	if err != nil {
		c.t.Fatal(err)
	}
	return slices.Contains(d.ShardOwners(c.shard), id)
}

// TestCopyShardSurvivesKill9 kill -9s the source and then the destination
// of a shard copy mid-transfer (the copy rate limit slows the copy
// down). Each time the destination is not an owner while the copy is
// unfinished, the copy resumes once the node is back, and the destination
// ends an owner holding every value, with `strata ctl copy-shard`
// following the copy across the destination's restart.
func TestCopyShardSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	// About 8 bytes of stream per value: random values do not compress.
	c := startAEClusterWith(t, "  copy-rate-limit = 100000\n  max-batch-size = 65536\n")
	const seeded = 30000
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < seeded; i += 10000 {
		var b strings.Builder
		for j := i; j < i+10000; j++ {
			fmt.Fprintf(&b, "cpu,host=a v=%di %d\n", rng.Int64(), c.base+int64(j)*int64(time.Millisecond))
		}
		if code := c.data[c.owners[0]].post(t, "/write?db=db&precision=ns&consistency=all", b.String()); code != 204 {
			t.Fatalf("seed write: status %d", code)
		}
	}

	ok := t.Run("source", func(t *testing.T) {
		c.t = t
		src, dest := c.owners[0], c.outsider
		ctl(t, c.bin, c.metas, "copy-shard", "--detach", fmtID(src), fmtID(dest), fmtID(c.shard))
		c.waitCopyRunning(dest)
		c.data[src].Kill()
		// The destination reads what its socket still holds, then retries.
		var st data.CopyShardStatus
		for deadline := time.Now().Add(15 * time.Second); st.Retries == 0; {
			if time.Now().After(deadline) || (st.Shard == c.shard && !st.Running) {
				t.Fatalf("copy with its source down: %+v, want running and retrying with the error shown", st)
			}
			time.Sleep(100 * time.Millisecond)
			st, _ = c.copyStatus(dest)
		}
		if !st.Running || st.Error == "" {
			t.Fatalf("copy with its source down: %+v, want running and retrying with the error shown", st)
		}
		if c.owns(dest) {
			t.Fatalf("node %d became an owner while its source was down", dest)
		}
		c.data[src].Restart()
		c.data[src].waitHealthy(t)
		deadline := time.Now().Add(40 * time.Second)
		for st.Running || st.Shard != c.shard {
			if time.Now().After(deadline) {
				t.Fatalf("copy did not end: %+v\n%s", st, c.data[dest].Log())
			}
			time.Sleep(200 * time.Millisecond)
			st, _ = c.copyStatus(dest)
		}
		if st.State != "done" || !st.Verified {
			t.Fatalf("copy after the source's restart: %+v\n%s", st, c.data[dest].Log())
		}
		if !c.owns(dest) {
			t.Fatalf("node %d is not an owner after the copy", dest)
		}
		if n := c.count(dest, "a"); n != seeded {
			t.Fatalf("node %d holds %d values, want %d", dest, n, seeded)
		}
	})
	if !ok {
		return
	}

	t.Run("destination", func(t *testing.T) {
		c.t = t
		// Node owners[1] gives the shard up, then copies it back from
		// owners[0] and is killed mid-copy.
		src, dest := c.owners[0], c.owners[1]
		ctl(t, c.bin, c.metas, "remove-shard", fmtID(dest), fmtID(c.shard))
		shardDir := filepath.Join(c.dirs[dest], "shards", fmtID(c.shard))
		deadline := time.Now().Add(20 * time.Second)
		for c.owns(dest) || exists(shardDir) {
			if time.Now().After(deadline) {
				t.Fatalf("node %d still holds the shard after remove-shard", dest)
			}
			time.Sleep(200 * time.Millisecond)
		}
		type result struct {
			out  string
			code int
		}
		done := make(chan result, 1)
		go func() {
			out, errOut, code := proctest.Run(t, c.bin, "ctl", "--meta", strings.Join(c.metas, ","), "copy-shard", fmtID(src), fmtID(dest), fmtID(c.shard))
			done <- result{out + errOut, code}
		}()
		c.waitCopyRunning(dest)
		c.data[dest].Kill()
		if c.owns(dest) {
			t.Fatalf("node %d became an owner before its copy ended", dest)
		}
		c.data[dest].Restart()
		c.data[dest].waitHealthy(t)
		var res result
		select {
		case res = <-done:
		case <-time.After(45 * time.Second):
			st, _ := c.copyStatus(dest)
			t.Fatalf("copy-shard did not return: %+v\n%s", st, c.data[dest].Log())
		}
		if res.code != 0 || !strings.Contains(res.out, "copied shard") {
			t.Fatalf("copy-shard across the destination's restart: exit %d\n%s\n%s", res.code, res.out, c.data[dest].Log())
		}
		st, _ := c.copyStatus(dest)
		if st.State != "done" || !st.Resumed || !st.Verified {
			t.Fatalf("copy status after the restart: %+v, want a resumed copy done", st)
		}
		if !c.owns(dest) {
			t.Fatalf("node %d is not an owner after the copy", dest)
		}
		if n := c.count(dest, "a"); n != seeded {
			t.Fatalf("node %d holds %d values, want %d", dest, n, seeded)
		}
	})
}
