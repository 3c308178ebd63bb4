package hh_test

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/hh"
	"github.com/strata-db/strata/meta"
)

// These tests run timers on virtual time (testing/synctest).

// TestMaxAgePurge checks that records older than max-age are purged at the
// next purge-interval tick, counted, and their shard's time range recorded
// for anti-entropy, while younger records stay.
func TestMaxAgePurge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		cfg.MaxAge = meta.Duration(time.Hour)
		cfg.PurgeInterval = meta.Duration(time.Minute)
		cfg.RetryMaxInterval = meta.Duration(10 * time.Second)
		reg := prometheus.NewRegistry()
		s := &fakeSender{fn: down}
		svc := openService(t, cfg, s, reg)
		enqueue(t, svc, 1, 4, 100)
		time.Sleep(50 * time.Minute)
		enqueue(t, svc, 4, 6, 100)
		time.Sleep(15 * time.Minute) // 1-3 are now 65 min old, 4-5 15 min
		synctest.Wait()

		if got := metric(t, reg, "strata_hh_points_dropped_total", "reason", hh.DropMaxAge); got != 30 {
			t.Errorf("points dropped (max_age) = %v; want 30", got)
		}
		want := []hh.PurgedRange{{NodeID: 2, ShardID: 7, MinTime: 1000, MaxTime: 3999}}
		if got := svc.PurgedRanges(); !slices.Equal(got, want) {
			t.Errorf("PurgedRanges = %v; want %v", got, want)
		}
		if got := metric(t, reg, "strata_hh_queue_oldest_seconds"); got < 15*60 || got > 16*60 {
			t.Errorf("oldest record age = %vs; want 15-16 min", got)
		}
		s.setFn(nil)
		time.Sleep(cfg.RetryMaxInterval.D())
		synctest.Wait()
		if got := s.seqs(); !slices.Equal(got, []int{4, 5}) {
			t.Errorf("replayed %v; want [4 5]", got)
		}
	})
}

// TestRateLimit checks that replay holds retry-rate-limit bytes/s, after a
// first second's burst.
func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		const rate, recSize = 100_000, 10_000 - 32
		cfg.RetryRateLimit = rate
		s := &fakeSender{fn: down}
		svc := openService(t, cfg, s, nil)
		enqueue(t, svc, 0, 50, recSize) // 500 kB: 1 s burst + 4 s
		start := time.Now()
		var mu sync.Mutex
		var done time.Time
		s.setFn(func(uint64, uint64, []byte) error {
			mu.Lock()
			done = time.Now()
			mu.Unlock()
			return nil
		})
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := len(s.seqs()); n != 50 {
			t.Fatalf("replayed %d records; want 50", n)
		}
		mu.Lock()
		took := done.Sub(start)
		mu.Unlock()
		// The first attempt waits for the back-off of the failures
		// before (at most retry-max-interval).
		if took < 4*time.Second || took > 4*time.Second+cfg.RetryMaxInterval.D()+100*time.Millisecond {
			t.Errorf("500 kB replayed in %v at %d bytes/s; want 4 s after the burst", took, rate)
		}
	})
}

// TestBackoff checks that failed replays are retried after retry-interval,
// doubling up to retry-max-interval, and that success resets it.
func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t.TempDir())
		cfg.RetryInterval = meta.Duration(time.Second)
		cfg.RetryMaxInterval = meta.Duration(8 * time.Second)
		var mu sync.Mutex
		var attempts []time.Duration
		start := time.Now()
		s := &fakeSender{fn: func(uint64, uint64, []byte) error {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, time.Since(start))
			return errDown
		}}
		reg := prometheus.NewRegistry()
		svc := openService(t, cfg, s, reg)
		enqueue(t, svc, 0, 1, 100)
		time.Sleep(40 * time.Second)
		synctest.Wait()
		mu.Lock()
		got := slices.Clone(attempts)
		mu.Unlock()
		// Tries at 0, then after 1, 2, 4, 8, 8, 8 s.
		want := []time.Duration{0, 1, 3, 7, 15, 23, 31, 39}
		for i := range want {
			want[i] *= time.Second
		}
		if !slices.Equal(got, want) {
			t.Errorf("attempts at %v; want %v", got, want)
		}
		if b := metric(t, reg, "strata_hh_backoff_seconds"); b != 8 {
			t.Errorf("strata_hh_backoff_seconds = %v; want 8", b)
		}
		if st := svc.Status(); len(st) != 1 || st[0].State != hh.StateBackoff || st[0].LastError == "" {
			t.Errorf("Status = %+v; want one queue backing off with its last error", st)
		}
		s.setFn(nil)
		time.Sleep(8 * time.Second)
		synctest.Wait()
		if b := metric(t, reg, "strata_hh_backoff_seconds"); b != 0 {
			t.Errorf("strata_hh_backoff_seconds after success = %v; want 0", b)
		}
		// The next failure starts again from retry-interval.
		s.setFn(func(uint64, uint64, []byte) error { return errDown })
		enqueue(t, svc, 1, 2, 100)
		synctest.Wait()
		if b := metric(t, reg, "strata_hh_backoff_seconds"); b != 1 {
			t.Errorf("strata_hh_backoff_seconds after a new failure = %v; want 1", b)
		}
	})
}
