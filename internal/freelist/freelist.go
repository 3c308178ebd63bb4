// Package freelist keeps idle scratch values (buffers of a request) for
// reuse across garbage collections.
//
// A sync.Pool drops its content within two GC cycles. A data node under
// write load collects every ~100 ms, so its pools would be empty at most
// requests and every request would allocate its megabytes of buffers again.
// A List keeps a bounded number of idle values across GCs; values put back
// while it is full (more requests at once than it holds) go to a sync.Pool
// until the next GCs. Callers trim what they put back, so one oversized
// request does not leave its buffers behind for good.
package freelist

import (
	"runtime"
	"sync"
)

// List is a free list of *T. The zero List is not usable: call New. Safe
// for concurrent use.
type List[T any] struct {
	idle chan *T
	more *sync.Pool
}

// DefaultSize is the number of idle values New keeps: enough for the
// requests a node serves at once, bounded so a burst does not leave its
// buffers behind.
var DefaultSize = max(2, runtime.GOMAXPROCS(0))

// New returns a List keeping up to DefaultSize idle values.
func New[T any]() List[T] {
	return List[T]{idle: make(chan *T, DefaultSize), more: new(sync.Pool)}
}

// Get returns an idle value, or a new zero one.
func (l List[T]) Get() *T {
	select {
	case v := <-l.idle:
		return v
	default:
		if v, ok := l.more.Get().(*T); ok {
			return v
		}
		return new(T)
	}
}

// Put makes v available to Get. The caller must not use v afterwards.
func (l List[T]) Put(v *T) {
	select {
	case l.idle <- v:
	default:
		l.more.Put(v)
	}
}

// TryGet returns an idle value kept by the list, or nil; it never
// allocates and does not look at the overflow pool.
func (l List[T]) TryGet() *T {
	select {
	case v := <-l.idle:
		return v
	default:
		return nil
	}
}

// Idle returns the number of idle values the list keeps now (the overflow
// pool not counted).
func (l List[T]) Idle() int { return len(l.idle) }
