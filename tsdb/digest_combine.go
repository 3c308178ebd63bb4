package tsdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"math"
	"slices"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// computeDigests hashes the buckets in dirty (or all buckets). Each key's
// contribution to a bucket comes from the digest files of the data files
// holding it and from the caches' values, added up while those sources
// hold disjoint time ranges of the key in the window and no tombstone
// removes from them; otherwise (an overwrite across sources, a delete, a
// type change) the key's live values in the window are read and hashed.
func (s *Shard) computeDigests(ctx context.Context, all bool, dirty map[BucketID]struct{}) (DigestSet, error) {
	if !all && len(dirty) == 0 {
		return DigestSet{}, nil
	}
	window := s.dig.window
	p := &digestPass{shard: s, all: all, dirty: dirty, window: window,
		lo: math.MinInt64, hi: math.MaxInt64, hashers: map[BucketID]hash.Hash{}}
	if !all {
		p.seriesBuckets = map[uint32]struct{}{}
		p.lo, p.hi = math.MaxInt64, math.MinInt64
		for b := range dirty {
			p.seriesBuckets[b.SeriesBucket] = struct{}{}
			p.lo, p.hi = min(p.lo, b.WindowStart), max(p.hi, b.WindowStart+window-1)
		}
	}
	rs, err := s.acquireRead()
	if err != nil {
		return nil, err
	}
	defer rs.release()
	p.rs = rs
	p.tombs = map[string][]*Tombstone{}
	for i := range rs.tombs {
		if t := &rs.tombs[i]; !t.Applied {
			p.tombs[string(t.SeriesKey)] = append(p.tombs[string(t.SeriesKey)], t)
		}
	}
	defer func() {
		for _, src := range p.files {
			src.dr.close()
		}
	}()
	for _, f := range rs.files {
		if f.r.MaxTime() < p.lo || f.r.MinTime() > p.hi {
			continue
		}
		src := &digestSource{f: f, it: f.r.Iterator()}
		err := f.ensureDigests(window)
		if err == nil {
			src.dr, err = openDigestFile(f.path, window)
		}
		if err != nil {
			// The file's keys are decoded as they come instead.
			s.logger.Warn("data file without digest file", "file", f.path, "err", err)
		}
		p.files = append(p.files, src)
		if err := src.advance(); err != nil {
			return nil, fmt.Errorf("digests of shard %d: %s: %w", s.id, f.path, err)
		}
	}
	if err := p.run(ctx); err != nil {
		return nil, fmt.Errorf("digests of shard %d: %w", s.id, err)
	}
	out := make(DigestSet, len(p.hashers))
	for b, h := range p.hashers {
		var d Digest
		h.Sum(d[:0])
		out[b] = d
	}
	return out, nil
}

// digestSource is a data file walked key by key beside its digest file.
type digestSource struct {
	f    *dataFile
	it   *tsm.Iterator
	live bool
	dr   *digestFileReader // nil: decode the file's keys
	sums []windowSum       // the current key's sums when its record is derived
}

// advance moves to the next key (and its digest record). A digest file
// that does not decode is checked again (and rewritten) by the next
// computation.
func (src *digestSource) advance() error {
	src.live = src.it.Next()
	if !src.live || src.dr == nil {
		return nil
	}
	err := src.dr.next()
	if err != nil {
		src.f.digestsOK.Store(false)
	}
	return err
}

// atKey reports whether src is at (series, field).
func (src *digestSource) atKey(series, field []byte) bool {
	return src.live && bytes.Equal(src.it.Series(), series) && bytes.Equal(src.it.Field(), field)
}

// digestPass is one computeDigests run.
type digestPass struct {
	shard  *Shard
	rs     *readState
	all    bool
	dirty  map[BucketID]struct{}
	window int64
	// seriesBuckets are the dirty buckets' series buckets and [lo, hi]
	// their time range (everything when all).
	seriesBuckets map[uint32]struct{}
	lo, hi        int64
	files         []*digestSource
	tombs         map[string][]*Tombstone // unapplied, by series key
	hashers       map[BucketID]hash.Hash

	parts      []keyPart
	acc, blk   tsm.Array
	starts     []int64
	inWindow   []keyPart
	buf        []byte
	series     []byte // the current key's series, copied from its iterator
	cacheArr   [2]tsm.Array
	cacheSums  [2][]windowSum
	decodeSums []windowSum
}

