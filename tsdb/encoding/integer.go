package encoding

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
)

// Integer-family schemes (timestamps, integers, unsigneds). See
// docs/format.md. Besides schemeEmpty and schemeConst, a scheme is
// schemeTransformed + 4*transform + packing.
const (
	schemeConst       = 1 // v_i = first + i*delta
	schemeTransformed = 2
	schemeMaxInt      = schemeTransformed + 4*numTransforms - 1
)

// Transforms turn values into residuals before packing.
const (
	transformNone  = 0 // residual_i = v_i                (no seeds)
	transformDelta = 1 // residual_i = v_i - v_(i-1)      (seed v_0)
	transformDoD   = 2 // residual_i = d_i - d_(i-1)      (seeds v_0, d_1)
	numTransforms  = 3
)

// Packings store the residuals minus their minimum ("base").
const (
	packSimple8b = 0
	packBits     = 1
	packHuff0    = 2
	packFSE      = 3
)

// intEncoder is the per-goroutine scratch space of the integer encoders.
type intEncoder struct {
	res        []uint64 // residuals of the transform being tried, minus base
	sym        []byte   // residuals as bytes, for the entropy packings
	prefix     []byte   // seeds and base of the transform being tried
	cand       []byte   // packed residuals of the candidate being built
	best       []byte   // packed residuals of the smallest candidate so far
	bestPrefix []byte   // prefix of the smallest candidate so far
	bestScheme int      // scheme of the smallest candidate, -1 if none yet
	bestSize   int      // len(bestPrefix) + len(best)
	only       int      // if >= 0, the one scheme allowed (tests)
}

var intEncoderPool = sync.Pool{New: func() any { return new(intEncoder) }}

// better reports whether a candidate of the given scheme whose packed
// residuals take size bytes would beat the best one so far.
func (e *intEncoder) better(scheme, size int) bool {
	if e.only >= 0 && scheme != e.only {
		return false
	}
	return e.bestScheme < 0 || len(e.prefix)+size < e.bestSize
}

// keep records payload (which must be e.cand's storage) with the current
// prefix as the best candidate.
func (e *intEncoder) keep(scheme int, payload []byte) {
	e.bestScheme = scheme
	e.bestSize = len(e.prefix) + len(payload)
	e.best, e.cand = payload, e.best
	e.bestPrefix = append(e.bestPrefix[:0], e.prefix...)
}

// AppendTimestamps encodes ts and appends the block to dst. Any order of
// values works; ascending timestamps at a regular interval take a few bytes
// per block. It panics if len(ts) > MaxValues.
func AppendTimestamps(dst []byte, ts []int64) []byte {
	return appendInts(dst, typeTimestamp, ts, false)
}

// DecodeTimestamps decodes a block written by AppendTimestamps and appends
// the values to dst.
func DecodeTimestamps(dst []int64, src []byte) ([]int64, error) {
	return decodeInts(dst, src, typeTimestamp)
}

// AppendIntegers encodes vs and appends the block to dst, choosing per block
// the smallest of run-length, simple8b, bit-packing and entropy-coded
// packings of the values, their deltas or their delta-of-deltas. It panics if
// len(vs) > MaxValues.
func AppendIntegers(dst []byte, vs []int64) []byte {
	return appendInts(dst, typeInteger, vs, false)
}

// DecodeIntegers decodes a block written by AppendIntegers and appends the
// values to dst.
func DecodeIntegers(dst []int64, src []byte) ([]int64, error) {
	return decodeInts(dst, src, typeInteger)
}

// AppendUnsigneds encodes vs like AppendIntegers and appends the block to
// dst. It panics if len(vs) > MaxValues.
func AppendUnsigneds(dst []byte, vs []uint64) []byte {
	return appendInts(dst, typeUnsigned, vs, true)
}

// DecodeUnsigneds decodes a block written by AppendUnsigneds and appends the
// values to dst.
func DecodeUnsigneds(dst []uint64, src []byte) ([]uint64, error) {
	return decodeInts(dst, src, typeUnsigned)
}

