package wal

import (
	"bufio"
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
	// segmentHeaderSize is the size of the header at the start of each segment.
	segmentHeaderSize = 8
	// recordHeaderSize is the size of the length + checksum before a payload.
	recordHeaderSize = 8
	// formatVersion is the segment format written by this package.
	formatVersion = 1
	// segmentExt is the file name suffix of segments.
	segmentExt = ".wal"
	// segmentNameLen is the length of a segment file name: 20 digits + ".wal".
	segmentNameLen = 20 + len(segmentExt)
	// readBufferSize is the bufio buffer of segment readers; payloads larger
	// than it are read straight into the record buffer.
	readBufferSize = 64 << 10
)

// segmentMagic opens every segment file: "STWL" (STrata WaL).
var segmentMagic = [4]byte{'S', 'T', 'W', 'L'}

// castagnoli is the CRC32-C table; crc32 uses the SSE4.2/ARMv8 instructions
// for it where available.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// segmentName returns the file name of segment id, zero-padded so that names
// sort in id order.
func segmentName(id uint64) string {
	return fmt.Sprintf("%020d%s", id, segmentExt)
}

// parseSegmentName returns the id of a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	if len(name) != segmentNameLen || !strings.HasSuffix(name, segmentExt) {
		return 0, false
	}
	digits := name[:20]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || id == 0 {
		return 0, false
	}
	return id, true
}

// listSegments returns the ids of the segment files in dir, ascending.
// Files with other names are ignored.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var ids []uint64
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if id, ok := parseSegmentName(e.Name()); ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// segmentPath returns the path of segment id in dir.
func segmentPath(dir string, id uint64) string {
	return filepath.Join(dir, segmentName(id))
}

// appendSegmentHeader appends the segment header to dst.
func appendSegmentHeader(dst []byte) []byte {
	dst = append(dst, segmentMagic[:]...)
	return append(dst, formatVersion, 0, 0, 0)
}

// appendRecord appends rec framed as a record (length, CRC32-C, payload).
// len(rec) must fit in uint32; Write checks it against MaxRecordSize first.
func appendRecord(dst, rec []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(rec)))
	crc := crc32.Update(0, castagnoli, dst[len(dst)-4:])
	crc = crc32.Update(crc, castagnoli, rec)
	dst = binary.LittleEndian.AppendUint32(dst, crc)
	return append(dst, rec...)
}

// segmentReader decodes the records of one segment. It never allocates more
// than min(maxRecord, size) bytes for a record, whatever the bytes say.
type segmentReader struct {
	r         *bufio.Reader
	size      int64 // bytes in the segment
	off       int64 // offset just past the last good header or record
	maxRecord int
	buf       []byte // payload buffer, reused between records
	hdr       [recordHeaderSize]byte
}

// newSegmentReader returns a reader of records up to maxRecord bytes long.
// Call reset before reading a segment.
func newSegmentReader(maxRecord int) *segmentReader {
	return &segmentReader{
		r:         bufio.NewReaderSize(nil, readBufferSize),
		maxRecord: maxRecord,
	}
}

// reset makes r read a segment of size bytes from src, keeping its buffers.
func (r *segmentReader) reset(src io.Reader, size int64) {
	r.r.Reset(src)
	r.size = size
	r.off = 0
}

// readHeader checks the segment header. A segment too short to hold one, or
// whose header is all zero bytes, is torn: the error wraps
// io.ErrUnexpectedEOF as well as ErrCorrupt.
func (r *segmentReader) readHeader() error {
	if r.size < segmentHeaderSize {
		return fmt.Errorf("%w: segment header: %d of %d bytes: %w", ErrCorrupt, r.size, segmentHeaderSize, io.ErrUnexpectedEOF)
	}
	var h [segmentHeaderSize]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return r.readErr("segment header", err)
	}
	if h == ([segmentHeaderSize]byte{}) {
		return fmt.Errorf("%w: segment header is zeroed: %w", ErrCorrupt, io.ErrUnexpectedEOF)
	}
	if [4]byte(h[:4]) != segmentMagic {
		return fmt.Errorf("%w: bad segment magic %x", ErrCorrupt, h[:4])
	}
	if h[4] != formatVersion || h[5] != 0 || h[6] != 0 || h[7] != 0 {
		return fmt.Errorf("%w: unsupported segment version %d (flags %x)", ErrCorrupt, h[4], h[5:8])
	}
	r.off = segmentHeaderSize
	return nil
}

// next returns the next record's payload, valid until the next call. It
// returns io.EOF at the clean end of the segment. Decoding errors wrap
// ErrCorrupt; a record cut short by the end of the segment (or a length that
// points past it) also wraps io.ErrUnexpectedEOF. Other errors come from
// reading.
func (r *segmentReader) next() ([]byte, error) {
	remaining := r.size - r.off
	if remaining == 0 {
		return nil, io.EOF
	}
	if remaining < recordHeaderSize {
		return nil, fmt.Errorf("%w: record header: %d of %d bytes: %w", ErrCorrupt, remaining, recordHeaderSize, io.ErrUnexpectedEOF)
	}
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		return nil, r.readErr("record header", err)
	}
	n := binary.LittleEndian.Uint32(r.hdr[0:4])
	want := binary.LittleEndian.Uint32(r.hdr[4:8])
	if int64(n) > remaining-recordHeaderSize {
		return nil, fmt.Errorf("%w: record length %d past end of segment (%d bytes left): %w",
			ErrCorrupt, n, remaining-recordHeaderSize, io.ErrUnexpectedEOF)
	}
	if uint64(n) > uint64(r.maxRecord) {
		return nil, fmt.Errorf("%w: record length %d over limit %d", ErrCorrupt, n, r.maxRecord)
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	payload := r.buf[:n]
	if _, err := io.ReadFull(r.r, payload); err != nil {
		return nil, r.readErr("record payload", err)
	}
	crc := crc32.Update(0, castagnoli, r.hdr[0:4])
	crc = crc32.Update(crc, castagnoli, payload)
	if crc != want {
		return nil, fmt.Errorf("%w: checksum mismatch: got %08x, want %08x", ErrCorrupt, crc, want)
	}
	r.off += recordHeaderSize + int64(n)
	return payload, nil
}

// readErr wraps an error from the underlying reader. Running out of bytes
// before the size the reader was given means the file shrank under it: the
// same as a torn record.
func (r *segmentReader) readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("read %s: %w", what, err)
}
