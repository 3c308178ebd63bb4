package index

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"slices"
	"unsafe"
)

// Snapshot headers: 8 magic bytes, the last one the format version.
// Format 2 stores each measurement's series ids and tag postings, which
// Open loads as they are; format 1 (written before issue 17) holds only
// fields and series keys, and Open rebuilds the rest from the keys.
var (
	snapshotMagic   = []byte("STRXISN2")
	snapshotMagicV1 = []byte("STRXISN1")
)

const (
	// snapshotChunk is the size of id lists and tag value entries past
	// which a snapshot continues them in another record.
	snapshotChunk = 64 << 10
	// maxChunkIDs bounds the ids of one id list in a snapshot record, so
	// that an entry stays well under maxSnapshotRecordSize.
	maxChunkIDs = 8192
)

// snapshotBuf holds an encoded snapshot as a list of chunks of about
// snapshotBufChunk bytes, or, with a writer, sends each chunk to it as it
// fills and reuses the chunk. One growing slice copied itself at every
// doubling and held the old and the new copy at once: at a million series
// that was 1.1 GB allocated and 2.2 CPU-s of copying for the three
// snapshots of the load, and a ~400 MB transient at the peak of the data
// node's memory (issue 17). Holding the chunks still faulted in fresh
// pages for the whole snapshot (a third of its encoding at a million
// series) and held it in memory until written; a snapshot written to its
// file as it is encoded touches one chunk.
type snapshotBuf struct {
	full [][]byte // finished chunks (without a writer)
	cur  []byte   // the chunk being filled
	n    uint64   // records appended
	// w, when set, receives the chunks instead of full; written counts
	// the bytes sent and err keeps its first error.
	w       io.Writer
	written int64
	err     error
}

// snapshotBufChunk is the size past which a snapshotBuf starts a chunk.
const snapshotBufChunk = 1 << 20

// add appends the encoding of r.
func (b *snapshotBuf) add(r *record) {
	if len(b.cur) >= snapshotBufChunk {
		b.flush()
	}
	if b.cur == nil {
		b.cur = newSnapshotChunk()
	}
	b.cur = appendRecord(b.cur, r)
	b.n++
}

// flush finishes the current chunk: it writes it to w and empties it for
// reuse, or keeps it and starts another.
func (b *snapshotBuf) flush() {
	if b.w == nil {
		b.full = append(b.full, b.cur)
		b.cur = nil
		return
	}
	if b.err == nil {
		_, b.err = b.w.Write(b.cur)
	}
	b.written += int64(len(b.cur))
	b.cur = b.cur[:0]
}

// newSnapshotChunk returns an empty chunk. A record is at most
// maxSnapshotRecordSize plus its header: with this room a chunk never
// grows by copying.
func newSnapshotChunk() []byte {
	return make([]byte, 0, snapshotBufChunk+maxSnapshotRecordSize+recHeaderSize)
}

// chunks returns the snapshot's bytes, in order (without a writer).
func (b *snapshotBuf) chunks() [][]byte { return append(b.full, b.cur) }

// size returns the snapshot's length in bytes.
func (b *snapshotBuf) size() int64 {
	n := b.written + int64(len(b.cur))
	for _, c := range b.full {
		n += int64(len(c))
	}
	return n
}

// bytes returns the snapshot as one slice (without a writer).
func (b *snapshotBuf) bytes() []byte { return bytes.Join(b.chunks(), nil) }

// writeSnapshot encodes the index into a new file at path (see
// snapshotBuf) and returns it written but not synced (syncClose), with
// its size. On error the file is closed. The caller holds ix.mu.
func (ix *Index) writeSnapshot(path string) (*os.File, int64, error) {
	f, err := createSnapshot(path)
	if err != nil {
		return nil, 0, err
	}
	size, err := snapshotWritten(f, ix.encodeSnapshot(f))
	return f, size, err
}

// createSnapshot creates the file a snapshot is written to.
func createSnapshot(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create index snapshot: %w", err)
	}
	return f, nil
}

// snapshotWritten returns the size of snap, encoded to f, or, closing f,
// the error of its writes.
func snapshotWritten(f *os.File, snap *snapshotBuf) (int64, error) {
	if snap.err != nil {
		f.Close()
		return 0, fmt.Errorf("write index snapshot: %w", snap.err)
	}
	return snap.size(), nil
}

