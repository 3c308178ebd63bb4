package encoding

import (
	"encoding/binary"
	"math/bits"
)

// The fse packing's decoder. Streams are written by klauspost/compress's
// fse.Compress in zstd's FSE format (RFC 8878, 4.1: a table description of
// normalized counts, then a backward bit stream read by two interleaved
// states). Decoding was the largest cost of windowed aggregates (two fifths of
// TSBS double-groupby's CPU went to fse.Decompress), so the stream is
// decoded here knowing what fse.Decompress cannot: the block header's
// symbol count. The loop then needs no end-of-stream test per symbol,
// refills its bit container once per four symbols from a padded copy of
// the stream without bounds tests, and indexes a fixed-size table.

const (
	fseMinTableLog = 5 // a table description's smallest accuracy log
	// fseMaxTableLog is the largest accuracy log accepted: the largest
	// klauspost/compress's encoder writes (zstd allows up to 15, which
	// fse.Decompress accepts; no block of ours holds one).
	fseMaxTableLog = 12
	fseMaxSymbol   = 255
)

// fseDecoder is the per-goroutine state of fse decoding.
type fseDecoder struct {
	log  uint
	nsym int                         // symbols with a count
	norm [fseMaxSymbol + 1]int16     // normalized counts, -1 for "less than 1"
	next [fseMaxSymbol + 1]uint16    // per symbol, the next state number while building
	dt   [1 << fseMaxTableLog]uint32 // symbol | bits to read << 8 | base of the next state << 16
	pad  []byte                      // fsePad zero bytes then the bit stream
}

// fsePad is how many zero bytes precede the bit stream in its copy, so
// that an 8-byte load ending anywhere in the stream stays in bounds.
const fsePad = 8

// decode decodes src, an fse stream of exactly len(out) symbols, into out.
func (d *fseDecoder) decode(out []byte, src []byte) error {
	n, err := d.readCounts(src)
	if err != nil {
		return err
	}
	if err := d.buildTable(); err != nil {
		return err
	}
	return d.decodeStream(out, src[n:])
}

// readCounts reads the table description at the start of src (the
// normalized counts, RFC 8878 4.1.1) and returns its length in bytes.
func (d *fseDecoder) readCounts(src []byte) (int, error) {
	if len(src) < 4 {
		return 0, corruptf("fse stream of %d bytes", len(src))
	}
	limit := 8 * len(src)
	pos := 0
	// peek returns the n <= 16 bits at pos, least significant first;
	// bits past the end read as zero.
	peek := func(n int) int {
		i := pos >> 3
		var w uint32
		for k := 0; k < 4 && i+k < len(src); k++ {
			w |= uint32(src[i+k]) << (8 * k)
		}
		return int(w>>(pos&7)) & (1<<n - 1)
	}
	d.log = uint(peek(4)) + fseMinTableLog
	if d.log > fseMaxTableLog {
		return 0, corruptf("fse table log %d > %d", d.log, fseMaxTableLog)
	}
	pos = 4
	remaining := 1<<d.log + 1
	threshold := 1 << d.log
	nbBits := int(d.log) + 1
	sym := 0
	prev0 := false
	for remaining > 1 {
		if prev0 {
			// Repeat flags: 2 bits each, 3 meaning three zeros and another flag.
			n0 := sym
			for {
				r := peek(2)
				pos += 2
				n0 += r
				if r != 3 || pos > limit {
					break
				}
			}
			if n0 > fseMaxSymbol {
				return 0, corruptf("fse counts past symbol %d", fseMaxSymbol)
			}
			for ; sym < n0; sym++ {
				d.norm[sym] = 0
			}
		}
		if sym > fseMaxSymbol {
			return 0, corruptf("fse counts past symbol %d", fseMaxSymbol)
		}
		max := 2*threshold - 1 - remaining
		v := peek(nbBits)
		count := v & (threshold - 1)
		if count < max {
			pos += nbBits - 1
		} else {
			count = v & (2*threshold - 1)
			if count >= threshold {
				count -= max
			}
			pos += nbBits
		}
		count-- // -1 is a probability below 1: one cell
		if count < 0 {
			remaining--
		} else {
			remaining -= count
		}
		if remaining < 1 || count > 1<<15-1 || pos > limit {
			return 0, corruptf("fse counts overflow the table")
		}
		d.norm[sym] = int16(count)
		sym++
		prev0 = count == 0
		for remaining < threshold {
			nbBits--
			threshold >>= 1
		}
	}
	if sym < 2 {
		return 0, corruptf("fse table of %d symbols", sym)
	}
	d.nsym = sym
	return (pos + 7) >> 3, nil
}

