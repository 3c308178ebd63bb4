//go:build linux && !race

package index

import (
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"
)

// minorFaults returns the page faults the process took without reading
// a disk: on anonymous memory, one per first touch of a page.
func minorFaults(t *testing.T) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return int64(ru.Minflt) // int32 on 386
}

// TestGrownTablesFaultEachPageOnce checks that growing the key table and a
// value map into a table of fresh memory takes one page fault per page of
// it, not two: placing an entry reads its slot first, and a first read of
// a fresh page maps the zero page, which the write then replaces with a
// second fault (see newSlots). Not under the race detector, whose shadow
// memory takes faults of its own.
func TestGrownTablesFaultEachPageOnce(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC()
	const (
		n       = 1 << 23 // slots of the grown table: 64 MiB, more than the tests free
		entries = 100_000 // a few a page, so a read comes first on nearly every page
		pages   = n * 8 / pageSize
	)
	rng := rand.New(rand.NewPCG(1, 2))
	grow := map[string]func(){
		"seriesTable": func() {
			st := newSeriesTable()
			st.rehash(1 << 18)
			for id := uint32(1); id <= entries; id++ {
				st.place(rng.Uint32(), id)
				st.used++
			}
			st.rehash(n)
		},
		"valueMap": func() {
			var vm valueMap
			vm.rehash(1 << 18)
			for i := 1; i <= entries; i++ {
				vm.place(rng.Uint32(), i)
			}
			vm.n = entries
			vm.rehash(n)
		},
	}
	for name, f := range grow {
		t.Run(name, func(t *testing.T) {
			before := minorFaults(t)
			f()
			if got := minorFaults(t) - before; got > pages*5/4 {
				t.Errorf("growing to %d pages took %d page faults, want about one a page", pages, got)
			}
		})
	}
}