// syncClose fsyncs and closes a file writeSnapshot wrote.
func syncClose(f *os.File) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync index snapshot: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close index snapshot: %w", err)
	}
	return nil
}

// encodeSnapshot encodes the whole index in snapshot format 2 (see
// docs/index-log.md), into memory or, when w is not nil, to w (then the
// result holds its size and error). The caller holds ix.mu and the
// postings (rlockPostings or lockAll).
func (ix *Index) encodeSnapshot(w io.Writer) *snapshotBuf {
	buf, cut := ix.encodeHead(w)
	encodeSeries(buf, cut)
	ix.encodePostings(buf, cut)
	return buf
}

// snapshotCut is the index as a snapshot encodes it: its measurements and
// its series below nextID, with the key table's places of their keys.
// Their keys never change, so encodeSeries reads them without the index's
// locks while other series are created, as long as none is dropped (see
// Index.snapMu); encodePostings leaves out later series.
type snapshotCut struct {
	names  []string
	nextID uint32
	slabs  [][]byte // the slab headers at the cut (copied: the last grows)
	locs   []uint64 // the key table's locations, up to nextID
}

// encodeHead starts a snapshot: it encodes the fields and the next id and
// returns the cut encodeSeries and encodePostings encode the rest of. The
// caller holds ix.mu and the postings.
func (ix *Index) encodeHead(w io.Writer) (*snapshotBuf, *snapshotCut) {
	buf := &snapshotBuf{cur: append(newSnapshotChunk(), snapshotMagic...), w: w}
	cut := &snapshotCut{
		names:  slices.Sorted(maps.Keys(ix.measurements)),
		nextID: ix.nextID,
		slabs:  slices.Clone(ix.series.slabs),
		locs:   ix.series.locs[:min(len(ix.series.locs), int(ix.nextID))],
	}
	for _, name := range cut.names {
		m := ix.measurements[name]
		for _, f := range slices.Sorted(maps.Keys(m.fields)) {
			buf.add(&record{typ: recFieldCreated, measurement: m.name, field: []byte(f), fieldType: m.fields[f]})
		}
	}
	// The next id comes before the series, so that replay can check that
	// no series record names an id past it.
	buf.add(&record{typ: recNextID, id: uint64(cut.nextID)})
	return buf, cut
}

// encodeSeries encodes the series records of the cut. It reads only what
// the cut holds, so it needs no lock of the index, only that no series is
// dropped meanwhile (see Index.snapMu).
func encodeSeries(buf *snapshotBuf, cut *snapshotCut) {
	for id := uint32(1); id < uint32(len(cut.locs)); id++ {
		if key := keyAt(cut.slabs, cut.locs[id]); key != nil {
			buf.add(&record{typ: recSeriesCreated, id: uint64(id), key: key})
		}
	}
}

// encodePostings encodes the cut's measurements' series and tag postings,
// leaving out series created since, and ends the snapshot. The caller
// holds ix.mu and the postings.
func (ix *Index) encodePostings(buf *snapshotBuf, cut *snapshotCut) {
	add := buf.add
	var entries []byte
	for _, name := range cut.names {
		m := ix.measurements[name]
		all := m.ids[:cutIDs(m.ids, cut.nextID)]
		for ids := all; len(ids) > 0; {
			chunk := ids[:min(len(ids), maxChunkIDs)]
			ids = ids[len(chunk):]
			entries = appendIDs(entries[:0], chunk)
			add(&record{typ: recMeasurementSeries, measurement: m.name, entries: entries})
		}
		for _, key := range slices.Sorted(maps.Keys(m.tags)) {
			tv := m.tags[key]
			n, values := m.valuesByFirstID(tv, cut.nextID)
			flush := func() {
				add(&record{typ: recTagValues, measurement: m.name, field: []byte(key), id: uint64(n), entries: entries})
				entries = entries[:0]
			}
			entries = entries[:0]
			for sv := range values {
				ids := m.postingsIn(sv.ref, sv.one[:0])
				ids = ids[:cutIDs(ids, cut.nextID)]
				owner := ids[0]
				for first := true; len(ids) > 0; first = false {
					if len(entries) >= snapshotChunk {
						flush()
					}
					chunk := ids[:min(len(ids), maxChunkIDs)]
					ids = ids[len(chunk):]
					if first {
						entries = ix.appendTagValue(entries, sv.value, owner)
					} else {
						entries = append(entries, continuedValue)
					}
					entries = appendIDs(entries, chunk)
				}
			}
			if len(entries) > 0 {
				flush()
			}
		}
	}
	buf.add(&record{typ: recSnapshotEnd, id: buf.n})
	if buf.w != nil {
		buf.flush()
	}
}

