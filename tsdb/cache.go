package tsdb

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// cachePartitions spreads cache entries over independently locked maps so
// concurrent writers rarely contend.
const cachePartitions = 32

// Accounting overheads of a series entry (table slot, struct; its key is
// counted apart), of a field entry (its slot in the series' fields, inline
// values included; its name is counted apart) and of a string or boolean
// field's own array (tsm.Array's 152 bytes take a 160-byte allocation, and
// its slot in the partition's arrays 8; its capacity is counted apart).
const (
	cacheSeriesOverhead = 96
	cacheFieldOverhead  = int64(unsafe.Sizeof(cacheField{}))
	cacheArrayOverhead  = 168
)

// cacheInline is how many values a numeric field holds in its entry before
// they move to a run of its partition's value chunks: at a million series
// each field of a cache gets one value, and an array for it cost two
// allocations and 152 bytes of slice headers a field (issue 17). One, not
// two: a field entry is then 32 bytes instead of 48, and at a million
// series the entries were half the memory a new series' point writes and
// the snapshot's walk reads back in random order.
const cacheInline = 1

// spillRunLen is the capacity of the run a field's inline values move to
// when the next arrives.
const spillRunLen = 4

// Value chunks: a run of at most runChunkLen/8 words (256 values) is cut
// from a shared chunk of runChunkLen words (32 KiB), a longer one gets a
// chunk of its own. A run of n values takes 2n words: n timestamps, then
// the n values' 8 bytes.
const (
	runChunkLen  = 4096
	runSharedMax = runChunkLen / 8
)

var cacheSeed = maphash.MakeSeed()

// appendCompositeKey appends a key naming one series field:
// uvarint(len(seriesKey)) | seriesKey | field. The length prefix keeps the
// split unambiguous whatever bytes the series key or field contain.
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

// cache holds recent values per series and field, appended in arrival
// order and normalized (sorted, newest wins) lazily when read. Entries are
// grouped by series so a point costs one map lookup and one lock for all
// its fields. Safe for concurrent use.
type cache struct {
	size atomic.Int64
	// refs counts the shard's reference (until the cache's snapshot is
	// installed) and those of readers (see release).
	refs  atomic.Int32
	parts [cachePartitions]cachePart
	// prev is the cache this one replaced, being snapshotted, nil when
	// there is none or its file is installed: a field created here
	// reserves capacity for prevScale times the values it held there, so
	// arrays do not regrow by doubling after every snapshot.
	prev      atomic.Pointer[cache]
	prevScale float64
	// reserveFull is set when a field has filled its reservation to
	// reserveFullAt: the reservations are sized to fill the cache
	// together, so it is nearly full (see full).
	reserveFull atomic.Bool
}

type cachePart struct {
	mu sync.Mutex // protects the table, the entries and the fields below
	// table finds a series' entry from its key's hash (open addressing,
	// linear probing): a slot holds the hash's top 32 bits, whose low bits
	// are its home slot, and 1 + the entry's index in slabs; 0 is empty.
	// It holds no pointer, so the GC never scans it, and a new series
	// costs one hash for the partition, the lookup and the insert (a Go
	// map of string keys hashed the key twice more and copied it into a
	// string of its own, issue 17).
	table []uint64
	count int // entries in table
	// tableView is table as last made, published for prefetchSlot, which
	// reads it without the lock: a slot it prefetches may be stale (a
	// harmless hint), the slice header never is.
	tableView atomic.Pointer[[]uint64]
	// slabs hold the series entries in creation order, seriesSlabLen a
	// slab: the snapshot reads them in the order they sit in memory.
	slabs [][]cacheSeries
	// keys is where new series keys are copied, in creation order; the
	// entries' key strings point into it. arenas are all the partition's
	// key arenas and fieldSlabs all its field slabs, recycled when the
	// cache is released (see cache.release).
	keys       []byte
	arenas     []*[keyArenaLen]byte
	fieldSlabs []*[fieldSlabLen]cacheField
	// values and fixed count the values appended to the partition and
	// the bytes of its series and field overheads; they size the
	// reservations of the next cache (newCacheAfter).
	values int64
	fixed  int64
	// unsorted is set when an entry got a value at or before its last
	// one, so the snapshot normalizes the partition's entries; at a
	// million series none needs it, and touching every entry to find out
	// was 4 % of the data node's CPU.
	unsorted bool
	// names are the partition's field names, a field entry naming its
	// field by index, and nameIDs their indexes; arrays are the arrays of
	// entries whose values do not fit inline, an entry naming its own by
	// index. So field entries hold no pointer, and the GC does not scan
	// the slabs they sit in (at a million series it scanned every entry
	// of both caches in every cycle, issue 17).
	names   []string
	nameIDs map[string]uint32
	arrays  []*tsm.Array
	// chunks hold the runs of numeric values that outgrew their entries
	// (see valueRun), an entry naming its run's chunk by index: no
	// allocation and no slice headers a field (a tsm.Array of its own took
	// 168 bytes a field, which at 10,000 series of ten fields filled the
	// 25 MB snapshot size at ~2.7 values a field, issue 17). runSlabs are
	// the shared chunks, recycled when the cache is released; runUsed is
	// how many words of the last one are taken. A run that grows or
	// changes type leaves its old place behind: a chunk of its own is
	// freed, a part of a shared one stays held, counted in spare.
	chunks   [][]uint64
	runSlabs []*[runChunkLen]uint64
	runCur   uint32 // the index in chunks of the last shared chunk
	runUsed  uint32
	spare    int64
	// written is the series last written by write and writtenField the
	// index of its field written last: a replayed WAL record lists a
	// point's fields together, so the next value is most often of the same
	// series and the next field (no table lookup, no search of the fields).
	written      *cacheSeries
	writtenField int
	// last are the name indexes of the fields of the series last created
	// in the partition, in its order: a new series listing the same fields
	// takes them (see writePoint). lastTypes are their first values'
	// types, lastOne is set when a point of those fields and types can be
	// held as a cacheOne (all numeric, at most cacheOneMax), and
	// lastSchema is 1 + the index in schemas of (last, lastTypes), 0 until
	// a cacheOne takes it.
	last       []uint32
	lastTypes  []models.FieldType
	lastOne    bool
	lastSchema uint32
	// schemas name and type the fields of the partition's cacheOne
	// records; a schema never changes once made.
	schemas []cacheSchema
	// fieldSlab is where new series take their fields' entries from:
	// one allocation for many series instead of one a series (see
	// newSeries).
	fieldSlab []cacheField
}

// nameID returns the index of the field name in pt.names, adding it.
func (pt *cachePart) nameID(name []byte) uint32 {
	if id, ok := pt.nameIDs[string(name)]; ok {
		return id
	}
	if pt.nameIDs == nil {
		pt.nameIDs = make(map[string]uint32)
	}
	id := uint32(len(pt.names))
	pt.names = append(pt.names, string(name))
	pt.nameIDs[pt.names[id]] = id
	return id
}

// newArray gives e a new array of values of type t.
func (pt *cachePart) newArray(e *cacheField, t models.FieldType) *tsm.Array {
	a := &tsm.Array{Type: t}
	pt.arrays = append(pt.arrays, a)
	e.arr = uint32(len(pt.arrays))
	return a
}

// newRun gives e, whose values are inline or gone, a run with room for n
// values of type t and returns the bytes that adds.
func (pt *cachePart) newRun(e *cacheField, t models.FieldType, n int) int64 {
	r := e.run()
	r.chunk, r.off = pt.allocRun(n)
	r.cap, r.n = uint32(n), 0
	e.inRun, e.typ, e.n = true, t, 0
	return 16 * int64(n)
}

// allocRun returns the chunk and offset of 2n free words.
func (pt *cachePart) allocRun(n int) (chunk, off uint32) { return pt.allocWords(uint32(2 * n)) }

