package tsdb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// A digest file sits beside each data file (same name, digestFileExt) and
// holds the file's per-key, per-window digest sums (docs/digest.md), so
// that a shard's bucket digests are combined from them instead of from
// every decoded value. It is written when the data file is (snapshot,
// compaction), computed on demand for a file without one, and bound to its
// data file by the data file's size and last bytes: one that does not
// match, or fails its checksum, is ignored and rewritten.
const digestFileExt = ".digest"

var (
	// digestFileMagic opens a digest file of the version written; its last
	// byte is the version. Version 1 files (no derived records) are read
	// too: their records are all version 2 records.
	digestFileMagic = []byte{'S', 'D', 'G', 2}
	digestFileEnd   = []byte("SDGE")
)

// digestFileOldVersion is the digest file version still read.
const digestFileOldVersion = 1

const (
	// digestTailSize is how many of the data file's last bytes (its
	// footer, with the index checksum) the digest file repeats.
	digestTailSize = 64
	// digestHeaderSize: magic[4] window int64.
	digestHeaderSize = 4 + 8
	// digestTrailerSize: keys u64, data file size u64, tail, crc u32, end[4].
	digestTrailerSize = 8 + 8 + digestTailSize + 4 + 4
	// maxDigestWindows bounds the windows of one key record a reader
	// accepts (a corrupt count is caught before it allocates).
	maxDigestWindows = 1 << 24
)

// errDigestFile is a digest file whose content does not decode.
var errDigestFile = errors.New("corrupt digest file")

// digestFilePath returns the digest file of the data file at tsmPath.
func digestFilePath(tsmPath string) string {
	return strings.TrimSuffix(tsmPath, dataFileExt) + digestFileExt
}

// digestFileWriter writes a digest file, one key record per key of the
// data file, in the data file's key order. A nil writer ignores every
// call, so a file written without digests needs no branches. Not safe for
// concurrent use.
type digestFileWriter struct {
	tsmPath string
	window  int64
	f       *os.File
	bw      *bufio.Writer
	crc     hash.Hash32
	keys    uint64
	// derived counts the derived records added since the last write:
	// written together when the next record or the trailer is (see
	// addArray).
	derived int
	buf     []byte
	sums    []windowSum
	err     error
}

// newDigestFileWriter starts the digest file of the data file at tsmPath;
// it returns nil when the file cannot be created (the data file then has
// none until one is computed on demand).
func newDigestFileWriter(tsmPath string, window int64) *digestFileWriter {
	f, err := os.Create(digestFilePath(tsmPath) + ".tmp")
	if err != nil {
		return nil
	}
	w := &digestFileWriter{tsmPath: tsmPath, window: window, f: f, crc: crc32.New(castagnoli)}
	w.bw = bufio.NewWriterSize(io.MultiWriter(f, w.crc), 64<<10)
	hdr := append(bytes.Clone(digestFileMagic), make([]byte, 8)...)
	binary.LittleEndian.PutUint64(hdr[4:], uint64(window))
	w.write(hdr)
	return w
}

func (w *digestFileWriter) write(b []byte) {
	if w.derived > 0 {
		w.writeDerived()
	}
	if w.err == nil {
		_, w.err = w.bw.Write(b)
	}
}

// derivedMax is the most values of a key that gets a derived record: a
// key of at most this many values, of any type but string, has its values
// in its data file's index entry (format version 3), from which its sums
// are computed when they are combined instead of being stored.
const derivedMax = 2

// addArray records the next key, whose values (as written to the data
// file) are a.
func (w *digestFileWriter) addArray(a *tsm.Array) {
	if w == nil || a.Len() == 0 {
		return // the data file gets no key for no values either
	}
	if a.Len() <= derivedMax && a.Type != models.FieldTypeString {
		w.addDerived(1)
		return
	}
	w.sums = appendWindowSums(w.sums[:0], a, w.window)
	w.buf = appendDigestRecord(w.buf[:0], w.sums, w.window)
	w.write(w.buf)
	w.keys++
}

// addDerived records the next n keys, each of at most derivedMax values
// of any type but string, whose records are derived. Counted, and written
// in runs: a snapshot of a million sparse series is mostly such keys, and
// a write of one byte each was 1.6 % of the data node's CPU (issue 17).
func (w *digestFileWriter) addDerived(n int) {
	if w == nil {
		return
	}
	w.derived += n
	w.keys += uint64(n)
}

// addRecord records the next key with a record read from another digest
// file of the same window (a compaction copying the key's blocks).
func (w *digestFileWriter) addRecord(rec []byte) {
	if w == nil {
		return
	}
	w.write(rec)
	w.keys++
}