// cutIDs returns how many of the sorted ids are below next.
func cutIDs(ids []uint32, next uint32) int {
	if n := len(ids); n == 0 || ids[n-1] < next {
		return n
	}
	i, _ := slices.BinarySearch(ids, next)
	return i
}

// snapValue is a tag value being written to a snapshot.
type snapValue struct {
	value string
	ref   valueRef
	first uint32    // its first series
	one   [1]uint32 // room for an inline id's list
}

// valuesByFirstID returns how many of tv's values have a series below
// next, and those values ordered by their first series, so that Open reads
// the keys holding them (see appendTagValue) in order. Values are added
// when their first series is, in id order, so they are in that order
// already unless drops moved them: only then are they gathered and sorted.
// Otherwise they are read from the map as they are yielded: a copy of them
// all was 32 MB of fresh memory at each snapshot of a million host names
// (issue 17).
func (m *measurement) valuesByFirstID(tv *tagValues, next uint32) (int, iter.Seq[snapValue]) {
	n, sorted, last := 0, true, uint32(0)
	for _, ref := range tv.values.all() {
		first := m.firstID(ref)
		if first >= next {
			continue
		}
		sorted = sorted && (n == 0 || last < first)
		last = first
		n++
	}
	if sorted {
		return n, func(yield func(snapValue) bool) {
			for v, ref := range tv.values.all() {
				if sv := (snapValue{value: v, ref: ref, first: m.firstID(ref)}); sv.first < next && !yield(sv) {
					return
				}
			}
		}
	}
	out := make([]snapValue, 0, n)
	for v, ref := range tv.values.all() {
		if sv := (snapValue{value: v, ref: ref, first: m.firstID(ref)}); sv.first < next {
			out = append(out, sv)
		}
	}
	slices.SortFunc(out, func(a, b snapValue) int { return cmp.Compare(a.first, b.first) })
	return n, slices.Values(out)
}

// firstID returns the first series of a tag value.
func (m *measurement) firstID(r valueRef) uint32 {
	if id, inline := r.inline(); inline {
		return id
	}
	return m.lists[r][0]
}

// postingsIn returns the series of a tag value, using one (of capacity 1)
// for an inline id. The result may alias index memory.
func (m *measurement) postingsIn(r valueRef, one []uint32) []uint32 {
	if id, inline := r.inline(); inline {
		return append(one, id)
	}
	return m.lists[r]
}

// appendIDs appends an id list: its length, the first id, then the
// difference of each id from the one before (ids are sorted and unique).
func appendIDs(dst []byte, ids []uint32) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ids)))
	prev := uint32(0)
	for _, id := range ids {
		dst = binary.AppendUvarint(dst, uint64(id-prev))
		prev = id
	}
	return dst
}

// continuedValue starts a tag value entry that holds more series of the
// value before it (a list longer than maxChunkIDs).
const continuedValue = 0

// appendTagValue appends the value part of the snapshot entry of tag value
// v. A value whose bytes lie in the key of series owner (as those
// applySeries indexed do) is stored as that place, so that Open can alias
// the key again instead of allocating a string per value; others (values
// that were unescaped, or whose key was dropped) are stored as bytes.
func (ix *Index) appendTagValue(dst []byte, v string, owner uint32) []byte {
	if off, ok := ix.offsetInKey(v, owner); ok {
		dst = binary.AppendUvarint(dst, uint64(len(v))<<1|1)
		dst = binary.AppendUvarint(dst, uint64(owner))
		return binary.AppendUvarint(dst, uint64(off))
	}
	dst = binary.AppendUvarint(dst, uint64(len(v))<<1)
	return append(dst, v...)
}

// offsetInKey reports where the bytes of v lie inside the stored key of
// series id, if they do.
func (ix *Index) offsetInKey(v string, id uint32) (int, bool) {
	key := ix.series.key(id)
	if key == nil || len(v) == 0 {
		return 0, false
	}
	k := uintptr(unsafe.Pointer(unsafe.SliceData(key)))
	p := uintptr(unsafe.Pointer(unsafe.StringData(v)))
	if p < k || p+uintptr(len(v)) > k+uintptr(len(key)) {
		return 0, false
	}
	return int(p - k), true
}

