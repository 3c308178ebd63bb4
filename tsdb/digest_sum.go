package tsdb

import (
	"crypto/sha256"
	"encoding/binary"
	"math"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// windowSum is what one key's values in one digest window contribute to
// its bucket's digest (docs/digest.md): how many there are and the sums,
// modulo 2^64, of two independent 64-bit hashes of each (time, value).
// Being sums, the contributions of sources holding disjoint timestamps of
// a key add up to the contribution of their union, which is what lets a
// shard combine per-file sums without decoding values.
type windowSum struct {
	start      int64 // window start
	count      uint64
	a, b       uint64
	minT, maxT int64 // the values' time range; not stored in digest files
}

// add folds s's values into w (same window, disjoint timestamps).
func (w *windowSum) add(s *windowSum) {
	w.count += s.count
	w.a += s.a
	w.b += s.b
	w.minT, w.maxT = min(w.minT, s.minT), max(w.maxT, s.maxT)
}

// Seeds of the two value hashes (digits of pi and e; any fixed odd
// constants do, as long as every node uses the same).
const (
	sumSeedA = 0x243f6a8885a308d3
	sumSeedB = 0x2b7e151628aed2a7
)

// mix64 is a bijective 64-bit finalizer (splitmix64's, Stafford's Mix13).
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// valueHashes returns the two hashes of the value with bits va, vb (equal
// for numbers and booleans: models.Value.N; two halves of the SHA-256 of
// a string's bytes) at time ts. Three rounds of mix64, not four: the time
// is mixed once for both.
func valueHashes(ts int64, va, vb uint64) (uint64, uint64) {
	t := mix64(uint64(ts) ^ sumSeedA)
	return mix64(t ^ va), mix64(t*0x9e3779b97f4a7c15 + (vb ^ sumSeedB))
}

// appendWindowSums appends the per-window sums of a's values (sorted,
// unique timestamps) to dst, ascending by window.
func appendWindowSums(dst []windowSum, a *tsm.Array, window int64) []windowSum {
	n := a.Len()
	for i := 0; i < n; {
		start := floorDiv(a.Timestamps[i], window) * window
		j := i + 1
		for j < n && windowHolds(start, window, a.Timestamps[j]) {
			j++
		}
		w := windowSum{start: start, count: uint64(j - i), minT: a.Timestamps[i], maxT: a.Timestamps[j-1]}
		ts := a.Timestamps[i:j]
		switch a.Type {
		case models.FieldTypeFloat:
			sumValues(&w, ts, a.Floats[i:j], math.Float64bits)
		case models.FieldTypeInteger:
			sumValues(&w, ts, a.Integers[i:j], func(v int64) uint64 { return uint64(v) })
		case models.FieldTypeUnsigned:
			sumValues(&w, ts, a.Unsigneds[i:j], func(v uint64) uint64 { return v })
		case models.FieldTypeBoolean:
			sumValues(&w, ts, a.Booleans[i:j], func(v bool) uint64 {
				if v {
					return 1
				}
				return 0
			})
		case models.FieldTypeString:
			for k, s := range a.Strings[i:j] {
				sum := sha256.Sum256(s)
				ha, hb := valueHashes(ts[k], binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16]))
				w.a += ha
				w.b += hb
			}
		}
		dst = append(dst, w)
		i = j
	}
	return dst
}

// windowHolds reports whether ts, at or after the start of the window at
// start, falls in that window: the window starting past MaxInt64-window
// (or wrapped there from the start of time) reaches the end of time.
func windowHolds(start, window, ts int64) bool {
	return start > math.MaxInt64-window || ts < start+window
}

// sumValues adds the hashes of numeric values vs at times ts to w.
func sumValues[V any](w *windowSum, ts []int64, vs []V, bits func(V) uint64) {
	for k, v := range vs {
		x := bits(v)
		ha, hb := valueHashes(ts[k], x, x)
		w.a += ha
		w.b += hb
	}
}

// appendBucketRecord appends one key's record of a bucket's canonical
// stream (docs/digest.md).
func appendBucketRecord(dst, series, field []byte, typ models.FieldType, w *windowSum) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(series)))
	dst = append(dst, series...)
	dst = binary.AppendUvarint(dst, uint64(len(field)))
	dst = append(dst, field...)
	dst = append(dst, byte(typ))
	dst = binary.AppendUvarint(dst, w.count)
	dst = binary.LittleEndian.AppendUint64(dst, w.a)
	return binary.LittleEndian.AppendUint64(dst, w.b)
}

// appendInlineSums appends the per-window sums of a key whose blocks are
// metas to dst, computed from the blocks' index entries, as
// appendWindowSums would from their values; ok is false (dst returned as
// it came) unless every block is inline, its values in its entry: First
// at MinTime and, for two values, Last at MaxTime, in the bits of
// models.Value.N that the hashes take.
func appendInlineSums(dst []windowSum, metas []tsm.BlockMeta, window int64) ([]windowSum, bool) {
	n0 := len(dst)
	for i := range metas {
		m := &metas[i]
		if !m.Inline() {
			return dst[:n0], false
		}
		vals := [2]uint64{m.Stats.First, m.Stats.Last}
		times := [2]int64{m.MinTime, m.MaxTime}
		for k := range min(m.Count, 2) {
			ts := times[k]
			if n := len(dst); n == n0 || !windowHolds(dst[n-1].start, window, ts) {
				dst = append(dst, windowSum{start: floorDiv(ts, window) * window, minT: ts})
			}
			w := &dst[len(dst)-1]
			ha, hb := valueHashes(ts, vals[k], vals[k])
			w.count++
			w.a += ha
			w.b += hb
			w.maxT = ts
		}
	}
	return dst, true
}