// allocWords returns the chunk and offset of words free words: cut from
// the current shared chunk, or a chunk of their own past runSharedMax.
func (pt *cachePart) allocWords(words uint32) (chunk, off uint32) {
	if words > runSharedMax {
		pt.chunks = append(pt.chunks, make([]uint64, words))
		return uint32(len(pt.chunks) - 1), 0
	}
	if len(pt.runSlabs) == 0 || runChunkLen-pt.runUsed < words {
		slab, _ := runSlabs.Get().(*[runChunkLen]uint64)
		if slab == nil {
			slab = new([runChunkLen]uint64)
		}
		pt.runSlabs = append(pt.runSlabs, slab)
		pt.chunks = append(pt.chunks, slab[:])
		pt.runCur, pt.runUsed = uint32(len(pt.chunks)-1), 0
	}
	off = pt.runUsed
	pt.runUsed += words
	return pt.runCur, off
}

// dropRun leaves e's run and returns the bytes that frees: a chunk of its
// own is freed, a part of a shared one stays held (counted in spare).
func (pt *cachePart) dropRun(e *cacheField) int64 {
	r := *e.run()
	*e.run() = valueRun{}
	e.inRun, e.reserved = false, false // the reservation goes with the run
	size := 16 * int64(r.cap)
	if 2*r.cap > runSharedMax {
		pt.chunks[r.chunk] = nil
		return size
	}
	pt.spare += size
	return 0
}

// growRun moves e's run to one with room for n values and returns the
// bytes that adds. The last run cut from the current shared chunk grows
// in place (a series written alone leaves nothing behind).
func (pt *cachePart) growRun(e *cacheField, n int) int64 {
	old := *e.run()
	if words := uint32(2 * n); len(pt.runSlabs) > 0 && old.chunk == pt.runCur && old.off+2*old.cap == pt.runUsed &&
		words <= runSharedMax && old.off+words <= runChunkLen {
		c := pt.chunks[old.chunk]
		copy(c[old.off+uint32(n):], c[old.off+old.cap:old.off+old.cap+old.n])
		pt.runUsed = old.off + words
		e.run().cap = uint32(n)
		return 16 * int64(uint32(n)-old.cap)
	}
	chunk, off := pt.allocRun(n)
	src, dst := pt.chunks[old.chunk], pt.chunks[chunk]
	copy(dst[off:], src[old.off:old.off+old.n])
	copy(dst[off+uint32(n):], src[old.off+old.cap:old.off+old.cap+old.n])
	reserved := e.reserved
	freed := pt.dropRun(e)
	*e.run() = valueRun{chunk: chunk, off: off, cap: uint32(n), n: old.n}
	e.inRun, e.reserved = true, reserved
	return 16*int64(n) - freed
}

// appendRun appends one value's time and 8 bytes to e's run and returns
// the bytes added: the growth of the run, doubling when full.
func (pt *cachePart) appendRun(e *cacheField, ts int64, bits uint64) int64 {
	var add int64
	r := e.run()
	if r.n == r.cap {
		add = pt.growRun(e, 2*int(r.cap))
	}
	c := pt.chunks[r.chunk]
	if r.n > 0 && ts <= int64(c[r.off+r.n-1]) {
		e.unsorted = true
	}
	c[r.off+r.n] = uint64(ts)
	c[r.off+r.cap+r.n] = bits
	r.n++
	return add
}

// Entries a slab holds: 256 series entries take 12 KB, 1,024 field
// entries 32 KB. A key arena takes keyArenaLen bytes (a longer key gets
// its own).
const (
	seriesSlabLen = 256
	fieldSlabLen  = 1024
	keyArenaLen   = 32 << 10
)

// seriesHash is the hash of a series key that picks its partition (low
// bits) and its slot (top bits).
func seriesHash(series []byte) uint64 { return maphash.Bytes(cacheSeed, series) }

// at returns the entry of index i.
func (pt *cachePart) at(i uint32) *cacheSeries {
	return &pt.slabs[i/seriesSlabLen][i%seriesSlabLen]
}

// find returns the entry of series, whose hash is h, or nil and the slot
// where it would go.
func (pt *cachePart) find(h uint64, series []byte) (*cacheSeries, int) {
	if len(pt.table) == 0 {
		return nil, -1
	}
	mask := uint32(len(pt.table) - 1)
	top := uint32(h >> 32)
	for i := top & mask; ; i = (i + 1) & mask {
		slot := pt.table[i]
		if slot == 0 {
			return nil, int(i)
		}
		if uint32(slot>>32) == top {
			if cs := pt.at(uint32(slot) - 1); cs.key == string(series) {
				return cs, int(i)
			}
		}
	}
}

// presize sizes an empty partition's table for n series (the previous
// cache's count): growing it from empty rehashed every series again.
func (pt *cachePart) presize(n int) {
	size := 8
	for size*3/4 < n {
		size *= 2
	}
	pt.setTable(make([]uint64, size))
}

// setTable makes t the partition's table and publishes it to prefetchSlot.
func (pt *cachePart) setTable(t []uint64) {
	pt.table = t
	pt.tableView.Store(&t)
}

// prefetchSlot asks for the line of the table slot where the series whose
// hash is h is looked up first, in this cache and in the previous one
// (whose entry a new series reserves from), without the partitions' locks.
// The write path calls it for a point a few ahead of the one it caches, so
// that the slot's miss (at a million series every table is far out of the
// processor's caches) overlaps the points between (issue 17).
func (c *cache) prefetchSlot(h uint64) {
	c.part(h).prefetchSlot(h)
	if pc := c.prev.Load(); pc != nil {
		pc.part(h).prefetchSlot(h)
	}
}

// prefetchSlot prefetches the home slot of hash h in the published table.
func (pt *cachePart) prefetchSlot(h uint64) {
	if t := pt.tableView.Load(); t != nil && len(*t) > 0 {
		tab := *t
		prefetch(unsafe.Pointer(&tab[uint32(h>>32)&uint32(len(tab)-1)]))
	}
}

// insert adds an entry for series, whose hash is h and which find did not
// find (slot is where it would go), with room for n fields.
func (pt *cachePart) insert(h uint64, slot int, series []byte, n int) *cacheSeries {
	if (pt.count+1)*4 > len(pt.table)*3 {
		pt.grow()
		_, slot = pt.find(h, series)
	}
	cs := pt.newSeries(n)
	i := (len(pt.slabs)-1)*seriesSlabLen + len(pt.slabs[len(pt.slabs)-1]) - 1
	pt.table[slot] = h>>32<<32 | uint64(i+1)
	pt.count++
	cs.key = pt.copyKey(series)
	return cs
}

// grow doubles the table (or makes the first).
func (pt *cachePart) grow() {
	old := pt.table
	pt.setTable(make([]uint64, max(8, 2*len(old))))
	mask := uint32(len(pt.table) - 1)
	for _, slot := range old {
		if slot == 0 {
			continue
		}
		i := uint32(slot>>32) & mask
		for pt.table[i] != 0 {
			i = (i + 1) & mask
		}
		pt.table[i] = slot
	}
}

// copyKey returns a copy of key in the partition's key arena.
func (pt *cachePart) copyKey(key []byte) string {
	if len(key) > keyArenaLen/8 {
		return string(key)
	}
	if cap(pt.keys)-len(pt.keys) < len(key) {
		arena, _ := keyArenas.Get().(*[keyArenaLen]byte)
		if arena == nil {
			arena = new([keyArenaLen]byte)
		}
		pt.arenas = append(pt.arenas, arena)
		pt.keys = arena[:0]
	}
	i := len(pt.keys)
	pt.keys = append(pt.keys, key...)
	return unsafe.String(unsafe.SliceData(pt.keys[i:]), len(key))
}

