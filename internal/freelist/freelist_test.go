package freelist_test

import (
	"runtime"
	"testing"

	"github.com/strata-db/strata/internal/freelist"
)

type scratch struct{ buf []byte }

// TestKeepsValuesAcrossGC checks what a sync.Pool would not do: idle values
// survive garbage collections and come back from Get.
func TestKeepsValuesAcrossGC(t *testing.T) {
	l := freelist.New[scratch]()
	put := map[*scratch]bool{}
	for range freelist.DefaultSize {
		v := &scratch{buf: make([]byte, 1<<20)}
		put[v] = true
		l.Put(v)
	}
	runtime.GC()
	runtime.GC()
	for range freelist.DefaultSize {
		if v := l.Get(); !put[v] {
			t.Fatalf("Get after two GCs returned a new value; want one of the %d put back", freelist.DefaultSize)
		}
	}
	if v := l.Get(); put[v] || v == nil || v.buf != nil {
		t.Fatalf("Get on an empty list = %p (buf %d bytes); want a new zero value", v, len(v.buf))
	}
}

// TestOverflowIsNotLost checks that values put back while the list is full
// are still reused (until the GC takes them) rather than dropped at once.
func TestOverflowIsNotLost(t *testing.T) {
	l := freelist.New[scratch]()
	vals := make([]*scratch, freelist.DefaultSize+1)
	for i := range vals {
		vals[i] = &scratch{buf: []byte{byte(i)}}
		l.Put(vals[i])
	}
	seen := 0
	for range vals {
		if v := l.Get(); v.buf != nil {
			seen++
		}
	}
	// sync.Pool may drop a value at any time (it does under the race
	// detector), so only the bounded part is certain.
	if seen < freelist.DefaultSize {
		t.Fatalf("got back %d of %d values put; want at least the %d the list keeps", seen, len(vals), freelist.DefaultSize)
	}
}

// TestBounded checks that the list keeps at most DefaultSize idle values
// and that TryGet takes only those, without allocating.
func TestBounded(t *testing.T) {
	l := freelist.New[scratch]()
	for range freelist.DefaultSize + 3 {
		l.Put(&scratch{buf: []byte{1}})
	}
	if got := l.Idle(); got != freelist.DefaultSize {
		t.Fatalf("Idle() = %d after %d puts; want the bound %d", got, freelist.DefaultSize+3, freelist.DefaultSize)
	}
	for range freelist.DefaultSize {
		if v := l.TryGet(); v == nil || v.buf == nil {
			t.Fatalf("TryGet() = %v; want a kept value", v)
		}
	}
	if v := l.TryGet(); v != nil {
		t.Fatalf("TryGet() on an empty list = %v; want nil", v)
	}
}