// replaySnapshot applies a snapshot file. Unlike the log, a snapshot is
// written completely before it is renamed into place, so any defect is
// corruption.
//
// A goroutine checks the checksums of the series records (nearly all of
// the bytes) while this one decodes the records (at a million series the
// checksums were a tenth of the load's CPU, on its critical path), and
// checks the others' itself before using them. So a series record is
// decoded before its checksum is known, which is safe: it is checked like
// any record, and at worst adds a key under an id below the (checked) next
// id. The defect first in the file decides the error, as when each record
// was checked before its decoding.
func (ix *Index) replaySnapshot(data []byte) error {
	withPostings := bytes.HasPrefix(data, snapshotMagic)
	if !withPostings && !bytes.HasPrefix(data, snapshotMagicV1) {
		return fmt.Errorf("bad snapshot header: %w", ErrCorrupt)
	}
	sums := make(chan error, 1)
	var badSum int
	go func() {
		var err error
		badSum, err = checkSums(data, len(snapshotMagic))
		sums <- err
	}()
	at, err := ix.decodeSnapshot(data, withPostings)
	if sumErr := <-sums; sumErr != nil && badSum <= at {
		return sumErr
	}
	return err
}

// checkSums checks the framing of each record of a snapshot from offset
// off on, and the checksum of each series record, and returns the offset
// of the first bad one and its error (as decodeSnapshot words it).
func checkSums(data []byte, off int) (int, error) {
	for off < len(data) {
		body, err := recordBody(data[off:], maxSnapshotRecordSize)
		if err == nil && body[0] == recSeriesCreated {
			err = checkSum(data[off:], body)
		}
		if err != nil {
			return off, fmt.Errorf("snapshot offset %d: %w", off, errors.Join(err, ErrCorrupt))
		}
		off += recHeaderSize + len(body)
	}
	return off, nil
}

// decodeSnapshot applies the records of a snapshot, checking the checksums
// of all but the series records (see replaySnapshot). On failure it
// returns the offset of the record at fault.
func (ix *Index) decodeSnapshot(data []byte, withPostings bool) (int, error) {
	ld := snapshotLoad{ix: ix, maxSeries: len(data) / minSeriesRecord, keys: keyCopies{data: data}}
	defer ld.waitIndexed()
	defer ld.keys.finish(ix.series)
	off := len(snapshotMagic)
	var n uint64
	for off < len(data) {
		at := off
		body, err := recordBody(data[off:], maxSnapshotRecordSize)
		if err == nil && body[0] != recSeriesCreated {
			err = checkSum(data[off:], body)
		}
		var r record
		var size int
		if err == nil {
			r, size, err = decodeBody(body)
		}
		if err != nil {
			return at, fmt.Errorf("snapshot offset %d: %w", off, errors.Join(err, ErrCorrupt))
		}
		off += size
		if r.typ == recSnapshotEnd {
			if r.id != n || off != len(data) {
				return at, fmt.Errorf("snapshot end: %d records (%d bytes after), want %d (0): %w", r.id, len(data)-off, n, ErrCorrupt)
			}
			if withPostings {
				ld.keys.finish(ix.series)
				ld.closeList()
				ld.indexSeries()
				ld.waitIndexed()
			}
			if withPostings && ld.listed != ix.series.live {
				return at, fmt.Errorf("snapshot lists %d series under measurements, holds %d: %w", ld.listed, ix.series.live, ErrCorrupt)
			}
			return len(data), nil
		}
		if withPostings {
			ld.from, ld.to = at, off
			err = ld.apply(&r)
		} else {
			err = ix.applyRecord(&r)
		}
		if err != nil {
			return at, fmt.Errorf("snapshot offset %d: %w", at, err)
		}
		n++
	}
	return len(data), fmt.Errorf("snapshot has no end record: %w", ErrCorrupt)
}

// minSeriesRecord is the size of the smallest series record (a one-byte
// id and key): a snapshot of n bytes holds at most n/minSeriesRecord series.
const minSeriesRecord = recHeaderSize + 3