// finish completes the digest file once its data file is in place and
// renames it into place. It must not be used afterwards.
func (w *digestFileWriter) finish() error {
	if w == nil {
		return nil
	}
	size, tail, err := dataFileTail(w.tsmPath)
	if err != nil {
		w.abort()
		return err
	}
	var tr []byte
	tr = binary.LittleEndian.AppendUint64(tr, w.keys)
	tr = binary.LittleEndian.AppendUint64(tr, uint64(size))
	tr = append(tr, tail[:]...)
	w.write(tr)
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	w.buf = binary.LittleEndian.AppendUint32(w.buf[:0], w.crc.Sum32())
	w.buf = append(w.buf, digestFileEnd...)
	if w.err == nil {
		_, w.err = w.f.Write(w.buf)
	}
	if err := w.f.Close(); w.err == nil {
		w.err = err
	}
	tmp := w.f.Name()
	if w.err == nil {
		// Not synced: a digest file lost or torn by a crash fails its
		// checks and is computed again.
		w.err = os.Rename(tmp, digestFilePath(w.tsmPath))
	}
	if w.err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write digest file of %s: %w", w.tsmPath, w.err)
	}
	return nil
}

// writeDerived writes the derived records counted (see addArray). A
// derived record, one 0 byte (a window count of 0: a key of the data file
// has at least one value, so no stored record has none), is that of a key
// whose sums are derived from its data file's values when needed.
func (w *digestFileWriter) writeDerived() {
	var zeros [1024]byte
	for w.derived > 0 && w.err == nil {
		n := min(w.derived, len(zeros))
		_, w.err = w.bw.Write(zeros[:n])
		w.derived -= n
	}
	w.derived = 0
}

// abort removes the unfinished digest file.
func (w *digestFileWriter) abort() {
	if w == nil {
		return
	}
	_ = w.f.Close()
	_ = os.Remove(w.f.Name())
}

// appendDigestRecord appends one key record: uvarint window count, then
// per window (ascending) varint(window index - previous index, the first
// from 0), uvarint count, a u64 LE, b u64 LE.
func appendDigestRecord(dst []byte, sums []windowSum, window int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(sums)))
	prev := int64(0)
	for i := range sums {
		idx := floorDiv(sums[i].start, window)
		dst = binary.AppendVarint(dst, idx-prev)
		prev = idx
		dst = binary.AppendUvarint(dst, sums[i].count)
		dst = binary.LittleEndian.AppendUint64(dst, sums[i].a)
		dst = binary.LittleEndian.AppendUint64(dst, sums[i].b)
	}
	return dst
}

// dataFileTail returns a data file's size and its last digestTailSize
// bytes (zero-padded in front for a smaller file).
func dataFileTail(path string) (int64, [digestTailSize]byte, error) {
	var tail [digestTailSize]byte
	f, err := os.Open(path)
	if err != nil {
		return 0, tail, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, tail, err
	}
	n := min(fi.Size(), digestTailSize)
	if _, err := f.ReadAt(tail[digestTailSize-n:], fi.Size()-n); err != nil {
		return 0, tail, err
	}
	return fi.Size(), tail, nil
}

// checkDigestFile reports whether the digest file of the data file at
// tsmPath (of size size, holding keys keys) is intact, of this window, and
// belongs to that data file.
func checkDigestFile(tsmPath string, size int64, keys int, window int64) bool {
	f, err := os.Open(digestFilePath(tsmPath))
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() < digestHeaderSize+digestTrailerSize {
		return false
	}
	n := fi.Size()
	var hdr [digestHeaderSize]byte
	var tr [digestTrailerSize]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return false
	}
	if _, err := f.ReadAt(tr[:], n-digestTrailerSize); err != nil {
		return false
	}
	if !bytes.Equal(hdr[:3], digestFileMagic[:3]) || (hdr[3] != digestFileMagic[3] && hdr[3] != digestFileOldVersion) || int64(binary.LittleEndian.Uint64(hdr[4:])) != window ||
		!bytes.Equal(tr[digestTrailerSize-4:], digestFileEnd) ||
		binary.LittleEndian.Uint64(tr[0:]) != uint64(keys) || int64(binary.LittleEndian.Uint64(tr[8:])) != size {
		return false
	}
	crc := crc32.New(castagnoli)
	if _, err := io.Copy(crc, io.NewSectionReader(f, 0, n-8)); err != nil {
		return false
	}
	if crc.Sum32() != binary.LittleEndian.Uint32(tr[digestTrailerSize-8:]) {
		return false
	}
	gotSize, tail, err := dataFileTail(tsmPath)
	return err == nil && gotSize == size && bytes.Equal(tail[:], tr[16:16+digestTailSize])
}

