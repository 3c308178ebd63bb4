package tsdb

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// keyChunk is one key's place in sortKeyOrder: the 8 bytes of the key from
// the current depth (big-endian, zero-padded past its end), how many of
// them the key has (8 when it goes on past them) and the key's index.
type keyChunk struct {
	bytes uint64
	rem   uint32
	i     uint32
}

// sortKeyOrder returns the indexes of keys in the keys' byte order (that
// of sort.Strings). It sorts 8-byte chunks of the keys, a level at a time:
// each key's chunk after the bytes all keys share, then, within each run
// of keys whose chunks were equal, their next chunk. A comparison sort of
// a snapshot's series keys was 1.1 s of the data node's CPU at a million
// series (issue 17): each comparison read two keys that sit apart in
// memory and share long prefixes. This reads each key once a level, with
// independent loads, and sorts 16-byte values held together.
func sortKeyOrder(keys []string) []uint32 {
	chunks := make([]keyChunk, len(keys))
	for i := range chunks {
		chunks[i].i = uint32(i)
	}
	// Start past the bytes the keys all share: the series keys of a load
	// share long prefixes (a measurement and its first tags).
	shared := 0
	if len(keys) > 0 {
		shared = len(keys[0])
		for _, k := range keys[1:] {
			shared = commonPrefixLen(keys[0][:shared], k)
		}
	}
	sortChunks(keys, chunks, shared)
	order := make([]uint32, len(chunks))
	for j := range chunks {
		order[j] = chunks[j].i
	}
	return order
}

// sortChunks sorts chunks, whose keys are equal before depth, by the rest
// of their keys.
func sortChunks(keys []string, chunks []keyChunk, depth int) {
	for len(chunks) > 1 {
		same := true
		for j := range chunks {
			chunks[j].bytes, chunks[j].rem = keyChunkAt(keys[chunks[j].i], depth)
			same = same && chunks[j].rem == 8 && chunks[j].bytes == chunks[0].bytes
		}
		if same { // nothing to sort here: go on to the next chunk
			depth += 8
			continue
		}
		// Equal bytes and a shorter key: it is a prefix of the longer.
		slices.SortFunc(chunks, func(a, b keyChunk) int {
			switch {
			case a.bytes < b.bytes:
				return -1
			case a.bytes > b.bytes:
				return 1
			}
			return int(a.rem) - int(b.rem)
		})
		depth += 8
		// Runs of keys equal so far and going on are sorted by their next
		// chunk: the last run in this loop, the others recursively. A key
		// ending in a run's bytes sorts before the run (shorter rem).
		start := -1
		for j := range chunks {
			if start >= 0 && chunks[j].bytes != chunks[start].bytes {
				if j-start > 1 {
					sortChunks(keys, chunks[start:j], depth)
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
		chunks = chunks[start:]
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