// snapshotLoad loads a format 2 snapshot into ix. Series go into the key
// table only, and the measurement series and tag values records after
// them fill in each measurement's ids and postings as they were, so
// nothing is parsed or built. Every id those records name must be a series
// of the snapshot, in ascending order, or the snapshot is corrupt.
type snapshotLoad struct {
	ix        *Index
	maxSeries int      // bound on the series the snapshot can hold
	lastID    uint32   // of the last series record: they come in id order
	live      []uint64 // bitmap of the series loaded, for checking ids
	listed    int      // series ids listed by measurement series records
	// lastTags and lastList are the tag key and list (an index into
	// m.lists, or -1) of the last value loaded, which a continued entry
	// extends.
	lastTags *tagValues
	lastList int
	// open is the id list being loaded, which the next records may still
	// extend (a measurement's series, a tag value's list); its ids gather
	// in ids, and closeList puts them in place at their final length. A
	// list grown in place a chunk at a time was copied again at every
	// growth: at a million series that was a sixth of the load's CPU.
	open openList
	ids  []uint32
	// keys copies the series keys into the key table.
	keys keyCopies
	// from and to delimit the record being applied.
	from, to int
	// indexed is closed when the goroutine that makes the loaded series
	// found by key (seriesTable.index) is done; nil until it starts.
	indexed chan struct{}
}

// keyCopies copies the keys of a snapshot's series records into the key
// table on two goroutines: the load places each key (addPlace) and hands
// the records of each slab, once it is full, to a helper goroutine, and
// copies too once the series records end (finish). At a million series
// the copy, page faults of the fresh slabs included, was a third of the
// load's CPU.
type keyCopies struct {
	data  []byte        // the snapshot
	jobs  chan keyJob   // slabs to fill; nil while no helper runs
	done  chan struct{} // closed when the helper returns
	cur   keyJob        // the slab being placed, empty when from == to
	slab  int           // cur's slab
	start int           // cur's first key's offset in its slab
}

// keyJob is a run of series records, data[from:to], whose keys go in
// order to the start of dst.
type keyJob struct {
	dst      []byte
	from, to int
}

// keyJobQueue bounds the slabs waiting for the helper; past it the load
// copies them itself. (A variable for the tests.)
var keyJobQueue = 64

// add records that the key of the series record data[from:to] goes to
// offset off of slab (see addPlace).
func (c *keyCopies) add(t *seriesTable, slab, off, from, to int) {
	if c.cur.from != c.cur.to && slab != c.slab {
		c.send(t)
	}
	if c.cur.from == c.cur.to {
		c.cur.from, c.slab, c.start = from, slab, off
	}
	c.cur.to = to
}

// send hands the current slab's keys to the helper, starting it if need
// be.
func (c *keyCopies) send(t *seriesTable) {
	j := c.cur
	j.dst = t.slabs[c.slab][c.start:]
	c.cur = keyJob{}
	if c.jobs == nil {
		c.jobs, c.done = make(chan keyJob, keyJobQueue), make(chan struct{})
		go func(jobs <-chan keyJob, done chan<- struct{}) {
			defer close(done)
			for j := range jobs {
				j.copy(c.data)
			}
		}(c.jobs, c.done)
	}
	select {
	case c.jobs <- j:
	default:
		j.copy(c.data)
	}
}

// finish copies the keys placed so far, with the helper, and returns when
// they are all in place.
func (c *keyCopies) finish(t *seriesTable) {
	if c.cur.from != c.cur.to {
		c.send(t)
	}
	if c.jobs == nil {
		return
	}
	close(c.jobs)
	for j := range c.jobs {
		j.copy(c.data)
	}
	<-c.done
	c.jobs, c.done = nil, nil
}

// copy writes the keys of the job's records, which the load has decoded
// (so they are well formed), to dst.
func (j keyJob) copy(data []byte) {
	p := 0
	for off := j.from; off < j.to; {
		body := data[off+recHeaderSize : off+recHeaderSize+int(binary.LittleEndian.Uint32(data[off:]))]
		_, w := binary.Uvarint(body[1:]) // the id
		p += putKey(j.dst[p:], body[1+w:])
		off += recHeaderSize + len(body)
	}
}

// openList names an id list of measurement m: m.ids when list < 0, else
// m.lists[list].
type openList struct {
	m    *measurement
	list int
}

