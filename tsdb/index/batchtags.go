package index

import (
	"slices"

	"github.com/strata-db/strata/tsdb/models"
)

// batchTags holds the tags of a batch's new series, one series after the
// other, as slices of their stored keys, the hashes of their values
// (hashValue), and the same tags grouped by measurement, tag key and
// value. createSlow finds and groups them before it takes pmu (find), so
// that the postings stage, serialized between the writers, looks each
// value of the batch up once and appends its series to the value's list
// in one copy (addPostings): at a million new series, a value map lookup
// and a list append per tag of each series was most of that stage, and
// all but one of the ten tags of a TSBS series have a handful of values.
type batchTags struct {
	tags   models.Tags
	hashes []uint32 // one per tag
	ends   []int    // ends[k] is where the tags of series k end
	// keys are the batch's (measurement, tag key) pairs; keyOf[j] is the
	// index in keys of tags[j], byKey indexes keys.
	keys  []batchKey
	keyOf []int32
	byKey map[batchKeyID]int32
	// groups are the batch's (measurement, tag key, value) triples in the
	// order of their first series; groupOf[j] is the group of tags[j].
	// slots is the open-addressing table that finds them (group index+1,
	// 0 when free).
	groups  []postingGroup
	groupOf []int32
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
// value and its hash those of tags[tag], its first occurrence, and its n
// series at ids[start:].
type postingGroup struct {
	key, tag, start, n int32
}

// find fills bt with the tags of the new series and groups them. It reads
// only their points and their stored keys, which no one modifies, so it
// needs no lock.
func (bt *batchTags) find(points []models.Point, series []newSeries) {
	n := 0
	for _, ns := range series {
		n += len(points[ns.point].Tags)
	}
	bt.tags = slices.Grow(bt.tags[:0], n)
	bt.hashes = slices.Grow(bt.hashes[:0], n)
	bt.ends = slices.Grow(bt.ends[:0], len(series))
	for _, ns := range series {
		bt.tags = seriesTags(bt.tags, ns.key, &points[ns.point])
		for _, t := range bt.tags[len(bt.hashes):] {
			bt.hashes = append(bt.hashes, hashValue(bytesString(t.Value)))
		}
		bt.ends = append(bt.ends, len(bt.tags))
	}
	bt.findKeys(series)
	bt.group(series)
}

// findKeys fills keys and keyOf. The series of a measurement mostly have
// the same tag keys, so a tag is first compared with the key at its
// position in the series before (see tagKeys).
func (bt *batchTags) findKeys(series []newSeries) {
	bt.keys = bt.keys[:0]
	bt.keyOf = slices.Grow(bt.keyOf[:0], len(bt.tags))
	clear(bt.byKey)
	var prev newSeries
	prevStart, prevEnd := 0, 0
	for k, ns := range series {
		start, end := bt.span(k)
		for j := start; j < end; j++ {
			key := bt.tags[j].Key
			if p := prevStart + j - start; ns.m == prev.m && p < prevEnd {
				if ki := bt.keyOf[p]; string(bt.keys[ki].key) == string(key) {
					bt.keyOf = append(bt.keyOf, ki)
					continue
				}
			}
			bt.keyOf = append(bt.keyOf, bt.keyIndex(ns.m, key))
		}
		prev, prevStart, prevEnd = ns, start, end
	}
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

// group fills groups, groupOf and ids.
func (bt *batchTags) group(series []newSeries) {
	// Room for a value per series and tag key of the first series, at
	// most 3/4 full: a TSBS batch has a new host name per series and ~200
	// other values; the table grows if there are more.
	size := 64
	for size < 4*len(series) {
		size *= 2
	}
	bt.resetSlots(size)
	bt.groups = bt.groups[:0]
	bt.groupOf = slices.Grow(bt.groupOf[:0], len(bt.tags))
	for j, t := range bt.tags {
		if (len(bt.groups)+1)*4 >= len(bt.slots)*3 {
			bt.growSlots()
		}
		ki, h := bt.keyOf[j], bt.hashes[j]
		mask := uint32(len(bt.slots) - 1)
		for i := groupHash(ki, h) & mask; ; i = (i + 1) & mask {
			s := bt.slots[i]
			if s == 0 {
				bt.slots[i] = int32(len(bt.groups)) + 1
				bt.groupOf = append(bt.groupOf, int32(len(bt.groups)))
				bt.groups = append(bt.groups, postingGroup{key: ki, tag: int32(j), n: 1})
				break
			}
			if g := &bt.groups[s-1]; g.key == ki && bt.hashes[g.tag] == h && string(bt.tags[g.tag].Value) == string(t.Value) {
				g.n++
				bt.groupOf = append(bt.groupOf, s-1)
				break
			}
		}
	}
	start := int32(0)
	for g := range bt.groups {
		bt.groups[g].start = start
		start += bt.groups[g].n
		bt.groups[g].n = 0
	}
	bt.ids = slices.Grow(bt.ids[:0], len(bt.tags))[:len(bt.tags)]
	for k, ns := range series {
		start, end := bt.span(k)
		for _, gi := range bt.groupOf[start:end] {
			g := &bt.groups[gi]
			bt.ids[g.start+g.n] = ns.id
			g.n++
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
		i := groupHash(g.key, bt.hashes[g.tag]) & mask
		for bt.slots[i] != 0 {
			i = (i + 1) & mask
		}
		bt.slots[i] = int32(gi) + 1
	}
}

// span returns the range of bt.tags of series k.
func (bt *batchTags) span(k int) (start, end int) {
	if k > 0 {
		start = bt.ends[k-1]
	}
	return start, bt.ends[k]
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
				vm.touch(bt.hashes[g.tag])
			}
		}
		for _, g := range groups {
			bt.keys[g.key].m.addPostings(bt.tvs[g.key], bt.tags[g.tag].Value, bt.hashes[g.tag], bt.ids[g.start:g.start+g.n])
		}
	}
}

// clear drops bt's references to index memory (keys, measurements) so that
// a closed index can be collected, clearing only what the batch used:
// each batch clears what it wrote, so nothing past it refers to anything.
func (bt *batchTags) clear() {
	clear(bt.tags)
	clear(bt.keys)
	clear(bt.byKey)
	clear(bt.tvs)
}
