package tsm

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// CopyKey appends the current key of it, an iterator over another file,
// to w unchanged: the bytes of its blocks, checksums included (in one
// write when the blocks lie back to back, as a Writer lays them), and its
// index entries at their new offsets. Each block's checksum is verified;
// no block is decoded or encoded. A block w keeps in its index entry
// (format version 3: one or two values, not string) is copied as its entry
// alone. Compaction copies the keys that only one of its inputs holds this
// way, which at a million sparse series is nearly every key (issue 17).
// The key must sort after the last one written, as for WriteBlock (same
// errors); a malformed entry or block yields ErrCorrupt. The iterator's
// Reader must stay open during the call.
func (w *Writer) CopyKey(it *Iterator) error {
	r := it.r
	if r.unmapped {
		return ErrClosed
	}
	if ok, err := w.copyInlineKey(it); ok {
		return err
	}
	metas, ok := appendEntries(it.entries[:0], &it.rec, r.dataEnd, r.version, it.base)
	it.entries, it.decoded = metas, true
	if !ok || len(metas) == 0 {
		return &CorruptError{Path: r.path, Offset: r.dataEnd + int64(it.d.off), Reason: "malformed index entries"}
	}
	// The blocks w stores (not in their entries) must be in the file,
	// intact; they are copied in one write if they lie back to back.
	contiguous := true
	var first, last int64 // byte range of the stored blocks
	stored := 0
	for i := range metas {
		m := &metas[i]
		if inlineEntry(it.rec.typ, m.Count, w.version) {
			contiguous = false
			continue
		}
		if m.Inline() {
			return fmt.Errorf("%w: inline block of %q/%q into a version %d file", ErrInvalidBlock, it.series, it.rec.field, w.version)
		}
		b := r.data[m.Offset : m.Offset+m.Size]
		if crc32.Checksum(b[crcSize:], castagnoli) != binary.LittleEndian.Uint32(b) {
			return &CorruptError{Path: r.path, Offset: m.Offset, Reason: "block checksum mismatch"}
		}
		if stored > 0 && m.Offset != last {
			contiguous = false
		}
		if stored == 0 {
			first = m.Offset
		}
		last = m.Offset + m.Size
		stored++
	}
	if err := w.startBlock(it.series, it.rec.field, it.rec.typ, &metas[0]); err != nil {
		return err
	}
	if contiguous {
		shift := w.off - first
		w.write(r.data[first:last])
		if w.err != nil {
			return w.err
		}
		for i := range metas {
			m := metas[i]
			m.Offset += shift
			w.addEntry(&m)
		}
		return nil
	}
	for i := range metas {
		m := metas[i]
		if inlineEntry(it.rec.typ, m.Count, w.version) {
			m.Offset, m.Size, m.inline = 0, 0, it.rec.typ
		} else {
			b := r.data[m.Offset : m.Offset+m.Size]
			m.Offset = w.off
			w.write(b)
			if w.err != nil {
				return w.err
			}
		}
		w.addEntry(&m)
	}
	return nil
}

// copyInlineKey copies the current key of it if it is one block kept in
// its index entry, the key of a million sparse series (issue 17), and
// reports whether it did (err is the copy's). The entry's values are
// copied as bytes instead of being decoded to statistics and encoded
// again; only its times and count, which are encoded against the previous
// key of the series, are encoded again against w's. A malformed entry is
// left to CopyKey's decoding, which reports it.
func (w *Writer) copyInlineKey(it *Iterator) (bool, error) {
	rec := &it.rec
	if rec.blocks != 1 || it.r.version < inlineVersion || w.version < inlineVersion {
		return false, nil
	}
	d := newDecoder(rec.raw)
	var gap, span, count uint64 = 0, 0, 1 // a one-value record (version 5)
	switch rec.kind {
	case recordBlocks: // a key's first entry: the state's gap, span and count are 0
		gap = uint64(d.varint())
		span = uint64(d.varint())
		count = uint64(d.varint())
	case recordOneWithGap:
		gap = uint64(d.varint())
	}
	if !d.ok || count == 0 || count > smallStatsMax || !inlineEntry(rec.typ, int(count), w.version) {
		return false, nil
	}
	vals := d.off
	d.skipSmallStats(rec.typ, int(count))
	m := BlockMeta{MinTime: int64(uint64(it.base) + gap), Count: int(count), inline: rec.typ}
	if !d.done() || (count == 1) != (span == 0) || span > uint64(math.MaxInt64)-uint64(m.MinTime) {
		return false, nil
	}
	m.MaxTime = int64(uint64(m.MinTime) + span)
	if err := w.startBlock(it.series, rec.field, rec.typ, &m); err != nil {
		return true, err
	}
	if w.oneValueEntry(m.Count, true) {
		w.writeOneValue(&m, rec.raw[vals:])
		return true, nil
	}
	w.expandOneValue()
	w.seriesBody = appendEntryHead(w.seriesBody, &m, &w.state, true)
	w.seriesBody = append(w.seriesBody, rec.raw[vals:]...)
	w.noteEntry(&m)
	return true, nil
}
