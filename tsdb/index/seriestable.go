package index

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync/atomic"
)

// Key slab sizes. Keys are never split across slabs; a key longer than a
// slab gets a slab of its own. The first smallSlabs slabs of a table are
// slabSize, the later ones bigSlabSize: a shard with few series holds
// little, one with many takes fewer slabs. They are not advised huge
// pages (see DESIGN.md).
const (
	slabSize    = 1 << 20
	bigSlabSize = 8 << 20
	smallSlabs  = 8
)

// deletedLoc marks the location of a dropped series.
const deletedLoc = ^uint64(0)

// Slot values of the open-addressing table: the high 32 bits hold the key's
// hash (so growing never rehashes keys), the low 32 bits the series id.
// Ids start at 1, so 0 is an empty slot; tombSlot marks a removed entry.
const (
	emptySlot = uint64(0)
	tombSlot  = ^uint64(0)
)

// seriesTable maps series keys to dense uint32 ids and back without storing
// a Go pointer per series: keys live in append-only byte slabs (prefixed by
// their uvarint length) and the hash table is a []uint64. That keeps the
// per-series overhead near 25 bytes plus the key and gives the garbage
// collector nothing to scan. It is not safe for concurrent use.
type seriesTable struct {
	seed  maphash.Seed
	slabs [][]byte
	// locs[id] is slab<<32 | offset of the key's length prefix, or deletedLoc
	// (also for id 0 and for ids never created).
	locs  []uint64
	slots []uint64
	used  int // live entries plus tombstones in slots
	live  int
	// spare is a slab whose pages prepareSlab wrote, taken by the next key
	// that needs a slab; big is set once slabs are bigSlabSize. They are
	// the only fields safe to use without the index's lock.
	spare atomic.Pointer[[]byte]
	big   atomic.Bool
}

// pageSize is the memory page size prepareSlab and newSlots assume.
const pageSize = 4096

// newSlots returns a zeroed table of n slots with one slot of each of its
// memory pages written, so that each page takes one page fault. Placing
// the entries of a growing table reads a slot before writing it, and the
// first read of a fresh page maps the kernel's shared zero page: the write
// after it took a second fault to replace that mapping. At a million
// series the growth of the key table and of the host-name value map took
// ~14 k such second faults, of ~150 k in the load (issue 17).
func newSlots(n int) []uint64 {
	s := make([]uint64, n)
	for i := 0; i < len(s); i += pageSize / 8 {
		s[i] = 0
	}
	return s
}

// prepareSlab makes a spare slab, unless there is one, and writes a byte
// of each of its pages, so that the caller takes the page faults of the
// fresh memory outside the index's lock: storing the keys of a million
// new series took ~0.4 CPU-s, nearly all of it those faults, under the
// lock every writer waits for (issue 17). Safe for concurrent use.
func (t *seriesTable) prepareSlab() {
	if t.spare.Load() != nil {
		return
	}
	slab := make([]byte, t.nextSlabSize())
	for i := 0; i < len(slab); i += pageSize {
		slab[i] = 0
	}
	t.spare.CompareAndSwap(nil, &slab)
}

// nextSlabSize returns the size of the table's next slab. Safe for concurrent
// use.
func (t *seriesTable) nextSlabSize() int {
	if t.big.Load() {
		return bigSlabSize
	}
	return slabSize
}

func newSeriesTable() *seriesTable {
	return &seriesTable{seed: maphash.MakeSeed(), locs: []uint64{deletedLoc}}
}

func (t *seriesTable) hash(key []byte) uint32 {
	h := maphash.Bytes(t.seed, key)
	return uint32(h>>32) ^ uint32(h)
}

// key returns the key of id, or nil if id is not live. The result aliases
// the slab and must not be modified.
func (t *seriesTable) key(id uint32) []byte {
	if int(id) >= len(t.locs) {
		return nil
	}
	return keyAt(t.slabs, t.locs[id])
}

// keyAt returns the key at location loc of slabs (see seriesTable.locs), or
// nil for deletedLoc.
func keyAt(slabs [][]byte, loc uint64) []byte {
	if loc == deletedLoc {
		return nil
	}
	slab := slabs[loc>>32]
	off := int(uint32(loc))
	n, w := binary.Uvarint(slab[off:])
	start := off + w
	return slab[start : start+int(n) : start+int(n)]
}

// lookup returns the id of key, or 0.
func (t *seriesTable) lookup(key []byte) uint32 { return t.lookupHash(key, t.hash(key)) }

// lookupHash is lookup of key, whose hash is h.
func (t *seriesTable) lookupHash(key []byte, h uint32) uint32 {
	if len(t.slots) == 0 {
		return 0
	}
	mask := uint32(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == emptySlot {
			return 0
		}
		if s != tombSlot && uint32(s>>32) == h {
			id := uint32(s)
			if bytes.Equal(t.key(id), key) {
				return id
			}
		}
	}
}

// touch loads the slot where a lookup of hash h starts, so that the cache
// misses of the lookups of several keys overlap (see batchKeys.touch). The load
// is atomic only so that the compiler keeps it.
func (t *seriesTable) touch(h uint32) {
	if len(t.slots) > 0 {
		atomic.LoadUint64(&t.slots[h&uint32(len(t.slots)-1)])
	}
}