// newSeries returns an empty series entry with room for n fields, taken
// from the partition's slabs. A slab lives as long as any entry in it;
// entries are emptied only by deletes, which are rare, and the cache is
// dropped whole after its snapshot.
func (pt *cachePart) newSeries(n int) *cacheSeries {
	if len(pt.slabs) == 0 || len(pt.slabs[len(pt.slabs)-1]) == seriesSlabLen {
		slab, _ := seriesSlabs.Get().(*[seriesSlabLen]cacheSeries)
		if slab == nil {
			slab = new([seriesSlabLen]cacheSeries)
		}
		pt.slabs = append(pt.slabs, slab[:0])
	}
	// Past their length, slabs are zeroed (cache.release clears the
	// entries it recycles): the entry is taken as it is.
	last := &pt.slabs[len(pt.slabs)-1]
	*last = (*last)[:len(*last)+1]
	cs := &(*last)[len(*last)-1]
	cs.fields = pt.takeFields(n)
	return cs
}

// takeFields returns an empty slice with room for n zeroed field entries,
// cut from the partition's field slab (a slice of its own for many).
func (pt *cachePart) takeFields(n int) []cacheField {
	if n == 0 {
		return nil
	}
	if n > fieldSlabLen/16 {
		return make([]cacheField, 0, n)
	}
	if cap(pt.fieldSlab)-len(pt.fieldSlab) < n {
		slab, _ := fieldSlabs.Get().(*[fieldSlabLen]cacheField)
		if slab == nil {
			slab = new([fieldSlabLen]cacheField)
		} else {
			clear(slab[:]) // entries are created in place, zeroed
		}
		pt.fieldSlabs = append(pt.fieldSlabs, slab)
		pt.fieldSlab = slab[:0]
	}
	i := len(pt.fieldSlab)
	pt.fieldSlab = pt.fieldSlab[:i+n]
	return pt.fieldSlab[i : i : i+n]
}

// cacheSeries holds the fields of one series. A series usually has few
// fields, searched linearly; one with cacheIndexMin or more also indexes
// them by name (a point of 714,000 fields took more than 10 minutes to
// cache, issue 9). A series whose fields were all deleted keeps its entry,
// empty, until it is written again.
type cacheSeries struct {
	key    string
	fields []cacheField
	// byName maps a field's name to its index in fields; nil below
	// cacheIndexMin fields, and reset when fields are removed.
	byName map[string]int
	// one holds the series' only point while it has had no other, its
	// fields then empty (see cacheOne).
	one *cacheOne
}

// cacheOneMax is the most fields a cacheOne holds.
const cacheOneMax = 64

// cacheOne is the one point of a new series whose fields are named and
// typed (all numeric) as those of the partition's last new series: its
// time and each field's 8 bytes, n+2 words of a shared value chunk, its
// fields' names and types in its partition's schema sch. At a million
// series every series of a cache has one point (the next comes a million
// series later, in another cache): a field entry each (32 bytes, their
// own time each) was most of the memory a new series' point wrote and
// the snapshot's walk read back in random order (issue 17). A second
// point, a delete or a replayed value moves it to field entries
// (promote).
type cacheOne struct {
	time int64
	sch  uint32
	n    uint32
	// followed by n words: the fields' values' 8 bytes
}

// cacheOneHead is the words of a cacheOne before its values.
const cacheOneHead = 2

// bits returns the values' 8 bytes, in the schema's field order.
func (o *cacheOne) bits() []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Add(unsafe.Pointer(o), 8*cacheOneHead)), o.n)
}

// size is the bytes the record takes in its chunk.
func (o *cacheOne) size() int64 { return 8 * int64(cacheOneHead+o.n) }

// cacheSchema names (indexes into the partition's names) and types the
// fields of cacheOne records.
type cacheSchema struct {
	names []uint32
	types []models.FieldType
}

// size is the bytes counted for a schema: its two slices' headers and
// elements.
func (sc *cacheSchema) size() int64 { return 48 + 5*int64(len(sc.names)) }

// field returns the index of the field name in sc, -1 when it has none;
// hint is where it probably is.
func (sc *cacheSchema) field(pt *cachePart, name []byte, hint int) int {
	if hint >= 0 && hint < len(sc.names) && pt.names[sc.names[hint]] == string(name) {
		return hint
	}
	for j, id := range sc.names {
		if pt.names[id] == string(name) {
			return j
		}
	}
	return -1
}

// oneFits reports whether p's fields are those of the partition's last
// new series, with the same types, all numeric: a new series' point then
// becomes a cacheOne.
func (pt *cachePart) oneFits(p *models.Point) bool {
	if !pt.lastOne || len(p.Fields) != len(pt.last) {
		return false
	}
	for j := range p.Fields {
		f := &p.Fields[j]
		if f.Value.Type != pt.lastTypes[j] || !sameName(pt.names[pt.last[j]], f.Key) {
			return false
		}
	}
	return true
}

// insertOne adds an entry for series, whose hash is h and which find did
// not find (slot is where it would go), holding p as a cacheOne (oneFits
// is true), and returns the bytes added.
func (pt *cachePart) insertOne(h uint64, slot int, series []byte, p *models.Point) (*cacheSeries, int64) {
	var add int64
	if pt.lastSchema == 0 {
		pt.schemas = append(pt.schemas, cacheSchema{names: slices.Clone(pt.last), types: slices.Clone(pt.lastTypes)})
		pt.lastSchema = uint32(len(pt.schemas))
		add += pt.schemas[len(pt.schemas)-1].size()
	}
	cs := pt.insert(h, slot, series, 0)
	n := uint32(len(p.Fields))
	chunk, off := pt.allocWords(cacheOneHead + n)
	o := (*cacheOne)(unsafe.Pointer(&pt.chunks[chunk][off]))
	o.time, o.sch, o.n = p.Time, pt.lastSchema-1, n
	bits := o.bits()
	for j := range p.Fields {
		f := &p.Fields[j]
		bits[j] = f.Value.N
		add += int64(len(f.Key))
	}
	cs.one = o
	add += cacheSeriesOverhead + int64(len(series)) + o.size()
	pt.fixed += add
	pt.prefetchNext(len(series), cacheOneHead+len(p.Fields))
	return cs, add
}

// prefetchNext asks for the cache lines the partition's next new series
// will be written to (its entry, its key's place in the arena, its
// record's in the value chunk), assuming a key and record the size of the
// last. A new series writes to recycled slabs whose lines are no longer
// in the processor's caches, and the partition's unlock waited for those
// stores' misses: half the CPU of caching a new series (issue 17). A
// prefetch is not waited for, so the lines arrive while the points of
// other partitions are cached (the next new series of this one comes
// about cachePartitions points later).
func (pt *cachePart) prefetchNext(keyLen, words int) {
	if n := len(pt.slabs); n > 0 {
		if s := pt.slabs[n-1]; len(s) < cap(s) {
			e := &s[:len(s)+1][len(s)]
			prefetch(unsafe.Pointer(e))
			prefetch(unsafe.Add(unsafe.Pointer(e), unsafe.Sizeof(*e)-1))
		}
	}
	if n := len(pt.keys); keyLen > 0 && cap(pt.keys)-n >= keyLen {
		b := pt.keys[n : n+keyLen]
		for o := 0; o < keyLen; o += 64 {
			prefetch(unsafe.Pointer(&b[o]))
		}
		prefetch(unsafe.Pointer(&b[keyLen-1]))
	}
	if len(pt.runSlabs) > 0 && int(runChunkLen-pt.runUsed) >= words {
		c := pt.chunks[pt.runCur][pt.runUsed : int(pt.runUsed)+words]
		for o := 0; o < words; o += 8 {
			prefetch(unsafe.Pointer(&c[o]))
		}
		prefetch(unsafe.Pointer(&c[words-1]))
	}
}

