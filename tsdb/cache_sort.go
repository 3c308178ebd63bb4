package tsdb

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"sync"
)

// keyChunk is one key's place in sortKeyOrder: the 8 bytes of the key from
// the current depth (big-endian, zero-padded past its end), how many of
// them the key has (8 when it goes on past them) and the key's index.
type keyChunk struct {
	bytes uint64
	rem   uint32
	i     uint32
}

// sortScratch holds the buffers a snapshot sorts and walks its cache's
// series with (see cache.sorted). They are taken from sortScratches and
// returned once the snapshot is written, so each snapshot does not
// allocate megabytes afresh: at a million series, the page faults of
// first touching them were a fifth of the sort's CPU (issue 17).
type sortScratch struct {
	refs   []seriesRef
	keys   []string
	chunks []keyChunk
	tmp    []keyChunk
	order  []uint32
	pre    []uint64 // the keys' first chunks (see chunkTable)
	lens   []uint32 // the keys' lengths
}

// sortScratches are the sortScratch not in use.
var sortScratches = sync.Pool{New: func() any { return new(sortScratch) }}

// release returns sc to sortScratches, dropping what it refers to.
func (sc *sortScratch) release() {
	clear(sc.refs)
	clear(sc.keys)
	sc.refs, sc.keys = sc.refs[:0], sc.keys[:0]
	sortScratches.Put(sc)
}

