package tsdb

import (
	"fmt"

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
// dst[i] gets the values of fields[i] (a nil field is skipped). The
// fields' blocks usually share their timestamps, which are then decoded
// once.
func (s *Shard) ReadArrays(dst []tsm.Array, seriesKey []byte, fields [][]byte, min, max int64) error {
	rs, err := s.acquireRead()
	if err != nil {
		return err
	}
	defer rs.release()
	var memo tsm.TimesMemo
	for i, f := range fields {
		if f == nil {
			continue
		}
		if dst[i], err = rs.readMemo(seriesKey, f, min, max, &memo); err != nil {
			return fmt.Errorf("read shard %d: %w", s.id, err)
		}
	}
	return nil
}

// read returns the merged values of one key within [min, max]. The result
// does not alias file mappings (string bytes are copied), so it outlives
// the read state.
func (rs *readState) read(seriesKey, field []byte, min, max int64) (tsm.Array, error) {
	return rs.readMemo(seriesKey, field, min, max, nil)
}

// readMemo is read decoding timestamps through memo (nil for none).
func (rs *readState) readMemo(seriesKey, field []byte, min, max int64, memo *tsm.TimesMemo) (tsm.Array, error) {
	var parts []tsm.Array
	var metas []tsm.BlockMeta
	for _, f := range rs.files {
		if f.r.MaxTime() < min || f.r.MinTime() > max {
			continue
		}
		var typ models.FieldType
		typ, metas = f.r.AppendEntries(metas[:0], seriesKey, field)
		if typ == models.FieldTypeUnknown {
			continue
		}
		var acc tsm.Array
		acc.Type = typ
		n := 0
		for _, m := range metas {
			if m.MaxTime >= min && m.MinTime <= max {
				n += m.Count
			}
		}
		acc.Grow(n)
		var blk tsm.Array
		for _, m := range metas {
			if m.MaxTime < min || m.MinTime > max {
				continue
			}
			if err := f.r.ReadArrayMemo(m, &blk, memo); err != nil {
				return tsm.Array{}, err
			}
			blk.Include(min, max)
			appendOwned(&acc, &blk)
		}
		applyTombstones(&acc, rs.tombs, f.seq, seriesKey, field)
		parts = append(parts, acc)
	}
	if rs.snap != nil {
		if a, ok := rs.snap.c.values(seriesKey, field, min, max); ok {
			applyTombstones(&a, rs.tombs, rs.snap.seq, seriesKey, field)
			parts = append(parts, a)
		}
	}
	if a, ok := rs.cache.values(seriesKey, field, min, max); ok {
		parts = append(parts, a)
	}
	return mergeNewestWins(parts), nil
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
