package tsm

import (
	"encoding/binary"
	"hash/crc32"
)

// CopyKey appends the current key of it, an iterator over another file,
// to w unchanged: the bytes of its blocks, checksums included (in one
// write when the blocks lie back to back, as a Writer lays them), and its
// index entries at their new offsets. Each block's checksum is verified;
// no block is decoded or encoded. Compaction copies the keys that only one
// of its inputs holds this way, which at a million sparse series is nearly
// every key (issue 17). The key must sort after the last one written, as
// for WriteBlock (same errors); a malformed entry or block yields
// ErrCorrupt. The iterator's Reader must stay open during the call.
func (w *Writer) CopyKey(it *Iterator) error {
	r := it.r
	if r.unmapped {
		return ErrClosed
	}
	metas, ok := appendEntries(it.entries[:0], it.typ, it.nBlocks, it.raw, r.dataEnd, r.version)
	it.entries, it.decoded = metas, true
	if !ok || len(metas) == 0 {
		return &CorruptError{Path: r.path, Offset: r.dataEnd + int64(it.d.off), Reason: "malformed index entries"}
	}
	contiguous := true
	for i := range metas {
		m := &metas[i]
		b := r.data[m.Offset : m.Offset+m.Size]
		if crc32.Checksum(b[crcSize:], castagnoli) != binary.LittleEndian.Uint32(b) {
			return &CorruptError{Path: r.path, Offset: m.Offset, Reason: "block checksum mismatch"}
		}
		if i > 0 && m.Offset != metas[i-1].Offset+metas[i-1].Size {
			contiguous = false
		}
	}
	if err := w.startBlock(it.series, it.field, it.typ, &metas[0]); err != nil {
		return err
	}
	first, last := metas[0].Offset, metas[len(metas)-1].Offset+metas[len(metas)-1].Size
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
		b := r.data[m.Offset : m.Offset+m.Size]
		m.Offset = w.off
		w.write(b)
		if w.err != nil {
			return w.err
		}
		w.addEntry(&m)
	}
	return nil
}