// resized returns s with length n, reusing its memory when it has room
// (its elements are then left as they are).
func resized[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// sortKeyOrder returns the indexes of keys in the keys' byte order (that
// of sort.Strings), held in sc's buffers (valid until sc is reused). It
// sorts 8-byte chunks of the keys, a level at a time: each key's chunk
// after the bytes all keys share, then, within each run of keys whose
// chunks were equal, their next chunk. A comparison sort of a snapshot's
// series keys was 1.1 s of the data node's CPU at a million series (issue
// 17): each comparison read two keys that sit apart in memory and share
// long prefixes. This sorts 16-byte values held together, and reads the
// chunks of the first levels from a table filled in one pass over the
// keys in their order (see chunkTable).
func sortKeyOrder(keys []string, sc *sortScratch) []uint32 {
	sc.chunks = resized(sc.chunks, len(keys))
	sc.tmp = resized(sc.tmp, len(keys))
	chunks := sc.chunks
	for i := range chunks {
		chunks[i].i = uint32(i)
	}
	t := newChunkTable(keys, sc)
	t.sort(chunks, sc.tmp, t.shared&^7)
	sc.order = resized(sc.order, len(chunks))
	for j := range chunks {
		sc.order[j] = chunks[j].i
	}
	return sc.order
}

// sortTableBytes bounds the memory of a chunkTable's chunks (a variable
// for tests).
var sortTableBytes = 16 << 20

// sortTableLevels is the most levels of chunks a chunkTable holds: a
// key's first 64 bytes, as far as a TSBS series key's host name.
const sortTableLevels = 8

// chunkTable gives the chunks of the keys being sorted (keyChunkAt). It
// holds those of the keys' first levels of 8 bytes, read in one pass over
// the keys in their order, which is the order they sit in memory
// (cache.sorted gathers them so): the sort reads each key a level at a
// time in key order, random memory order, and those reads were most of
// the sort's CPU at a million series (issue 17), where a level's chunks
// of 40,000 keys fit the processor's caches.
type chunkTable struct {
	keys   []string
	shared int      // the length of the prefix all keys share
	levels int      // the levels held in pre
	pre    []uint64 // the chunk of key i at depth 8l at l*len(keys)+i
	lens   []uint32 // the keys' lengths
}

// newChunkTable returns the chunkTable of keys, held in sc's buffers.
func newChunkTable(keys []string, sc *sortScratch) chunkTable {
	n := len(keys)
	t := chunkTable{keys: keys, levels: min(sortTableLevels, sortTableBytes/(8*max(n, 1)))}
	if n == 0 {
		return t
	}
	t.pre = resized(sc.pre, t.levels*n)
	t.lens = resized(sc.lens, n)
	sc.pre, sc.lens = t.pre, t.lens
	// The length of the prefix all keys share, found in the same pass:
	// the series keys of a load share long prefixes (a measurement and
	// its first tags), which the sort starts past.
	var first [sortTableLevels]uint64
	for l := range t.levels {
		first[l], _ = keyChunkAt(keys[0], min(8*l, len(keys[0])))
	}
	t.shared = len(keys[0])
	for i, k := range keys {
		t.lens[i] = uint32(len(k))
		t.shared = min(t.shared, len(k))
		for l := range t.levels {
			var c uint64
			if d := 8 * l; d < len(k) {
				c, _ = keyChunkAt(k, d)
			}
			t.pre[l*n+i] = c
			if x := c ^ first[l]; x != 0 && 8*l < t.shared {
				t.shared = min(t.shared, 8*l+bits.LeadingZeros64(x)/8)
			}
		}
		if 8*t.levels < t.shared {
			t.shared = 8*t.levels + commonPrefixLen(keys[0][8*t.levels:t.shared], k[8*t.levels:])
		}
	}
	return t
}

// load sets the bytes and rem of chunks to their keys' chunk at depth
// (keyChunkAt), depth being a multiple of 8 and at most the keys'
// lengths, and reports whether they are all the same 8 bytes of keys that
// go on past them.
func (t *chunkTable) load(chunks []keyChunk, depth int) bool {
	same := true
	if l := depth >> 3; l < t.levels {
		n := len(t.keys)
		pre, lens := t.pre[l*n:(l+1)*n], t.lens[:n]
		for j := range chunks {
			i := chunks[j].i
			chunks[j].bytes, chunks[j].rem = pre[i], uint32(min(int(lens[i])-depth, 8))
			same = same && chunks[j].rem == 8 && chunks[j].bytes == chunks[0].bytes
		}
		return same
	}
	for j := range chunks {
		chunks[j].bytes, chunks[j].rem = keyChunkAt(t.keys[chunks[j].i], depth)
		same = same && chunks[j].rem == 8 && chunks[j].bytes == chunks[0].bytes
	}
	return same
}

// sort sorts chunks, whose keys are equal before depth, by the rest of
// their keys; tmp is scratch of chunks' length.
func (t *chunkTable) sort(chunks, tmp []keyChunk, depth int) {
	for len(chunks) > 1 {
		if t.load(chunks, depth) { // nothing to sort here: go on to the next chunk
			depth += 8
			continue
		}
		sortChunkBytes(chunks, tmp)
		depth += 8
		// Runs of keys equal so far and going on are sorted by their next
		// chunk: the last run in this loop, the others recursively. A key
		// ending in a run's bytes sorts before the run (shorter rem).
		start := -1
		for j := range chunks {
			if start >= 0 && chunks[j].bytes != chunks[start].bytes {
				if j-start > 1 {
					t.sort(chunks[start:j], tmp[start:j], depth)
				}
				start = -1
			}
			if start < 0 && chunks[j].rem == 8 {
				start = j
			}
		}
		if start < 0 {
			return
		}
		chunks, tmp = chunks[start:], tmp[start:]
	}
}

// radixMin is the run from which sortChunkBytes sorts by radix.
const radixMin = 256

// sortChunkBytes sorts chunks by their bytes, then rem (equal bytes and a
// shorter key: it is a prefix of the longer); tmp is scratch of chunks'
// length. A run of radixMin or more is sorted a byte at a time, least
// significant first (counting sort), skipping the bytes all its chunks
// share: the key sort was 0.8 s of the data node's CPU at a million series,
// half of it comparisons through a function value, and a level of a
// snapshot's keys differs in one to three of its bytes (issue 17).
func sortChunkBytes(chunks, tmp []keyChunk) {
	if len(chunks) < radixMin {
		slices.SortFunc(chunks, func(a, b keyChunk) int {
			switch {
			case a.bytes < b.bytes:
				return -1
			case a.bytes > b.bytes:
				return 1
			}
			return int(a.rem) - int(b.rem)
		})
		return
	}
	var differ uint64
	short := false
	for _, c := range chunks {
		differ |= c.bytes ^ chunks[0].bytes
		short = short || c.rem < 8
	}
	src, dst := chunks, tmp
	for shift := 0; shift < 64; shift += 8 {
		if differ>>shift&0xff == 0 {
			continue
		}
		var at [256]int
		for _, c := range src {
			at[byte(c.bytes>>shift)]++
		}
		sum := 0
		for b, n := range at {
			at[b], sum = sum, sum+n
		}
		for _, c := range src {
			b := byte(c.bytes >> shift)
			dst[at[b]] = c
			at[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &chunks[0] {
		copy(chunks, src)
	}
	if !short {
		return
	}
	// Runs of equal bytes holding a key that ends in them: by rem.
	for i := 0; i < len(chunks); {
		j := i + 1
		for j < len(chunks) && chunks[j].bytes == chunks[i].bytes {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(chunks[i:j], func(a, b keyChunk) int { return int(a.rem) - int(b.rem) })
		}
		i = j
	}
}

// keyChunkAt returns the 8 bytes of key from depth, big-endian and
// zero-padded, and how many of them key has (at most 8).
func keyChunkAt(key string, depth int) (uint64, uint32) {
	if rest := len(key) - depth; rest >= 8 {
		return binary.BigEndian.Uint64([]byte(key[depth : depth+8])), 8
	}
	var b [8]byte
	n := copy(b[:], key[depth:])
	return binary.BigEndian.Uint64(b[:]), uint32(n)
}

// commonPrefixLen returns the length of the longest common prefix of a and
// b.
func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		x := binary.LittleEndian.Uint64([]byte(a[i:i+8])) ^ binary.LittleEndian.Uint64([]byte(b[i:i+8]))
		if x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
	}
	for ; i < n && a[i] == b[i]; i++ {
	}
	return i
}
