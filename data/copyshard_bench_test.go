package data_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/datasets"
	"github.com/strata-db/strata/meta"
)

// copyBenchLines is how much of the TSBS cpu-only day the copy benchmark
// loads (10 values a line); STRATA_COPY_BENCH_LINES overrides it.
const copyBenchLines = 200_000

// BenchmarkCopyShard copies a shard of TSBS cpu-only data between two
// in-process data nodes over loopback, as `strata ctl copy-shard` does
// (stream, Merkle-root verification, owner change), and reports the
// throughput in MB/s of the source's shard data (its TSM files once
// snapshotted and fully compacted), the bytes of shard files the copy
// received (file-bytes/op) and the values its exchanges moved
// (values-moved/op: 0 when the file-level copy brought everything). Each
// iteration removes the copy again. The anti-entropy settings are the defaults. On a shared machine
// the CPU-second metrics (the whole process: both nodes and meta) are the
// ones to compare.
func BenchmarkCopyShard(b *testing.B) {
	lines := copyBenchLines
	if s := os.Getenv("STRATA_COPY_BENCH_LINES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("STRATA_COPY_BENCH_LINES: %v", err)
		}
		lines = n
	}
	batches := datasets.Batches(b, "tsbs-cpu-only-s100-1d.lp.gz", 5000, lines)
	c := clustertest.New(b, clustertest.Options{Meta: 1, Data: 2})
	c.CreateDatabase("db", 1)
	for _, body := range batches {
		if code, msg := c.Write(0, url.Values{"db": {"db"}}, string(body)); code != http.StatusNoContent {
			b.Fatalf("write: %d %s", code, msg)
		}
	}
	d := c.Server(0).MetaData()
	locs := d.Shards()
	if len(locs) == 0 {
		b.Fatal("no shard")
	}
	// With RF 1 the group has a shard per node; the first is copied.
	shard, srcID := locs[0].Shard.ID, locs[0].Shard.Owners[0]
	src := c.Index(srcID)
	dst := 1 - src
	dstID := c.NodeID(dst)
	sh := c.Server(src).Store().Shard(shard)
	if err := sh.Snapshot(); err != nil {
		b.Fatal(err)
	}
	if err := sh.Compact(true); err != nil {
		b.Fatal(err)
	}
	size := tsmBytes(b, sh.Path())

	mc := meta.NewClient(meta.ClientConfig{Addrs: c.Meta.HTTPAddrs()})
	defer mc.Close()
	b.SetBytes(size)
	values, fileBytes := 0, int64(0)
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		cpu0 := processCPU(b)
		resp, err := http.Post(fmt.Sprintf("%s%s?shard=%d&source=%d", c.URL(dst), data.CopyShardPath, shard, srcID), "", nil)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("start copy: %s", resp.Status)
		}
		st := waitCopyDone(b, c.URL(dst), shard)
		if st.State != "done" || !st.Verified {
			b.Fatalf("copy ended %+v", st)
		}
		values, fileBytes = st.Values, st.Bytes
		b.StopTimer()
		cpu += processCPU(b) - cpu0
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := mc.RemoveShardOwner(ctx, shard, dstID, false); err != nil {
			b.Fatal(err)
		}
		cancel()
		c.WaitFor("the copy deleted", func() bool { return !slices.Contains(c.Server(dst).Store().ShardIDs(), shard) })
		b.StartTimer()
	}
	b.ReportMetric(float64(fileBytes), "file-bytes/op")
	b.ReportMetric(float64(values), "values-moved/op")
	b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
}

// processCPU is the CPU time (user and system) this process used so far:
// both data nodes and meta run in it.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitCopyDone polls a node's copy status until the copy of shard ends.
func waitCopyDone(b *testing.B, base string, shard uint64) data.CopyShardStatus {
	for {
		resp, err := http.Get(base + data.CopyShardStatusPath)
		if err != nil {
			b.Fatal(err)
		}
		var sts []data.CopyShardStatus
		err = json.NewDecoder(resp.Body).Decode(&sts)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		for _, st := range sts {
			if st.Shard == shard && !st.Running {
				return st
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tsmBytes sums the sizes of the data files directly in dir.
func tsmBytes(b *testing.B, dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if e.IsDir() || filepath.Ext(e.Name()) != ".tsm" {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			b.Fatal(err)
		}
		n += fi.Size()
	}
	if n == 0 {
		b.Fatalf("no .tsm file in %s", dir)
	}
	return n
}
