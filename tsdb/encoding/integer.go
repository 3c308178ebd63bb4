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
	tr   [numTransforms]transformStats
	sym  []byte // residuals as bytes, for the entropy packings
	best []byte // packed residuals of the smallest candidate so far
	cand []byte // packed residuals of the candidate being built
}

// transformStats describes the residuals of one transform of a block.
type transformStats struct {
	res        []uint64 // residuals; minus base once subtracted is set
	subtracted bool     // whether base has been subtracted from res
	base       uint64   // minimum residual
	span       uint64   // largest residual minus base
	sumBits    int      // sum of the bit lengths of the residuals minus base
	entropy    int      // order-0 entropy in bytes, if span < 256 and enough residuals; else math.MaxInt
	prefix     int      // length of the seeds and base
}

// packable returns the residuals minus base, subtracting on first use.
func (st *transformStats) packable() []uint64 {
	if !st.subtracted {
		for i := range st.res {
			st.res[i] -= st.base
		}
		st.subtracted = true
	}
	return st.res
}

var intEncoderPool = sync.Pool{New: func() any { return new(intEncoder) }}

// maxPooledBytes is the largest scratch buffer kept in a pool, so one huge
// block does not pin its memory.
const maxPooledBytes = 1 << 20

// release returns e to the pool, dropping oversized buffers.
func (e *intEncoder) release() {
	if cap(e.best) > maxPooledBytes {
		e.best = nil
	}
	if cap(e.cand) > maxPooledBytes {
		e.cand = nil
	}
	intEncoderPool.Put(e)
}

// entropySlack is how many bytes an entropy coder's table and framing are
// assumed to add to the histogram's entropy when deciding whether simple8b
// could still win. It only steers which candidates are tried.
const entropySlack = 32

// minEntropyValues is the fewest residuals worth entropy coding: below it the
// coders' tables cost about what they save, and building them dominates
// encode time (a 10-value block took 10x longer per value).
const minEntropyValues = 32

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
	defer e.release()
	allowed := func(t, p int) bool { return only < 0 || only == schemeTransformed+4*t+p }

	// Bit-packing sizes are exact and cheap: start from the smallest.
	bestScheme, bestT, bestSize := -1, 0, math.MaxInt
	entT, entEst := -1, math.MaxInt // most promising transform for entropy coding
	for t := range numTransforms {
		st := &e.tr[t]
		residuals(st, vs, t, unsigned)
		st.prefix = prefixLen(vs, t, st.base)
		if size := st.prefix + 1 + packedLen(len(st.res), uint(bits.Len64(st.span))); size < bestSize && allowed(t, packBits) {
			bestScheme, bestT, bestSize = schemeTransformed+4*t+packBits, t, size
		}
		if st.entropy < math.MaxInt && (allowed(t, packHuff0) || allowed(t, packFSE)) {
			if est := st.prefix + st.entropy; est < entEst {
				entT, entEst = t, est
			}
		}
	}
	// Entropy coding is the slow part: code only the most promising
	// transform, and only if it could beat bit-packing.
	if entT >= 0 && (entEst < bestSize || only >= 0) {
		st := &e.tr[entT]
		e.sym = slices.Grow(e.sym[:0], len(st.res))[:len(st.res)]
		for i, r := range st.res {
			e.sym[i] = byte(r - st.base)
		}
		ec := entropyPool.Get().(*entropyCoder)
		if allowed(entT, packFSE) {
			if out := ec.compressFSE(e.sym); out != nil && st.prefix+len(out) < bestSize {
				bestScheme, bestT, bestSize = schemeTransformed+4*entT+packFSE, entT, st.prefix+len(out)
				e.best = append(e.best[:0], out...)
			}
		}
		// huff0 decodes faster, so it wins ties; fse's fractional code
		// lengths usually make it smaller, so estimate huff0 before coding.
		if allowed(entT, packHuff0) && ec.huff0MayFit(e.sym, bestSize-st.prefix) {
			if out := ec.compressHuff0(e.sym); out != nil && st.prefix+len(out) <= bestSize {
				bestScheme, bestT, bestSize = schemeTransformed+4*entT+packHuff0, entT, st.prefix+len(out)
				e.best = append(e.best[:0], out...)
			}
		}
		entropyPool.Put(ec)
	}
	// Simple8b wins on residuals with rare outliers; skip it when even its
	// lower bound (60 payload bits per 64-bit word) cannot win.
	for t := range numTransforms {
		st := &e.tr[t]
		if st.span > s8bMax || !allowed(t, packSimple8b) {
			continue
		}
		lower := st.prefix + 8*((st.sumBits+59)/60)
		if lower >= bestSize || (t == entT && only < 0 && lower >= entEst+entropySlack) {
			continue
		}
		if payload := appendSimple8b(e.cand[:0], st.packable()); st.prefix+len(payload) < bestSize {
			bestScheme, bestT, bestSize = schemeTransformed+4*t+packSimple8b, t, st.prefix+len(payload)
			e.best, e.cand = payload, e.best
		} else {
			e.cand = payload
		}
	}
	if bestScheme < 0 {
		panic(fmt.Sprintf("BUG: encoding: integer scheme %d cannot encode these values", only))
	}
	st := &e.tr[bestT]
	dst = appendHeader(dst, typ, byte(bestScheme), n)
	dst = appendPrefix(dst, vs, bestT, st.base)
	if (bestScheme-schemeTransformed)%4 == packBits {
		w := uint(bits.Len64(st.span))
		return appendPacked(append(dst, byte(w)), st.packable(), w)
	}
	return append(dst, e.best...)
}