// insert records key under id, which must be new and not yet in the table.
// It copies key.
func (t *seriesTable) insert(id uint32, key []byte) { t.insertHash(id, key, t.hash(key)) }

// insertHash is insert of key, whose hash is h: createSlow hashes a key
// once for its lookup and its insertion. It returns the stored copy.
func (t *seriesTable) insertHash(id uint32, key []byte, h uint32) []byte {
	stored := t.add(id, key)
	t.indexHash(id, h)
	return stored
}

// add stores key under id, which must be new, without making it found by
// lookup: index does that. It copies key and returns the copy, which
// aliases the slab (see key).
func (t *seriesTable) add(id uint32, key []byte) []byte {
	si, off := t.addPlace(id, len(key))
	start := off + putKey(t.slabs[si][off:], key) - len(key)
	return t.slabs[si][start : start+len(key) : start+len(key)]
}

// addPlace is add of a key of n bytes that the caller writes (putKey) at
// the place returned (see reserveKey) before anything reads it.
func (t *seriesTable) addPlace(id uint32, n int) (slab, off int) {
	if have := len(t.locs); int(id) >= have {
		if int(id) >= cap(t.locs) {
			// Doubling, not append's quarter: see appendID.
			t.locs = slices.Grow(t.locs, max(int(id)+1, 2*have)-have)
		}
		t.locs = t.locs[:id+1]
		for i := have; i < int(id); i++ {
			t.locs[i] = deletedLoc
		}
	}
	slab, off = t.reserveKey(n)
	t.locs[id] = uint64(slab)<<32 | uint64(off)
	t.live++
	return slab, off
}

// index makes series id, stored by add, found by lookup of its key. It
// writes the hash slots only, so it may run while another goroutine reads
// keys (key, has), as Open does.
func (t *seriesTable) index(id uint32, key []byte) { t.indexHash(id, t.hash(key)) }

// indexHash is index of a key whose hash is h.
func (t *seriesTable) indexHash(id, h uint32) {
	if (t.used+1)*4 >= len(t.slots)*3 {
		t.grow()
	}
	t.place(h, id)
	t.used++
}

func (t *seriesTable) place(h, id uint32) {
	mask := uint32(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		if t.slots[i] == emptySlot {
			t.slots[i] = uint64(h)<<32 | uint64(id)
			return
		}
	}
}

// grow doubles the table (or rebuilds it at the same size when tombstones
// fill it), reusing the stored hashes.
func (t *seriesTable) grow() {
	n := len(t.slots) * 2
	if t.live*2 < t.used {
		n = len(t.slots) // mostly tombstones: rebuild in place size
	}
	t.rehash(max(n, 1024))
}

// reserve makes room for series ids up to n, so that inserting n series
// does not grow the table.
func (t *seriesTable) reserve(n int) {
	size := max(len(t.slots), 1024)
	for (n+1)*4 >= size*3 {
		size *= 2
	}
	if size > len(t.slots) {
		t.rehash(size)
	}
	if n >= len(t.locs) {
		t.locs = slices.Grow(t.locs, n+1-len(t.locs))
	}
}

// rehash moves the entries to a table of n slots.
func (t *seriesTable) rehash(n int) {
	old := t.slots
	t.slots = newSlots(n)
	t.used = 0
	for _, s := range old {
		if s != emptySlot && s != tombSlot {
			t.place(uint32(s>>32), uint32(s))
			t.used++
		}
	}
}

// remove deletes id from the table. The key bytes stay in their slab until
// the next snapshot-and-reopen.
func (t *seriesTable) remove(id uint32) {
	key := t.key(id)
	if key == nil {
		return
	}
	h := t.hash(key)
	mask := uint32(len(t.slots) - 1)
	want := uint64(h)<<32 | uint64(id)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == emptySlot {
			break
		}
		if s == want {
			t.slots[i] = tombSlot
			t.live--
			break
		}
	}
	t.locs[id] = deletedLoc
}

// reserveKey makes room for a key of n bytes and its length prefix at the
// end of the current slab, starting a slab when they do not fit, and
// returns where they go. The caller writes them there (putKey) before the
// key is read.
func (t *seriesTable) reserveKey(n int) (slab, off int) {
	need := binary.MaxVarintLen64 + n
	if len(t.slabs) == 0 || cap(t.slabs[len(t.slabs)-1])-len(t.slabs[len(t.slabs)-1]) < need {
		var slab []byte
		if spare := t.spare.Swap(nil); spare != nil && len(*spare) >= need {
			slab = (*spare)[:0]
		} else {
			slab = make([]byte, 0, max(t.nextSlabSize(), need))
		}
		t.slabs = append(t.slabs, slab)
		if len(t.slabs) == smallSlabs {
			t.big.Store(true)
		}
	}
	si := len(t.slabs) - 1
	off = len(t.slabs[si])
	t.slabs[si] = t.slabs[si][:off+uvarintLen(uint64(n))+n]
	return si, off
}

// putKey writes key with its length prefix at the start of dst and returns
// the number of bytes written.
func putKey(dst, key []byte) int {
	w := binary.PutUvarint(dst, uint64(len(key)))
	return w + copy(dst[w:], key)
}

// uvarintLen returns the length of the uvarint encoding of v.
func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}