// keyPart is one source's values of the key being hashed.
type keyPart struct {
	typ   models.FieldType
	sums  []windowSum
	metas []tsm.BlockMeta // a data file's blocks (nil: a cache, exact sums' ranges)
	seq   uint64          // the source's sequence, for tombstones
	tombs bool            // tombstones may apply (a file or the snapshotting cache)
	next  int             // the first sum not visited yet
	cur   windowSum       // this part's sum in the window being combined
}

// run walks every key of the files and caches in (series, field) order.
func (p *digestPass) run(ctx context.Context) error {
	ckeys := p.rs.cache.keys()
	if p.rs.snap != nil {
		ckeys = mergeSortedKeys(p.rs.snap.c.keys(), ckeys)
	}
	ci := 0
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var series, field []byte
		found := false
		for _, src := range p.files {
			if !src.live {
				continue
			}
			if !found || compareKey(src.it.Series(), src.it.Field(), series, field) < 0 {
				series, field, found = src.it.Series(), src.it.Field(), true
			}
		}
		inCache := false
		if ci < len(ckeys) {
			cs, cf, _ := splitCompositeKey([]byte(ckeys[ci]))
			if c := compareKey(cs, cf, series, field); !found || c <= 0 {
				if c < 0 || !found {
					series, field = cs, cf
				}
				found, inCache = true, true
				ci++
			}
		}
		if !found {
			return nil
		}
		// A file's series key may be its iterator's buffer (tsm format
		// version 6), which advancing that file below overwrites while
		// the other files are compared with it.
		p.series = append(p.series[:0], series...)
		series = p.series
		sb := SeriesBucket(series, p.shard.dig.buckets)
		if _, ok := p.seriesBuckets[sb]; p.all || ok {
			if err := p.key(series, field, sb, inCache); err != nil {
				return fmt.Errorf("%q/%q: %w", series, field, err)
			}
		}
		for _, src := range p.files {
			if src.atKey(series, field) {
				if err := src.advance(); err != nil {
					return fmt.Errorf("%s: %w", src.f.path, err)
				}
			}
		}
	}
}

// compareKey orders keys by series, then field.
func compareKey(as, af, bs, bf []byte) int {
	if c := bytes.Compare(as, bs); c != 0 {
		return c
	}
	return bytes.Compare(af, bf)
}

// mergeSortedKeys merges two sorted lists of composite keys, dropping
// duplicates.
func mergeSortedKeys(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && compareCompositeKeys(a[i], b[j]) < 0):
			out = append(out, a[i])
			i++
		case i == len(a) || compareCompositeKeys(a[i], b[j]) > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

// key hashes one key into the wanted buckets of series bucket sb.
func (p *digestPass) key(series, field []byte, sb uint32, inCache bool) error {
	p.parts = p.parts[:0]
	for _, src := range p.files {
		if !src.atKey(series, field) {
			continue
		}
		part := keyPart{typ: src.it.Type(), metas: src.it.Entries(), seq: src.f.seq, tombs: true}
		switch {
		case src.dr != nil && !src.dr.derived:
			part.sums = src.dr.sums
		case src.dr != nil:
			// A key of a value or two: its values are in its index entry
			// (or, in a file of an older format, its blocks).
			var ok bool
			if src.sums, ok = appendInlineSums(src.sums[:0], part.metas, p.window); !ok {
				if err := readKeyRaw(src.f.r, part.typ, part.metas, &p.acc, &p.blk); err != nil {
					return err
				}
				src.sums = appendWindowSums(src.sums[:0], &p.acc, p.window)
			}
			part.sums = src.sums
		default:
			if err := readKeyRaw(src.f.r, part.typ, part.metas, &p.acc, &p.blk); err != nil {
				return err
			}
			part.sums = appendWindowSums(nil, &p.acc, p.window)
			p.shard.metrics.digestDecoded.Add(float64(len(part.sums)))
		}
		p.parts = append(p.parts, part)
	}
	if inCache {
		caches := [2]*cache{nil, p.rs.cache}
		if p.rs.snap != nil {
			caches[0] = p.rs.snap.c
		}
		for i, c := range caches {
			if c == nil || !c.valuesInto(&p.cacheArr[i], series, field, p.lo, p.hi) || p.cacheArr[i].Len() == 0 {
				continue
			}
			p.cacheSums[i] = appendWindowSums(p.cacheSums[i][:0], &p.cacheArr[i], p.window)
			part := keyPart{typ: p.cacheArr[i].Type, sums: p.cacheSums[i]}
			if i == 0 {
				part.seq, part.tombs = p.rs.snap.seq, true
			}
			p.parts = append(p.parts, part)
		}
	}
	if len(p.parts) == 0 {
		return nil
	}
	typ := p.parts[len(p.parts)-1].typ
	if slices.ContainsFunc(p.parts, func(k keyPart) bool { return k.typ != typ }) {
		// A field re-created with another type: the newest type wins over
		// the whole key, as reads and compactions decide it.
		return p.decode(series, field, sb, p.lo, p.hi)
	}
	p.starts = p.starts[:0]
	for _, k := range p.parts {
		for _, w := range k.sums {
			p.starts = append(p.starts, w.start)
		}
	}
	slices.Sort(p.starts)
	p.starts = slices.Compact(p.starts)
	for _, start := range p.starts {
		b := BucketID{SeriesBucket: sb, WindowStart: start}
		if _, ok := p.dirty[b]; !p.all && !ok {
			continue
		}
		if sum, ok := p.combine(series, field, start); ok {
			p.emit(b, series, field, typ, &sum)
			continue
		}
		if err := p.decode(series, field, sb, start, start+p.window-1); err != nil {
			return err
		}
	}
	return nil
}