// entropyBytes returns the order-0 entropy of m symbols with histogram
// hist, in bytes rounded up: about what huff0 or fse reach before their
// table headers.
func entropyBytes(hist *[256]uint32, m int) int {
	fm := float64(m)
	bitsTotal := 0.0
	for _, c := range hist {
		if c > 0 {
			bitsTotal += float64(c) * math.Log2(fm/float64(c))
		}
	}
	return int(math.Ceil(bitsTotal / 8))
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

// prefixLen is len(appendPrefix(nil, vs, t, base)).
func prefixLen[T integer](vs []T, t int, base uint64) int {
	var buf [3 * binary.MaxVarintLen64]byte
	return len(appendPrefix(buf[:0], vs, t, base))
}

// residuals fills st with the residuals of transform t over vs and their
// statistics. The base is the residuals' minimum, unsigned for untransformed
// unsigneds and signed otherwise.
func residuals[T integer](st *transformStats, vs []T, t int, unsigned bool) {
	m := len(vs) - t
	st.res = slices.Grow(st.res[:0], m)[:m]
	st.subtracted = false
	res := st.res
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	switch t {
	case transformNone:
		if unsigned {
			ulo, uhi := uint64(math.MaxUint64), uint64(0)
			for i, v := range vs {
				res[i] = uint64(v)
				ulo, uhi = min(ulo, uint64(v)), max(uhi, uint64(v))
			}
			st.base, st.span = ulo, uhi-ulo
			st.stats()
			return
		}
		for i, v := range vs {
			res[i] = uint64(v)
			lo, hi = min(lo, int64(v)), max(hi, int64(v))
		}
	case transformDelta:
		for i := range res {
			d := uint64(vs[i+1]) - uint64(vs[i])
			res[i] = d
			lo, hi = min(lo, int64(d)), max(hi, int64(d))
		}
	case transformDoD:
		prev := uint64(vs[1]) - uint64(vs[0])
		for i := range res {
			d := uint64(vs[i+2]) - uint64(vs[i+1])
			x := d - prev
			res[i] = x
			lo, hi = min(lo, int64(x)), max(hi, int64(x))
			prev = d
		}
	}
	st.base, st.span = uint64(lo), uint64(hi)-uint64(lo)
	st.stats()
}

// stats sets sumBits and entropy from the residuals, base and span, in one
// pass that leaves the residuals as they are.
func (st *transformStats) stats() {
	sum := 0
	st.entropy = math.MaxInt
	if st.span >= 256 || len(st.res) < minEntropyValues {
		for _, r := range st.res {
			sum += bits.Len64(r - st.base)
		}
		st.sumBits = sum
		return
	}
	var hist [256]uint32
	for _, r := range st.res {
		x := r - st.base
		sum += bits.Len64(x)
		hist[byte(x)]++
	}
	st.sumBits = sum
	st.entropy = entropyBytes(&hist, len(st.res))
}