// promote moves the series' cacheOne to field entries and returns the
// bytes that adds; the record's place stays held (counted in spare).
func (pt *cachePart) promote(cs *cacheSeries) int64 {
	o := cs.one
	sc := &pt.schemas[o.sch]
	n := int(o.n)
	fields := pt.takeFields(n)[:n]
	for j, b := range o.bits() {
		e := &fields[j]
		e.times[0], e.bits[0] = o.time, b
		e.name, e.typ, e.n = sc.names[j], sc.types[j], 1
	}
	cs.fields, cs.one = fields, nil
	add := int64(n) * cacheFieldOverhead
	pt.fixed += add - o.size()
	pt.spare += o.size()
	return add
}

// oneValues returns the value of field j of o as a view (see
// cacheField.values).
func (o *cacheOne) values(pt *cachePart, j int, view *tsm.Array) *tsm.Array {
	times := unsafe.Slice(&o.time, 1)
	bits := o.bits()[j : j+1 : j+1]
	setView(view, pt.schemas[o.sch].types[j], times, bits)
	return view
}

// cacheIndexMin is the field count from which a series indexes its fields.
const cacheIndexMin = 64

// cacheField holds the values of one field: up to cacheInline float,
// integer or unsigned values inline (no allocation), more of them in a
// run of its partition's value chunks, strings and booleans in an array of
// its own. It holds no pointer: its name, run and array are indexes into
// its partition's (see cachePart.names).
type cacheField struct {
	// times and bits hold n values of type typ (their 8 bytes: the bits of
	// a float, an integer, an unsigned) while the values are inline; once
	// they are in a run, times and bits hold the run's place (see run).
	times [cacheInline]int64
	bits  [cacheInline]uint64
	// name is the index of the field's name in the partition's names.
	name uint32
	// arr is 1 + the index in the partition's arrays of the array holding
	// string or boolean values; 0 when there is none.
	arr uint32
	typ models.FieldType
	n   uint8
	// inRun is set when the values (of type typ) are in a run.
	inRun bool
	// unsorted is set when a value arrives at or before the last one, so
	// reads sort (normalize) only entries that need it instead of scanning
	// every entry they read.
	unsorted bool
	// reserved is set when the entry was created with a reservation of
	// at least reserveSignalMin values, whose filling reports the cache
	// nearly full.
	reserved bool
}

// valueRun is where a field's run is: cap timestamps from word off of its
// partition's chunk chunk, then cap values' 8 bytes, n of each used.
type valueRun struct {
	chunk, off, cap, n uint32
}

// run returns the place of the field's run, held where its inline time
// and value were (16 bytes either way): a field in a run has no inline
// values, and a field entry stays 32 bytes.
func (f *cacheField) run() *valueRun {
	return (*valueRun)(unsafe.Pointer(&f.times))
}

// inlineType reports whether values of type t can be held inline (and in
// a run).
func inlineType(t models.FieldType) bool {
	return t == models.FieldTypeFloat || t == models.FieldTypeInteger || t == models.FieldTypeUnsigned
}

// array returns the field's own array, nil when its values are inline or
// in a run; pt is its partition.
func (f *cacheField) array(pt *cachePart) *tsm.Array {
	if f.arr == 0 {
		return nil
	}
	return pt.arrays[f.arr-1]
}

// len returns the number of values.
func (f *cacheField) len(pt *cachePart) int {
	if a := f.array(pt); a != nil {
		return a.Len()
	}
	if f.inRun {
		return int(f.run().n)
	}
	return int(f.n)
}

// capacity returns how many values the field holds without growing.
func (f *cacheField) capacity(pt *cachePart) int {
	if a := f.array(pt); a != nil {
		return cap(a.Timestamps)
	}
	if f.inRun {
		return int(f.run().cap)
	}
	return cacheInline
}

// setLen records that in-place changes through a view (sorting,
// excluding) left n values.
func (f *cacheField) setLen(n int) {
	switch {
	case f.arr != 0:
	case f.inRun:
		f.run().n = uint32(n)
	default:
		f.n = uint8(n)
	}
}

// valueType returns the type of the values.
func (f *cacheField) valueType(pt *cachePart) models.FieldType {
	if a := f.array(pt); a != nil {
		return a.Type
	}
	return f.typ
}

// values returns the field's values: its array, or view set to alias the
// inline values or the run (then valid until f changes or moves; in-place
// changes through it, sorting or excluding, need setLen after). view must
// be zero or set by values before.
func (f *cacheField) values(pt *cachePart, view *tsm.Array) *tsm.Array {
	if a := f.array(pt); a != nil {
		return a
	}
	var times []int64
	var bits []uint64
	if f.inRun {
		r := f.run()
		c := pt.chunks[r.chunk]
		bits = c[r.off+r.cap : r.off+r.cap+r.n : r.off+r.cap+r.n]
		times = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(c[r.off:]))), r.n)
	} else {
		times, bits = f.times[:f.n:f.n], f.bits[:f.n:f.n]
	}
	setView(view, f.typ, times, bits)
	return view
}

// setView sets view to alias times and bits, values of type typ; view
// must be zero or set by setView before.
func setView(view *tsm.Array, typ models.FieldType, times []int64, bits []uint64) {
	if view.Type != typ {
		*view = tsm.Array{Type: typ}
	}
	// Only the type's columns are set, the others being empty since the
	// view took the type: clearing the whole view for every field was a
	// tenth of a snapshot walk's own time (issue 17).
	view.Timestamps = times
	switch typ {
	case models.FieldTypeFloat:
		view.Floats = unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(bits))), len(bits))
	case models.FieldTypeInteger:
		view.Integers = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(bits))), len(bits))
	case models.FieldTypeUnsigned:
		view.Unsigneds = bits
	}
}

// arraySize is the bytes the field holds beyond its entry: its run's
// capacity, or its array's header, capacity and string bytes.
func (f *cacheField) arraySize(pt *cachePart) int64 {
	if f.inRun {
		return 16 * int64(f.run().cap)
	}
	a := f.array(pt)
	if a == nil {
		return 0
	}
	return cacheArrayOverhead + arraySize(a)
}

// normalize sorts and dedupes the entry's values if an append left them
// out of order.
func (f *cacheField) normalize(pt *cachePart) {
	if !f.unsorted {
		return
	}
	var view tsm.Array
	a := f.values(pt, &view)
	a.SortDedupe()
	f.setLen(a.Len())
	f.unsorted = false
}

// exclude normalizes the values and removes those with min <= time <= max.
func (f *cacheField) exclude(pt *cachePart, min, max int64) {
	f.normalize(pt)
	var view tsm.Array
	a := f.values(pt, &view)
	a.Exclude(min, max)
	f.setLen(a.Len())
}

func newCache() *cache {
	c := &cache{}
	c.refs.Store(1)
	return c
}

// Series slabs, field slabs and key arenas of released caches, for new
// caches to take instead of fresh memory: at a million series every series
// is new to the cache, and the first touch of fresh slabs and arenas (page
// faults) was most of the cost of caching one, while released caches left
// as much memory to the GC (issue 17).
var (
	// seriesSlabs are emptied when released: their entries point into the
	// released cache.
	seriesSlabs sync.Pool // *[seriesSlabLen]cacheSeries
	fieldSlabs  sync.Pool // *[fieldSlabLen]cacheField
	keyArenas   sync.Pool // *[keyArenaLen]byte
	runSlabs    sync.Pool // *[runChunkLen]uint64
)

// acquire takes a reference to the cache for a reader; release it when
// done.
func (c *cache) acquire() { c.refs.Add(1) }

