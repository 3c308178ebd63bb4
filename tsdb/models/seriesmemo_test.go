package models

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
)

func TestSeriesMemo(t *testing.T) {
	var p Parser
	pts, err := p.Parse([]byte("m,t=a f=1\nm,t=b f=2\nm,t=a f=3\nm f=4\nm f=5\n"), PrecisionNanosecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	var m SeriesMemo
	for i, want := range []struct {
		v  int32
		ok bool
	}{{0, false}, {0, false}, {0, true}, {0, false}, {3, true}} {
		v, ok := m.Recall(&pts[i], int32(i))
		if v != want.v || ok != want.ok {
			t.Fatalf("point %d: Recall = %d, %v; want %d, %v", i, v, ok, want.v, want.ok)
		}
	}
	// Equal bytes in other slices are not recognised: identity, not content.
	c := pts[0].Clone()
	if _, ok := m.Recall(&c, 9); ok {
		t.Fatal("a copy of point 0 was recalled")
	}
	m.Reset()
	if _, ok := m.Recall(&pts[0], 0); ok {
		t.Fatal("point 0 was recalled after Reset")
	}
	// A shorter view of the same tags is another series.
	short := pts[0]
	short.Tags = short.Tags[:0]
	if _, ok := m.Recall(&short, 1); ok {
		t.Fatal("point 0 without its tags was recalled as point 0")
	}
}

// TestSeriesMemoRecallsEverySeries checks a batch cycling through 200
// series (more than TSBS's 100 per batch) finds almost every repeat: series
// whose slots collide must not keep evicting each other (a one-slot table
// missed about a fifth of them). The table is a cache keyed by addresses,
// so some misses are allowed (up to 5 %: runs miss 0-2 % of the repeats,
// occasionally more when the heap places slices so that neighbourhoods
// fill); a wrong hit never is.
func TestSeriesMemoRecallsEverySeries(t *testing.T) {
	const series, rounds = 200, 10
	var lp []byte
	for r := range rounds {
		for s := range series {
			lp = fmt.Appendf(lp, "cpu,host=host_%d,rack=%d usage=%d %d\n", s, s%7, r, r)
		}
	}
	var p Parser
	pts, err := p.Parse(lp, PrecisionNanosecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	var m SeriesMemo
	misses := 0
	for i := range pts {
		v, ok := m.Recall(&pts[i], int32(i))
		switch {
		case ok && i < series:
			t.Fatalf("point %d, the first of its series, was recalled as point %d", i, v)
		case ok && int(v)%series != i%series:
			t.Fatalf("point %d (series %d) was recalled as point %d (series %d)", i, i%series, v, int(v)%series)
		case !ok && i >= series:
			misses++
		}
	}
	if max := len(pts) / 20; misses > max {
		t.Fatalf("%d of %d repeats missed; want at most %d", misses, len(pts)-series, max)
	}
}

// TestSeriesMemoTagAddresses checks the memo's shortcut for points whose
// Tags lie above every address seen (remembered without a search): a
// point at the highest address is recalled when it comes again, points
// below it are searched for, and a full table of distinct series never
// recalls one wrongly.
func TestSeriesMemoTagAddresses(t *testing.T) {
	const n = 3 * seriesMemoSlots
	tags := make(Tags, n)
	point := func(i int) *Point {
		return &Point{Measurement: []byte("cpu"), Tags: tags[i : i+1]}
	}
	var m SeriesMemo
	// Descending addresses: none takes the shortcut after the first.
	for i := n - 1; i >= 0; i-- {
		if v, ok := m.Recall(point(i), int32(i)); ok {
			t.Fatalf("distinct series %d recalled as %d", i, v)
		}
	}
	m.Reset()
	hi, lo := point(n-1), point(0)
	for i, want := range []struct {
		p  *Point
		ok bool
	}{{hi, false}, {lo, false}, {hi, true}, {lo, true}} {
		if _, ok := m.Recall(want.p, int32(i)); ok != want.ok {
			t.Fatalf("recall %d: got %v, want %v", i, ok, want.ok)
		}
	}
	// Ascending addresses, past a full table: only the shortcut, never a
	// wrong hit, and the last series is still there.
	m.Reset()
	for i := range n {
		if v, ok := m.Recall(point(i), int32(i)); ok {
			t.Fatalf("distinct series %d recalled as %d", i, v)
		}
	}
	if v, ok := m.Recall(point(n-1), -1); !ok || v != n-1 {
		t.Fatalf("the last series: got %d, %v; want %d, true", v, ok, n-1)
	}
}

// BenchmarkSeriesMemo is the cost of a Recall per point of a 5,000-line
// batch: of 100 series repeated (TSBS), or of 5,000 series each seen once
// (a million-series load), where every Recall misses.
func BenchmarkSeriesMemo(b *testing.B) {
	for _, series := range []int{100, 5000} {
		b.Run(fmt.Sprintf("series=%d", series), func(b *testing.B) {
			var lp []byte
			for i := range 5000 {
				lp = fmt.Appendf(lp, "cpu,host=host_%d,rack=%d usage=%d %d\n", i%series, i%7, i, i)
			}
			var p Parser
			pts, err := p.Parse(lp, PrecisionNanosecond, 0)
			if err != nil {
				b.Fatal(err)
			}
			var m SeriesMemo
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var ru0, ru1 syscall.Rusage
			const rusageThread = 1 // RUSAGE_THREAD
			_ = syscall.Getrusage(rusageThread, &ru0)
			for b.Loop() {
				m.Reset()
				for i := range pts {
					m.Recall(&pts[i], int32(i))
				}
			}
			_ = syscall.Getrusage(rusageThread, &ru1)
			cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
			// Thread CPU time: steadier than wall time on a loaded machine.
			b.ReportMetric(float64(cpu)/float64(b.N*len(pts)), "cpu-ns/point")
		})
	}
}