// ids returns the list's ids in place.
func (l openList) ids() []uint32 {
	if l.list < 0 {
		return l.m.ids
	}
	return l.m.lists[l.list]
}

// extend returns the ids of list l, to append to and hand back in ld.ids:
// those gathered so far when l is open, else (closing the open list) l's
// ids so far.
func (ld *snapshotLoad) extend(l openList) []uint32 {
	if ld.open != l {
		ld.closeList()
		ld.open = l
		ld.ids = append(ld.ids[:0], l.ids()...)
	}
	return ld.ids
}

// closeList puts the open list, if any, in its place.
func (ld *snapshotLoad) closeList() {
	l := ld.open
	if l.m == nil {
		return
	}
	ids := slices.Clone(ld.ids)
	if l.list < 0 {
		l.m.ids = ids
	} else {
		l.m.lists[l.list] = ids
	}
	ld.open, ld.ids = openList{}, ld.ids[:0]
}

// indexSeries starts making the loaded series found by key, once the last
// series record is in: a goroutine hashes and places them while the
// postings load, which reads keys but not the hash slots (at a million
// series the placing was a third of the load).
func (ld *snapshotLoad) indexSeries() {
	if ld.indexed != nil {
		return
	}
	ld.indexed = make(chan struct{})
	t, last := ld.ix.series, ld.lastID
	go func() {
		defer close(ld.indexed)
		for id := uint32(1); id <= last; id++ {
			if key := t.key(id); key != nil {
				t.index(id, key)
			}
		}
	}()
}

// waitIndexed waits for indexSeries' goroutine, if it started.
func (ld *snapshotLoad) waitIndexed() {
	if ld.indexed != nil {
		<-ld.indexed
	}
}

// apply applies one record of a format 2 snapshot.
func (ld *snapshotLoad) apply(r *record) error {
	ix := ld.ix
	if r.typ == recSeriesCreated {
		if ld.indexed != nil || r.id <= uint64(ld.lastID) || r.id >= uint64(ix.nextID) {
			return fmt.Errorf("series record id %d after postings, after id %d or not below next id %d: %w", r.id, ld.lastID, ix.nextID, ErrCorrupt)
		}
		id := uint32(r.id)
		ld.lastID = id
		slab, off := ix.series.addPlace(id, len(r.key))
		ld.keys.add(ix.series, slab, off, ld.from, ld.to)
		for int(id/64) >= len(ld.live) {
			ld.live = append(ld.live, 0)
		}
		ld.live[id/64] |= 1 << (id % 64)
		return nil
	}
	// The other records may read the keys.
	ld.keys.finish(ix.series)
	switch r.typ {
	case recNextID:
		if err := ix.applyRecord(r); err != nil {
			return err
		}
		ix.series.reserve(min(int(ix.nextID), ld.maxSeries))
		return nil
	case recMeasurementSeries:
		ld.indexSeries()
		m := ix.measurementFor(r.measurement)
		had := ld.extend(openList{m, -1})
		ids, rest, err := ld.decodeIDs(had, r.entries)
		if err == nil && len(rest) != 0 {
			err = fmt.Errorf("%d bytes after the id list: %w", len(rest), ErrCorrupt)
		}
		if err != nil {
			return fmt.Errorf("series of measurement %q: %w", r.measurement, err)
		}
		ld.listed += len(ids) - len(had)
		ld.ids = ids
		return nil
	case recTagValues:
		// Tag value lists are closed as the values are read; a
		// measurement's series are read here.
		if ld.open.list < 0 {
			ld.closeList()
		}
		ld.indexSeries()
		m := ix.measurements[string(r.measurement)]
		if m == nil {
			return fmt.Errorf("tag values of unknown measurement %q: %w", r.measurement, ErrCorrupt)
		}
		if err := ld.loadTagValues(m, r.field, int(min(r.id, uint64(len(m.ids)))), r.entries); err != nil {
			return fmt.Errorf("tag %q of measurement %q: %w", r.field, r.measurement, err)
		}
		return nil
	}
	// Other records (fields before the series; none after them) may
	// change the table and the lists once there are series: they must be
	// in place first.
	ld.closeList()
	if ld.lastID > 0 {
		ld.indexSeries()
		ld.waitIndexed()
	}
	return ix.applyRecord(r)
}

