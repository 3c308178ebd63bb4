package encoding

import "encoding/binary"

// bitWriter appends bits most significant first to a byte slice.
type bitWriter struct {
	buf []byte
	acc uint64 // pending bits, left-aligned
	n   uint   // number of pending bits in acc, < 64
}

// write appends the low nb bits of v (nb <= 64).
func (w *bitWriter) write(v uint64, nb uint) {
	if nb == 0 {
		return
	}
	if nb < 64 {
		v &= 1<<nb - 1
	}
	free := 64 - w.n
	if nb < free {
		w.acc |= v << (free - nb)
		w.n += nb
		return
	}
	// Fill acc, flush it, keep the rest.
	rest := nb - free
	w.acc |= v >> rest
	w.buf = binary.BigEndian.AppendUint64(w.buf, w.acc)
	w.n = rest
	if rest == 0 {
		w.acc = 0
	} else {
		w.acc = v << (64 - rest)
	}
}

// flush appends the pending bits, zero-padded to a whole byte, and returns
// the buffer.
func (w *bitWriter) flush() []byte {
	for w.n > 0 {
		w.buf = append(w.buf, byte(w.acc>>56))
		w.acc <<= 8
		w.n -= min(8, w.n)
	}
	return w.buf
}

// bitReader reads bits most significant first from a byte slice.
type bitReader struct {
	src []byte
	acc uint64 // unread bits, left-aligned
	n   uint   // number of valid bits in acc
}

// refill tops acc up to at least 57 bits when src allows.
func (r *bitReader) refill() {
	if len(r.src) >= 8 {
		k := (63 - r.n) >> 3 // whole bytes that fit
		v := binary.BigEndian.Uint64(r.src)
		r.acc |= v >> r.n
		r.n += k * 8
		r.src = r.src[k:]
		r.acc &^= 1<<(64-r.n) - 1 // r.n <= 63 here; clear bits past it
		return
	}
	for r.n <= 56 && len(r.src) > 0 {
		r.acc |= uint64(r.src[0]) << (56 - r.n)
		r.n += 8
		r.src = r.src[1:]
	}
}

// read returns the next nb bits (nb <= 64) or errTruncated.
func (r *bitReader) read(nb uint) (uint64, error) {
	if nb == 0 {
		return 0, nil
	}
	if nb <= r.n {
		v := r.acc >> (64 - nb)
		r.acc <<= nb
		r.n -= nb
		return v, nil
	}
	r.refill()
	if nb <= r.n {
		v := r.acc >> (64 - nb)
		r.acc <<= nb
		r.n -= nb
		return v, nil
	}
	// nb > 56 straddling a refill: read in two parts.
	if nb > 32 {
		hi, err := r.read(nb - 32)
		if err != nil {
			return 0, err
		}
		lo, err := r.read(32)
		if err != nil {
			return 0, err
		}
		return hi<<32 | lo, nil
	}
	return 0, errTruncated
}

// readBit returns the next bit.
func (r *bitReader) readBit() (bool, error) {
	if r.n == 0 {
		r.refill()
		if r.n == 0 {
			return false, errTruncated
		}
	}
	b := r.acc>>63 == 1
	r.acc <<= 1
	r.n--
	return b, nil
}

// rest returns the number of unread bits.
func (r *bitReader) rest() int { return int(r.n) + 8*len(r.src) }
