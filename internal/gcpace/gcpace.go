// Package gcpace raises the Go garbage collector's target (GOGC) while
// queries run. A query's allocations (decoded blocks, rows, the encoded
// answer) are garbage the moment it answers, so collecting them at a data
// node's low ingest target (gc-percent, 30) costs CPU for little memory:
// under 32 concurrent TSBS queries it took a quarter of the node's CPU
// (docs/benchmarks.md, issue 17 item 4). Ingest keeps the low target: the
// first query raises it, the end of the last lowers it back.
//
// The collector is one per process, so the pacer is too: every data node
// of a process (strata local, in-process tests) counts its queries in it.
package gcpace

import (
	"runtime/debug"
	"sync"
)

var pacer struct {
	mu sync.Mutex // protects base, raised, running
	// base is the target outside queries, raised the target while one
	// runs; raised 0 leaves the target alone.
	base, raised int
	running      int // queries in flight
}

// Configure sets the collector's target to base, and to raised while a
// query runs; raised 0 keeps base throughout. The process calls it once at
// start, unless the GOGC environment variable decides the target.
func Configure(base, raised int) {
	pacer.mu.Lock()
	defer pacer.mu.Unlock()
	pacer.base, pacer.raised = base, raised
	if pacer.running > 0 && raised != 0 {
		debug.SetGCPercent(raised)
	} else {
		debug.SetGCPercent(base)
	}
}

// Begin counts a query (or a shard scan run for one) as started: the
// first raises the target. Call end exactly once when it is over; the
// end of the last one lowers the target back. Safe for concurrent use.
func Begin() (end func()) {
	pacer.mu.Lock()
	defer pacer.mu.Unlock()
	if pacer.running == 0 && pacer.raised != 0 {
		debug.SetGCPercent(pacer.raised)
	}
	pacer.running++
	return done
}

func done() {
	pacer.mu.Lock()
	defer pacer.mu.Unlock()
	pacer.running--
	if pacer.running == 0 && pacer.raised != 0 {
		debug.SetGCPercent(pacer.base)
	}
}
