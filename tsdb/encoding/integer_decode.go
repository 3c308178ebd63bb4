package encoding

import "slices"

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
			undoBytes(out, sym, t, uint64(seed0), uint64(seed1), base)
		}
		entropyPool.Put(ec)
		return err
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

// undoBytes is undoTransform for residuals held as bytes in sym
// (len(sym) == len(out) - t), fused into one pass.
func undoBytes[T integer](out []T, sym []byte, t int, seed0, seed1, base uint64) {
	switch t {
	case transformNone:
		out = out[:len(sym)]
		for i, r := range sym {
			out[i] = T(uint64(r) + base)
		}
	case transformDelta:
		v := seed0
		out[0] = T(v)
		out = out[1:]
		out = out[:len(sym)]
		for i, r := range sym {
			v += uint64(r) + base
			out[i] = T(v)
		}
	case transformDoD:
		v, d := seed0, seed1
		out[0] = T(v)
		v += d
		out[1] = T(v)
		out = out[2:]
		out = out[:len(sym)]
		for i, r := range sym {
			d += uint64(r) + base
			v += d
			out[i] = T(v)
		}
	}
}
