package tsdb

import (
	"runtime"
	"testing"

	"github.com/strata-db/strata/internal/freelist"
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
	sc.enc.encodePoints(testPoints(1000, 20), nil)
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
	sc.enc.encodePoints(testPoints(1040, 20), nil)
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
