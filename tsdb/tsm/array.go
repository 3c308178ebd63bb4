package tsm

import (
	"fmt"
	"math"
	"slices"

	"github.com/strata-db/strata/tsdb/models"
)

// Array is one column of values: timestamps and the values of one type, in
// the slice named by Type (the other value slices are unused). Most
// functions require strictly ascending timestamps; SortDedupe establishes
// that. The zero Array is empty and of unknown type. Methods reuse the
// slices' capacity, so one Array can serve many blocks without allocating.
type Array struct {
	Type       models.FieldType
	Timestamps []int64
	Floats     []float64
	Integers   []int64
	Unsigneds  []uint64
	Strings    [][]byte
	Booleans   []bool
}

// Len returns the number of values.
func (a *Array) Len() int { return len(a.Timestamps) }

// Reset empties a, keeping capacity, and sets its type.
func (a *Array) Reset(t models.FieldType) {
	a.Type = t
	a.Timestamps = a.Timestamps[:0]
	a.Floats = a.Floats[:0]
	a.Integers = a.Integers[:0]
	a.Unsigneds = a.Unsigneds[:0]
	clear(a.Strings) // drop references to old string bytes
	a.Strings = a.Strings[:0]
	a.Booleans = a.Booleans[:0]
}

// Grow makes room for n more values of a's type without reallocating.
func (a *Array) Grow(n int) {
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

// Append adds one value at time t. v.Type must equal a.Type (an empty
// Array of unknown type takes v's type); otherwise Append returns
// ErrTypeMismatch. String bytes are not copied. Append does not check
// time order.
func (a *Array) Append(t int64, v models.Value) error {
	if a.Type == models.FieldTypeUnknown && a.Len() == 0 {
		a.Type = v.Type
	}
	if v.Type != a.Type {
		return fmt.Errorf("%w: append %s to %s array", ErrTypeMismatch, v.Type, a.Type)
	}
	switch a.Type {
	case models.FieldTypeFloat:
		a.Floats = append(a.Floats, v.Float())
	case models.FieldTypeInteger:
		a.Integers = append(a.Integers, v.Integer())
	case models.FieldTypeUnsigned:
		a.Unsigneds = append(a.Unsigneds, v.Unsigned())
	case models.FieldTypeString:
		a.Strings = append(a.Strings, v.S)
	case models.FieldTypeBoolean:
		a.Booleans = append(a.Booleans, v.Boolean())
	default:
		return fmt.Errorf("%w: unknown field type %d", ErrTypeMismatch, a.Type)
	}
	a.Timestamps = append(a.Timestamps, t)
	return nil
}

// Value returns the i-th value.
func (a *Array) Value(i int) models.Value {
	switch a.Type {
	case models.FieldTypeFloat:
		return models.FloatValue(a.Floats[i])
	case models.FieldTypeInteger:
		return models.IntegerValue(a.Integers[i])
	case models.FieldTypeUnsigned:
		return models.UnsignedValue(a.Unsigneds[i])
	case models.FieldTypeString:
		return models.StringValue(a.Strings[i])
	case models.FieldTypeBoolean:
		return models.BooleanValue(a.Booleans[i])
	}
	panic(fmt.Sprintf("BUG: tsm: Value on array of type %d", a.Type))
}

// valueLen returns the length of the value slice named by Type, or -1 for
// an unknown type.
func (a *Array) valueLen() int {
	switch a.Type {
	case models.FieldTypeFloat:
		return len(a.Floats)
	case models.FieldTypeInteger:
		return len(a.Integers)
	case models.FieldTypeUnsigned:
		return len(a.Unsigneds)
	case models.FieldTypeString:
		return len(a.Strings)
	case models.FieldTypeBoolean:
		return len(a.Booleans)
	}
	return -1
}

// Validate checks that a's type is known, that its value slice has one
// value per timestamp, and that timestamps strictly ascend. It returns an
// error wrapping ErrInvalidBlock or ErrBlockOrder.
func (a *Array) Validate() error {
	if n := a.valueLen(); n < 0 {
		return fmt.Errorf("%w: unknown field type %d", ErrInvalidBlock, a.Type)
	} else if n != len(a.Timestamps) {
		return fmt.Errorf("%w: %d timestamps, %d values", ErrInvalidBlock, len(a.Timestamps), n)
	}
	for i := 1; i < len(a.Timestamps); i++ {
		if a.Timestamps[i] <= a.Timestamps[i-1] {
			return fmt.Errorf("%w: timestamp %d at index %d follows %d", ErrBlockOrder, a.Timestamps[i], i, a.Timestamps[i-1])
		}
	}
	return nil
}

// Slice returns a view of values [i, j) sharing a's memory.
func (a *Array) Slice(i, j int) Array {
	s := Array{Type: a.Type, Timestamps: a.Timestamps[i:j]}
	switch a.Type {
	case models.FieldTypeFloat:
		s.Floats = a.Floats[i:j]
	case models.FieldTypeInteger:
		s.Integers = a.Integers[i:j]
	case models.FieldTypeUnsigned:
		s.Unsigneds = a.Unsigneds[i:j]
	case models.FieldTypeString:
		s.Strings = a.Strings[i:j]
	case models.FieldTypeBoolean:
		s.Booleans = a.Booleans[i:j]
	}
	return s
}

// truncate keeps at most the first n values of each column.
func (a *Array) truncate(n int) {
	a.Timestamps = a.Timestamps[:min(n, len(a.Timestamps))]
	a.Floats = a.Floats[:min(n, len(a.Floats))]
	a.Integers = a.Integers[:min(n, len(a.Integers))]
	a.Unsigneds = a.Unsigneds[:min(n, len(a.Unsigneds))]
	if n < len(a.Strings) {
		clear(a.Strings[n:]) // drop references to the cut string bytes
		a.Strings = a.Strings[:n]
	}
	a.Booleans = a.Booleans[:min(n, len(a.Booleans))]
}

// search returns the index of the first timestamp >= t.
func (a *Array) search(t int64) int {
	i, _ := slices.BinarySearch(a.Timestamps, t)
	return i
}

// Exclude removes the values with min <= time <= max, in place.
func (a *Array) Exclude(min, max int64) {
	if min > max || a.Len() == 0 || max < a.Timestamps[0] || min > a.Timestamps[a.Len()-1] {
		return
	}
	i := a.search(min)
	j := i
	if max == math.MaxInt64 {
		j = a.Len()
	} else {
		j = a.search(max + 1)
	}
	if i == j {
		return
	}
	a.Timestamps = slices.Delete(a.Timestamps, i, j)
	switch a.Type {
	case models.FieldTypeFloat:
		a.Floats = slices.Delete(a.Floats, i, j)
	case models.FieldTypeInteger:
		a.Integers = slices.Delete(a.Integers, i, j)
	case models.FieldTypeUnsigned:
		a.Unsigneds = slices.Delete(a.Unsigneds, i, j)
	case models.FieldTypeString:
		a.Strings = slices.Delete(a.Strings, i, j)
	case models.FieldTypeBoolean:
		a.Booleans = slices.Delete(a.Booleans, i, j)
	}
}

// Include keeps only the values with min <= time <= max, in place.
func (a *Array) Include(min, max int64) {
	if min > max {
		a.Reset(a.Type)
		return
	}
	if min != math.MinInt64 {
		a.Exclude(math.MinInt64, min-1)
	}
	if max != math.MaxInt64 {
		a.Exclude(max+1, math.MaxInt64)
	}
}

// MergeArrays sets dst to the union of a and b, which must each have
// strictly ascending timestamps; on equal timestamps b's value wins (b is
// newer). dst must not alias a or b; its capacity is reused. An empty input
// of unknown type merges with any type; otherwise the types must agree
// (ErrTypeMismatch). String bytes are shared, not copied.
func MergeArrays(dst, a, b *Array) error {
	switch {
	case a.Len() == 0 && b.Len() == 0:
		dst.Reset(max(a.Type, b.Type))
		return nil
	case a.Len() == 0:
		dst.Reset(b.Type)
		appendArray(dst, b, 0, b.Len())
		return nil
	case b.Len() == 0:
		dst.Reset(a.Type)
		appendArray(dst, a, 0, a.Len())
		return nil
	case a.Type != b.Type:
		return fmt.Errorf("%w: merge %s with %s", ErrTypeMismatch, a.Type, b.Type)
	}
	dst.Reset(a.Type)
	switch a.Type {
	case models.FieldTypeFloat:
		dst.Timestamps, dst.Floats = mergeCol(dst.Timestamps, dst.Floats, a.Timestamps, a.Floats, b.Timestamps, b.Floats)
	case models.FieldTypeInteger:
		dst.Timestamps, dst.Integers = mergeCol(dst.Timestamps, dst.Integers, a.Timestamps, a.Integers, b.Timestamps, b.Integers)
	case models.FieldTypeUnsigned:
		dst.Timestamps, dst.Unsigneds = mergeCol(dst.Timestamps, dst.Unsigneds, a.Timestamps, a.Unsigneds, b.Timestamps, b.Unsigneds)
	case models.FieldTypeString:
		dst.Timestamps, dst.Strings = mergeCol(dst.Timestamps, dst.Strings, a.Timestamps, a.Strings, b.Timestamps, b.Strings)
	case models.FieldTypeBoolean:
		dst.Timestamps, dst.Booleans = mergeCol(dst.Timestamps, dst.Booleans, a.Timestamps, a.Booleans, b.Timestamps, b.Booleans)
	default:
		return fmt.Errorf("%w: unknown field type %d", ErrTypeMismatch, a.Type)
	}
	return nil
}

// mergeCol appends the union of (ats, avs) and (bts, bvs) to (dts, dvs),
// b winning on equal timestamps. It copies runs rather than single values.
func mergeCol[T any](dts []int64, dvs []T, ats []int64, avs []T, bts []int64, bvs []T) ([]int64, []T) {
	i, j := 0, 0
	for i < len(ats) && j < len(bts) {
		switch {
		case ats[i] < bts[j]:
			k := i + 1
			for k < len(ats) && ats[k] < bts[j] {
				k++
			}
			dts, dvs = append(dts, ats[i:k]...), append(dvs, avs[i:k]...)
			i = k
		case ats[i] > bts[j]:
			k := j + 1
			for k < len(bts) && bts[k] < ats[i] {
				k++
			}
			dts, dvs = append(dts, bts[j:k]...), append(dvs, bvs[j:k]...)
			j = k
		default:
			dts, dvs = append(dts, bts[j]), append(dvs, bvs[j])
			i++
			j++
		}
	}
	dts, dvs = append(dts, ats[i:]...), append(dvs, avs[i:]...)
	dts, dvs = append(dts, bts[j:]...), append(dvs, bvs[j:]...)
	return dts, dvs
}

// appendArray appends src's values [i, j) to dst (same type).
func appendArray(dst, src *Array, i, j int) {
	dst.Timestamps = append(dst.Timestamps, src.Timestamps[i:j]...)
	switch src.Type {
	case models.FieldTypeFloat:
		dst.Floats = append(dst.Floats, src.Floats[i:j]...)
	case models.FieldTypeInteger:
		dst.Integers = append(dst.Integers, src.Integers[i:j]...)
	case models.FieldTypeUnsigned:
		dst.Unsigneds = append(dst.Unsigneds, src.Unsigneds[i:j]...)
	case models.FieldTypeString:
		dst.Strings = append(dst.Strings, src.Strings[i:j]...)
	case models.FieldTypeBoolean:
		dst.Booleans = append(dst.Booleans, src.Booleans[i:j]...)
	}
}

// dropFront removes the first i values, moving the rest to the front.
func (a *Array) dropFront(i int) {
	if i == 0 {
		return
	}
	a.Timestamps = a.Timestamps[:copy(a.Timestamps, a.Timestamps[i:])]
	switch a.Type {
	case models.FieldTypeFloat:
		a.Floats = a.Floats[:copy(a.Floats, a.Floats[i:])]
	case models.FieldTypeInteger:
		a.Integers = a.Integers[:copy(a.Integers, a.Integers[i:])]
	case models.FieldTypeUnsigned:
		a.Unsigneds = a.Unsigneds[:copy(a.Unsigneds, a.Unsigneds[i:])]
	case models.FieldTypeString:
		n := copy(a.Strings, a.Strings[i:])
		clear(a.Strings[n:])
		a.Strings = a.Strings[:n]
	case models.FieldTypeBoolean:
		a.Booleans = a.Booleans[:copy(a.Booleans, a.Booleans[i:])]
	}
}

// Merge merges b into a, b winning on equal timestamps (see MergeArrays).
// It appends in place when b lies after a and allocates otherwise.
func (a *Array) Merge(b *Array) error {
	if b.Len() == 0 {
		return nil
	}
	if a.Len() == 0 || a.Timestamps[a.Len()-1] < b.Timestamps[0] {
		if a.Len() > 0 && a.Type != b.Type {
			return fmt.Errorf("%w: merge %s with %s", ErrTypeMismatch, a.Type, b.Type)
		}
		a.Type = b.Type
		appendArray(a, b, 0, b.Len())
		return nil
	}
	var out Array
	if err := MergeArrays(&out, a, b); err != nil {
		return err
	}
	*a = out
	return nil
}

// SortDedupe sorts a by time and, of values with equal timestamps, keeps
// the one appended last (the newest write wins), so that a cache can append
// writes in arrival order. It works in place: it never allocates, so a
// cache being snapshotted does not briefly need twice its memory.
func (a *Array) SortDedupe() {
	ts := a.Timestamps
	sorted := true
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			sorted = false
			break
		}
	}
	if sorted {
		return
	}
	var n int
	switch a.Type {
	case models.FieldTypeFloat:
		n = sortDedupe(ts, a.Floats)
		a.Floats = a.Floats[:n]
	case models.FieldTypeInteger:
		n = sortDedupe(ts, a.Integers)
		a.Integers = a.Integers[:n]
	case models.FieldTypeUnsigned:
		n = sortDedupe(ts, a.Unsigneds)
		a.Unsigneds = a.Unsigneds[:n]
	case models.FieldTypeString:
		n = sortDedupe(ts, a.Strings)
		clear(a.Strings[n:]) // release the dropped values' bytes
		a.Strings = a.Strings[:n]
	case models.FieldTypeBoolean:
		n = sortDedupe(ts, a.Booleans)
		a.Booleans = a.Booleans[:n]
	default:
		n = len(ts)
	}
	a.Timestamps = ts[:n]
}