// release drops a reference: a reader's, or the shard's once the cache's
// snapshot is installed. The last one recycles the cache's field slabs,
// key arenas and shared value chunks, so nothing may use the cache after
// its release.
func (c *cache) release() {
	if c.refs.Add(-1) != 0 {
		return
	}
	for i := range c.parts {
		pt := &c.parts[i]
		pt.mu.Lock()
		for _, slab := range pt.slabs {
			full := (*[seriesSlabLen]cacheSeries)(slab[:seriesSlabLen])
			clear(full[:len(slab)])
			seriesSlabs.Put(full)
		}
		for _, slab := range pt.fieldSlabs {
			fieldSlabs.Put(slab)
		}
		for _, arena := range pt.arenas {
			keyArenas.Put(arena)
		}
		for _, slab := range pt.runSlabs {
			runSlabs.Put(slab)
		}
		pt.fieldSlabs, pt.arenas, pt.fieldSlab, pt.keys, pt.slabs, pt.table = nil, nil, nil, nil, nil, nil
		pt.tableView.Store(nil)
		pt.runSlabs, pt.chunks, pt.written = nil, nil, nil
		pt.mu.Unlock()
	}
}

// Reservations of a cache that follows a snapshotted one: together they
// take at most reserveShare of the snapshot size, less the previous
// cache's overheads, and at most reserveMaxScale times the values a field
// held before (the previous cache may have been snapshotted early, by a
// cold shard or a caller). A field reserving at least reserveSignalMin
// values reports the cache nearly full when it reaches reserveFullAt of
// its reservation: the fields of a steady load fill their reservations
// together, and snapshotting them just before they overflow is what saves
// the regrowth (otherwise they all overflow within one batch).
const (
	reserveShare     = 7.0 / 8
	reserveMaxScale  = 4
	reserveSignalMin = 256
)

// reserveFullAt is the length at which an array reserved with capacity n
// reports its reservation nearly used: 7/8 of it, leaving room for the
// values that arrive before the snapshot swaps the cache.
func reserveFullAt(n int) int { return n - n/8 }

// newCacheAfter returns an empty cache to replace prev, which is being
// snapshotted and receives no more writes. snapshotSize is the size at
// which a cache is snapshotted. Fields created in the new cache reserve
// room for their share of the values of prev (see reserveShare), and prev
// is kept for that until dropPrev.
func newCacheAfter(prev *cache, snapshotSize int64) *cache {
	c := newCache()
	var values, fixed int64
	for i := range prev.parts {
		pt := &prev.parts[i]
		pt.mu.Lock()
		values += pt.values
		fixed += pt.fixed
		c.parts[i].presize(pt.count)
		pt.mu.Unlock()
	}
	// 16 bytes a value: a timestamp and a number (string values also
	// reserve 24 bytes for their slice header, a bit more than budgeted).
	budget := reserveShare*float64(snapshotSize) - float64(fixed)
	if values == 0 || budget <= 0 {
		return c // nothing to go by, or overheads fill the cache (a million sparse series)
	}
	c.prevScale = min(budget/float64(16*values), reserveMaxScale)
	c.prev.Store(prev)
	return c
}

// dropPrev forgets the previous cache (its snapshot is installed), so it
// can be freed.
func (c *cache) dropPrev() { c.prev.Store(nil) }

// full reports whether the cache should be snapshotted: its size reached
// snapshotSize, or its fields have nearly filled their reservations and
// it holds at least half of snapshotSize.
func (c *cache) full(snapshotSize int64) bool {
	size := c.size.Load()
	return size >= snapshotSize || (size >= snapshotSize/2 && c.reserveFull.Load())
}

// part returns the partition of the series whose hash is h.
func (c *cache) part(h uint64) *cachePart { return &c.parts[h%cachePartitions] }

// field returns the entry of field in cs, creating it (hint is the index
// where the field probably is: points usually list fields in one order).
// pt is the series' partition.
func (cs *cacheSeries) field(pt *cachePart, name []byte, hint int, create bool) (*cacheField, int, bool) {
	if hint < len(cs.fields) && pt.names[cs.fields[hint].name] == string(name) {
		return &cs.fields[hint], hint, false
	}
	if cs.byName == nil && len(cs.fields) >= cacheIndexMin {
		cs.byName = make(map[string]int, len(cs.fields))
		for i := range cs.fields {
			cs.byName[pt.names[cs.fields[i].name]] = i
		}
	}
	if cs.byName != nil {
		if i, ok := cs.byName[string(name)]; ok {
			return &cs.fields[i], i, false
		}
	} else {
		for i := range cs.fields {
			if pt.names[cs.fields[i].name] == string(name) {
				return &cs.fields[i], i, false
			}
		}
	}
	if !create {
		return nil, -1, false
	}
	cs.fields = append(cs.fields, cacheField{name: pt.nameID(name)})
	i := len(cs.fields) - 1
	if cs.byName != nil {
		cs.byName[pt.names[cs.fields[i].name]] = i
	}
	return &cs.fields[i], i, true
}

// cacheRef is where a series' entries are: its partition and entry.
type cacheRef struct {
	pt *cachePart
	cs *cacheSeries
}

// writePoint appends every field of p to series' entries and returns the
// bytes added and the series' entry. ref is that entry when known (as
// writePoint returned it for an earlier point of the series), else the
// zero cacheRef, and then h must be seriesHash(series). A known
// entry saves hashing and looking up the series key again, but is only
// valid while nothing removes entries from the cache: the write path holds
// the shard's read lock, and deletes take its write lock.
func (c *cache) writePoint(ref cacheRef, h uint64, series []byte, p *models.Point) (int64, cacheRef) {
	var add int64
	if ref.cs == nil {
		ref.pt = c.part(h)
	}
	ref.pt.mu.Lock()
	var prev *cacheSeries // the series in the previous cache, for reservations
	var prevPart *cachePart
	newSeries := false
	var fixed int64 // overheads of the entries created, added to add and pt.fixed at the end
	if ref.cs == nil {
		cs, slot := ref.pt.find(h, series)
		if cs == nil {
			if ref.pt.oneFits(p) && c.prev.Load() == nil { // no reservation to make
				cs, add = ref.pt.insertOne(h, slot, series, p)
				ref.pt.values += int64(len(p.Fields))
				ref.pt.mu.Unlock()
				c.size.Add(add)
				return add, cacheRef{ref.pt, cs}
			}
			cs = ref.pt.insert(h, slot, series, len(p.Fields))
		}
		ref.cs = cs
		if len(cs.fields) == 0 && cs.one == nil { // new, or emptied by deletes
			newSeries = true
			fixed += cacheSeriesOverhead + int64(len(series))
			if pc := c.prev.Load(); pc != nil {
				prevPart = pc.part(h)
				prevPart.mu.Lock()
				prev, _ = prevPart.find(h, series)
			}
		}
	}
	cs := ref.cs
	if cs.one != nil { // a second point
		add += ref.pt.promote(cs)
	}
	// A new series whose fields are those of the partition's last new
	// series, in the same order, takes their names: they are distinct,
	// so it needs no search for duplicates (at a million series the
	// searches and the names' copies were 3.5 % of the data node's CPU,
	// issue 17).
	pt := ref.pt
	last, follow := pt.last, newSeries
	// While following, the entries are taken in place from fs, the new
	// series' slice up to its capacity (zeroed), and cs.fields is set
	// once: copying a whole cacheField cost more than the search it
	// saves.
	var fs []cacheField
	if follow {
		fs = cs.fields[:cap(cs.fields)]
	}
	for j := range p.Fields {
		f := &p.Fields[j]
		var e *cacheField
		var created bool
		if follow && j < len(last) && j < len(fs) && sameName(pt.names[last[j]], f.Key) {
			e, created = &fs[j], true
			if prev == nil && inlineType(f.Value.Type) {
				// What appendCached does to a zeroed entry, member by
				// member: the usual field of a new series, whose
				// value is its only one.
				e.times[0], e.bits[0] = p.Time, f.Value.N
				e.name, e.typ, e.n = last[j], f.Value.Type, 1
				fixed += cacheFieldOverhead + int64(len(f.Key))
				continue
			}
			e.name = last[j]
		} else {
			if follow {
				cs.fields, follow = fs[:j], false
			}
			e, _, created = cs.field(pt, f.Key, j, true)
		}
		if created {
			fixed += cacheFieldOverhead + int64(len(f.Key))
			if prev != nil {
				add += c.reserve(pt, e, prevPart, prev, f, j)
			}
		}
		add += appendCached(pt, e, p.Time, f.Value)
		if e.unsorted {
			pt.unsorted = true
		}
		if e.reserved && e.len(pt) == reserveFullAt(e.capacity(pt)) {
			c.reserveFull.Store(true)
		}
	}
	if follow {
		cs.fields = fs[:len(p.Fields)]
	}
	add += fixed
	pt.fixed += fixed
	if prevPart != nil {
		prevPart.mu.Unlock()
	}
	if newSeries && (!follow || len(cs.fields) != len(last)) {
		pt.last, pt.lastTypes = last[:0], pt.lastTypes[:0]
		pt.lastOne, pt.lastSchema = len(cs.fields) > 0 && len(cs.fields) <= cacheOneMax, 0
		for j := range cs.fields {
			t := cs.fields[j].valueType(pt)
			pt.last = append(pt.last, cs.fields[j].name)
			pt.lastTypes = append(pt.lastTypes, t)
			pt.lastOne = pt.lastOne && inlineType(t)
		}
	}
	ref.pt.values += int64(len(p.Fields))
	ref.pt.mu.Unlock()
	c.size.Add(add)
	return add, ref
}