// digestFileReader reads a checked digest file's key records in order.
// Not safe for concurrent use.
type digestFileReader struct {
	f      *os.File
	src    io.Reader // the records not read into buf yet
	left   int64     // how many bytes src still holds
	buf    []byte    // records read from src; buf[pos:] not parsed yet
	pos    int
	window int64
	rec    []byte // the current key's record, as stored (valid until the next read)
	sums   []windowSum
	// derived: the current key's record is a derived one (sums is empty;
	// they are computed from the data file's values of the key).
	derived bool
}

// digestReadBuffer is how many bytes a digest file reader reads at a time
// (more for a record that does not fit).
const digestReadBuffer = 64 << 10

// openDigestFile opens the digest file of the data file at tsmPath, which
// checkDigestFile accepted.
func openDigestFile(tsmPath string, window int64) (*digestFileReader, error) {
	f, err := os.Open(digestFilePath(tsmPath))
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	records := fi.Size() - digestHeaderSize - digestTrailerSize
	r := &digestFileReader{f: f, window: window, left: records,
		src: io.NewSectionReader(f, digestHeaderSize, records)}
	return r, nil
}

func (r *digestFileReader) close() {
	if r != nil {
		_ = r.f.Close()
	}
}

// next reads the next key's record into rec and sums.
func (r *digestFileReader) next() error { return r.read(true) }

// skip reads the next key's record into rec only (sums is left empty).
func (r *digestFileReader) skip() error { return r.read(false) }

// read reads the next key's record, decoding its sums if decode.
func (r *digestFileReader) read(decode bool) error {
	for {
		size, need, err := r.parse(r.buf[r.pos:], decode)
		if err != nil {
			return fmt.Errorf("%w: %w", errDigestFile, err)
		}
		if need == 0 {
			r.rec = r.buf[r.pos : r.pos+size]
			r.pos += size
			return nil
		}
		if err := r.fill(need); err != nil {
			return err
		}
	}
}

// fill reads from src until buf holds at least need unparsed bytes, or
// fails if src does not have them.
func (r *digestFileReader) fill(need int) error {
	if int64(need) > int64(len(r.buf)-r.pos)+r.left {
		return fmt.Errorf("%w: record runs past the end", errDigestFile)
	}
	r.buf = append(r.buf[:0], r.buf[r.pos:]...)
	r.pos = 0
	if c := max(need, digestReadBuffer); cap(r.buf) < c {
		r.buf = slices.Grow(r.buf, c-len(r.buf))
	}
	for len(r.buf) < need {
		room := int(min(r.left, int64(cap(r.buf)-len(r.buf))))
		n, err := r.src.Read(r.buf[len(r.buf) : len(r.buf)+room])
		r.buf = r.buf[:len(r.buf)+n]
		r.left -= int64(n)
		if err != nil && len(r.buf) < need {
			return fmt.Errorf("%w: %w", errDigestFile, err)
		}
	}
	return nil
}

// parse decodes the key record at the start of b (uvarint window count,
// then per window varint index delta, uvarint count, a and b as u64 LE)
// into r.sums if decode, returning its size; when b holds only part of it,
// need is how many bytes it knows the record needs at least. A window
// count of 0 is a derived record (see writeDerived).
func (r *digestFileReader) parse(b []byte, decode bool) (size, need int, err error) {
	r.sums = r.sums[:0]
	n, k := binary.Uvarint(b)
	if k == 0 {
		return 0, len(b) + 1, nil
	}
	if k < 0 || n > maxDigestWindows {
		return 0, 0, fmt.Errorf("bad window count %d", n)
	}
	r.derived = n == 0
	const minWindow = 1 + 1 + 16 // index delta, count, a, b
	if least := k + int(n)*minWindow; len(b) < least {
		return 0, least, nil
	}
	pos, idx := k, int64(0)
	for range n {
		d, k := binary.Varint(b[pos:])
		if k == 0 {
			return 0, len(b) + 1, nil
		}
		if k < 0 {
			return 0, 0, errors.New("bad varint")
		}
		pos += k
		count, k := binary.Uvarint(b[pos:])
		if k == 0 {
			return 0, len(b) + 1, nil
		}
		if k < 0 {
			return 0, 0, errors.New("bad varint")
		}
		pos += k
		if len(b) < pos+16 {
			return 0, pos + 16, nil
		}
		if decode {
			idx += d
			start := idx * r.window
			r.sums = append(r.sums, windowSum{start: start, count: count,
				a: binary.LittleEndian.Uint64(b[pos:]), b: binary.LittleEndian.Uint64(b[pos+8:]),
				minT: start, maxT: start + r.window - 1})
		}
		pos += 16
	}
	return pos, 0, nil
}

