package hh

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Segment and record framing; docs/format.md is the specification.
const (
	// segmentHeaderSize is the size of the header opening each segment.
	segmentHeaderSize = 8
	// recordHeaderSize is the size of the fixed header before a payload.
	recordHeaderSize = 32
	// formatVersion is the segment format this package writes and reads.
	formatVersion = 1
	// segmentExt is the file name suffix of segments.
	segmentExt = ".seg"
	// minSegmentSize is the smallest segment-size accepted.
	minSegmentSize = 1 << 20
	// maxRecordSize bounds a payload: its length field is a uint32.
	maxRecordSize = 1<<32 - 1
	// readChunk is the least a segment reader reads at a time, so small
	// records cost one read system call per chunk, not one each.
	readChunk = 1 << 20
)

// segmentMagic opens every segment file: "STHH" (STrata Hinted Handoff).
var segmentMagic = [4]byte{'S', 'T', 'H', 'H'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcOf is the CRC32-C of b.
func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// segmentName returns the file name of segment id, zero-padded so that
// names sort in id order.
func segmentName(id uint64) string { return fmt.Sprintf("%020d%s", id, segmentExt) }

// listSegments returns the ids of the segment files in dir, ascending.
// Other files are ignored.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var ids []uint64
	for _, e := range entries {
		digits, ok := strings.CutSuffix(e.Name(), segmentExt)
		if !ok || !e.Type().IsRegular() || len(digits) != 20 {
			continue
		}
		if id, err := strconv.ParseUint(digits, 10, 64); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

func segmentPath(dir string, id uint64) string { return filepath.Join(dir, segmentName(id)) }

// appendSegmentHeader appends the segment header to dst.
func appendSegmentHeader(dst []byte) []byte {
	dst = append(dst, segmentMagic[:]...)
	return append(dst, formatVersion, 0, 0, 0)
}

// checkSegmentHeader reports whether h (segmentHeaderSize bytes) is a
// header this package reads.
func checkSegmentHeader(h []byte) error {
	if [4]byte(h[:4]) != segmentMagic {
		return fmt.Errorf("%w: bad segment magic %x", ErrCorrupt, h[:4])
	}
	if h[4] != formatVersion || h[5] != 0 || h[6] != 0 || h[7] != 0 {
		return fmt.Errorf("%w: unsupported segment version %d (flags %x)", ErrCorrupt, h[4], h[5:8])
	}
	return nil
}

// recordHeader is the fixed part of a record.
type recordHeader struct {
	size     uint32 // payload bytes
	shardID  uint64
	enqueued int64  // unix ns
	points   uint32 // points in the payload, as the BatchCodec counted them
	crc      uint32 // CRC32-C of the payload
}

// appendRecord appends a record framing payload, whose CRC32-C is crc, to
// dst. len(payload) must not exceed maxRecordSize.
func appendRecord(dst []byte, h recordHeader, payload []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, h.size)
	dst = binary.LittleEndian.AppendUint64(dst, h.shardID)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.enqueued))
	dst = binary.LittleEndian.AppendUint32(dst, h.points)
	dst = binary.LittleEndian.AppendUint32(dst, h.crc)
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
	return append(dst, payload...)
}

// parseRecordHeader decodes and checks a record header (recordHeaderSize
// bytes of b).
func parseRecordHeader(b []byte) (recordHeader, error) {
	b = b[:recordHeaderSize]
	if got, want := crc32.Checksum(b[:28], castagnoli), binary.LittleEndian.Uint32(b[28:]); got != want {
		return recordHeader{}, fmt.Errorf("%w: record header checksum mismatch: got %08x, want %08x", ErrCorrupt, got, want)
	}
	return recordHeader{
		size:     binary.LittleEndian.Uint32(b[0:]),
		shardID:  binary.LittleEndian.Uint64(b[4:]),
		enqueued: int64(binary.LittleEndian.Uint64(b[12:])),
		points:   binary.LittleEndian.Uint32(b[20:]),
		crc:      binary.LittleEndian.Uint32(b[24:]),
	}, nil
}

// record is one decoded record; payload aliases the reader's buffer.
type record struct {
	recordHeader
	payload []byte
	off     int64 // offset of the record in its segment
}

// end is the offset just past the record.
func (r *record) end() int64 { return r.off + recordHeaderSize + int64(len(r.payload)) }

