package antientropy

import (
	"encoding/binary"
	"fmt"

	"github.com/klauspost/compress/s2"

	"github.com/strata-db/strata/tsdb"
)

// reader decodes the primitives of the wire format (docs/wire.md). The
// first failure sticks: later reads return zero values, and err says what
// was wrong. Every length and count is bounded by the bytes that remain,
// so arbitrary input never allocates more than a small multiple of its own
// size.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorruptMessage, what)
	}
	r.b = nil
}

func (r *reader) byte1() byte {
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uint32() uint32 {
	v := r.uvarint()
	if v > 1<<32-1 {
		r.fail("value out of range")
		return 0
	}
	return uint32(v)
}

// bytes returns a length-prefixed byte string; it aliases the input.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("length past the end")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) digest() (d tsdb.Digest) {
	if len(r.b) < len(d) {
		r.fail("truncated digest")
		return d
	}
	copy(d[:], r.b)
	r.b = r.b[len(d):]
	return d
}

func (r *reader) uint64le() uint64 {
	if len(r.b) < 8 {
		r.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// count reads an element count and checks that count elements of at least
// minSize bytes each fit in what remains.
func (r *reader) count(minSize int) int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)/minSize) {
		r.fail(fmt.Sprintf("count %d exceeds the remaining %d bytes", n, len(r.b)))
		return 0
	}
	return int(n)
}

// header checks the version and kind bytes every message starts with.
func (r *reader) header(kind byte) {
	if v := r.byte1(); r.err == nil && v != WireVersion {
		r.fail(fmt.Sprintf("message version %d, this node speaks %d", v, WireVersion))
	}
	if k := r.byte1(); r.err == nil && k != kind {
		r.fail(fmt.Sprintf("message kind %d, want %d", k, kind))
	}
}

// end checks that the message was consumed exactly.
func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return r.err
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendHeader(dst []byte, kind byte) []byte { return append(dst, WireVersion, kind) }

// compress s2-encodes a message body or stream frame (docs/wire.md): the
// series keys repeated across a message's entries compress many times
// over.
func compress(b []byte) []byte { return s2.Encode(nil, b) }

// decompress decodes an s2 block of at most limit decoded bytes; errors
// wrap ErrCorruptMessage.
func decompress(b []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(b)
	if err != nil {
		return nil, fmt.Errorf("%w: s2 block: %w", ErrCorruptMessage, err)
	}
	if n > limit {
		return nil, fmt.Errorf("%w: s2 block decodes to %d bytes, over %d", ErrCorruptMessage, n, limit)
	}
	out, err := s2.Decode(make([]byte, n), b)
	if err != nil {
		return nil, fmt.Errorf("%w: s2 block: %w", ErrCorruptMessage, err)
	}
	return out, nil
}
