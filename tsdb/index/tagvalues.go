package index

import (
	"hash/maphash"
	"iter"
	"sync/atomic"
)

// valueSeed seeds the hashes of tag values.
var valueSeed = maphash.MakeSeed()

// valueMap maps the values of one tag key to their series. It is an
// open-addressing table whose slots hold each value's hash next to its
// entry's index, so growing moves 8-byte slots and never re-hashes (or
// reads) the values, which alias the key slabs in creation order and are
// scattered across them by the time a table grows. With a Go map, growing
// the map of a tag with a value per series (host names) re-hashed every
// value, the largest part of indexing a new series (issue 17). Entries are
// kept dense, in insertion order, for iteration.
type valueMap struct {
	// slots holds hash<<32 | entry index+1; emptySlot and tombSlot (see
	// seriesTable) mark free and deleted slots.
	slots []uint64
	// pages hold the entries, entryPage to a page (the first grows up to
	// that), so that the entries of a growing map are never copied: as one
	// slice, the million entries of a tag with a value per series were
	// copied four times over by append's growth, with a fresh allocation
	// each time (issue 17).
	pages [][]valueEntry
	n     int // entries
	used  int // slots holding an entry or a tombstone
}

// entryPage is the number of entries in a full page.
const (
	entryPageBits = 10
	entryPage     = 1 << entryPageBits
)

// valueEntry is one tag value and its series.
type valueEntry struct {
	value string
	ref   valueRef
	hash  uint32
}

// minValueSlots is the table size of a map's first value.
const minValueSlots = 8

func hashValue(v string) uint32 {
	h := maphash.String(valueSeed, v)
	return uint32(h>>32) ^ uint32(h)
}

// len returns the number of values.
func (vm *valueMap) len() int { return vm.n }

// at returns entry i.
func (vm *valueMap) at(i int) *valueEntry { return &vm.pages[i>>entryPageBits][i&(entryPage-1)] }

// push appends an entry.
func (vm *valueMap) push(e valueEntry) {
	p := vm.n >> entryPageBits
	if p == len(vm.pages) {
		var page []valueEntry
		if p > 0 {
			page = make([]valueEntry, 0, entryPage)
		}
		vm.pages = append(vm.pages, page)
	}
	vm.pages[p] = append(vm.pages[p], e)
	vm.n++
}

// get returns the series of value v.
func (vm *valueMap) get(v string) (valueRef, bool) {
	if i := vm.find(v, hashValue(v)); i >= 0 {
		return vm.at(vm.entryOf(i)).ref, true
	}
	return 0, false
}

// entry returns the entry of value v, adding one (with ref 0) when there
// is none; added reports which. v is kept: it must never be modified. The
// pointer is valid until the next change to the map.
func (vm *valueMap) entry(v string) (e *valueEntry, added bool) {
	return vm.entryHash(v, hashValue(v))
}

// entryHash is entry of value v, whose hash is h.
func (vm *valueMap) entryHash(v string, h uint32) (e *valueEntry, added bool) {
	if i := vm.find(v, h); i >= 0 {
		return vm.at(vm.entryOf(i)), false
	}
	if (vm.used+1)*4 >= len(vm.slots)*3 {
		vm.grow()
	}
	vm.push(valueEntry{value: v, hash: h})
	vm.place(h, vm.n)
	vm.used++
	return vm.at(vm.n - 1), true
}

// set makes r the series of value v (kept; see entry) and reports whether
// v was new.
func (vm *valueMap) set(v string, r valueRef) (added bool) {
	e, added := vm.entry(v)
	e.ref = r
	return added
}

// delete removes value v, if present. The last entry moves into its place.
func (vm *valueMap) delete(v string) {
	i := vm.find(v, hashValue(v))
	if i < 0 {
		return
	}
	ei := vm.entryOf(i)
	vm.slots[i] = tombSlot
	last := vm.n - 1
	if ei != last {
		moved := *vm.at(last)
		mi := vm.slotOf(moved.hash, last+1)
		vm.slots[mi] = uint64(moved.hash)<<32 | uint64(ei+1)
		*vm.at(ei) = moved
	}
	*vm.at(last) = valueEntry{}
	p := last >> entryPageBits
	vm.pages[p] = vm.pages[p][:len(vm.pages[p])-1]
	vm.n--
}

// all yields each value and its series, in no particular order. The map
// must not change during the iteration.
func (vm *valueMap) all() iter.Seq2[string, valueRef] {
	return func(yield func(string, valueRef) bool) {
		for _, page := range vm.pages {
			for _, e := range page {
				if !yield(e.value, e.ref) {
					return
				}
			}
		}
	}
}

// touch loads the slot where a search for hash h starts, so that the
// cache misses of several searches overlap (see batchTags.addPostings). The load is
// atomic only so that the compiler keeps it.
func (vm *valueMap) touch(h uint32) {
	if len(vm.slots) > 0 {
		atomic.LoadUint64(&vm.slots[int(h)&(len(vm.slots)-1)])
	}
}

// entryOf returns the entry index held by slot i.
func (vm *valueMap) entryOf(i int) int { return int(uint32(vm.slots[i])) - 1 }

// find returns the slot of value v, whose hash is h, or -1.
func (vm *valueMap) find(v string, h uint32) int {
	if len(vm.slots) == 0 {
		return -1
	}
	mask := len(vm.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := vm.slots[i]
		if s == emptySlot {
			return -1
		}
		if s != tombSlot && uint32(s>>32) == h && vm.at(int(uint32(s))-1).value == v {
			return i
		}
	}
}

// slotOf returns the slot holding entry index+1 ei1, whose hash is h.
func (vm *valueMap) slotOf(h uint32, ei1 int) int {
	mask := len(vm.slots) - 1
	want := uint64(h)<<32 | uint64(ei1)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		if vm.slots[i] == want {
			return i
		}
	}
}

// place puts entry index+1 ei1 with hash h in a free slot.
func (vm *valueMap) place(h uint32, ei1 int) {
	mask := len(vm.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		if vm.slots[i] == emptySlot {
			vm.slots[i] = uint64(h)<<32 | uint64(ei1)
			return
		}
	}
}

// grow doubles the table, or rebuilds it at its size when tombstones
// fill it.
func (vm *valueMap) grow() {
	n := len(vm.slots) * 2
	if vm.n*2 < vm.used {
		n = len(vm.slots)
	}
	vm.rehash(max(n, minValueSlots))
}

// reserve makes room for n values without growing.
func (vm *valueMap) reserve(n int) {
	size := max(len(vm.slots), minValueSlots)
	for (n+1)*4 >= size*3 {
		size *= 2
	}
	if size > len(vm.slots) {
		vm.rehash(size)
	}
}

// rehash moves the entries to a table of n slots, using the hashes their
// slots hold. It reads the old slots in order, so the new ones are written
// in a few ascending runs: placed in entry order, each landed at a random
// place of a table too large for the cache (the map of a tag with a value
// per series), a quarter of indexing such a value at a million (issue 17).
func (vm *valueMap) rehash(n int) {
	old := vm.slots
	vm.slots = newSlots(n)
	for _, s := range old {
		if s != emptySlot && s != tombSlot {
			vm.place(uint32(s>>32), int(uint32(s)))
		}
	}
	vm.used = vm.n
}
