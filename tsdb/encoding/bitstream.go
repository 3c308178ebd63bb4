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