// loadTagValues adds the value entries p of a tag values record to tag key
// of m, whose value map is created with room for size values.
func (ld *snapshotLoad) loadTagValues(m *measurement, key []byte, size int, p []byte) error {
	if len(p) == 0 {
		return fmt.Errorf("no values: %w", ErrCorrupt)
	}
	tv := m.tags[string(key)]
	if tv == nil {
		tv = &tagValues{}
		tv.values.reserve(size)
		m.tags[string(key)] = tv
	}
	for len(p) > 0 {
		h, rest, err := uvarint(p)
		if err != nil {
			return err
		}
		if h == continuedValue {
			if ld.lastTags != tv || ld.lastList < 0 {
				return fmt.Errorf("continued entry after no list of this tag: %w", ErrCorrupt)
			}
			list, rest, err := ld.decodeIDs(ld.extend(openList{m, ld.lastList}), rest)
			if err != nil {
				return err
			}
			ld.ids, p = list, rest
			continue
		}
		v, inKey, rest, err := ld.decodeTagValue(h, rest)
		if err != nil {
			return err
		}
		ld.closeList()
		ids, rest, err := ld.decodeIDs(ld.ids[:0], rest)
		if err != nil {
			return fmt.Errorf("value %q: %w", v, err)
		}
		p = rest
		vs := bytesString(v) // the key slab never changes
		if !inKey {
			vs = string(v)
		}
		ref, list := inlineRef|valueRef(ids[0]), -1
		ld.ids = ids[:0]
		if len(ids) > 1 {
			ref, list = valueRef(len(m.lists)), len(m.lists)
			m.lists = append(m.lists, nil)
			ld.open, ld.ids = openList{m, list}, ids
		}
		if !tv.values.set(vs, ref) {
			return fmt.Errorf("value %q twice: %w", v, ErrCorrupt)
		}
		ld.lastTags, ld.lastList = tv, list
	}
	return nil
}

// decodeTagValue decodes the value of a tag value entry whose first uvarint
// was h: its bytes and whether they alias a series key.
func (ld *snapshotLoad) decodeTagValue(h uint64, p []byte) (v []byte, inKey bool, rest []byte, err error) {
	n := h >> 1
	if n == 0 {
		return nil, false, nil, fmt.Errorf("empty tag value: %w", ErrCorrupt)
	}
	if h&1 == 0 {
		if n > uint64(len(p)) {
			return nil, false, nil, fmt.Errorf("tag value length %d exceeds record: %w", n, ErrCorrupt)
		}
		return p[:n], false, p[n:], nil
	}
	id, p, err := uvarint(p)
	if err != nil {
		return nil, false, nil, err
	}
	off, p, err := uvarint(p)
	if err != nil {
		return nil, false, nil, err
	}
	var key []byte
	if id <= maxSeriesID {
		key = ld.ix.series.key(uint32(id))
	}
	if key == nil || off > uint64(len(key)) || n > uint64(len(key))-off {
		return nil, false, nil, fmt.Errorf("tag value at %d+%d of series %d (%d key bytes): %w", off, n, id, len(key), ErrCorrupt)
	}
	return key[off : off+n], true, p, nil
}

// decodeIDs appends the id list at the start of p (see appendIDs) to dst
// and returns the rest of p. Each id must be a series of the snapshot and
// greater than the one before, starting with dst's last.
func (ld *snapshotLoad) decodeIDs(dst []uint32, p []byte) ([]uint32, []byte, error) {
	count, p, err := uvarint(p)
	if err != nil {
		return nil, nil, err
	}
	if count == 0 || count > uint64(len(p)) { // an id takes a byte at least
		return nil, nil, fmt.Errorf("id list of %d ids in %d bytes: %w", count, len(p), ErrCorrupt)
	}
	after := uint64(0)
	if len(dst) > 0 {
		after = uint64(dst[len(dst)-1])
	}
	dst = slices.Grow(dst, int(count))
	id := uint64(0)
	for range count {
		var delta uint64
		if delta, p, err = uvarint(p); err != nil {
			return nil, nil, err
		}
		id += delta
		if id <= after || id/64 >= uint64(len(ld.live)) || ld.live[id/64]&(1<<(id%64)) == 0 {
			return nil, nil, fmt.Errorf("id %d after %d: not ascending or not a series: %w", id, after, ErrCorrupt)
		}
		dst = append(dst, uint32(id))
		after = id
	}
	return dst, p, nil
}
