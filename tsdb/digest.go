package tsdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// BucketID names a digest bucket: the series whose fnv64a(series key) modulo
// Config.DigestSeriesBuckets is SeriesBucket, over the time window
// [WindowStart, WindowStart+Config.DigestWindow).
type BucketID struct {
	SeriesBucket uint32
	WindowStart  int64
}

// Digest is the SHA-256 of a bucket's logical content (docs/digest.md).
type Digest [sha256.Size]byte

// DigestSet maps every non-empty bucket of a shard to its digest.
type DigestSet map[BucketID]Digest

// SeriesBucket returns the digest series bucket of a series key.
func SeriesBucket(seriesKey []byte, buckets int) uint32 {
	return uint32(fnv64a(seriesKey) % uint64(buckets))
}

func fnv64a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// digestState tracks which buckets changed since their digest was computed.
type digestState struct {
	buckets int
	window  int64

	mu    sync.Mutex // protects all, dirty, clean
	all   bool       // no digest computed yet: compute every bucket
	dirty map[BucketID]struct{}
	clean DigestSet
	// tracked is set by the first Digests call, before it reads the
	// shard (see tracking).
	tracked atomic.Bool
}

func newDigestState(cfg Config) *digestState {
	return &digestState{
		buckets: cfg.DigestSeriesBuckets,
		window:  int64(time.Duration(cfg.DigestWindow)),
		all:     true,
		dirty:   make(map[BucketID]struct{}),
		clean:   make(DigestSet),
	}
}

// seriesBucket returns the series bucket of seriesKey.
func (d *digestState) seriesBucket(seriesKey []byte) uint32 {
	return SeriesBucket(seriesKey, d.buckets)
}

// bucketAt returns the bucket of a value at ts of a series in seriesBucket.
func (d *digestState) bucketAt(seriesBucket uint32, ts int64) BucketID {
	return BucketID{SeriesBucket: seriesBucket, WindowStart: floorDiv(ts, d.window) * d.window}
}

// tracking reports whether writes must mark the buckets they touch dirty:
// not before the first Digests call, which computes every bucket (so a
// shard whose digests nobody asks for, as with one owner, hashes no
// series key on its writes). A write checks it once its values are in the
// cache: either the Digests call that set it reads those values, or the
// write sees it set and marks them.
func (d *digestState) tracking() bool { return d.tracked.Load() }

// markBuckets marks buckets dirty.
func (d *digestState) markBuckets(ids []BucketID) {
	if len(ids) == 0 {
		return
	}
	d.mu.Lock()
	if !d.all {
		for _, b := range ids {
			d.dirty[b] = struct{}{}
		}
	}
	d.mu.Unlock()
}

// markDelete marks dirty every known bucket a tombstone touches (a delete
// cannot create a bucket, so unknown ones need no mark).
func (d *digestState) markDelete(t *Tombstone) {
	sb := SeriesBucket(t.SeriesKey, d.buckets)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.all {
		return
	}
	for b := range d.clean {
		if b.SeriesBucket == sb && b.WindowStart <= t.Max && b.WindowStart+d.window-1 >= t.Min {
			d.dirty[b] = struct{}{}
		}
	}
}

// Digests returns the digest of every non-empty bucket of the shard.
// Only buckets written or deleted since the previous call are recomputed
// (the first call computes all). The digest covers the live content after
// overwrites and tombstones, so replicas holding the same points agree
// whatever their file layout. Safe for concurrent use.
func (s *Shard) Digests(ctx context.Context) (DigestSet, error) {
	d := s.dig
	d.mu.Lock()
	all := d.all
	dirty := d.dirty
	d.all = false
	d.tracked.Store(true)
	d.dirty = make(map[BucketID]struct{})
	d.mu.Unlock()

	sums, err := s.computeDigests(ctx, all, dirty)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		// Put the work back for the next call.
		if all {
			d.all = true
		}
		for b := range dirty {
			d.dirty[b] = struct{}{}
		}
		return nil, err
	}
	if all {
		d.clean = sums
	} else {
		for b := range dirty {
			if sum, ok := sums[b]; ok {
				d.clean[b] = sum
			} else {
				delete(d.clean, b)
			}
		}
	}
	return maps.Clone(d.clean), nil
}

// forEachKey calls fn for every (series, field) held by the read state's
// files and caches whose series passes keep, in (series, field) order.
func (rs *readState) forEachKey(keep func(series []byte) bool, fn func(series, field []byte) error) error {
	set := map[string]struct{}{}
	var kb []byte
	for _, f := range rs.files {
		it := f.r.Iterator()
		for it.Next() {
			if !keep(it.Series()) {
				continue
			}
			kb = appendCompositeKey(kb[:0], it.Series(), it.Field())
			set[string(kb)] = struct{}{}
		}
	}
	caches := []*cache{rs.cache}
	if rs.snap != nil {
		caches = append(caches, rs.snap.c)
	}
	for _, c := range caches {
		for _, k := range c.keys() {
			series, _, ok := splitCompositeKey([]byte(k))
			if ok && keep(series) {
				set[k] = struct{}{}
			}
		}
	}
	keys := slices.Collect(maps.Keys(set))
	slices.SortFunc(keys, compareCompositeKeys)
	for _, k := range keys {
		series, field, _ := splitCompositeKey([]byte(k))
		if err := fn(bytes.Clone(series), bytes.Clone(field)); err != nil {
			return err
		}
	}
	return nil
}