// segmentReader decodes the records of one segment from an io.ReaderAt,
// through a read-ahead window it reuses, so reading allocates nothing once
// the window has grown to the largest record. It never allocates more than
// the bytes the segment has left, whatever its bytes say.
type segmentReader struct {
	src    io.ReaderAt
	size   int64  // readable bytes of the segment
	off    int64  // offset of the next record
	buf    []byte // window: the segment's bytes from bufOff
	bufOff int64
}

// reset makes r read a segment of size bytes from src, starting at off
// (segmentHeaderSize for the first record), keeping its buffer.
func (r *segmentReader) reset(src io.ReaderAt, size, off int64) {
	r.src, r.size, r.off = src, size, off
	r.buf, r.bufOff = r.buf[:0], 0
}

// window returns the n bytes of the segment at off, reading them, and up
// to readChunk bytes in all, if the window does not hold them. The caller
// checked that they exist.
func (r *segmentReader) window(off int64, n int) ([]byte, error) {
	return r.windowAhead(off, n, readChunk)
}

// windowAhead is window reading at least ahead bytes when it reads.
func (r *segmentReader) windowAhead(off int64, n, ahead int) ([]byte, error) {
	if off >= r.bufOff && off+int64(n) <= r.bufOff+int64(len(r.buf)) {
		i := off - r.bufOff
		return r.buf[i : i+int64(n)], nil
	}
	want := int64(max(n, ahead))
	want = min(want, r.size-off)
	if int64(cap(r.buf)) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	r.bufOff = off
	if n, err := r.src.ReadAt(r.buf, off); err != nil && !(errors.Is(err, io.EOF) && int64(n) == want) {
		r.buf = r.buf[:0]
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: segment shorter than %d bytes: %w", ErrCorrupt, off+want, io.ErrUnexpectedEOF)
		}
		return nil, fmt.Errorf("read segment at %d: %w", off, err)
	}
	return r.buf[:n], nil
}

// next returns the record at the reader's offset and moves past it; its
// payload is valid until the next call. It returns io.EOF at the end of
// the readable bytes. A decoding error wraps ErrCorrupt (and also
// io.ErrUnexpectedEOF when the record is cut short by the end, as a torn
// tail is); the offset then stays on the bad record (see resync). Other
// errors come from reading.
func (r *segmentReader) next() (record, error) {
	remaining := r.size - r.off
	if remaining <= 0 {
		return record{}, io.EOF
	}
	if remaining < recordHeaderSize {
		return record{}, fmt.Errorf("%w: record header: %d of %d bytes: %w", ErrCorrupt, remaining, recordHeaderSize, io.ErrUnexpectedEOF)
	}
	rec, err := r.at(r.off)
	if err != nil {
		return record{}, err
	}
	r.off = rec.end()
	return rec, nil
}

// at decodes the record at off, which leaves room for a header.
func (r *segmentReader) at(off int64) (record, error) {
	b, err := r.window(off, recordHeaderSize)
	if err != nil {
		return record{}, err
	}
	h, err := parseRecordHeader(b)
	if err != nil {
		return record{}, err
	}
	if left := r.size - off - recordHeaderSize; int64(h.size) > left {
		return record{}, fmt.Errorf("%w: record length %d past the end of the segment (%d bytes left): %w",
			ErrCorrupt, h.size, left, io.ErrUnexpectedEOF)
	}
	b, err = r.window(off, recordHeaderSize+int(h.size))
	if err != nil {
		return record{}, err
	}
	payload := b[recordHeaderSize:]
	if got := crcOf(payload); got != h.crc {
		return record{}, fmt.Errorf("%w: record payload checksum mismatch: got %08x, want %08x", ErrCorrupt, got, h.crc)
	}
	return record{recordHeader: h, payload: payload, off: off}, nil
}

// resync moves the reader past a corrupt record to the next offset at
// which a whole, valid record starts, or to the end of the readable bytes
// when there is none. It returns the bytes skipped. Read errors other than
// corruption stop it and are returned.
func (r *segmentReader) resync() (skipped int64, err error) {
	start := r.off
	for off := start + 1; off+recordHeaderSize <= r.size; off++ {
		if _, err := r.at(off); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				return off - start, err
			}
			continue
		}
		r.off = off
		return off - start, nil
	}
	r.off = r.size
	return r.size - start, nil
}
