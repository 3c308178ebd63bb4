package index

import (
	"slices"

	"github.com/strata-db/strata/tsdb/models"
)

// batchTags holds the tags of a batch's new series grouped by
// measurement, tag key and value, the values as slices of the series'
// stored keys with their hashes (hashValue). createSlow finds and groups
// them before it takes pmu (find), so that the postings stage, serialized
// between the writers, looks each value of the batch up once and appends
// its series to the value's list in one copy (addPostings): at a million
// new series, a value map lookup and a list append per tag of each series
// was most of that stage, and all but one of the ten tags of a TSBS series
// have a handful of values.
type batchTags struct {
	// tags holds the tags of the series being grouped (reused).
	tags models.Tags
	// keys are the batch's (measurement, tag key) pairs, byKey indexes
	// them; prevKeys holds the indexes of the tag keys of the series
	// before, by position.
	keys     []batchKey
	byKey    map[batchKeyID]int32
	prevKeys []int32
	// groups are the batch's (measurement, tag key, value) triples in the
	// order of their first series; groupOf holds the group of each tag of
	// each series, series after series, and ends[k] is where those of
	// series k end. slots is the open-addressing table that finds the
	// groups (group index+1, 0 when free).
	groups  []postingGroup
	groupOf []int32
	ends    []int
	slots   []int32
	// ids holds the series of each group, group after group, ascending.
	ids []uint32
	// tvs[i] is the tagValues of keys[i] (addPostings).
	tvs []*tagValues
}

// batchKey is a tag key of a measurement.
type batchKey struct {
	m   *measurement
	key []byte // aliases a stored key
}

// batchKeyID is batchKey as a map key.
type batchKeyID struct {
	m   *measurement
	key string
}

// postingGroup is a tag value of the batch: the tag key keys[key], the
// value (aliasing a stored key) and its hash, and its n series at
// ids[start:].
type postingGroup struct {
	value    []byte
	hash     uint32
	key      int32
	start, n int32
}

// find groups the tags of the new series. It reads only their points and
// their stored keys, which no one modifies, so it needs no lock. The
// series of a measurement mostly have the same tag keys, so a tag is
// first compared with the key at its position in the series before (see
// tagKeys).
func (bt *batchTags) find(points []models.Point, series []newSeries) {
	n := 0
	for _, ns := range series {
		n += len(points[ns.point].Tags)
	}
	bt.keys, bt.prevKeys = bt.keys[:0], bt.prevKeys[:0]
	clear(bt.byKey)
	// Room for a value per series and tag key of the first series, at
	// most 3/4 full: a TSBS batch has a new host name per series and ~200
	// other values; the table grows if there are more.
	size := 64
	for size < 4*len(series) {
		size *= 2
	}
	bt.resetSlots(size)
	bt.groups = bt.groups[:0]
	bt.groupOf = slices.Grow(bt.groupOf[:0], n)
	bt.ends = slices.Grow(bt.ends[:0], len(series))
	var prev *measurement
	for _, ns := range series {
		// The tags are taken from the stored key one by one, not gathered
		// in a slice first: storing a tag's two slices in the heap (with
		// the garbage collector's write barriers, and collections come
		// every few batches) was a third of this loop at a million series.
		p := &points[ns.point]
		nt := len(p.Tags)
		if unescapedKey(ns.key, p) {
			off := len(p.Measurement)
			for j := range p.Tags {
				var k, v []byte
				k, v, off = tagAt(ns.key, &p.Tags[j], off)
				bt.add(ns.m, prev, j, k, v)
			}
		} else {
			bt.tags = parseStored(bt.tags[:0], ns.key)
			nt = len(bt.tags)
			for j := range bt.tags {
				bt.add(ns.m, prev, j, bt.tags[j].Key, bt.tags[j].Value)
			}
		}
		bt.prevKeys = bt.prevKeys[:nt]
		prev = ns.m
		bt.ends = append(bt.ends, len(bt.groupOf))
	}
	start := int32(0)
	for g := range bt.groups {
		bt.groups[g].start = start
		start += bt.groups[g].n
		bt.groups[g].n = 0
	}
	bt.ids = slices.Grow(bt.ids[:0], n)[:n]
	prevEnd := 0
	for k, ns := range series {
		for _, gi := range bt.groupOf[prevEnd:bt.ends[k]] {
			g := &bt.groups[gi]
			bt.ids[g.start+g.n] = ns.id
			g.n++
		}
		prevEnd = bt.ends[k]
	}
}