// sameName reports whether name == string(key). Names of 8 to 16 bytes
// (TSBS's field names) are compared as two overlapping words, without the
// call a string comparison makes: a new series compares each of its
// fields' names (issue 17).
func sameName(name string, key []byte) bool {
	n := len(name)
	if n != len(key) {
		return false
	}
	if n < 8 || n > 16 {
		return name == string(key)
	}
	a, b := unsafe.Pointer(unsafe.StringData(name)), unsafe.Pointer(unsafe.SliceData(key))
	lo := *(*uint64)(a) ^ *(*uint64)(b)
	hi := *(*uint64)(unsafe.Add(a, n-8)) ^ *(*uint64)(unsafe.Add(b, n-8))
	return lo|hi == 0
}

// reserve gives a new entry e for field f (at index hint of its point)
// room for its share of the values that prev, the series' entry in the
// previous cache, held for the field, and returns the bytes reserved.
// pt is e's partition, prevPart prev's, which is locked.
func (c *cache) reserve(pt *cachePart, e *cacheField, prevPart *cachePart, prev *cacheSeries, f *models.Field, hint int) int64 {
	had := 1 // the values prev held
	if o := prev.one; o != nil {
		sc := &prevPart.schemas[o.sch]
		if j := sc.field(prevPart, f.Key, hint); j < 0 || sc.types[j] != f.Value.Type {
			return 0
		}
	} else {
		pf, _, _ := prev.field(prevPart, f.Key, hint, false)
		if pf == nil || pf.valueType(prevPart) != f.Value.Type {
			return 0
		}
		had = pf.len(prevPart)
	}
	n := int(float64(had)*c.prevScale + 0.5)
	if n <= 1 || (n <= cacheInline && inlineType(f.Value.Type)) {
		return 0
	}
	e.reserved = n >= reserveSignalMin
	if inlineType(f.Value.Type) {
		return pt.newRun(e, f.Value.Type, n)
	}
	pt.newArray(e, f.Value.Type).Grow(n)
	return e.arraySize(pt)
}

// write appends one value and returns the bytes it added.
func (c *cache) write(series, field []byte, ts int64, v models.Value) int64 {
	h := seriesHash(series)
	pt := c.part(h)
	pt.mu.Lock()
	cs := pt.written
	if cs == nil || cs.key != string(series) {
		var slot int
		if cs, slot = pt.find(h, series); cs == nil {
			cs = pt.insert(h, slot, series, 0)
		}
		pt.written, pt.writtenField = cs, -1
	}
	var add int64
	if cs.one != nil {
		add += pt.promote(cs)
	}
	if len(cs.fields) == 0 {
		add += cacheSeriesOverhead + int64(len(series))
		pt.fixed += cacheSeriesOverhead + int64(len(series))
	}
	e, i, created := cs.field(pt, field, pt.writtenField+1, true)
	pt.writtenField = i
	if created {
		add += cacheFieldOverhead + int64(len(field))
		pt.fixed += cacheFieldOverhead + int64(len(field))
	}
	add += appendCached(pt, e, ts, v)
	if e.unsorted {
		pt.unsorted = true
	}
	pt.values++
	pt.mu.Unlock()
	c.size.Add(add)
	return add
}

// appendCached appends one value to a cache entry and returns the bytes
// added: the growth of its run's or array's capacity (what the process
// really holds, so the snapshot threshold bounds memory, not just values)
// plus a string's bytes; inline values add nothing (the entry's overhead
// counts them). A value whose type differs from the entry's replaces its
// values (the field was dropped and re-created with another type). pt is
// e's partition.
func appendCached(pt *cachePart, e *cacheField, ts int64, v models.Value) int64 {
	if a := e.array(pt); a != nil {
		return appendArray(e, a, ts, v)
	}
	if e.inRun {
		if e.typ != v.Type {
			if !inlineType(v.Type) {
				freed := pt.dropRun(e)
				return cacheArrayOverhead + appendArray(e, pt.newArray(e, v.Type), ts, v) - freed
			}
			e.run().n, e.typ, e.unsorted = 0, v.Type, false
		}
		return pt.appendRun(e, ts, v.N)
	}
	if e.n > 0 && e.typ != v.Type {
		e.n, e.unsorted = 0, false
	}
	if !inlineType(v.Type) {
		return cacheArrayOverhead + appendArray(e, pt.newArray(e, v.Type), ts, v)
	}
	if int(e.n) == cacheInline {
		return e.spill(pt) + pt.appendRun(e, ts, v.N)
	}
	if e.n > 0 && ts <= e.times[e.n-1] {
		e.unsorted = true
	}
	e.typ = v.Type
	e.times[e.n], e.bits[e.n] = ts, v.N
	e.n++
	return 0
}

// spill moves the entry's cacheInline values to a run with room for
// spillRunLen and returns the bytes that adds.
func (e *cacheField) spill(pt *cachePart) int64 {
	times, bits := e.times, e.bits
	add := pt.newRun(e, e.typ, spillRunLen)
	r := e.run()
	c := pt.chunks[r.chunk]
	for i := range cacheInline {
		c[r.off+uint32(i)], c[r.off+r.cap+uint32(i)] = uint64(times[i]), bits[i]
	}
	r.n = cacheInline
	return add
}

// appendArray is appendCached for an entry with an array of its own, a.
func appendArray(e *cacheField, a *tsm.Array, ts int64, v models.Value) int64 {
	var add int64
	if a.Type != v.Type {
		add -= arraySize(a)
		*a = tsm.Array{Type: v.Type}
		e.unsorted, e.reserved = false, false
	}
	if n := len(a.Timestamps); n > 0 && ts <= a.Timestamps[n-1] {
		e.unsorted = true
	}
	if v.Type == models.FieldTypeString {
		v.S = append([]byte(nil), v.S...) // the caller's bytes are reused
		add += int64(len(v.S))
	}
	before := arrayCapacity(a)
	if n := len(a.Timestamps); n >= 256 && n == cap(a.Timestamps) {
		growArray(a)
	}
	if err := a.Append(ts, v); err != nil {
		panic("BUG: cache append of matching type failed: " + err.Error())
	}
	return add + arrayCapacity(a) - before
}

// values returns a normalized copy of (series, field)'s values within
// [min, max]; ok is false when the cache has no such entry. The copy shares
// only string bytes, which the cache never changes.
func (c *cache) values(series, field []byte, min, max int64) (tsm.Array, bool) {
	var a tsm.Array
	ok := c.valuesInto(&a, series, field, min, max)
	return a, ok
}

