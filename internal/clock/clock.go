// Package clock is the process's wall clock for the places where wall
// time decides correctness (server timestamps, retention, hinted-handoff
// age, the anti-entropy settle horizon, continuous-query windows,
// internode auth tokens). Durations and timeouts keep the monotonic
// time.Now/time.Since.
//
// Now is time.Now plus a process-wide offset that is zero unless a test
// harness moves it: a fault-injection hook for the chaos campaign's clock
// jumps, reachable only in a process started with STRATA_FAULT_CLOCK=1
// (see WatchFaultFile). In production the offset stays zero and Now costs
// one atomic load more than time.Now.
package clock

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// FaultEnv is the environment variable that enables the clock-offset
// fault hook; only the value "1" enables it. It is for tests: a process
// without it never reads FaultFile.
const FaultEnv = "STRATA_FAULT_CLOCK"

// FaultFile is the file, in a node's --dir, whose content (a Go duration
// such as "-90s" or "5m") is the clock offset while the hook is enabled.
// A missing or empty file means no offset.
const FaultFile = "fault-clock-offset"

// PollInterval is how often an enabled hook re-reads FaultFile.
const PollInterval = 200 * time.Millisecond

// offset is added to time.Now by Now, in nanoseconds.
var offset atomic.Int64

// Now returns the current wall-clock time shifted by the fault offset
// (zero outside fault-injection tests).
func Now() time.Time {
	if o := offset.Load(); o != 0 {
		return time.Now().Add(time.Duration(o))
	}
	return time.Now()
}

// Offset returns the offset Now currently adds.
func Offset() time.Duration { return time.Duration(offset.Load()) }

// SetOffset makes Now return time.Now()+d. It is for tests in this
// process; other processes are reached through WatchFaultFile.
func SetOffset(d time.Duration) { offset.Store(int64(d)) }

// WatchFaultFile, when the process was started with STRATA_FAULT_CLOCK=1,
// polls dir/FaultFile every PollInterval and sets the offset to the
// duration it holds (zero when the file is absent or empty); a file that
// does not parse is logged and leaves the offset as it was. Without the
// variable it does nothing. The returned function stops the polling.
func WatchFaultFile(dir string, logger *slog.Logger) (stop func()) {
	if os.Getenv(FaultEnv) != "1" {
		return func() {}
	}
	path := filepath.Join(dir, FaultFile)
	logger.Warn("clock fault hook enabled: the wall clock follows "+path, "env", FaultEnv)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(PollInterval)
		defer t.Stop()
		for {
			applyFaultFile(path, logger)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done) }
}

// applyFaultFile sets the offset from the file at path.
func applyFaultFile(path string, logger *slog.Logger) {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		logger.Warn("clock fault hook: read", "path", path, "err", err)
		return
	}
	var d time.Duration
	if s := string(bytes.TrimSpace(b)); s != "" {
		if d, err = time.ParseDuration(s); err != nil {
			logger.Warn("clock fault hook: not a duration", "path", path, "content", s)
			return
		}
	}
	if old := offset.Swap(int64(d)); old != int64(d) {
		logger.Warn("clock fault hook: wall clock offset changed", "from", time.Duration(old), "to", d)
	}
}
