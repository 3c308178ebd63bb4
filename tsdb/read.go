package tsdb

import (
	"fmt"
	"slices"
	"sync"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// Cursor iterates the values of one series field in time order. It is a
// snapshot: writes after its creation are not seen. Not safe for concurrent
// use.
type Cursor interface {
	// Next returns the next value; ok is false after the last one. String
	// bytes stay valid while the cursor is in use.
	Next() (ts int64, v models.Value, ok bool)
	// Type returns the field's type (FieldTypeUnknown when there are no
	// values).
	Type() models.FieldType
	// Len returns the number of values the cursor yields in all.
	Len() int
	// Close releases the cursor.
	Close() error
}

// arrayCursor is a Cursor over a merged, materialized array.
type arrayCursor struct {
	a    tsm.Array
	i    int
	step int
}

// Next implements Cursor.
func (c *arrayCursor) Next() (int64, models.Value, bool) {
	if c.i < 0 || c.i >= c.a.Len() {
		return 0, models.Value{}, false
	}
	i := c.i
	c.i += c.step
	return c.a.Timestamps[i], c.a.Value(i), true
}

// Type implements Cursor.
func (c *arrayCursor) Type() models.FieldType { return c.a.Type }

// Len implements Cursor.
func (c *arrayCursor) Len() int { return c.a.Len() }

// Close implements Cursor.
func (c *arrayCursor) Close() error { c.a = tsm.Array{}; return nil }

// Cursor returns the values of (seriesKey, field) with min <= time <= max,
// ascending or descending: files, the snapshotting cache and the live cache
// merged, newest source winning on equal timestamps, tombstones applied.
func (s *Shard) Cursor(seriesKey, field []byte, min, max int64, ascending bool) (Cursor, error) {
	a, err := s.ReadArray(seriesKey, field, min, max)
	if err != nil {
		return nil, err
	}
	c := &arrayCursor{a: a, step: 1}
	if !ascending {
		c.i, c.step = a.Len()-1, -1
	}
	return c, nil
}

// ReadArray returns the values of (seriesKey, field) with min <= time <=
// max in ascending time order, merged as Cursor merges them, as columns:
// what a reader of many fields aligns by time without a Next call per
// value. The array is the caller's; its string bytes do not alias files.
func (s *Shard) ReadArray(seriesKey, field []byte, min, max int64) (tsm.Array, error) {
	rs, err := s.acquireRead()
	if err != nil {
		return tsm.Array{}, err
	}
	defer rs.release()
	a, err := rs.read(seriesKey, field, min, max)
	if err != nil {
		return tsm.Array{}, fmt.Errorf("read shard %d: %w", s.id, err)
	}
	return a, nil
}

// ReadArrays is ReadArray for several fields of one series at once:
// dst[i] gets the values of fields[i] (a nil field is skipped), reusing
// dst[i]'s capacity. The fields' blocks usually share their timestamps,
// which are then decoded once.
func (s *Shard) ReadArrays(dst []tsm.Array, seriesKey []byte, fields [][]byte, min, max int64) error {
	return s.readArrays(dst, seriesKey, fields, min, max, nil)
}

// ReadArraysAt is ReadArrays for the values at times (ascending, not
// empty): over [times[0], times[len(times)-1]], it decodes only the file
// blocks whose time range holds one of times, so dst[i] holds fields[i]'s
// values at those times and maybe others. What a reader picking a few
// rows out of a long range needs.
func (s *Shard) ReadArraysAt(dst []tsm.Array, seriesKey []byte, fields [][]byte, times []int64) error {
	return s.readArrays(dst, seriesKey, fields, times[0], times[len(times)-1], times)
}

// readArrays is ReadArrays, or ReadArraysAt when at is not nil.
func (s *Shard) readArrays(dst []tsm.Array, seriesKey []byte, fields [][]byte, min, max int64, at []int64) error {
	rs, err := s.acquireRead()
	if err != nil {
		return err
	}
	defer rs.release()
	// The buffers go back to the pool once the read is done: dst then
	// holds its values in its own memory, and nothing else refers to them.
	bufs := readBufsPool.Get().(*readBufs)
	defer readBufsPool.Put(bufs)
	defer bufs.reset()
	bufs.memo = new(tsm.TimesMemo)
	if err := rs.readSeriesInto(dst, seriesKey, fields, min, max, at, bufs); err != nil {
		return fmt.Errorf("read shard %d: %w", s.id, err)
	}
	return nil
}

// readBufsPool holds the readBufs of ReadArrays and ReadArraysAt, so a
// query's read reuses the capacity of earlier ones instead of allocating
// and zeroing its arrays afresh.
var readBufsPool = sync.Pool{New: func() any { return new(readBufs) }}

// readSeriesInto is readInto for several fields of one series (a nil
// field is skipped), into dst[i] for fields[i]. The live cache's values of
// all the fields are read at one moment, so a point written meanwhile is
// read with all its fields or none (see cache.seriesValuesInto); the rest
// of the read state does not change.
func (rs *readState) readSeriesInto(dst []tsm.Array, seriesKey []byte, fields [][]byte, min, max int64, at []int64, bufs *readBufs) error {
	live := resized(bufs.live, len(fields))
	ok := resized(bufs.liveOK, len(fields))
	bufs.live, bufs.liveOK = live, ok
	rs.cache.seriesValuesInto(live, ok, seriesKey, fields, min, max)
	for i, f := range fields {
		if f == nil {
			continue
		}
		var l *tsm.Array
		if ok[i] {
			l = &live[i]
		}
		if err := rs.mergeInto(&dst[i], seriesKey, f, min, max, at, bufs, l); err != nil {
			return err
		}
	}
	return nil
}

// read returns the merged values of one key within [min, max]. The result
// does not alias file mappings (string bytes are copied), so it outlives
// the read state.
func (rs *readState) read(seriesKey, field []byte, min, max int64) (tsm.Array, error) {
	bufs := readBufsPool.Get().(*readBufs)
	defer readBufsPool.Put(bufs)
	defer bufs.reset()
	var a tsm.Array
	err := rs.readInto(&a, seriesKey, field, min, max, nil, bufs)
	return a, err
}

// readBufs are the buffers of a read, reused from field to field. What a
// read returns never refers to them.
type readBufs struct {
	memo  *tsm.TimesMemo // nil for none
	metas []tsm.BlockMeta
	blk   tsm.Array // a block that straddles the range's ends
	// live and liveOK are the live cache's values of a series' fields
	// and whether it has them (readSeriesInto).
	live   []tsm.Array
	liveOK []bool
	// files are the values of the files after the first holding some,
	// parts the arrays merged and merge the buffers merging them.
	files []tsm.Array
	parts []tsm.Array
	merge mergeBufs
}

// reset drops b's references to values (string bytes included) and
// keeps its capacity.
func (b *readBufs) reset() {
	b.memo = nil
	b.blk.Reset(models.FieldTypeUnknown)
	for i := range b.live {
		b.live[i].Reset(models.FieldTypeUnknown)
	}
	for i := range b.files {
		b.files[i].Reset(models.FieldTypeUnknown)
	}
	clear(b.parts[:cap(b.parts)])
	b.merge[0].Reset(models.FieldTypeUnknown)
	b.merge[1].Reset(models.FieldTypeUnknown)
}

// readInto is read into dst, reusing its capacity for the values of the
// first file that has any (all of them, once the files are compacted),
// decoding timestamps through bufs.memo. With at not nil it skips the
// file blocks whose time range holds none of at (ascending).
func (rs *readState) readInto(dst *tsm.Array, seriesKey, field []byte, min, max int64, at []int64, bufs *readBufs) error {
	var live tsm.Array
	if !rs.cache.valuesInto(&live, seriesKey, field, min, max) {
		return rs.mergeInto(dst, seriesKey, field, min, max, at, bufs, nil)
	}
	return rs.mergeInto(dst, seriesKey, field, min, max, at, bufs, &live)
}

// mergeInto is readInto with the live cache's values already read: live
// (nil when the live cache has no such entry).
func (rs *readState) mergeInto(dst *tsm.Array, seriesKey, field []byte, min, max int64, at []int64, bufs *readBufs, live *tsm.Array) error {
	wanted := func(m *tsm.BlockMeta) bool {
		if m.MaxTime < min || m.MinTime > max {
			return false
		}
		if at == nil {
			return true
		}
		i, _ := slices.BinarySearch(at, m.MinTime)
		return i < len(at) && at[i] <= m.MaxTime
	}
	parts := bufs.parts[:0]
	metas, blk, memo := bufs.metas, &bufs.blk, bufs.memo
	defer func() { bufs.metas, bufs.parts = metas, parts[:0] }()
	nFiles := 0 // of bufs.files in use
	for _, f := range rs.files {
		if f.r.MaxTime() < min || f.r.MinTime() > max {
			continue
		}
		var typ models.FieldType
		typ, metas = f.r.AppendEntries(metas[:0], seriesKey, field)
		if typ == models.FieldTypeUnknown {
			continue
		}
		// The first file's values go to dst's memory, the others' to
		// bufs.files.
		var acc tsm.Array
		if len(parts) == 0 {
			acc = *dst
		} else {
			if nFiles == len(bufs.files) {
				bufs.files = append(bufs.files, tsm.Array{})
			}
			acc = bufs.files[nFiles]
		}
		acc.Reset(typ)
		n := 0
		for i := range metas {
			if wanted(&metas[i]) {
				n += metas[i].Count
			}
		}
		acc.Grow(n)
		for _, m := range metas {
			if !wanted(&m) {
				continue
			}
			if m.MinTime >= min && m.MaxTime <= max {
				// Wholly inside: decode in place (string bytes are the
				// decoder's own, never the file's).
				if err := f.r.AppendArrayMemo(m, &acc, memo); err != nil {
					return err
				}
				continue
			}
			blk.Reset(typ)
			if err := f.r.AppendArrayMemo(m, blk, memo); err != nil {
				return err
			}
			blk.Include(min, max)
			appendOwned(&acc, blk)
		}
		applyTombstones(&acc, rs.tombs, f.seq, seriesKey, field)
		if len(parts) == 0 {
			*dst = acc
		} else {
			bufs.files[nFiles] = acc
			nFiles++
		}
		parts = append(parts, acc)
	}
	if rs.snap != nil {
		if a, ok := rs.snap.c.values(seriesKey, field, min, max); ok {
			applyTombstones(&a, rs.tombs, rs.snap.seq, seriesKey, field)
			parts = append(parts, a)
		}
	}
	if live != nil {
		parts = append(parts, *live)
	}
	switch {
	case len(parts) == 0:
		dst.Reset(models.FieldTypeUnknown)
	case len(parts) == 1:
		setArray(dst, parts[0])
	default:
		setArray(dst, bufs.merge.merge(parts))
	}
	return nil
}

// setArray sets dst to a's values held in dst's own memory: a itself
// when it is dst's, else a copy (string bytes shared).
func setArray(dst *tsm.Array, a tsm.Array) {
	if cap(a.Timestamps) > 0 && cap(dst.Timestamps) > 0 && &a.Timestamps[:1][0] == &dst.Timestamps[:1][0] {
		*dst = a
		return
	}
	dst.Reset(a.Type)
	appendShared(dst, &a)
}

// appendOwned appends b's values to a, copying string bytes out of the
// file mapping.
func appendOwned(a, b *tsm.Array) {
	n := len(a.Strings)
	appendShared(a, b)
	for i := n; i < len(a.Strings); i++ {
		a.Strings[i] = append([]byte(nil), a.Strings[i]...)
	}
}
