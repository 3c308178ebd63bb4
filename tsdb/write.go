package tsdb

import (
	"fmt"
	"sync"
	"time"

	"github.com/strata-db/strata/tsdb/models"
)

// writeScratch holds the reusable buffers of one WritePoints call.
type writeScratch struct {
	enc     walEncoder
	ids     []uint64
	drop    []bool
	buckets []BucketID
}

var writeScratchPool = sync.Pool{New: func() any { return new(writeScratch) }}

// WritePoints writes a batch durably: when it returns nil, every point is in
// the fsynced WAL and visible to reads. Points whose field types conflict
// with the shard's are dropped and reported in a *PartialWriteError (the rest
// are written). It fails with ErrCacheFull, without writing anything, when
// the batch would push the cache past Config.CacheMaxSize. Safe for
// concurrent use; concurrent batches share WAL fsyncs (group commit).
func (s *Shard) WritePoints(points []models.Point) error {
	if s.closed.Load() {
		return ErrEngineClosed
	}
	if len(points) == 0 {
		return nil
	}
	sc := writeScratchPool.Get().(*writeScratch)
	defer writeScratchPool.Put(sc)

	drop, perr, err := s.indexPoints(points, sc)
	if err != nil {
		return err
	}
	var need int64
	nvals := 0
	for i := range points {
		if drop != nil && drop[i] {
			continue
		}
		for j := range points[i].Fields {
			need += valueSize(points[i].Fields[j].Value)
		}
		nvals += len(points[i].Fields)
	}
	if nvals == 0 {
		return perr.orNil()
	}
	rec := sc.enc.encodePoints(points, drop)

	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		return ErrEngineClosed
	}
	if s.cacheBytes()+need > s.cfg.CacheMaxSize {
		s.mu.RUnlock()
		s.metrics.cacheFull.Inc()
		s.requestSnapshot()
		return fmt.Errorf("write to shard %d: %w", s.id, ErrCacheFull)
	}
	if _, err := s.wal.Write(rec); err != nil {
		s.mu.RUnlock()
		return fmt.Errorf("write to shard %d wal: %w", s.id, err)
	}
	c := s.cache
	var added int64
	sc.buckets = sc.buckets[:0]
	k := 0
	for i := range points {
		p := &points[i]
		if (drop != nil && drop[i]) || len(p.Fields) == 0 {
			continue
		}
		series := sc.enc.seriesKey(k)
		k++
		added += c.writePoint(series, p)
		b := s.dig.bucketOf(series, p.Time)
		if len(sc.buckets) == 0 || sc.buckets[len(sc.buckets)-1] != b {
			sc.buckets = append(sc.buckets, b)
		}
	}
	size := c.size.Load()
	s.mu.RUnlock()

	s.dig.markBuckets(sc.buckets)
	sc.buckets = sc.buckets[:0]
	s.metrics.cacheBytes.Add(float64(added))
	s.metrics.writes.Inc()
	s.metrics.valuesWritten.Add(float64(nvals))
	s.lastWrite.Store(time.Now().UnixNano())
	if size >= s.cfg.CacheSnapshotSize {
		s.requestSnapshot()
	}
	return perr.orNil()
}
