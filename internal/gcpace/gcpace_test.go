package gcpace

import (
	"runtime/debug"
	"sync"
	"testing"
	"time"
)

// gcPercent reads the collector's target.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// fakeClock stands in for the pacer's clock and timers: time moves only
// when the test says, and timers fire only from fire.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	timer []func() // armed timers' functions
	after []time.Duration
}

// install makes the pacer use c until the test ends, and restores the
// collector's target then.
func (c *fakeClock) install(t *testing.T) {
	t.Helper()
	c.t = time.Unix(1000, 0)
	pacer.mu.Lock()
	pacer.now = func() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
	pacer.afterFunc = func(d time.Duration, f func()) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.timer, c.after = append(c.timer, f), append(c.after, d)
	}
	pacer.armed = false
	pacer.mu.Unlock()
	percent := gcPercent()
	t.Cleanup(func() {
		pacer.mu.Lock()
		pacer.now = time.Now
		pacer.afterFunc = func(d time.Duration, f func()) { time.AfterFunc(d, f) }
		pacer.armed = false
		pacer.mu.Unlock()
		Configure(percent, 0)
	})
}

// advance moves the clock by d.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fire runs the armed timers (as if they were due) and reports how many
// there were and the delay the last one was armed with.
func (c *fakeClock) fire() (n int, last time.Duration) {
	c.mu.Lock()
	fs, ds := c.timer, c.after
	c.timer, c.after = nil, nil
	c.mu.Unlock()
	for _, f := range fs {
		f()
	}
	if len(ds) > 0 {
		last = ds[len(ds)-1]
	}
	return len(fs), last
}

// TestTargetRaisedWhileQueriesRun checks that the target is the raised one
// from the first query's start until Hold after the last one's end, and
// the base one before and after, across overlapping queries.
func TestTargetRaisedWhileQueriesRun(t *testing.T) {
	var clock fakeClock
	clock.install(t)
	Configure(30, 150)
	if got := gcPercent(); got != 30 {
		t.Fatalf("after Configure(30, 150): target %d, want 30", got)
	}
	end1 := Begin()
	if got := gcPercent(); got != 150 {
		t.Fatalf("one query running: target %d, want 150", got)
	}
	end2 := Begin()
	end1()
	if got := gcPercent(); got != 150 {
		t.Fatalf("second query still running: target %d, want 150", got)
	}
	if n, _ := clock.fire(); n != 0 {
		t.Fatalf("a query still running: %d timers armed, want none", n)
	}
	end2()
	if got := gcPercent(); got != 150 {
		t.Fatalf("right after the last query: target %d, want 150 for Hold", got)
	}
	clock.advance(Hold)
	if n, d := clock.fire(); n != 1 || d != Hold {
		t.Fatalf("after the last query: %d timers armed (last for %v), want 1 for %v", n, d, Hold)
	}
	if got := gcPercent(); got != 30 {
		t.Fatalf("Hold after the last query: target %d, want 30", got)
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				Begin()()
			}
		})
	}
	wg.Wait()
	clock.advance(Hold)
	if n, _ := clock.fire(); n != 1 {
		t.Fatalf("after concurrent queries: %d timers armed, want 1", n)
	}
	if got := gcPercent(); got != 30 {
		t.Fatalf("Hold after concurrent queries: target %d, want 30", got)
	}
}

// TestTargetHeldBetweenQueries checks that a gap between queries shorter
// than Hold keeps the raised target (lowering it there started a
// collection at the next allocation, issue 17 item 1), and that the
// target goes down Hold after the last query, however many came before.
func TestTargetHeldBetweenQueries(t *testing.T) {
	var clock fakeClock
	clock.install(t)
	Configure(30, 150)
	Begin()()
	clock.advance(Hold / 2)
	if got := gcPercent(); got != 150 {
		t.Fatalf("between two queries: target %d, want 150", got)
	}
	Begin()() // a second query, Hold/2 after the first
	clock.advance(Hold / 2)
	// The timer armed by the first query is due: the second one ended
	// only Hold/2 ago, so it looks again for the rest.
	if n, d := clock.fire(); n != 1 || d != Hold {
		t.Fatalf("timers: %d (last for %v), want 1 for %v", n, d, Hold)
	}
	if got := gcPercent(); got != 150 {
		t.Fatalf("Hold/2 after the second query: target %d, want 150", got)
	}
	clock.advance(Hold / 2)
	if n, d := clock.fire(); n != 1 || d != Hold/2 {
		t.Fatalf("re-armed timers: %d (last for %v), want 1 for %v", n, d, Hold/2)
	}
	if got := gcPercent(); got != 30 {
		t.Fatalf("Hold after the second query: target %d, want 30", got)
	}
	// A query running when the timer fires keeps the target; its own end
	// arms the next look.
	Begin()()
	end := Begin()
	clock.advance(Hold)
	clock.fire()
	if got := gcPercent(); got != 150 {
		t.Fatalf("query running when the timer fired: target %d, want 150", got)
	}
	end()
	clock.advance(Hold)
	if n, _ := clock.fire(); n != 1 {
		t.Fatalf("after the running query ended: %d timers, want 1", n)
	}
	if got := gcPercent(); got != 30 {
		t.Fatalf("Hold after it: target %d, want 30", got)
	}
}

// TestPacingOffKeepsBase checks that raised 0 keeps the base target while
// queries run.
func TestPacingOffKeepsBase(t *testing.T) {
	var clock fakeClock
	clock.install(t)
	Configure(30, 0)
	end := Begin()
	if got := gcPercent(); got != 30 {
		t.Fatalf("pacing off, query running: target %d, want 30", got)
	}
	end()
	clock.advance(Hold)
	clock.fire()
	if got := gcPercent(); got != 30 {
		t.Fatalf("pacing off, after the query: target %d, want 30", got)
	}
}
