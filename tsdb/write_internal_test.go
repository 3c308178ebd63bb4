package tsdb

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/freelist"
	"github.com/strata-db/strata/loadgen"
	"github.com/strata-db/strata/tsdb/models"
)

// TestWriteScratchKeptAcrossGC guards the write path's steady state: the
// GC runs every ~100 ms on a loaded data node, and the scratch (with its
// WAL record buffers of a few MB) must still be there for the next batch.
// Buffers grown past maxIdleWriteBuffer are not kept.
func TestWriteScratchKeptAcrossGC(t *testing.T) {
	// Empty the list so the scratches seen are this test's.
	for idleWriteScratch.TryGet() != nil {
	}
	sc := idleWriteScratch.Get()
	pts := testPoints(1000, 20)
	sc.enc.encodePoints(pts, nil, testIDs(pts))
	sc.ids = make([]uint64, 1000)
	rawCap := cap(sc.enc.raw)
	putWriteScratch(sc)
	runtime.GC()
	runtime.GC()
	if got := idleWriteScratch.TryGet(); got != sc || cap(got.enc.raw) != rawCap || cap(got.ids) != 1000 {
		t.Fatalf("after 2 GCs: scratch %p with raw %d, ids %d; want the idle %p with %d, 1000", got, cap(got.enc.raw), cap(got.ids), sc, rawCap)
	}
	// The next batch, a little larger, fits the headroom.
	outCap := cap(sc.enc.out)
	pts = testPoints(1040, 20)
	sc.enc.encodePoints(pts, nil, testIDs(pts))
	if cap(sc.enc.raw) != rawCap || cap(sc.enc.out) != outCap {
		t.Fatalf("a 4%% larger batch regrew raw %d -> %d, out %d -> %d", rawCap, cap(sc.enc.raw), outCap, cap(sc.enc.out))
	}

	sc.enc.raw = make([]byte, 0, maxIdleWriteBuffer+1)
	sc.enc.out = make([]byte, 0, maxIdleWriteBuffer+1)
	sc.ids = make([]uint64, maxIdleWriteBuffer/8+1)
	sc.drop = make([]bool, 10)
	putWriteScratch(sc)
	got := idleWriteScratch.TryGet()
	if got != sc {
		t.Fatal("an oversized scratch was not kept (its small buffers should be)")
	}
	if got.enc.raw != nil || got.enc.out != nil || got.ids != nil || got.drop != nil {
		t.Fatalf("idle scratch kept raw %d, out %d, ids %d, drop %d past the limit",
			cap(got.enc.raw), cap(got.enc.out), cap(got.ids), cap(got.drop))
	}
	putWriteScratch(got)

	// The list is bounded.
	for range freelist.DefaultSize + 3 {
		putWriteScratch(new(writeScratch))
	}
	if got := idleWriteScratch.Idle(); got != freelist.DefaultSize {
		t.Fatalf("%d idle scratches, want %d", got, freelist.DefaultSize)
	}
}

// BenchmarkWriteNewSeries is the data node's share of the 1 M-series load
// of issue 17 without HTTP: writers (1, or 2 as in the load) each
// parse and write batches of 5,000 lines of `strata bench --hosts N` at
// one timestamp (every line a series new to the shard) through the index,
// the fsynced WAL and the cache, snapshots running. One op is one batch.
// values/s is wall-clock; values/cpu-s counts the process's CPU
// (snapshots and GC included).
func BenchmarkWriteNewSeries(b *testing.B) {
	for _, writers := range []int{1, 2} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) { benchWriteNewSeries(b, writers) })
	}
}

func benchWriteNewSeries(b *testing.B, writers int) {
	const lines = 5000
	gcfg := loadgen.NewCPUConfig()
	gcfg.Hosts, gcfg.Duration = b.N*lines, gcfg.Interval
	g, err := loadgen.NewCPUGenerator(gcfg)
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([][]byte, b.N)
	for i := range bodies {
		for range lines {
			bodies[i], _ = g.Next(bodies[i])
		}
	}
	cfg := NewConfig()
	cfg.Dir = b.TempDir()
	sh := openTestShard(b, cfg)
	var next, values atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU(b)
	for range writers {
		wg.Go(func() {
			var p models.Parser
			for i := next.Add(1) - 1; i < int64(len(bodies)); i = next.Add(1) - 1 {
				pts, err := p.Parse(bodies[i], models.PrecisionNanosecond, 0)
				if err == nil {
					err = sh.WritePoints(context.Background(), pts)
				}
				if err != nil {
					b.Error(err)
					return
				}
				for j := range pts {
					values.Add(int64(len(pts[j].Fields)))
				}
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), processCPU(b)-cpu0
	b.ReportMetric(float64(values.Load())/elapsed.Seconds(), "values/s")
	b.ReportMetric(float64(values.Load())/cpu.Seconds(), "values/cpu-s")
}

// TestWriteCacheRoomCountsKeptPoints: the cache room a batch waits for
// is that of the points it keeps. Points dropped as invalid or for a field
// type conflict are not counted: each of those here alone needs more than
// the whole cache, so counting either fails the batch with ErrCacheFull;
// nor are their values counted as written.
func TestWriteCacheRoomCountsKeptPoints(t *testing.T) {
	sh, _ := fullCacheShard(t)
	point := func(host string, fields ...models.Field) models.Point {
		return models.Point{
			Measurement: []byte("cpu"),
			Tags:        models.Tags{{Key: []byte("host"), Value: []byte(host)}},
			Fields:      fields,
			Time:        1,
		}
	}
	big := models.StringValue(make([]byte, 8<<10)) // the whole cache's size
	if err := sh.WritePoints(context.Background(), []models.Point{point("a", models.Field{Key: []byte("v"), Value: models.FloatValue(1)})}); err != nil {
		t.Fatalf("first write: %v", err)
	}
	batch := []models.Point{
		// Invalid: its second field has no type.
		point("b", models.Field{Key: []byte("s"), Value: big}, models.Field{Key: []byte("u")}),
		// A conflict: v is a float.
		point("c", models.Field{Key: []byte("v"), Value: big}),
		point("d", models.Field{Key: []byte("v"), Value: models.FloatValue(2)}),
	}
	err := sh.WritePoints(context.Background(), batch)
	var pwe *PartialWriteError
	if !errors.As(err, &pwe) || pwe.Dropped != 2 || errors.Is(err, ErrCacheFull) {
		t.Fatalf("write: got %v; want a *PartialWriteError of 2 dropped points", err)
	}
	c, err := sh.Cursor([]byte("cpu,host=d"), []byte("v"), 0, 10, true)
	if err != nil {
		t.Fatalf("cursor: %v", err)
	}
	defer c.Close()
	if n := c.Len(); n != 1 {
		t.Fatalf("the kept point: %d values, want 1", n)
	}
	if got := counterValue(t, sh.metrics.valuesWritten); got != 2 {
		t.Fatalf("values written: %v, want 2", got)
	}
}
