package tsm

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/strata-db/strata/tsdb/models"
)

// TimeRange is an inclusive range of timestamps [Min, Max].
type TimeRange struct {
	Min, Max int64
}

// Overlaps reports whether r and [min, max] share a timestamp.
func (r TimeRange) Overlaps(min, max int64) bool { return r.Min <= max && r.Max >= min }

// Covers reports whether r contains all of [min, max].
func (r TimeRange) Covers(min, max int64) bool { return r.Min <= min && r.Max >= max }

// MergeOptions are the optional parts of a Merge.
type MergeOptions struct {
	// Tombstones, if set, returns the deleted time ranges of one key in
	// readers[reader]; Merge drops that reader's values inside them (and
	// only that reader's, so a delete does not hide data written after it
	// into a newer file). It may return nil.
	Tombstones func(reader int, series, field []byte) []TimeRange

	// AfterKey, if set, is called after each key has been written with the
	// number of bytes written to dst so far, e.g. to throttle compaction
	// I/O. A non-nil error aborts the merge and is returned.
	AfterKey func(written int64) error
}

// Merge writes the union of readers' keys into dst, in key order, and
// leaves dst open (the caller closes or removes it). readers are ordered
// oldest first: on equal (series, field, timestamp) the value from the
// later reader wins, and if a key's type differs between readers, the
// latest reader's type wins and the older blocks of that key are dropped.
//
// Values are re-blocked into blocks of MaxPointsPerBlock. A block that
// overlaps no other block of its key, is full, touches no tombstone and
// follows no pending partial block is copied without decoding.
// Merge checks ctx between keys and returns ctx.Err() when cancelled.
func Merge(ctx context.Context, dst *Writer, readers []*Reader, opts MergeOptions) error {
	m := merger{dst: dst, readers: readers, tombstones: opts.Tombstones, dead: make([][]TimeRange, len(readers))}
	its := make([]*Iterator, len(readers))
	live := make([]bool, len(readers))
	for i, r := range readers {
		its[i] = r.Iterator()
		live[i] = its[i].Next()
	}
	m.srcs = make([]mergeSource, len(readers))
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Find the smallest current key.
		cur := -1
		for i, it := range its {
			if live[i] && (cur < 0 || compareKey(it, its[cur]) < 0) {
				cur = i
			}
		}
		if cur < 0 {
			break
		}
		series, field := its[cur].Series(), its[cur].Field()
		typ := models.FieldTypeUnknown
		m.srcs = m.srcs[:0]
		for i, it := range its {
			if live[i] && bytes.Equal(it.Series(), series) && bytes.Equal(it.Field(), field) {
				m.srcs = append(m.srcs, mergeSource{reader: i, typ: it.Type(), entries: it.Entries()})
				typ = it.Type() // later readers override
			}
		}
		if err := m.mergeKey(series, field, typ); err != nil {
			return fmt.Errorf("merge %q/%q: %w", series, field, err)
		}
		for _, s := range m.srcs {
			live[s.reader] = its[s.reader].Next()
		}
		if opts.AfterKey != nil {
			if err := opts.AfterKey(dst.Size()); err != nil {
				return err
			}
		}
	}
	return nil
}

// compareKey orders two iterators' current keys.
func compareKey(a, b *Iterator) int {
	if c := bytes.Compare(a.Series(), b.Series()); c != 0 {
		return c
	}
	return bytes.Compare(a.Field(), b.Field())
}

// mergeSource is one reader's blocks of the key being merged.
type mergeSource struct {
	reader  int
	typ     models.FieldType
	entries []BlockMeta // aliases the iterator's buffer until its Next
}

// mergeBlock is one input block tagged with its reader.
type mergeBlock struct {
	reader int
	meta   BlockMeta
}

// merger holds Merge's state and scratch space, reused across keys.
type merger struct {
	dst        *Writer
	readers    []*Reader
	tombstones func(reader int, series, field []byte) []TimeRange

	srcs    []mergeSource
	blocks  []mergeBlock
	dead    [][]TimeRange // per reader: deleted ranges of the current key
	order   []int         // readers of the current cluster, ascending
	pending Array         // merged values not yet written (fewer than a block)
	cluster Array         // merged values of the current cluster
	src     Array         // one reader's values in the current cluster
	tmp     Array
	blk     Array
}