// combine adds up the parts' sums of window start; ok is false when they
// cannot be added: their time ranges overlap (an overwrite may hide
// values) or a tombstone removes values from one of them.
func (p *digestPass) combine(series, field []byte, start int64) (windowSum, bool) {
	end := start + p.window - 1
	p.inWindow = p.inWindow[:0]
	for i := range p.parts {
		k := &p.parts[i]
		for k.next < len(k.sums) && k.sums[k.next].start < start {
			k.next++
		}
		if k.next == len(k.sums) || k.sums[k.next].start != start {
			continue
		}
		k.cur = k.sums[k.next]
		if k.metas != nil {
			k.cur.minT, k.cur.maxT = blocksRange(k.metas, start, end)
		}
		if k.tombs {
			for _, t := range p.tombs[string(series)] {
				if t.appliesTo(k.seq, series, field) && t.Min <= k.cur.maxT && t.Max >= k.cur.minT {
					return windowSum{}, false
				}
			}
		}
		p.inWindow = append(p.inWindow, *k)
	}
	slices.SortFunc(p.inWindow, func(a, b keyPart) int { return cmpInt64(a.cur.minT, b.cur.minT) })
	sum := p.inWindow[0].cur
	for i := 1; i < len(p.inWindow); i++ {
		if p.inWindow[i].cur.minT <= p.inWindow[i-1].cur.maxT {
			return windowSum{}, false
		}
		sum.add(&p.inWindow[i].cur)
	}
	return sum, true
}

// blocksRange returns the time range within [start, end] that a key's
// blocks (ascending, disjoint) cover: a superset of its values' range.
func blocksRange(metas []tsm.BlockMeta, start, end int64) (lo, hi int64) {
	lo, hi = end, start
	for _, m := range metas {
		if m.MaxTime < start || m.MinTime > end {
			continue
		}
		lo, hi = min(lo, max(m.MinTime, start)), max(hi, min(m.MaxTime, end))
	}
	return lo, hi
}

// decode hashes the key's live values within [lo, hi] into the wanted
// buckets.
func (p *digestPass) decode(series, field []byte, sb uint32, lo, hi int64) error {
	a, err := p.rs.read(series, field, lo, hi)
	if err != nil {
		return err
	}
	p.decodeSums = appendWindowSums(p.decodeSums[:0], &a, p.window)
	p.shard.metrics.digestDecoded.Add(float64(len(p.decodeSums)))
	for i := range p.decodeSums {
		b := BucketID{SeriesBucket: sb, WindowStart: p.decodeSums[i].start}
		if _, ok := p.dirty[b]; p.all || ok {
			p.emit(b, series, field, a.Type, &p.decodeSums[i])
		}
	}
	return nil
}

// emit adds one key's record to bucket b's hash.
func (p *digestPass) emit(b BucketID, series, field []byte, typ models.FieldType, w *windowSum) {
	h := p.hashers[b]
	if h == nil {
		h = sha256.New()
		p.hashers[b] = h
	}
	p.buf = appendBucketRecord(p.buf[:0], series, field, typ, w)
	h.Write(p.buf)
}
