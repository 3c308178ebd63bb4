package antientropy

import (
	"encoding/binary"
	"fmt"

	"github.com/klauspost/compress/s2"

	"github.com/strata-db/strata/internal/bytereader"
	"github.com/strata-db/strata/tsdb"
)

// reader decodes the wire format (docs/wire.md): bytereader's primitives,
// failing with ErrCorruptMessage, and this format's own. The first failure
// sticks: later reads return zero values, and Err says what was wrong.
// Every length and count is bounded by the bytes that remain, so arbitrary
// input never allocates more than a small multiple of its own size.
type reader struct{ bytereader.Reader }

func newReader(b []byte) reader { return reader{bytereader.New(b, ErrCorruptMessage)} }

func (r *reader) uint32() uint32 {
	v := r.Uvarint()
	if v > 1<<32-1 {
		r.Fail("value out of range")
		return 0
	}
	return uint32(v)
}

func (r *reader) digest() (d tsdb.Digest) {
	copy(d[:], r.Fixed(len(d)))
	return d
}

// header checks the version and kind bytes every message starts with.
func (r *reader) header(kind byte) {
	if v := r.Byte(); r.Err() == nil && v != WireVersion {
		r.Failf("message version %d, this node speaks %d", v, WireVersion)
	}
	if k := r.Byte(); r.Err() == nil && k != kind {
		r.Failf("message kind %d, want %d", k, kind)
	}
}

// end checks that the message was consumed exactly.
func (r *reader) end() error {
	if r.Err() == nil && len(r.Rest()) != 0 {
		r.Fail("trailing bytes")
	}
	return r.Err()
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
