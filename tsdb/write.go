package tsdb

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/strata-db/strata/internal/freelist"
	"github.com/strata-db/strata/tsdb/models"
)

// writeScratch holds the reusable buffers of one WritePoints call.
type writeScratch struct {
	enc     walEncoder
	ids     []uint64
	drop    []bool
	buckets []BucketID
	// seriesBuckets is the series bucket of each point enc encoded.
	seriesBuckets []uint32
	// cacheRefs is the cache entry of each point enc encoded.
	cacheRefs []cacheRef
	// hashes is the seriesHash of each point enc encoded that is the
	// first of its series in the batch (the others use its cacheRef).
	hashes []uint64
}

// cacheAhead is how many points ahead of the one it caches the write path
// hashes a point's series and prefetches its cache table slot (see
// cache.prefetchSlot).
const cacheAhead = 8

// idleWriteScratch keeps idle writeScratch values across GCs (the GC runs
// every ~100 ms on a loaded data node, and a scratch holds a WAL record
// buffer of a few MB); buffers grown past maxIdleWriteBuffer are dropped.
var idleWriteScratch = freelist.New[writeScratch]()

// maxIdleWriteBuffer bounds each buffer an idle writeScratch keeps (a
// 5,000-line TSBS batch makes a 1.6 MB record).
const maxIdleWriteBuffer = 8 << 20

func putWriteScratch(sc *writeScratch) {
	sc.enc.trim(maxIdleWriteBuffer)
	// ids and drop take 9 bytes a point, keys 16: 1/8 of the limit in
	// points bounds them well under it.
	if cap(sc.ids) > maxIdleWriteBuffer/8 || cap(sc.drop) > maxIdleWriteBuffer/8 {
		sc.ids, sc.drop = nil, nil
	}
	if cap(sc.buckets) > maxIdleWriteBuffer/8 {
		sc.buckets = nil
	}
	if cap(sc.seriesBuckets) > maxIdleWriteBuffer/8 {
		sc.seriesBuckets = nil
	}
	// The entries are only valid during one write.
	clear(sc.cacheRefs)
	if cap(sc.cacheRefs) > maxIdleWriteBuffer/16 {
		sc.cacheRefs = nil
	}
	if cap(sc.hashes) > maxIdleWriteBuffer/8 {
		sc.hashes = nil
	}
	idleWriteScratch.Put(sc)
}

// hashAhead hashes the series of encoded point k when it is the first of
// its series in the batch, and prefetches its slot in c's tables.
func (sc *writeScratch) hashAhead(c *cache, k int) {
	if sc.enc.keys[k].first == k {
		h := seriesHash(sc.enc.seriesKey(k))
		sc.hashes[k] = h
		c.prefetchSlot(h)
	}
}

// markWritten marks the digest buckets of the points a write put in the
// cache dirty, hashing each series' bucket once per batch.
func (s *Shard) markWritten(sc *writeScratch, points []models.Point, drop []bool) {
	sc.buckets = sc.buckets[:0]
	sc.seriesBuckets = sc.seriesBuckets[:0]
	k := 0
	for i := range points {
		p := &points[i]
		if (drop != nil && drop[i]) || len(p.Fields) == 0 {
			continue
		}
		if first := sc.enc.keys[k].first; first == k {
			sc.seriesBuckets = append(sc.seriesBuckets, s.dig.seriesBucket(sc.enc.seriesKey(k)))
		} else {
			sc.seriesBuckets = append(sc.seriesBuckets, sc.seriesBuckets[first])
		}
		b := s.dig.bucketAt(sc.seriesBuckets[k], p.Time)
		k++
		if len(sc.buckets) == 0 || sc.buckets[len(sc.buckets)-1] != b {
			sc.buckets = append(sc.buckets, b)
		}
	}
	s.dig.markBuckets(sc.buckets)
	sc.buckets = sc.buckets[:0]
}

