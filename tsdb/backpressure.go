package tsdb

import (
	"context"
	"fmt"
	"time"
)

// lockCacheRoom waits until the shard's caches (live and snapshotting) can
// take need more bytes without passing Config.CacheMaxSize, and returns
// holding s.mu shared. A full cache slows writers down rather than failing
// them (issue 17): the writer asks for a snapshot and waits for one to
// install its file and free its cache, re-checking after each. It gives up
// with an error wrapping ErrCacheFull and ctx's error when ctx ends first,
// at once when need alone is past the limit (no snapshot can make room for
// it), and with ErrEngineClosed when the shard closes.
func (s *Shard) lockCacheRoom(ctx context.Context, need int64) error {
	if need > s.cfg.CacheMaxSize {
		s.metrics.cacheFull.Inc()
		return fmt.Errorf("write to shard %d: batch needs %d bytes of cache, cache-max-memory-size is %d: %w",
			s.id, need, s.cfg.CacheMaxSize, ErrCacheFull)
	}
	var waitStart time.Time
	for {
		s.mu.RLock()
		if s.closed.Load() {
			s.mu.RUnlock()
			return ErrEngineClosed
		}
		if s.cacheBytes()+need <= s.cfg.CacheMaxSize {
			if !waitStart.IsZero() {
				s.metrics.cacheWaitSecs.Add(time.Since(waitStart).Seconds())
			}
			return nil
		}
		freed := s.cacheFreed
		s.mu.RUnlock()
		if waitStart.IsZero() {
			waitStart = time.Now()
			s.metrics.cacheWaits.Inc()
		}
		s.lastBehind.Store(time.Now().UnixNano())
		s.forceSnapshot()
		select {
		case <-freed:
		case <-s.stopCh:
			return ErrEngineClosed
		case <-ctx.Done():
			waited := time.Since(waitStart)
			s.metrics.cacheWaitSecs.Add(waited.Seconds())
			s.metrics.cacheFull.Inc()
			return fmt.Errorf("write to shard %d: %w; gave up after waiting %s for a snapshot to free room: %w",
				s.id, ErrCacheFull, waited.Round(time.Millisecond), context.Cause(ctx))
		}
	}
}

// signalCacheFreed wakes the writers waiting in lockCacheRoom; the caller
// holds s.mu exclusively and has just released cache memory.
func (s *Shard) signalCacheFreed() {
	close(s.cacheFreed)
	s.cacheFreed = make(chan struct{})
}