// valuesInto is values copying into dst, whose capacity it reuses (its old
// content is replaced).
func (c *cache) valuesInto(dst *tsm.Array, series, field []byte, min, max int64) bool {
	h := seriesHash(series)
	pt := c.part(h)
	pt.mu.Lock()
	defer pt.mu.Unlock()
	cs, _ := pt.find(h, series)
	return cs != nil && cs.valuesInto(pt, dst, field, 0, min, max)
}

// seriesValuesInto is valuesInto for several fields of one series, read at
// one moment: dst[i] gets fields[i]'s values and ok[i] whether the cache
// has the entry (a nil field is skipped). A point's fields are appended
// under its series' partition lock, held here for all the fields, so no
// point is seen with only some of them (read one by one, the first fields
// could be read before a point arrived and the last ones after).
func (c *cache) seriesValuesInto(dst []tsm.Array, ok []bool, series []byte, fields [][]byte, min, max int64) {
	h := seriesHash(series)
	pt := c.part(h)
	pt.mu.Lock()
	defer pt.mu.Unlock()
	cs, _ := pt.find(h, series)
	for i, f := range fields {
		ok[i] = cs != nil && f != nil && cs.valuesInto(pt, &dst[i], f, i, min, max)
	}
}

// valuesInto copies field's values within [min, max] into dst, as
// cache.valuesInto does; hint is where the field probably is. pt is the
// series' partition, which is locked.
func (cs *cacheSeries) valuesInto(pt *cachePart, dst *tsm.Array, field []byte, hint int, min, max int64) bool {
	var view tsm.Array
	a := cs.fieldValues(pt, field, hint, &view)
	if a == nil {
		return false
	}
	lo, hi := arrayWindow(a, min, max)
	v := a.Slice(lo, hi)
	dst.Reset(v.Type)
	appendShared(dst, &v)
	return true
}

// fieldValues returns field's values, normalized, in the series' record
// or entry: nil when it has none, else its array or view set to alias
// them (see cacheField.values); hint is where the field probably is. pt
// is the series' partition, which is locked.
func (cs *cacheSeries) fieldValues(pt *cachePart, field []byte, hint int, view *tsm.Array) *tsm.Array {
	if o := cs.one; o != nil {
		j := pt.schemas[o.sch].field(pt, field, hint)
		if j < 0 {
			return nil
		}
		return o.values(pt, j, view)
	}
	e, _, _ := cs.field(pt, field, hint, false)
	if e == nil {
		return nil
	}
	e.normalize(pt)
	return e.values(pt, view)
}

// keys returns the composite keys of every entry, in (series, field) order.
func (c *cache) keys() []string {
	var out []string
	var kb []byte
	for i := range c.parts {
		pt := &c.parts[i]
		pt.mu.Lock()
		for _, slab := range pt.slabs {
			for j := range slab {
				for _, f := range slab[j].fields {
					kb = appendCompositeKey(kb[:0], []byte(slab[j].key), []byte(pt.names[f.name]))
					out = append(out, string(kb))
				}
				if o := slab[j].one; o != nil {
					for _, id := range pt.schemas[o.sch].names {
						kb = appendCompositeKey(kb[:0], []byte(slab[j].key), []byte(pt.names[id]))
						out = append(out, string(kb))
					}
				}
			}
		}
		pt.mu.Unlock()
	}
	slices.SortFunc(out, compareCompositeKeys)
	return out
}

// sorted returns the cache's non-empty series in key order, the order of
// a data file, their values normalized; release returns its buffers once
// it is no longer used. The cache must receive no writes meanwhile (a
// snapshotting cache). It sorts the series once and each series' few
// fields apart when walked (forEach), instead of sorting one composite
// key per entry: at a million series that sort was a quarter of the
// node's CPU (issue 17).
func (c *cache) sorted() sortedSeries {
	n := 0
	for i := range c.parts {
		c.parts[i].mu.Lock()
		n += c.parts[i].count
		c.parts[i].mu.Unlock()
	}
	// The entries are gathered in the order they sit in memory, and
	// normalized then (under the partition lock, as readers do) when an
	// append left some out of order: nothing changes them after that, so
	// the walk in key order reads them without locks.
	sc := sortScratches.Get().(*sortScratch)
	all := slices.Grow(sc.refs[:0], n)
	keys := slices.Grow(sc.keys[:0], n)
	for i := range c.parts {
		pt := &c.parts[i]
		pt.mu.Lock()
		for _, slab := range pt.slabs {
			for j := range slab {
				cs := &slab[j]
				if len(cs.fields) == 0 && cs.one == nil {
					continue
				}
				if pt.unsorted {
					for k := range cs.fields {
						cs.fields[k].normalize(pt)
					}
				}
				all = append(all, seriesRef{cs.key, cs.fields, pt, cs.one})
				keys = append(keys, cs.key)
			}
		}
		pt.unsorted = false
		pt.mu.Unlock()
	}
	sc.refs, sc.keys = all, keys
	return sortedSeries{refs: all, order: sortKeyOrder(keys, sc), scratch: sc}
}

// sortedSeries are the series of a snapshotting cache in key order (see
// cache.sorted): refs in the order gathered, order their indexes in key
// order. A snapshot written as several files walks a range of them for
// each, at once.
type sortedSeries struct {
	refs    []seriesRef
	order   []uint32
	scratch *sortScratch // the buffers refs and order are held in
}

// slice returns the series of key ranks lo to hi.
func (ss sortedSeries) slice(lo, hi int) sortedSeries {
	return sortedSeries{refs: ss.refs, order: ss.order[lo:hi]}
}

// release returns the buffers of series from sorted for reuse: neither
// ss nor a slice of it may be used afterwards.
func (ss sortedSeries) release() {
	if ss.scratch != nil {
		ss.scratch.release()
	}
}

// walkBatch is how many series forEach loads ahead at once.
const walkBatch = 32

// walkTouched receives what forEach's loads ahead read, so they are not
// optimized away.
var walkTouched atomic.Uint32

// forEach calls fn with the values of every non-empty field of the series,
// in (series, field) order; it stops at fn's first error. fn must not
// modify arr or keep it.
func (ss sortedSeries) forEach(fn func(series, field []byte, arr *tsm.Array) error) error {
	return ss.walk(fn, nil)
}

// oneValuesFunc receives consecutive fields of a series that hold one
// value each (see sortedSeries.walk), in order. It must not keep vals.
type oneValuesFunc func(series []byte, vals []tsm.OneValue) error

