// Package bytereader reads the primitive encodings Strata's binary formats
// share — uvarints, varints, little-endian integers, fixed and
// length-prefixed byte strings, element counts — for the decoders of WAL
// and tombstone records (tsdb), point batches (coordinator) and
// anti-entropy messages, which all read input that may be corrupt or
// hostile.
package bytereader

import (
	"encoding/binary"
	"fmt"
)

// Reader reads from a byte slice. The first failure sticks: every later
// read returns a zero value and Err reports the failure, wrapping the
// format's corruption error and giving the offset where it happened. Reads
// of byte strings alias the input; nothing allocates except the error.
// Lengths and counts are checked against the bytes left, so input never
// makes a caller allocate more than a small multiple of its own size.
type Reader struct {
	rest    []byte
	size    int
	err     error
	corrupt error
}

// New returns a Reader of b whose failures wrap corrupt.
func New(b []byte, corrupt error) Reader {
	return Reader{rest: b, size: len(b), corrupt: corrupt}
}

// Err returns the first failure, or nil.
func (r *Reader) Err() error { return r.err }

// Rest returns the bytes not read yet (none after a failure).
func (r *Reader) Rest() []byte { return r.rest }

// Offset returns how many bytes have been read.
func (r *Reader) Offset() int { return r.size - len(r.rest) }

// Fail records a failure described by what at the current offset, unless
// one is recorded already, and stops the reading.
func (r *Reader) Fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("at offset %d: %s: %w", r.Offset(), what, r.corrupt)
	}
	r.rest = nil
}

// Failf is Fail with a formatted description.
func (r *Reader) Failf(format string, args ...any) {
	if r.err == nil {
		r.Fail(fmt.Sprintf(format, args...))
	}
	r.rest = nil
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.rest) < 1 {
		r.Fail("truncated byte")
		return 0
	}
	v := r.rest[0]
	r.rest = r.rest[1:]
	return v
}

// Uvarint reads an unsigned varint (encoding/binary's).
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.rest)
	if n <= 0 {
		r.Fail("bad uvarint")
		return 0
	}
	r.rest = r.rest[n:]
	return v
}

// Varint reads a zig-zag varint (encoding/binary's).
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.rest)
	if n <= 0 {
		r.Fail("bad varint")
		return 0
	}
	r.rest = r.rest[n:]
	return v
}

// Uint64LE reads a little-endian uint64.
func (r *Reader) Uint64LE() uint64 {
	if len(r.rest) < 8 {
		r.Fail("truncated uint64")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.rest)
	r.rest = r.rest[8:]
	return v
}

// Fixed reads n bytes.
func (r *Reader) Fixed(n int) []byte {
	if len(r.rest) < n {
		r.Fail("truncated")
		return nil
	}
	v := r.rest[:n:n]
	r.rest = r.rest[n:]
	return v
}

// Bytes reads a byte string prefixed by its length as a uvarint.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if n > uint64(len(r.rest)) {
		r.Failf("length %d past the end (%d bytes left)", n, len(r.rest))
		return nil
	}
	v := r.rest[:n:n]
	r.rest = r.rest[n:]
	return v
}

// Count reads an element count as a uvarint and checks that that many
// elements of at least minSize bytes each fit in the bytes left.
func (r *Reader) Count(minSize int) int {
	n := r.Uvarint()
	if n > uint64(len(r.rest)/minSize) {
		r.Failf("count %d exceeds the remaining %d bytes", n, len(r.rest))
		return 0
	}
	return int(n)
}
