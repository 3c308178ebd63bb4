package tsdb

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// cachePartitions spreads cache entries over independently locked maps so
// concurrent writers rarely contend.
const cachePartitions = 32

// cacheEntryOverhead approximates the memory of a map slot, the key string
// and the Array header, for size accounting.
const cacheEntryOverhead = 160

var cacheSeed = maphash.MakeSeed()

// appendCompositeKey appends the engine's key of one series field:
// uvarint(len(seriesKey)) | seriesKey | field. The length prefix keeps the
// split unambiguous whatever bytes the series key or field contain, and all
// fields of a series stay adjacent in sorted order.
func appendCompositeKey(dst, seriesKey, field []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(seriesKey)))
	dst = append(dst, seriesKey...)
	return append(dst, field...)
}

// splitCompositeKey is the inverse of appendCompositeKey; ok is false when
// key is malformed.
func splitCompositeKey(key []byte) (seriesKey, field []byte, ok bool) {
	n, w := binary.Uvarint(key)
	if w <= 0 || n > uint64(len(key)-w) {
		return nil, nil, false
	}
	return key[w : w+int(n)], key[w+int(n):], true
}

// cache holds recent values per composite key, appended in arrival order and
// normalized (sorted, newest wins) lazily when read. Safe for concurrent use.
type cache struct {
	size  atomic.Int64
	parts [cachePartitions]cachePart
}

type cachePart struct {
	mu      sync.Mutex // protects entries and the Arrays in them
	entries map[string]*tsm.Array
	_       [40]byte // keep partitions on separate cache lines
}

func newCache() *cache {
	c := &cache{}
	for i := range c.parts {
		c.parts[i].entries = make(map[string]*tsm.Array)
	}
	return c
}

func (c *cache) part(key []byte) *cachePart {
	return &c.parts[maphash.Bytes(cacheSeed, key)%cachePartitions]
}

// write appends one value and returns the bytes it added to the cache. A
// value whose type differs from the entry's replaces the entry (the field was
// dropped and re-created with a new type).
func (c *cache) write(key []byte, ts int64, v models.Value) int64 {
	p := c.part(key)
	p.mu.Lock()
	e := p.entries[string(key)]
	add := valueSize(v)
	if e == nil {
		e = &tsm.Array{Type: v.Type}
		p.entries[string(key)] = e
		add += cacheEntryOverhead + int64(len(key))
	} else if e.Type != v.Type {
		add -= arraySize(e)
		*e = tsm.Array{Type: v.Type}
	}
	if v.Type == models.FieldTypeString {
		v.S = append([]byte(nil), v.S...) // the caller's bytes are reused
	}
	if len(e.Timestamps) == cap(e.Timestamps) {
		growArray(e)
	}
	if err := e.Append(ts, v); err != nil {
		panic("BUG: cache append of matching type failed: " + err.Error())
	}
	p.mu.Unlock()
	c.size.Add(add)
	return add
}

// values returns a normalized copy of key's values within [min, max].
func (c *cache) values(key []byte, min, max int64) (tsm.Array, bool) {
	p := c.part(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[string(key)]
	if e == nil {
		return tsm.Array{}, false
	}
	e.SortDedupe()
	lo, hi := arrayWindow(e, min, max)
	return cloneArray(e, lo, hi), true
}

// keys returns every composite key, sorted.
func (c *cache) keys() []string {
	var out []string
	for i := range c.parts {
		p := &c.parts[i]
		p.mu.Lock()
		for k := range p.entries {
			out = append(out, k)
		}
		p.mu.Unlock()
	}
	slices.Sort(out)
	return out
}

// normalized returns key's full normalized column; the caller must not
// modify it and may only use it while the cache receives no writes (a
// snapshotting cache).
func (c *cache) normalized(key string) *tsm.Array {
	p := &c.parts[maphash.String(cacheSeed, key)%cachePartitions]
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[key]
	if e != nil {
		e.SortDedupe()
	}
	return e
}

// deleteRange removes the values a tombstone deletes and returns the bytes
// freed.
func (c *cache) deleteRange(t *Tombstone) int64 {
	var total int64
	for i := range c.parts {
		p := &c.parts[i]
		p.mu.Lock()
		for k, e := range p.entries {
			sk, f, ok := splitCompositeKey([]byte(k))
			if !ok || !t.matches(sk, f) {
				continue
			}
			before := arraySize(e)
			e.SortDedupe()
			e.Exclude(t.Min, t.Max)
			freed := before - arraySize(e)
			if e.Len() == 0 {
				delete(p.entries, k)
				freed += cacheEntryOverhead + int64(len(k))
			}
			c.size.Add(-freed)
			total += freed
		}
		p.mu.Unlock()
	}
	return total
}

// growArray doubles the capacity of a cache array's slices ahead of an
// append: cache entries grow by many small appends, and doubling keeps the
// copying and zeroing of regrowth (Go grows large slices by only 1.25x)
// amortized low.
func growArray(a *tsm.Array) {
	n := max(2*len(a.Timestamps), 16) - len(a.Timestamps)
	a.Timestamps = slices.Grow(a.Timestamps, n)
	switch a.Type {
	case models.FieldTypeFloat:
		a.Floats = slices.Grow(a.Floats, n)
	case models.FieldTypeInteger:
		a.Integers = slices.Grow(a.Integers, n)
	case models.FieldTypeUnsigned:
		a.Unsigneds = slices.Grow(a.Unsigneds, n)
	case models.FieldTypeString:
		a.Strings = slices.Grow(a.Strings, n)
	case models.FieldTypeBoolean:
		a.Booleans = slices.Grow(a.Booleans, n)
	}
}
