package antientropy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"slices"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// valueHasher hashes values in the canonical form of tsdb/docs/digest.md,
// one value at a time: field key, type, timestamp, value.
type valueHasher struct {
	h   hash.Hash
	buf []byte
	n   int
}

func newValueHasher() *valueHasher { return &valueHasher{h: sha256.New()} }

func (vh *valueHasher) add(p *models.Point) {
	f := &p.Fields[0]
	b := appendBytes(vh.buf[:0], f.Key)
	b = append(b, byte(f.Value.Type))
	b = binary.LittleEndian.AppendUint64(b, uint64(p.Time))
	if f.Value.Type == models.FieldTypeString {
		b = appendBytes(b, f.Value.S)
	} else {
		b = binary.LittleEndian.AppendUint64(b, f.Value.N)
	}
	vh.h.Write(b)
	vh.buf = b
	vh.n++
}

func (vh *valueHasher) reset() { vh.h.Reset(); vh.n = 0 }

// seriesDigests returns, ascending by key, the series holding values in
// bucket b with the hash of their values in it.
func seriesDigests(sh Shard, b tsdb.BucketID) ([]SeriesDigest, error) {
	var out []SeriesDigest
	var key, cur []byte
	vh := newValueHasher()
	flush := func() {
		if vh.n > 0 {
			var sd SeriesDigest
			sd.Key = bytes.Clone(cur)
			copy(sd.Hash[:], vh.h.Sum(nil))
			out = append(out, sd)
		}
		vh.reset()
	}
	err := sh.BucketPoints(b, func(p models.Point) error {
		key = models.AppendSeriesKey(key[:0], p.Measurement, p.Tags)
		if !bytes.Equal(key, cur) {
			flush()
			cur = append(cur[:0], key...)
		}
		vh.add(&p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	flush()
	slices.SortFunc(out, func(a, b SeriesDigest) int { return bytes.Compare(a.Key, b.Key) })
	return out, nil
}

// sliceWidth is the width of one of the Slices slices of a window.
func sliceWidth(window int64) int64 { return (window + Slices - 1) / Slices }

// sliceRange returns the time range [lo, hi] of slice i of window w.
func sliceRange(w, window int64, i int) (lo, hi int64) {
	sw := sliceWidth(window)
	lo = w + int64(i)*sw
	hi = min(lo+sw, w+window) - 1
	return lo, hi
}

// seriesSlices returns the hash of each slice of one series in window w
// (0 for an empty slice).
func seriesSlices(sh Shard, key []byte, w, window int64) (SliceHashes, error) {
	var out SliceHashes
	var hs [Slices]*valueHasher
	sw := sliceWidth(window)
	err := sh.SeriesPoints(key, w, w+window-1, func(p models.Point) error {
		i := int((p.Time - w) / sw)
		if i < 0 || i >= Slices {
			return nil
		}
		if hs[i] == nil {
			hs[i] = newValueHasher()
		}
		hs[i].add(&p)
		return nil
	})
	if err != nil {
		return out, err
	}
	for i, h := range hs {
		if h != nil {
			out[i] = binary.LittleEndian.Uint64(h.h.Sum(nil)) | 1 // never 0, the empty mark
		}
	}
	return out, nil
}

// readColumns returns the live values of the ranges, stopping once they
// pass limit bytes (estimated); it returns how many ranges it read.
func readColumns(sh Shard, ranges []SeriesRange, limit int) ([]Column, int, error) {
	var cb columnBuilder
	size := 0
	for i, r := range ranges {
		err := sh.SeriesPoints(r.Key, r.Min, r.Max, func(p models.Point) error {
			cb.add(r.Key, &p)
			size += 10 + len(p.Fields[0].Value.S)
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		if size >= limit {
			return cb.cols, i + 1, nil
		}
	}
	return cb.cols, len(ranges), nil
}

// tombstonesFor returns the tombstones of ts that delete something in one
// of the ranges.
func tombstonesFor(ts []tsdb.Tombstone, ranges []SeriesRange) []tsdb.Tombstone {
	var out []tsdb.Tombstone
	for _, t := range ts {
		for _, r := range ranges {
			if bytes.Equal(t.SeriesKey, r.Key) && t.Min <= r.Max && t.Max >= r.Min {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

// sameTombstone reports whether a and b are the same delete: what they
// delete and when it ran (Seq and Applied are local bookkeeping).
func sameTombstone(a, b *tsdb.Tombstone) bool {
	return a.Created == b.Created && a.Min == b.Min && a.Max == b.Max &&
		bytes.Equal(a.SeriesKey, b.SeriesKey) && bytes.Equal(a.Field, b.Field)
}

// missingTombstones returns the tombstones of want that have holds not.
func missingTombstones(have, want []tsdb.Tombstone) []tsdb.Tombstone {
	var out []tsdb.Tombstone
	for i := range want {
		if !slices.ContainsFunc(have, func(h tsdb.Tombstone) bool { return sameTombstone(&h, &want[i]) }) {
			out = append(out, want[i])
		}
	}
	return out
}

// covers reports whether a tombstone of ts deletes (series, field, t).
func covers(ts []tsdb.Tombstone, series, field []byte, t int64) bool {
	for i := range ts {
		if ts[i].Min <= t && t <= ts[i].Max && bytes.Equal(ts[i].SeriesKey, series) &&
			(len(ts[i].Field) == 0 || bytes.Equal(ts[i].Field, field)) {
			return true
		}
	}
	return false
}

// dropCovered returns cols without the values a tombstone of ts deletes.
func dropCovered(cols []Column, ts []tsdb.Tombstone) []Column {
	if len(ts) == 0 {
		return cols
	}
	var cb columnBuilder
	for ci := range cols {
		c := &cols[ci]
		p := models.Point{Fields: []models.Field{{Key: c.Field}}}
		for i, t := range c.Times {
			if !covers(ts, c.Series, c.Field, t) {
				p.Time, p.Fields[0].Value = t, c.Values[i]
				cb.add(c.Series, &p)
			}
		}
	}
	return cb.cols
}

// Wins reports whether value a beats value b held by another replica for
// the same series, field and timestamp: the greater value wins (docs/tree.md
// "Conflicts"). Types compare first by their number; floats compare in
// IEEE-754 total order (so NaN and -0 have a place), integers as signed,
// unsigned and booleans as unsigned, strings bytewise. Equal values do not
// win.
func Wins(a, b models.Value) bool {
	if a.Type != b.Type {
		return a.Type > b.Type
	}
	switch a.Type {
	case models.FieldTypeString:
		return bytes.Compare(a.S, b.S) > 0
	case models.FieldTypeInteger:
		return int64(a.N) > int64(b.N)
	case models.FieldTypeFloat:
		return floatOrder(a.N) > floatOrder(b.N)
	default:
		return a.N > b.N
	}
}

// floatOrder maps float64 bits to an unsigned key that sorts in IEEE-754
// total order.
func floatOrder(bits uint64) uint64 {
	if bits&(1<<63) != 0 {
		return ^bits
	}
	return bits | 1<<63
}

func sameValue(a, b models.Value) bool {
	return a.Type == b.Type && a.N == b.N && bytes.Equal(a.S, b.S)
}

// mergeResult is what one side must write to hold the union.
type mergeResult struct {
	toLocal, toRemote []Column
	conflicts         int // same key, different values
	typeConflicts     int // same key, different field types: unrepairable
}

// merge computes what each side lacks of the other's values for the same
// ranges. Remote values deleted by a tombstone in localOnly (which the
// remote side is about to receive) are dropped rather than copied back.
func merge(local, remote []Column, localOnly []tsdb.Tombstone) mergeResult {
	type key struct{ series, field string }
	type entry struct {
		v    models.Value
		seen bool
	}
	have := map[key]map[int64]*entry{}
	localType := map[key]models.FieldType{}
	for ci := range local {
		c := &local[ci]
		k := key{string(c.Series), string(c.Field)}
		m := have[k]
		if m == nil {
			m = map[int64]*entry{}
			have[k] = m
		}
		localType[k] = c.Type
		for i, t := range c.Times {
			m[t] = &entry{v: c.Values[i]}
		}
	}
	var res mergeResult
	var in, out columnBuilder
	for ci := range remote {
		c := &remote[ci]
		k := key{string(c.Series), string(c.Field)}
		m := have[k]
		for i, t := range c.Times {
			rv := c.Values[i]
			if covers(localOnly, c.Series, c.Field, t) {
				continue
			}
			p := models.Point{Time: t, Fields: []models.Field{{Key: c.Field}}}
			lt, typed := localType[k]
			var e *entry
			if m != nil {
				e = m[t]
			}
			switch {
			case typed && lt != rv.Type:
				res.typeConflicts++
				if e != nil {
					e.seen = true
				}
			case e == nil:
				p.Fields[0].Value = rv
				in.add(c.Series, &p)
			case sameValue(e.v, rv):
				e.seen = true
			case Wins(rv, e.v):
				e.seen = true
				res.conflicts++
				p.Fields[0].Value = rv
				in.add(c.Series, &p)
			default:
				e.seen = true
				res.conflicts++
				p.Fields[0].Value = e.v
				out.add(c.Series, &p)
			}
		}
	}
	for ci := range local {
		c := &local[ci]
		m := have[key{string(c.Series), string(c.Field)}]
		for i, t := range c.Times {
			if !m[t].seen {
				p := models.Point{Time: t, Fields: []models.Field{{Key: c.Field, Value: c.Values[i]}}}
				out.add(c.Series, &p)
			}
		}
	}
	res.toLocal, res.toRemote = in.cols, out.cols
	return res
}

// writeColumns writes columns into sh in batches; it returns the values
// written and those refused for a field type conflict.
func writeColumns(ctx context.Context, sh StreamTarget, cols []Column) (written, dropped uint64, err error) {
	const batch = 5000
	var pts []models.Point
	flush := func() error {
		if len(pts) == 0 {
			return nil
		}
		n := uint64(len(pts))
		werr := sh.WritePoints(ctx, pts)
		pts = pts[:0]
		var pw *tsdb.PartialWriteError
		switch {
		case werr == nil:
			written += n
		case errors.As(werr, &pw):
			written += n - uint64(pw.Dropped)
			dropped += uint64(pw.Dropped)
		default:
			return werr
		}
		return nil
	}
	for i := range cols {
		if pts, err = cols[i].points(pts); err != nil {
			return written, dropped, err
		}
		if len(pts) >= batch {
			if err := flush(); err != nil {
				return written, dropped, err
			}
		}
	}
	return written, dropped, flush()
}

// valuesIn counts the values of columns.
func valuesIn(cols []Column) int {
	n := 0
	for i := range cols {
		n += cols[i].Len()
	}
	return n
}