// constDelta reports whether vs (len >= 1) is an arithmetic progression and
// returns its step.
func constDelta[T integer](vs []T) (uint64, bool) {
	if len(vs) < 2 {
		return 0, true
	}
	d := uint64(vs[1]) - uint64(vs[0])
	for i := 2; i < len(vs); i++ {
		if uint64(vs[i])-uint64(vs[i-1]) != d {
			return 0, false
		}
	}
	return d, true
}

func appendInts[T integer](dst []byte, typ blockType, vs []T, unsigned bool) []byte {
	return appendIntsWith(dst, typ, vs, unsigned, -1)
}

// appendIntsWith encodes like appendInts; only >= 0 restricts the encoder to
// that transformed scheme (for tests), which needs len(vs) >= 3 and values
// that fit the scheme's packing.
func appendIntsWith[T integer](dst []byte, typ blockType, vs []T, unsigned bool, only int) []byte {
	n := len(vs)
	checkCount(n)
	if n == 0 {
		return append(dst, header(typ, schemeEmpty))
	}
	if d, ok := constDelta(vs); ok && (only < 0 || n < 3) {
		dst = appendHeader(dst, typ, schemeConst, n)
		dst = binary.AppendVarint(dst, int64(vs[0]))
		return binary.AppendVarint(dst, int64(d))
	}
	// n >= 3 from here: two values always form a progression.
	e := intEncoderPool.Get().(*intEncoder)
	defer intEncoderPool.Put(e)
	e.bestScheme = -1
	e.only = only
	for t := range numTransforms {
		base, span := residuals(e, vs, t, unsigned)
		res := e.res
		e.prefix = appendPrefix(e.prefix[:0], vs, t, base)
		w := uint(bits.Len64(span))
		sc := schemeTransformed + 4*t
		if e.better(sc+packBits, 1+packedLen(len(res), w)) {
			e.keep(sc+packBits, appendPacked(append(e.cand[:0], byte(w)), res, w))
		}
		if span <= s8bMax && e.better(sc+packSimple8b, 8*((len(res)+239)/240)) {
			if payload := appendSimple8b(e.cand[:0], res); e.better(sc+packSimple8b, len(payload)) {
				e.keep(sc+packSimple8b, payload)
			}
		}
		if span < 256 && len(res) >= 2 {
			e.sym = slices.Grow(e.sym[:0], len(res))[:len(res)]
			for i, r := range res {
				e.sym[i] = byte(r)
			}
			ec := entropyPool.Get().(*entropyCoder)
			if out := ec.compressHuff0(e.sym); out != nil && e.better(sc+packHuff0, len(out)) {
				e.keep(sc+packHuff0, append(e.cand[:0], out...))
			}
			if out := ec.compressFSE(e.sym); out != nil && e.better(sc+packFSE, len(out)) {
				e.keep(sc+packFSE, append(e.cand[:0], out...))
			}
			entropyPool.Put(ec)
		}
	}
	if e.bestScheme < 0 {
		panic(fmt.Sprintf("BUG: encoding: integer scheme %d cannot encode these values", only))
	}
	dst = appendHeader(dst, typ, byte(e.bestScheme), n)
	dst = append(dst, e.bestPrefix...)
	return append(dst, e.best...)
}

// appendPrefix appends the seeds of transform t and the residuals' base.
func appendPrefix[T integer](dst []byte, vs []T, t int, base uint64) []byte {
	if t >= transformDelta {
		dst = binary.AppendVarint(dst, int64(vs[0]))
	}
	if t == transformDoD {
		dst = binary.AppendVarint(dst, int64(uint64(vs[1])-uint64(vs[0])))
	}
	return binary.AppendVarint(dst, int64(base))
}

