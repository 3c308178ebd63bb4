package tsdb

import (
	"math"
	"slices"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// valueSize is the cache accounting size of one value.
func valueSize(v models.Value) int64 {
	if v.Type == models.FieldTypeString {
		return 8 + 24 + int64(len(v.S))
	}
	return 16
}

// arraySize is the cache accounting size of an array: its capacity plus
// the bytes of its strings.
func arraySize(a *tsm.Array) int64 {
	n := arrayCapacity(a)
	for _, s := range a.Strings {
		n += int64(len(s))
	}
	return n
}

// arrayCapacity is the bytes of an array's slices at full capacity.
func arrayCapacity(a *tsm.Array) int64 {
	return 8*int64(cap(a.Timestamps)+cap(a.Floats)+cap(a.Integers)+cap(a.Unsigneds)) +
		24*int64(cap(a.Strings)) + int64(cap(a.Booleans))
}

// arrayWindow returns the index range [lo, hi) of a's (sorted) times within
// [min, max].
func arrayWindow(a *tsm.Array, min, max int64) (lo, hi int) {
	lo, _ = slices.BinarySearch(a.Timestamps, min)
	if max == math.MaxInt64 {
		return lo, a.Len()
	}
	hi, _ = slices.BinarySearch(a.Timestamps, max+1)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// mergeBufs is the scratch of merge: two arrays that successive merge
// steps write in turn, so merging many keys with one mergeBufs allocates
// only while the buffers grow.
type mergeBufs [2]tsm.Array

// merge merges sorted arrays ordered oldest first into one; on equal
// timestamps the newer array wins. Arrays of a type other than the newest
// non-empty array's are skipped (a field dropped and re-created with
// another type). The result may alias
// the buffers, arrs' elements and their string bytes: it is valid until the
// next merge with b and as long as arrs is. String bytes are shared, not
// copied.
func (b *mergeBufs) merge(arrs []tsm.Array) tsm.Array {
	typ := models.FieldTypeUnknown
	for i := len(arrs) - 1; i >= 0; i-- {
		if arrs[i].Len() > 0 {
			typ = arrs[i].Type
			break
		}
	}
	var acc tsm.Array
	acc.Type = typ
	cur := -1 // the buffer acc is, or -1 while acc is an input
	for i := range arrs {
		a := &arrs[i]
		if a.Len() == 0 || a.Type != typ {
			continue
		}
		if acc.Len() == 0 {
			acc = *a
			continue
		}
		if a.Timestamps[0] > acc.Timestamps[acc.Len()-1] {
			// a follows acc (files of successive time ranges): append.
			if cur < 0 {
				cur = 0
				b[cur].Reset(typ)
				appendShared(&b[cur], &acc)
			}
			appendShared(&b[cur], a)
			acc = b[cur]
			continue
		}
		next := 0
		if cur == 0 {
			next = 1
		}
		if err := tsm.MergeArrays(&b[next], &acc, a); err != nil {
			panic("BUG: merge of arrays of one type failed: " + err.Error())
		}
		cur, acc = next, b[next]
	}
	return acc
}

// appendShared appends b's values to a (of b's type), sharing b's string
// bytes.
func appendShared(a, b *tsm.Array) {
	a.Timestamps = append(a.Timestamps, b.Timestamps...)
	switch b.Type {
	case models.FieldTypeFloat:
		a.Floats = append(a.Floats, b.Floats...)
	case models.FieldTypeInteger:
		a.Integers = append(a.Integers, b.Integers...)
	case models.FieldTypeUnsigned:
		a.Unsigneds = append(a.Unsigneds, b.Unsigneds...)
	case models.FieldTypeBoolean:
		a.Booleans = append(a.Booleans, b.Booleans...)
	case models.FieldTypeString:
		a.Strings = append(a.Strings, b.Strings...)
	}
}

// applyTombstones removes from a (values of seriesKey/field read from a
// source with sequence seq) what the tombstones delete.
func applyTombstones(a *tsm.Array, tombs []Tombstone, seq uint64, seriesKey, field []byte) {
	for i := range tombs {
		t := &tombs[i]
		if t.appliesTo(seq, seriesKey, field) {
			a.Exclude(t.Min, t.Max)
		}
	}
}