// mergeKey merges the sources' blocks of one key into dst.
func (m *merger) mergeKey(series, field []byte, typ models.FieldType) error {
	m.blocks = m.blocks[:0]
	for _, s := range m.srcs {
		if s.typ != typ {
			continue
		}
		for _, e := range s.entries {
			m.blocks = append(m.blocks, mergeBlock{reader: s.reader, meta: e})
		}
	}
	slices.SortStableFunc(m.blocks, func(a, b mergeBlock) int {
		switch {
		case a.meta.MinTime < b.meta.MinTime:
			return -1
		case a.meta.MinTime > b.meta.MinTime:
			return 1
		}
		return a.reader - b.reader
	})
	clear(m.dead)
	if m.tombstones != nil {
		for _, s := range m.srcs {
			m.dead[s.reader] = m.tombstones(s.reader, series, field)
		}
	}
	m.pending.Reset(typ)
	for i := 0; i < len(m.blocks); {
		j, hi := i+1, m.blocks[i].meta.MaxTime
		for j < len(m.blocks) && m.blocks[j].meta.MinTime <= hi {
			hi = max(hi, m.blocks[j].meta.MaxTime)
			j++
		}
		b := m.blocks[i].meta
		if j == i+1 && m.pending.Len() == 0 && b.Count >= MaxPointsPerBlock && !m.touchesTombstone(m.blocks[i]) {
			raw, err := m.readers[m.blocks[i].reader].ReadBlock(b)
			if err != nil {
				return err
			}
			if err := m.dst.WriteBlock(series, field, typ, b, raw); err != nil {
				return err
			}
			i = j
			continue
		}
		if err := m.mergeCluster(m.blocks[i:j], typ); err != nil {
			return err
		}
		appendArray(&m.pending, &m.cluster, 0, m.cluster.Len())
		if err := m.flush(series, field, false); err != nil {
			return err
		}
		i = j
	}
	return m.flush(series, field, true)
}

// touchesTombstone reports whether a deleted range of b's reader overlaps b.
func (m *merger) touchesTombstone(b mergeBlock) bool {
	for _, r := range m.dead[b.reader] {
		if r.Overlaps(b.meta.MinTime, b.meta.MaxTime) {
			return true
		}
	}
	return false
}

// mergeCluster decodes a run of time-overlapping blocks into m.cluster,
// later readers winning, with tombstones applied.
func (m *merger) mergeCluster(blocks []mergeBlock, typ models.FieldType) error {
	m.order = m.order[:0]
	for _, b := range blocks {
		if !slices.Contains(m.order, b.reader) {
			m.order = append(m.order, b.reader)
		}
	}
	slices.Sort(m.order)
	m.cluster.Reset(typ)
	for _, reader := range m.order {
		// Blocks of one reader never overlap and are sorted by time, so
		// they concatenate into one ascending array.
		m.src.Reset(typ)
		for _, b := range blocks {
			if b.reader != reader || m.coveredByTombstone(b) {
				continue
			}
			if err := m.readers[reader].ReadArray(b.meta, &m.blk); err != nil {
				return err
			}
			appendArray(&m.src, &m.blk, 0, m.blk.Len())
		}
		for _, r := range m.dead[reader] {
			m.src.Exclude(r.Min, r.Max)
		}
		if err := MergeArrays(&m.tmp, &m.cluster, &m.src); err != nil {
			return err
		}
		m.cluster, m.tmp = m.tmp, m.cluster
	}
	return nil
}

// coveredByTombstone reports whether one deleted range of b's reader
// contains all of b.
func (m *merger) coveredByTombstone(b mergeBlock) bool {
	for _, r := range m.dead[b.reader] {
		if r.Covers(b.meta.MinTime, b.meta.MaxTime) {
			return true
		}
	}
	return false
}

// flush writes full blocks from m.pending, and with final also the rest.
func (m *merger) flush(series, field []byte, final bool) error {
	n := m.pending.Len()
	i := 0
	for ; n-i >= MaxPointsPerBlock || (final && i < n); i += MaxPointsPerBlock {
		part := m.pending.Slice(i, min(i+MaxPointsPerBlock, n))
		if err := m.dst.writeArray(series, field, &part); err != nil {
			return err
		}
	}
	m.pending.dropFront(min(i, n))
	return nil
}
