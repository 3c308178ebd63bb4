package data_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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

// copyBenchRandomSeries is how many series the random-float data of
// STRATA_COPY_BENCH_RANDOM_LINES spreads its lines over.
const copyBenchRandomSeries = 1000

// BenchmarkCopyShard copies a shard of TSBS cpu-only data between two
// in-process data nodes over loopback, as `strata ctl copy-shard` does
// (stream, Merkle-root verification, owner change), and reports the
// throughput in MB/s of the source's shard data (its TSM files once
// snapshotted and fully compacted), the bytes of shard files the copy
// received (file-bytes/op) and the values its exchanges moved
// (values-moved/op: 0 when the file-level copy brought everything). Each
// iteration removes the copy again. STRATA_COPY_BENCH_RANDOM_LINES=n
// loads n generated lines of 10 random floats each instead (about 8
// bytes a value in the files where TSBS takes 0.35, for shards of
// hundreds of MB). The anti-entropy settings are the defaults. On a shared machine
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
	c := clustertest.New(b, clustertest.Options{Meta: 1, Data: 2})
	c.CreateDatabase("db", 1)
	write := func(body []byte) {
		if code, msg := c.Write(0, url.Values{"db": {"db"}}, string(body)); code != http.StatusNoContent {
			b.Fatalf("write: %d %s", code, msg)
		}
	}
	if s := os.Getenv("STRATA_COPY_BENCH_RANDOM_LINES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("STRATA_COPY_BENCH_RANDOM_LINES: %v", err)
		}
		writeRandomLines(n, write)
	} else {
		for _, body := range datasets.Batches(b, "tsbs-cpu-only-s100-1d.lp.gz", 5000, lines) {
			write(body)
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

// writeRandomLines passes n lines of 10 random float fields, over
// copyBenchRandomSeries series and one day, to write in batches of 5,000.
func writeRandomLines(n int, write func([]byte)) {
	rng := rand.New(rand.NewPCG(14, 50))
	step := int64(24*time.Hour) / int64(max(1, n/copyBenchRandomSeries))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var buf []byte
	for i := range n {
		buf = fmt.Appendf(buf, "rnd,host=h%d ", i%copyBenchRandomSeries)
		for f := range 10 {
			if f > 0 {
				buf = append(buf, ',')
			}
			buf = fmt.Appendf(buf, "f%d=", f)
			buf = strconv.AppendFloat(buf, rng.Float64()*100, 'g', -1, 64)
		}
		buf = fmt.Appendf(buf, " %d\n", start+int64(i/copyBenchRandomSeries)*step)
		if (i+1)%5000 == 0 || i == n-1 {
			write(buf)
			buf = buf[:0]
		}
	}
}