// WritePoints writes a batch durably: when it returns nil, every point is in
// the fsynced WAL and visible to reads. Points whose field types conflict
// with the shard's are dropped and reported in a *PartialWriteError (the rest
// are written). When the batch would push the cache past
// Config.CacheMaxSize it waits for snapshots to free room (backpressure);
// it fails without writing anything, with an error wrapping ErrCacheFull
// (and ctx's error), when ctx ends first or the batch alone is past the
// limit. Safe for concurrent use; concurrent batches share WAL fsyncs
// (group commit).
func (s *Shard) WritePoints(ctx context.Context, points []models.Point) error {
	if s.closed.Load() {
		return ErrEngineClosed
	}
	if len(points) == 0 {
		return nil
	}
	points, need, invalid := validPoints(points)
	sc := idleWriteScratch.Get()
	defer putWriteScratch(sc)

	drop, perr, err := s.indexPoints(points, sc)
	if err != nil {
		return err
	}
	if invalid != nil {
		s.metrics.pointsDropped.Add(float64(invalid.Dropped))
		perr = invalid.merge(perr)
	}
	if drop != nil {
		// Field type conflicts (rare): the room of the points kept.
		need = pointsRoom{}
		for i := range points {
			if !drop[i] {
				need.add(&points[i])
			}
		}
	}
	nvals := need.values
	if nvals == 0 {
		return perr.orNil()
	}
	rec := sc.enc.encodePoints(points, drop, sc.ids)

	if err := s.lockCacheRoom(ctx, need.bytes); err != nil {
		return err
	}
	if _, err := s.wal.Write(rec); err != nil {
		s.mu.RUnlock()
		return fmt.Errorf("write to shard %d wal: %w", s.id, err)
	}
	c := s.cache
	var added int64
	sc.cacheRefs = sc.cacheRefs[:0]
	// The series of the point cacheAhead points on is hashed, and its
	// table slot prefetched, before each point is cached (issue 17).
	n := len(sc.enc.keys)
	sc.hashes = slices.Grow(sc.hashes[:0], n)[:n]
	for a := range min(cacheAhead, n) {
		sc.hashAhead(c, a)
	}
	k := 0
	for i := range points {
		p := &points[i]
		if (drop != nil && drop[i]) || len(p.Fields) == 0 {
			continue
		}
		if a := k + cacheAhead; a < n {
			sc.hashAhead(c, a)
		}
		// The cache entry is looked up once per series of the batch.
		var ref cacheRef
		if first := sc.enc.keys[k].first; first != k {
			ref = sc.cacheRefs[first]
		}
		add, ref := c.writePoint(ref, sc.hashes[k], sc.enc.seriesKey(k), p)
		sc.cacheRefs = append(sc.cacheRefs, ref)
		added += add
		k++
	}
	full := c.full(s.cfg.CacheSnapshotSize)
	behind := full && s.snap != nil
	s.mu.RUnlock()

	// Checked now that the values are in the cache (digestState.tracking).
	if s.dig.tracking() {
		s.markWritten(sc, points, drop)
	}
	s.metrics.cacheBytes.Add(float64(added))
	s.metrics.writes.Inc()
	s.metrics.valuesWritten.Add(float64(nvals))
	now := time.Now().UnixNano()
	s.lastWrite.Store(now)
	if behind {
		s.lastBehind.Store(now)
	}
	if full {
		s.requestSnapshot()
	}
	return perr.orNil()
}

// pointsRoom is what a batch's points take in the cache: their values and
// the bytes those values are accounted at (valueSize).
type pointsRoom struct {
	values int
	bytes  int64
}

// add adds p's values to r.
func (r *pointsRoom) add(p *models.Point) {
	r.values += len(p.Fields)
	for j := range p.Fields {
		r.bytes += valueSize(p.Fields[j].Value)
	}
}

// validPoints returns points without those the engine must not store (a
// field value of no known type, a key or timestamp past models' limits:
// the parser never produces them, but a caller building points might, and
// the WAL and index readers would refuse them on recovery), the room the
// points returned take in the cache (found in the same pass over their
// fields, which the write path reads several times), and the error
// reporting the others. It allocates only when some are invalid.
func validPoints(points []models.Point) ([]models.Point, pointsRoom, *PartialWriteError) {
	var perr *PartialWriteError
	var good []models.Point
	var room pointsRoom
	for i := range points {
		p := &points[i]
		bytes, err := pointProblem(p)
		switch {
		case err != nil && perr == nil:
			perr = &PartialWriteError{Reason: "invalid point"}
			good = append(make([]models.Point, 0, len(points)), points[:i]...)
			fallthrough
		case err != nil:
			perr.Dropped++
			perr.Errs = append(perr.Errs, fmt.Errorf("point %d: %w", i, err))
			continue
		case perr != nil:
			good = append(good, *p)
		}
		room.values += len(p.Fields)
		room.bytes += bytes
	}
	if perr == nil {
		return points, room, nil
	}
	return good, room, perr
}

// pointProblem says why p cannot be stored, or returns the sum of
// valueSize over its fields. A point with its Key, as the parser makes
// them, is checked in one pass over its fields; p.CheckLimits says what
// is wrong when something is.
func pointProblem(p *models.Point) (int64, error) {
	longKey := p.Key == nil || len(p.Key) > models.MaxKeyLength
	var bytes int64
	for j := range p.Fields {
		f := &p.Fields[j]
		if t := f.Value.Type; t < models.FieldTypeFloat || t > models.FieldTypeBoolean {
			return 0, fmt.Errorf("field %q type %d: %w", f.Key, t, ErrInvalidFieldType)
		}
		bytes += valueSize(f.Value)
		longKey = longKey || len(f.Key) > models.MaxKeyLength
	}
	if longKey || p.Time < models.MinNanoTime || p.Time > models.MaxNanoTime {
		if err := p.CheckLimits(); err != nil {
			return 0, err
		}
	}
	return bytes, nil
}

// merge adds other's dropped points to e.
func (e *PartialWriteError) merge(other *PartialWriteError) *PartialWriteError {
	if other != nil {
		e.Dropped += other.Dropped
		e.Errs = append(e.Errs, other.Errs...)
		e.Reason += "; " + other.Reason
	}
	return e
}
