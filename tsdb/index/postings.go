package index

import "slices"

// Postings are sorted, duplicate-free lists of series ids. Ids are assigned
// in increasing order, so appending a new id keeps a list sorted.

// intersect returns the ids in both a and b.
func intersect(a, b []uint32) []uint32 {
	out := make([]uint32, 0, min(len(a), len(b)))
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// union returns the ids in a or b.
func union(a, b []uint32) []uint32 {
	out := make([]uint32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// difference returns the ids in a but not in b.
func difference(a, b []uint32) []uint32 {
	out := make([]uint32, 0, len(a))
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j < len(b) && b[j] == x {
			continue
		}
		out = append(out, x)
	}
	return out
}

// removeSorted removes the ids of drop (sorted) from a in place and returns
// the shortened list.
func removeSorted(a, drop []uint32) []uint32 {
	out := a[:0]
	j := 0
	for _, x := range a {
		for j < len(drop) && drop[j] < x {
			j++
		}
		if j < len(drop) && drop[j] == x {
			continue
		}
		out = append(out, x)
	}
	clear(a[len(out):])
	return out
}

// appendID appends id to the list a, doubling a full list's capacity:
// append grows a long slice by a quarter, which copied each posting list
// of a value shared by many series about four times over as the series
// were created, with a fresh allocation at each growth (issue 17).
func appendID(a []uint32, id uint32) []uint32 {
	if len(a) == cap(a) {
		a = slices.Grow(a, max(len(a), 4))
	}
	return append(a, id)
}

// insertSorted adds id to a keeping it sorted (a no-op if present).
func insertSorted(a []uint32, id uint32) []uint32 {
	if n := len(a); n == 0 || a[n-1] < id {
		return appendID(a, id)
	}
	lo, hi := 0, len(a)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if a[m] < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(a) && a[lo] == id {
		return a
	}
	a = append(a, 0)
	copy(a[lo+1:], a[lo:])
	a[lo] = id
	return a
}

// addPosting records that series id has tag value v, whose hash is h
// (hashValue), in tv.
func (m *measurement) addPosting(tv *tagValues, v []byte, h, id uint32) {
	m.addPostings(tv, v, h, []uint32{id})
}

// postingsOf returns the series of a tag value. The result may alias index
// memory and must not be modified.
func (m *measurement) postingsOf(r valueRef) []uint32 {
	if one, inline := r.inline(); inline {
		return []uint32{one}
	}
	return m.lists[r]
}

// addPostings records that the series ids (sorted, at least one) have tag
// value v, whose hash is h (hashValue), in tv, with one lookup and one
// copy.
func (m *measurement) addPostings(tv *tagValues, v []byte, h uint32, ids []uint32) {
	e, added := tv.values.entryHash(bytesString(v), h)
	if added {
		if len(ids) == 1 {
			e.ref = inlineRef | valueRef(ids[0])
			return
		}
		e.ref = valueRef(len(m.lists))
		m.lists = append(m.lists, slices.Clone(ids))
		return
	}
	if one, inline := e.ref.inline(); inline {
		if len(ids) == 1 && ids[0] == one {
			return // a replayed series: already there
		}
		e.ref = valueRef(len(m.lists))
		m.lists = append(m.lists, mergeIDs([]uint32{one}, ids))
		return
	}
	m.lists[e.ref] = mergeIDs(m.lists[e.ref], ids)
}

// mergeIDs adds the sorted ids to the list a and returns it. Ids above all
// of a's, the usual case, are appended, growing a full list to at least
// twice its length (see appendID).
func mergeIDs(a, ids []uint32) []uint32 {
	if n := len(a); n > 0 && a[n-1] >= ids[0] {
		for _, id := range ids {
			a = insertSorted(a, id)
		}
		return a
	}
	if len(a)+len(ids) > cap(a) {
		a = slices.Grow(a, max(len(a), len(ids)))
	}
	return append(a, ids...)
}