// add counts the j-th tag, key k and value v, of a new series of m, whose
// series before is of prev, in its group. k and v alias a stored key.
func (bt *batchTags) add(m, prev *measurement, j int, k, v []byte) {
	var ki int32
	if m == prev && j < len(bt.prevKeys) && string(bt.keys[bt.prevKeys[j]].key) == string(k) {
		ki = bt.prevKeys[j]
	} else {
		ki = bt.keyIndex(m, k)
		if j < len(bt.prevKeys) {
			bt.prevKeys[j] = ki
		} else {
			bt.prevKeys = append(bt.prevKeys, ki)
		}
	}
	bt.groupOf = append(bt.groupOf, bt.group(ki, v, hashValue(bytesString(v))))
}

// keyIndex returns the index in keys of m's tag key key, adding it if
// needed. key aliases a stored key.
func (bt *batchTags) keyIndex(m *measurement, key []byte) int32 {
	if bt.byKey == nil {
		bt.byKey = map[batchKeyID]int32{}
	}
	id := batchKeyID{m, bytesString(key)}
	ki, ok := bt.byKey[id]
	if !ok {
		ki = int32(len(bt.keys))
		bt.keys = append(bt.keys, batchKey{m, key})
		bt.byKey[id] = ki
	}
	return ki
}

// group returns the index of the group of value v, whose hash is h, of tag
// key keys[ki], counting one more series in it; it starts the group if
// there is none. v aliases a stored key.
func (bt *batchTags) group(ki int32, v []byte, h uint32) int32 {
	if (len(bt.groups)+1)*4 >= len(bt.slots)*3 {
		bt.growSlots()
	}
	mask := uint32(len(bt.slots) - 1)
	for i := groupHash(ki, h) & mask; ; i = (i + 1) & mask {
		s := bt.slots[i]
		if s == 0 {
			bt.slots[i] = int32(len(bt.groups)) + 1
			bt.groups = append(bt.groups, postingGroup{value: v, hash: h, key: ki, n: 1})
			return int32(len(bt.groups)) - 1
		}
		if g := &bt.groups[s-1]; g.key == ki && g.hash == h && string(g.value) == string(v) {
			g.n++
			return s - 1
		}
	}
}

// groupHash is the hash of a group's slot: its value's, mixed with its
// tag key's index.
func groupHash(key int32, h uint32) uint32 { return h ^ uint32(key)*0x9e3779b9 }

// resetSlots empties the group table and sizes it to size slots.
func (bt *batchTags) resetSlots(size int) {
	if cap(bt.slots) < size {
		bt.slots = make([]int32, size)
	} else {
		bt.slots = bt.slots[:size]
		clear(bt.slots)
	}
}

// growSlots doubles the group table.
func (bt *batchTags) growSlots() {
	bt.resetSlots(2 * len(bt.slots))
	mask := uint32(len(bt.slots) - 1)
	for gi, g := range bt.groups {
		i := groupHash(g.key, g.hash) & mask
		for bt.slots[i] != 0 {
			i = (i + 1) & mask
		}
		bt.slots[i] = int32(gi) + 1
	}
}

// touchSlots is the table size from which addPostings loads a value map's
// slot ahead (512 KiB): smaller tables stay in the cache.
const touchSlots = 1 << 16

// addPostings adds the series of each group to its value's postings. The
// caller holds pmu for writing, and every series of the index older than
// the batch's is in the postings (see createSlow), so the groups' ids are
// above those of every list. The slots of the value maps larger than
// touchSlots (host names, a value per series) are loaded lookAhead groups
// at a time before any of them is searched, so that the cache misses
// overlap (see batchKeys.touch).
func (bt *batchTags) addPostings() {
	bt.tvs = bt.tvs[:0]
	for _, k := range bt.keys {
		tv := k.m.tags[string(k.key)]
		if tv == nil {
			tv = &tagValues{}
			k.m.tags[bytesString(k.key)] = tv
		}
		bt.tvs = append(bt.tvs, tv)
	}
	for g0 := 0; g0 < len(bt.groups); g0 += lookAhead {
		groups := bt.groups[g0:min(g0+lookAhead, len(bt.groups))]
		// A loop of its own: see batchKeys.touch.
		for _, g := range groups {
			if vm := &bt.tvs[g.key].values; len(vm.slots) >= touchSlots {
				vm.touch(g.hash)
			}
		}
		for _, g := range groups {
			bt.keys[g.key].m.addPostings(bt.tvs[g.key], g.value, g.hash, bt.ids[g.start:g.start+g.n])
		}
	}
}

// clear drops bt's references to index memory (keys, measurements) so that
// a closed index can be collected, clearing only what the batch used:
// each batch clears what it wrote, so nothing past it refers to anything.
func (bt *batchTags) clear() {
	clear(bt.tags[:cap(bt.tags)]) // a series before the last may have had more
	clear(bt.groups)
	clear(bt.keys)
	clear(bt.byKey)
	clear(bt.tvs)
}