// sortDedupe stably sorts ts, moving vs along, then keeps the last value of
// each run of equal timestamps; it returns the number kept.
func sortDedupe[T any](ts []int64, vs []T) int {
	stableSort(ts, vs)
	w := 0
	for i := range ts {
		if i+1 < len(ts) && ts[i+1] == ts[i] {
			continue
		}
		ts[w], vs[w] = ts[i], vs[i]
		w++
	}
	return w
}

// stableSortBlock is the length of the runs stableSort insertion-sorts
// before merging them.
const stableSortBlock = 20

// stableSort sorts ts ascending in place, moving vs along and keeping equal
// timestamps in their original order: insertion sort of short blocks, then
// in-place merges of doubling width (SymMerge, Kim and Kutzner 2004). Merges
// of ranges already in order cost one comparison, so the nearly sorted
// columns a cache holds sort in about linear time.
func stableSort[T any](ts []int64, vs []T) {
	n := len(ts)
	for lo := 0; lo < n; lo += stableSortBlock {
		hi := min(lo+stableSortBlock, n)
		for i := lo + 1; i < hi; i++ {
			for j := i; j > lo && ts[j] < ts[j-1]; j-- {
				ts[j], ts[j-1] = ts[j-1], ts[j]
				vs[j], vs[j-1] = vs[j-1], vs[j]
			}
		}
	}
	for width := stableSortBlock; width < n; width *= 2 {
		for lo := 0; lo+width < n; lo += 2 * width {
			symMerge(ts, vs, lo, lo+width, min(lo+2*width, n))
		}
	}
}

