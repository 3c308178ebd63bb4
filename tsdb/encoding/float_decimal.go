package encoding

import (
	"encoding/binary"
	"math"
	"slices"
	"sync"
)

// maxDecimalExp is the largest power of ten the decimal scheme scales by;
// 10^15 is exact in float64 and keeps 2-decimal gauges far from 2^53.
const maxDecimalExp = 15

// maxDecimalMantissa bounds |m| so that float64(m) is exact.
const maxDecimalMantissa = 1 << 53

var pow10 = [maxDecimalExp + 1]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// decimalScratch is per-goroutine space for the decimal scheme.
type decimalScratch struct {
	ms  []int64
	buf []byte
}

var decimalPool = sync.Pool{New: func() any { return new(decimalScratch) }}

// toDecimal finds the smallest e <= maxDecimalExp such that every v is
// exactly float64(m)/10^e for an integer |m| <= 2^53, and stores the m in
// ms (len(ms) == len(vs)). It reports false when there is none (NaN, Inf,
// -0, too many digits, too large).
func toDecimal(ms []int64, vs []float64) (int, bool) {
	e, first := 0, 0 // vs[first:] were checked at exponent e
	for i, v := range vs {
		for {
			if m, ok := decimalFits(v, e); ok {
				ms[i] = m
				break
			}
			if e++; e > maxDecimalExp {
				return 0, false
			}
			first = i
		}
	}
	// A value that fit at a smaller exponent usually fits at e too, but
	// rounding can differ: check those again.
	for i, v := range vs[:first] {
		m, ok := decimalFits(v, e)
		if !ok {
			return 0, false
		}
		ms[i] = m
	}
	return e, true
}

// decimalFits returns the integer m nearest v*10^e and whether
// float64(m)/10^e == v bit for bit.
func decimalFits(v float64, e int) (int64, bool) {
	p := pow10[e]
	m := math.Round(v * p)
	if !(math.Abs(m) <= maxDecimalMantissa) {
		return 0, false
	}
	return int64(m), math.Float64bits(float64(int64(m))/p) == math.Float64bits(v)
}

// appendDecimal appends a decimal-scheme block of vs when vs qualifies,
// unless the mantissas are so wide (more than 32 bits per value) that Gorilla
// might do better: then it encodes both and appends the smaller. It reports
// false, leaving dst alone, when vs does not qualify.
func appendDecimal(dst []byte, vs []float64) ([]byte, bool) {
	s := decimalPool.Get().(*decimalScratch)
	defer decimalPool.Put(s)
	s.ms = slices.Grow(s.ms[:0], len(vs))[:len(vs)]
	e, ok := toDecimal(s.ms, vs)
	if !ok {
		return dst, false
	}
	// Re-frame the integer block: drop its header and count, keep its
	// scheme and body.
	ib := appendInts(s.buf[:0], typeInteger, s.ms, false)
	s.buf = ib
	_, k := binary.Uvarint(ib[1:])
	body := ib[1+k:]
	start := len(dst)
	dst = appendHeader(dst, typeFloat, schemeDecimal, len(vs))
	dst = append(dst, byte(e), ib[0]&0x0f)
	dst = append(dst, body...)
	if decSize := len(dst) - start; decSize > 4*len(vs) {
		s.buf = appendGorilla(s.buf[:0], vs)
		if len(s.buf) < decSize {
			dst = append(dst[:start], s.buf...)
		}
	}
	return dst, true
}

// decodeDecimal fills out from a decimal-scheme payload.
func decodeDecimal(out []float64, src []byte) error {
	if len(src) < 2 {
		return errTruncated
	}
	e, scheme := int(src[0]), src[1]
	if e > maxDecimalExp {
		return corruptf("decimal exponent %d > %d", e, maxDecimalExp)
	}
	s := decimalPool.Get().(*decimalScratch)
	defer decimalPool.Put(s)
	s.ms = slices.Grow(s.ms[:0], len(out))[:len(out)]
	if err := decodeIntBody(s.ms, scheme, src[2:]); err != nil {
		return err
	}
	if e == 0 {
		for i, m := range s.ms {
			out[i] = float64(m)
		}
		return nil
	}
	p := pow10[e]
	for i, m := range s.ms {
		out[i] = float64(m) / p
	}
	return nil
}