// buildTable builds the decoding table of the counts read (RFC 8878
// 4.1.1: symbols spread over the table, then each cell's bit count and
// next-state base).
func (d *fseDecoder) buildTable() error {
	size := uint32(1) << d.log
	mask := size - 1
	high := size - 1
	for s, c := range d.norm[:d.nsym] {
		if c == -1 {
			d.dt[high] = uint32(s)
			high--
			d.next[s] = 1
		} else {
			d.next[s] = uint16(c)
		}
	}
	step := size>>1 + size>>3 + 3
	pos := uint32(0)
	for s, c := range d.norm[:d.nsym] {
		for range max(c, 0) {
			d.dt[pos] = uint32(s)
			pos = (pos + step) & mask
			for pos > high {
				pos = (pos + step) & mask
			}
		}
	}
	if pos != 0 {
		return corruptf("fse counts do not fill the table")
	}
	for u := range size {
		s := d.dt[u] & 0xff
		ns := uint32(d.next[s])
		d.next[s]++
		nb := uint32(d.log) + 1 - uint32(bits.Len32(ns))
		base := ns<<nb - size
		if base >= size {
			return corruptf("fse state %d outside the table", base)
		}
		d.dt[u] = s | nb<<8 | base<<16
	}
	return nil
}

// decodeStream decodes the bit stream src into out (len(out) symbols).
// The stream is read backwards from its last byte, whose highest set bit
// marks its end; the two states alternate, the first symbol being the
// first state's, and the last two symbols need no state update. Every
// bit must be read.
func (d *fseDecoder) decodeStream(out []byte, src []byte) error {
	if len(out) < 2 {
		return corruptf("fse stream of %d symbols", len(out))
	}
	if len(src) == 0 || src[len(src)-1] == 0 {
		return corruptf("fse bit stream without its end mark")
	}
	d.pad = append(append(d.pad[:0], make([]byte, fsePad)...), src...)
	buf := d.pad
	dt := &d.dt
	// The container holds buf[ptr:ptr+8] shifted left by used, the bits
	// read from its top; a state step reads nb bits off the top.
	ptr := len(buf) - 8
	used := uint(9 - bits.Len8(src[len(src)-1]))
	c := binary.LittleEndian.Uint64(buf[ptr:]) << used
	log := d.log
	s1 := uint32(c >> 1 >> (63 - log))
	c <<= log
	s2 := uint32(c >> 1 >> (63 - log))
	c <<= log
	used += 2 * log
	reload := func() {
		k := int(used >> 3)
		if k > ptr {
			k = ptr // past the stream's start: the error shows at the end
		}
		ptr -= k
		used -= uint(k) << 3
		c = binary.LittleEndian.Uint64(buf[ptr:]) << used
	}
	n := len(out) - 2 // symbols followed by a state update
	i := 0
	// After a reload used <= 7, so 4 steps of <= 12 bits fit in 64.
	for ; i+4 <= n; i += 4 {
		reload()
		e := dt[s1&(1<<fseMaxTableLog-1)]
		nb := uint(e>>8) & 63
		out[i] = byte(e)
		s1 = e>>16 + uint32(c>>1>>((63-nb)&63))
		c <<= nb
		used += nb
		e = dt[s2&(1<<fseMaxTableLog-1)]
		nb = uint(e>>8) & 63
		out[i+1] = byte(e)
		s2 = e>>16 + uint32(c>>1>>((63-nb)&63))
		c <<= nb
		used += nb
		e = dt[s1&(1<<fseMaxTableLog-1)]
		nb = uint(e>>8) & 63
		out[i+2] = byte(e)
		s1 = e>>16 + uint32(c>>1>>((63-nb)&63))
		c <<= nb
		used += nb
		e = dt[s2&(1<<fseMaxTableLog-1)]
		nb = uint(e>>8) & 63
		out[i+3] = byte(e)
		s2 = e>>16 + uint32(c>>1>>((63-nb)&63))
		c <<= nb
		used += nb
	}
	for ; i < n; i++ {
		reload()
		s := &s1
		if i&1 == 1 {
			s = &s2
		}
		e := dt[*s&(1<<fseMaxTableLog-1)]
		nb := uint(e>>8) & 63
		out[i] = byte(e)
		*s = e>>16 + uint32(c>>1>>((63-nb)&63))
		c <<= nb
		used += nb
	}
	if n&1 == 1 {
		s1, s2 = s2, s1
	}
	out[n] = byte(dt[s1&(1<<fseMaxTableLog-1)])
	out[n+1] = byte(dt[s2&(1<<fseMaxTableLog-1)])
	if left := 8*ptr - int(used); left != 0 {
		return corruptf("fse bit stream holds %d bits more than %d symbols use", left, len(out))
	}
	return nil
}