// symMerge stably merges the sorted ranges [lo, mid) and [mid, hi) in place.
func symMerge[T any](ts []int64, vs []T, lo, mid, hi int) {
	if lo >= mid || mid >= hi || ts[mid-1] <= ts[mid] {
		return
	}
	// Split both ranges so that everything left of the split point of the
	// whole range sorts before everything right of it: find how many of the
	// first range's tail and the second range's head change sides, swap
	// those blocks by rotation, and merge each side recursively.
	half := int(uint(lo+hi) >> 1)
	sum := half + mid
	var start, r int
	if mid > half {
		start, r = sum-hi, half
	} else {
		start, r = lo, mid
	}
	p := sum - 1
	for start < r {
		c := int(uint(start+r) >> 1)
		if ts[p-c] >= ts[c] {
			start = c + 1
		} else {
			r = c
		}
	}
	end := sum - start
	if start < mid && mid < end {
		rotate(ts, vs, start, mid, end)
	}
	if lo < start && start < half {
		symMerge(ts, vs, lo, start, half)
	}
	if half < end && end < hi {
		symMerge(ts, vs, half, end, hi)
	}
}

// rotate exchanges the adjacent ranges [lo, mid) and [mid, hi) in place.
func rotate[T any](ts []int64, vs []T, lo, mid, hi int) {
	reverse(ts, vs, lo, mid)
	reverse(ts, vs, mid, hi)
	reverse(ts, vs, lo, hi)
}

func reverse[T any](ts []int64, vs []T, lo, hi int) {
	for i, j := lo, hi-1; i < j; i, j = i+1, j-1 {
		ts[i], ts[j] = ts[j], ts[i]
		vs[i], vs[j] = vs[j], vs[i]
	}
}