// walk is forEach, except that the fields holding one value in their
// entry go to one instead of fn, when one is not nil, those of a series
// that follow one another in one call: a snapshot at a million series is
// ~400,000 such fields, and making each a view Array was a tenth of the
// walk's CPU (issue 17).
func (ss sortedSeries) walk(fn func(series, field []byte, arr *tsm.Array) error, one oneValuesFunc) error {
	// The sorted order of a series' fields is kept for the next series
	// of its partition, whose fields usually have the same name indexes
	// (the series of a partition share its names): consecutive series
	// in key order are of different partitions, and comparing their
	// fields' names as strings was 0.13 s of the walk at a million
	// series (issue 17).
	var orders [walkOrderSlots]fieldOrder
	names := make(map[string][]byte) // one slice per field name (see fieldOrder)
	var view tsm.Array
	var batch [walkBatch]seriesRef
	var vals []tsm.OneValue
	var ids []uint32
	for lo := 0; lo < len(ss.order); lo += walkBatch {
		idx := ss.order[lo:min(lo+walkBatch, len(ss.order))]
		// Key order is random memory order: the series' entries, their
		// fields and their keys are cache misses. Loaded here for a batch
		// of series in loops that do nothing else, the loads do not wait
		// on one another and the misses overlap; met one at a time
		// between fn's calls they did not (issue 17: the walk's misses
		// were ~1.4 s of the data node's CPU at a million series; loading
		// ahead took a third off the walk writing a file of 400,000
		// series whose keys sort apart from their creation order).
		for k, i := range idx {
			batch[k] = ss.refs[i]
		}
		var touched uint32
		for k := range idx {
			// Every cache line of the one point, or of the fields: a
			// series' ten entries span five lines.
			if o := batch[k].one; o != nil {
				touched += touchLines((*byte)(unsafe.Pointer(o)), int(o.size()))
			} else if fields := batch[k].fields; len(fields) > 0 {
				touched += touchLines((*byte)(unsafe.Pointer(&fields[0])), len(fields)*int(unsafe.Sizeof(cacheField{})))
			}
			// Every cache line of the key: the writer compares it with
			// the key before, past their shared prefix, then copies it.
			touched += touchLines(unsafe.StringData(batch[k].key), len(batch[k].key))
		}
		walkTouched.Add(touched)
		for k := range idx {
			r := &batch[k]
			fields, pt := r.fields, r.pt
			o := &orders[uintptr(unsafe.Pointer(pt))/unsafe.Sizeof(cachePart{})%walkOrderSlots]
			series := unsafe.Slice(unsafe.StringData(r.key), len(r.key))
			if rec := r.one; rec != nil {
				if o.pt != pt || o.sch != rec.sch+1 {
					o.set(pt, pt.schemas[rec.sch].names, rec.sch+1, names)
				}
				types, bits := pt.schemas[rec.sch].types, rec.bits()
				if one == nil {
					for at, j := range o.order {
						if err := fn(series, o.names[at], rec.values(pt, j, &view)); err != nil {
							return err
						}
					}
					continue
				}
				vals = slices.Grow(vals[:0], len(o.order))[:len(o.order)]
				for at, j := range o.order {
					v := &vals[at]
					v.Field, v.Time, v.Bits, v.Type = o.names[at], rec.time, bits[j], types[j]
				}
				if err := one(series, vals); err != nil {
					return err
				}
				continue
			}
			if o.pt != pt || o.sch != 0 || !o.sameIDs(fields) {
				ids = ids[:0]
				for j := range fields {
					ids = append(ids, fields[j].name)
				}
				o.set(pt, ids, 0, names)
			}
			vals = vals[:0]
			for at, j := range o.order {
				f := &fields[j]
				if one != nil && f.n == 1 && f.arr == 0 && !f.inRun {
					// Member by member: a composite literal was built on
					// the stack and copied in 16-byte loads that waited on
					// its 8-byte stores (a tenth of the walk).
					if len(vals) == cap(vals) {
						vals = slices.Grow(vals, 1)
					}
					vals = vals[:len(vals)+1]
					v := &vals[len(vals)-1]
					v.Field, v.Time, v.Bits, v.Type = o.names[at], f.times[0], f.bits[0], f.typ
					continue
				}
				if f.len(pt) == 0 {
					continue
				}
				if len(vals) > 0 {
					if err := one(series, vals); err != nil {
						return err
					}
					vals = vals[:0]
				}
				if err := fn(series, o.names[at], f.values(pt, &view)); err != nil {
					return err
				}
			}
			if len(vals) > 0 {
				if err := one(series, vals); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// touchLines loads a byte of each 64-byte line of the n bytes at p, and
// their last, and returns their sum (for walkTouched, so the loads are
// kept): the walk's loads ahead of use.
func touchLines(p *byte, n int) uint32 {
	if n == 0 {
		return 0
	}
	b := unsafe.Slice(p, n)
	var sum uint32
	for o := 0; o < n; o += 64 {
		sum += uint32(b[o])
	}
	return sum + uint32(b[n-1])
}

// seriesRef is a series' key, fields and partition in sortedSeries.
type seriesRef struct {
	key    string
	fields []cacheField
	pt     *cachePart
	one    *cacheOne // the series' one point, its fields then empty
}

// walkOrderSlots is how many fieldOrder forEach keeps, a power of two
// of at least cachePartitions: one a partition.
const walkOrderSlots = 64

// fieldOrder is the key order of the fields of a series of partition pt
// whose fields have the name indexes ids (those of schema sch-1 for a
// cacheOne, sch 0 for field entries): order holds their indexes, and
// names their names in that order, one slice per name for all partitions
// of the walk (each partition holds a string of its own), so a data file
// Writer told its keys are stable (tsm.Writer.StableKeys) knows a field
// by the address of its name.
type fieldOrder struct {
	pt    *cachePart
	sch   uint32
	ids   []uint32
	order []int
	names [][]byte
}

// sameIDs reports whether fields have o's name indexes, in o's order.
func (o *fieldOrder) sameIDs(fields []cacheField) bool {
	if len(fields) != len(o.ids) {
		return false
	}
	for j := range fields {
		if fields[j].name != o.ids[j] {
			return false
		}
	}
	return true
}

// set makes o the order of fields of name indexes ids, of partition pt
// and schema sch (see fieldOrder); names maps each field name met in the
// walk to its one slice, and gains the new ones.
func (o *fieldOrder) set(pt *cachePart, ids []uint32, sch uint32, names map[string][]byte) {
	o.pt, o.sch, o.ids, o.order, o.names = pt, sch, append(o.ids[:0], ids...), o.order[:0], o.names[:0]
	for j := range ids {
		o.order = append(o.order, j)
	}
	slices.SortFunc(o.order, func(a, b int) int { return strings.Compare(pt.names[o.ids[a]], pt.names[o.ids[b]]) })
	for _, j := range o.order {
		name := pt.names[o.ids[j]]
		b, ok := names[name]
		if !ok {
			b = unsafe.Slice(unsafe.StringData(name), len(name))
			names[name] = b
		}
		o.names = append(o.names, b)
	}
}

// deleteRange removes the values a tombstone deletes and returns the bytes
// freed.
func (c *cache) deleteRange(t *Tombstone) int64 {
	h := seriesHash(t.SeriesKey)
	pt := c.part(h)
	pt.mu.Lock()
	defer pt.mu.Unlock()
	cs, _ := pt.find(h, t.SeriesKey)
	var freed int64
	if cs != nil && cs.one != nil {
		freed -= pt.promote(cs)
	}
	if cs == nil || len(cs.fields) == 0 {
		c.size.Add(-freed)
		return freed
	}
	kept := cs.fields[:0]
	for _, f := range cs.fields {
		if name := pt.names[f.name]; len(t.Field) == 0 || name == string(t.Field) {
			before := f.arraySize(pt)
			f.exclude(pt, t.Min, t.Max)
			freed += before - f.arraySize(pt)
			if f.len(pt) == 0 {
				freed += cacheFieldOverhead + int64(len(name))
				pt.fixed -= cacheFieldOverhead + int64(len(name))
				if f.inRun {
					freed += pt.dropRun(&f)
				}
				if f.arr != 0 {
					freed += f.arraySize(pt)
					pt.arrays[f.arr-1] = nil
				}
				continue
			}
		}
		kept = append(kept, f)
	}
	clear(cs.fields[len(kept):])
	cs.fields = kept
	cs.byName = nil     // indexes moved; field rebuilds it
	if len(kept) == 0 { // the entry stays, empty (see cacheSeries)
		freed += cacheSeriesOverhead + int64(len(t.SeriesKey))
		pt.fixed -= cacheSeriesOverhead + int64(len(t.SeriesKey))
	}
	c.size.Add(-freed)
	return freed
}

// growArray doubles the capacity of a large cache array's slices ahead of
// an append: entries grow by many small appends, and doubling keeps the
// copying and zeroing of regrowth amortized low (Go's append doubles only
// below 256 elements, then grows by about 1.25x).
func growArray(a *tsm.Array) { a.Grow(a.Len()) }