// hasDigests reports whether f has a checked digest file for window,
// without computing one.
func (f *dataFile) hasDigests(window int64) bool {
	if f.digestsOK.Load() {
		return true
	}
	f.digestsMu.Lock()
	defer f.digestsMu.Unlock()
	if !f.digestsOK.Load() && checkDigestFile(f.path, f.size, f.r.KeyCount(), window) {
		f.digestsOK.Store(true)
	}
	return f.digestsOK.Load()
}

// ensureDigests makes sure f has a checked digest file for window,
// computing it from the file's values when it has none (a file written
// before digest files existed, or one whose digest file was lost).
func (f *dataFile) ensureDigests(window int64) error {
	if f.digestsOK.Load() {
		return nil
	}
	f.digestsMu.Lock()
	defer f.digestsMu.Unlock()
	if f.digestsOK.Load() {
		return nil
	}
	if !checkDigestFile(f.path, f.size, f.r.KeyCount(), window) {
		if err := writeDigestFile(f.r, f.path, window); err != nil {
			return err
		}
	}
	f.digestsOK.Store(true)
	return nil
}

// writeDigestFile computes the digest file of the data file r (at
// tsmPath) by decoding every value.
func writeDigestFile(r *tsm.Reader, tsmPath string, window int64) error {
	w := newDigestFileWriter(tsmPath, window)
	if w == nil {
		return fmt.Errorf("create digest file of %s", tsmPath)
	}
	var acc, blk tsm.Array
	it := r.Iterator()
	for it.Next() {
		if err := readKeyRaw(r, it.Type(), it.Entries(), &acc, &blk); err != nil {
			w.abort()
			return err
		}
		w.addArray(&acc)
	}
	return w.finish()
}

// readKeyRaw decodes every block of one key of a file into acc (blk is
// scratch): the key's values as stored, tombstones not applied.
func readKeyRaw(r *tsm.Reader, typ models.FieldType, metas []tsm.BlockMeta, acc, blk *tsm.Array) error {
	acc.Reset(typ)
	for _, m := range metas {
		if err := r.ReadArray(m, blk); err != nil {
			return err
		}
		appendShared(acc, blk)
	}
	return nil
}

// digestMerge carries digest records through a compaction: a reader per
// input walks beside the input's key iterator, and the output's digest
// file gets the records of keys whose blocks are copied and the sums of
// keys that are merged. Without a digest file on every input the output
// gets none (it is computed on demand). A nil or disabled digestMerge
// ignores every call.
type digestMerge struct {
	out *digestFileWriter
	ins []*digestFileReader
}

// newDigestMerge starts the digest file of the compaction output at
// outPath from inputs.
func newDigestMerge(inputs []*dataFile, outPath string, window int64) *digestMerge {
	m := &digestMerge{}
	for _, f := range inputs {
		if !f.hasDigests(window) {
			m.close()
			return m
		}
		dr, err := openDigestFile(f.path, window)
		if err != nil {
			m.close()
			return m
		}
		m.ins = append(m.ins, dr)
	}
	m.out = newDigestFileWriter(outPath, window)
	return m
}

// next reads input i's record of the key its iterator just moved to
// (not decoded: a compaction copies records or computes new ones).
func (m *digestMerge) next(i int) {
	if m.out == nil {
		return
	}
	if err := m.ins[i].skip(); err != nil {
		m.close()
	}
}

// copyKey records the current key of input i, whose blocks are copied.
func (m *digestMerge) copyKey(i int) {
	if m.out != nil {
		m.out.addRecord(m.ins[i].rec)
	}
}

// addArray records the next key with its merged values.
func (m *digestMerge) addArray(a *tsm.Array) { m.out.addArray(a) }

// finish writes the output's digest file once the output is in place.
func (m *digestMerge) finish() error {
	out := m.out
	m.out = nil
	m.close()
	return out.finish()
}

// close abandons the output's digest file (if not finished) and closes
// the inputs'.
func (m *digestMerge) close() {
	m.out.abort()
	m.out = nil
	for _, dr := range m.ins {
		dr.close()
	}
	m.ins = nil
}

// finishDigestFile logs a data file's digest file that could not be
// written: the data file is fine, and its digests are computed on demand.
func (s *Shard) finishDigestFile(err error) {
	if err != nil {
		s.logger.Warn("digest file not written", "err", err)
	}
}