// residuals fills e.res with the residuals of transform t over vs minus
// their minimum, and returns that minimum (base) and the largest residual
// (span). The minimum is unsigned for untransformed unsigneds and signed
// otherwise.
func residuals[T integer](e *intEncoder, vs []T, t int, unsigned bool) (base, span uint64) {
	m := len(vs) - t
	e.res = slices.Grow(e.res[:0], m)[:m]
	res := e.res
	switch t {
	case transformNone:
		for i, v := range vs {
			res[i] = uint64(v)
		}
	case transformDelta:
		for i := 1; i < len(vs); i++ {
			res[i-1] = uint64(vs[i]) - uint64(vs[i-1])
		}
	case transformDoD:
		prev := uint64(vs[1]) - uint64(vs[0])
		for i := 2; i < len(vs); i++ {
			d := uint64(vs[i]) - uint64(vs[i-1])
			res[i-2] = d - prev
			prev = d
		}
	}
	if t == transformNone && unsigned {
		lo, hi := uint64(math.MaxUint64), uint64(0)
		for _, r := range res {
			lo, hi = min(lo, r), max(hi, r)
		}
		base = lo
		span = hi - lo
	} else {
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for _, r := range res {
			lo, hi = min(lo, int64(r)), max(hi, int64(r))
		}
		base = uint64(lo)
		span = uint64(hi) - uint64(lo)
	}
	for i := range res {
		res[i] -= base
	}
	return base, span
}

func decodeInts[T integer](dst []T, src []byte, typ blockType) ([]T, error) {
	scheme, n, rest, err := readHeader(src, typ)
	if err != nil || n == 0 {
		return dst, err
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	if err := decodeIntBody(dst[start:], scheme, rest); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// decodeIntBody decodes the part of a block after its count into out.
func decodeIntBody[T integer](out []T, scheme byte, src []byte) error {
	if scheme == schemeConst {
		first, src, err := readVarint(src)
		if err != nil {
			return err
		}
		d, src, err := readVarint(src)
		if err != nil {
			return err
		}
		if len(src) != 0 {
			return corruptf("%d trailing bytes", len(src))
		}
		v := uint64(first)
		for i := range out {
			out[i] = T(v)
			v += uint64(d)
		}
		return nil
	}
	if scheme < schemeTransformed || scheme > schemeMaxInt {
		return corruptf("unknown integer scheme %d", scheme)
	}
	t, p := int(scheme-schemeTransformed)/4, int(scheme-schemeTransformed)%4
	if len(out) < t {
		return corruptf("%d values, transform %d needs at least %d", len(out), t, t)
	}
	var seed0, seed1 int64
	var err error
	if t >= transformDelta {
		if seed0, src, err = readVarint(src); err != nil {
			return err
		}
	}
	if t == transformDoD {
		if seed1, src, err = readVarint(src); err != nil {
			return err
		}
	}
	b, src, err := readVarint(src)
	if err != nil {
		return err
	}
	base := uint64(b)
	res := out[t:]
	switch p {
	case packSimple8b:
		if err := decodeSimple8b(res, src); err != nil {
			return err
		}
	case packBits:
		if len(src) == 0 {
			return errTruncated
		}
		w := uint(src[0])
		src = src[1:]
		if w > 64 {
			return corruptf("bit width %d > 64", w)
		}
		if want := packedLen(len(res), w); len(src) != want {
			if len(src) < want {
				return errTruncated
			}
			return corruptf("bit-packed section is %d bytes, want %d", len(src), want)
		}
		unpackBits(res, src, w)
	case packHuff0, packFSE:
		ec := entropyPool.Get().(*entropyCoder)
		var sym []byte
		if p == packHuff0 {
			sym, err = ec.decodeHuff0(src, len(res))
		} else {
			sym, err = ec.decodeFSE(src, len(res))
		}
		if err == nil {
			for i, s := range sym {
				res[i] = T(s)
			}
		}
		entropyPool.Put(ec)
		if err != nil {
			return err
		}
	}
	undoTransform(out, t, uint64(seed0), uint64(seed1), base)
	return nil
}

// undoTransform turns out[t:] from residuals minus base back into values.
func undoTransform[T integer](out []T, t int, seed0, seed1, base uint64) {
	switch t {
	case transformNone:
		for i, r := range out {
			out[i] = T(uint64(r) + base)
		}
	case transformDelta:
		v := seed0
		out[0] = T(v)
		for i := 1; i < len(out); i++ {
			v += uint64(out[i]) + base
			out[i] = T(v)
		}
	case transformDoD:
		v, d := seed0, seed1
		out[0] = T(v)
		v += d
		out[1] = T(v)
		for i := 2; i < len(out); i++ {
			d += uint64(out[i]) + base
			v += d
			out[i] = T(v)
		}
	}
}
