// Package gcpace raises the Go garbage collector's target (GOGC) while
// queries run. A query's allocations (decoded blocks, rows, the encoded
// answer) are garbage the moment it answers, so collecting them at a data
// node's low ingest target (gc-percent, 30) costs CPU for little memory:
// under 32 concurrent TSBS queries it took a quarter of the node's CPU
// (docs/benchmarks.md, issue 17 item 4). Ingest keeps the low target: the
// first query raises it, and it goes back down once no query has run for
// Hold.
//
// The target is lowered only after Hold without queries, not the moment
// the last one ends: between the back-to-back queries of a client there
// is usually a moment with none running, and lowering the target then
// made the heap, grown at the raised target, exceed the low one, so the
// next allocation started a collection. Under a stream of sequential small
// queries the collector then ran at the low target anyway, three times as
// often, and its mark and sweep workers took the CPU the clients and the
// next queries needed (docs/benchmarks.md, "Small-query tail").
//
// The collector is one per process, so the pacer is too: every data node
// of a process (strata local, in-process tests) counts its queries in it.
package gcpace

import (
	"runtime/debug"
	"sync"
	"time"
)

// Hold is how long the target stays raised after the last query ends.
const Hold = time.Second

var pacer = struct {
	mu sync.Mutex // protects the fields below
	// base is the target outside queries, raised the target while they
	// run; raised 0 leaves the target alone.
	base, raised int
	running      int  // queries in flight
	up           bool // the target is raised now
	// idleSince is when running last dropped to 0; armed says a timer
	// will look at it.
	idleSince time.Time
	armed     bool
	// now and afterFunc are time.Now and time.AfterFunc (tests replace
	// them).
	now       func() time.Time
	afterFunc func(time.Duration, func())
}{now: time.Now, afterFunc: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}

// Configure sets the collector's target to base, and to raised while
// queries run (and for Hold after the last); raised 0 keeps base
// throughout. The process calls it once at start, unless the GOGC
// environment variable decides the target.
func Configure(base, raised int) {
	pacer.mu.Lock()
	defer pacer.mu.Unlock()
	pacer.base, pacer.raised = base, raised
	pacer.up = pacer.running > 0 && raised != 0
	if pacer.up {
		debug.SetGCPercent(raised)
	} else {
		debug.SetGCPercent(base)
	}
}

// Begin counts a query (or a shard scan run for one) as started: the
// first raises the target, unless it is still raised from queries less
// than Hold ago. Call end exactly once when it is over; Hold after the
// end of the last one, the target goes back down. Safe for concurrent
// use.
func Begin() (end func()) {
	pacer.mu.Lock()
	defer pacer.mu.Unlock()
	if !pacer.up && pacer.raised != 0 {
		debug.SetGCPercent(pacer.raised)
		pacer.up = true
	}
	pacer.running++
	return done
}

func done() {
	pacer.mu.Lock()
	defer pacer.mu.Unlock()
	pacer.running--
	if pacer.running > 0 || !pacer.up {
		return
	}
	pacer.idleSince = pacer.now()
	if !pacer.armed {
		pacer.armed = true
		pacer.afterFunc(Hold, lower)
	}
}

// lower sets the base target back once no query has run for Hold, or
// looks again when one ran since.
func lower() {
	pacer.mu.Lock()
	defer pacer.mu.Unlock()
	pacer.armed = false
	if pacer.running > 0 || !pacer.up {
		return // the end of the running ones arms a new look
	}
	if idle := pacer.now().Sub(pacer.idleSince); idle < Hold {
		pacer.armed = true
		pacer.afterFunc(Hold-idle, lower)
		return
	}
	debug.SetGCPercent(pacer.base)
	pacer.up = false
}
