package encoding

import (
	"errors"
	"sync"

	"github.com/klauspost/compress/fse"
	"github.com/klauspost/compress/huff0"
)

// The entropy packings hand a byte stream (one byte per residual) to
// klauspost/compress: huff0 (Huffman, a 1X stream with its table) or fse
// (finite-state entropy, with its normalized counts). Both formats are those
// of zstd's literals and are documented by the zstd specification (RFC 8878).

// entropyCoder is the per-goroutine state of the entropy packings.
type entropyCoder struct {
	huff huff0.Scratch
	fse  fse.Scratch // compression
	dec  *fseDecoder // decompression, made on first use
	buf  []byte
}

var entropyPool = sync.Pool{New: func() any { return new(entropyCoder) }}

// compressHuff0 returns the huff0 encoding of in (table then 1X stream), or
// nil if huff0 cannot make it smaller. The result aliases the coder's scratch
// space.
func (e *entropyCoder) compressHuff0(in []byte) []byte {
	e.huff.Reuse = huff0.ReusePolicyNone
	out, _, err := huff0.Compress1X(in, &e.huff)
	if err != nil {
		return nil
	}
	return out
}

// huff0EstimateSlack is how far below its real size huff0.EstimateSizes may
// put a stream; estimates within it are confirmed by compressing.
const huff0EstimateSlack = 4

// huff0MayFit reports whether huff0 might code in into at most limit bytes,
// judged from its size estimate (no bit stream is written).
func (e *entropyCoder) huff0MayFit(in []byte, limit int) bool {
	e.huff.Reuse = huff0.ReusePolicyNone
	table, data, _, err := huff0.EstimateSizes(in, &e.huff)
	return err == nil && table+data-huff0EstimateSlack <= limit
}

// compressFSE returns the fse encoding of in, or nil if fse cannot make it
// smaller. The result aliases the coder's scratch space.
func (e *entropyCoder) compressFSE(in []byte) []byte {
	out, err := fse.Compress(in, &e.fse)
	if err != nil {
		return nil
	}
	return out
}

// errEntropySize reports a stream that decoded to the wrong number of bytes.
var errEntropySize = errors.New("entropy stream length mismatch")

// decodeHuff0 decodes src, which must hold exactly m symbols, into the
// coder's buffer.
func (e *entropyCoder) decodeHuff0(src []byte, m int) ([]byte, error) {
	e.huff.MaxDecodedSize = m
	s, rest, err := huff0.ReadTable(src, &e.huff)
	if err != nil {
		return nil, corruptf("read huff0 table: %w", err)
	}
	if cap(e.buf) < m {
		e.buf = make([]byte, 0, m)
	}
	out, err := s.Decoder().Decompress1X(e.buf[:0:m], rest)
	if err != nil {
		return nil, corruptf("decode huff0 stream: %w", err)
	}
	if len(out) != m {
		return nil, corruptf("huff0 stream holds %d values, want %d: %w", len(out), m, errEntropySize)
	}
	return out, nil
}

// decodeFSE decodes src, which must hold exactly m symbols, into the coder's
// buffer.
func (e *entropyCoder) decodeFSE(src []byte, m int) ([]byte, error) {
	if e.dec == nil {
		e.dec = new(fseDecoder)
	}
	if cap(e.buf) < m {
		e.buf = make([]byte, 0, m)
	}
	out := e.buf[:m]
	if err := e.dec.decode(out, src); err != nil {
		return nil, err
	}
	return out, nil
}
