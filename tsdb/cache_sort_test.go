package tsdb

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// TestSortKeyOrder checks sortKeyOrder against sort.Strings on random keys
// built from few pieces, so they share long prefixes, are prefixes of one
// another, end inside and at the edge of a chunk, and hold zero bytes
// (which pad a short chunk); every third round they all share a prefix,
// every tenth holds enough keys to sort by radix, and the rounds take
// their chunks from tables of 0 to sortTableLevels levels, so keys end
// inside, at and past a table's last level. The rounds share one scratch,
// so most sort in buffers a bigger round left its values in.
func TestSortKeyOrder(t *testing.T) {
	defer func(b int) { sortTableBytes = b }(sortTableBytes)
	sc := new(sortScratch)
	pieces := []string{"", "a", "b", "\x00", "\xff", "cpu,arch=x64,", "hostname=host_", "12345678", "1234567", "123456789"}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		n := rng.IntN(200)
		if round%10 == 0 { // past radixMin: the counting sort
			n = radixMin + rng.IntN(2000)
		}
		seen := map[string]bool{}
		var keys []string
		for range n {
			var k []byte
			if round%3 == 0 {
				k = append(k, "cpu,arch=x64,datacenter="...) // a prefix all share
			}
			for range rng.IntN(6) {
				k = append(k, pieces[rng.IntN(len(pieces))]...)
			}
			if round%2 == 0 && seen[string(k)] {
				continue // cache keys are distinct; odd rounds check duplicates too
			}
			seen[string(k)] = true
			keys = append(keys, string(k))
		}
		sortTableBytes = 8 * len(keys) * (round % (sortTableLevels + 1))
		want := slices.Clone(keys)
		sort.Strings(want)
		order := sortKeyOrder(keys, sc)
		got := make([]string, len(order))
		for j, i := range order {
			got[j] = keys[i]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: sortKeyOrder(%q)\n got %q\nwant %q", round, keys, got, want)
		}
		if slices.Sort(order); !slices.Equal(order, indexes(len(keys))) {
			t.Fatalf("round %d: order %v is not a permutation of the %d keys", round, order, len(keys))
		}
	}
}

// TestChunkTableShared checks the shared prefix newChunkTable finds, in
// and past its levels, against commonPrefixLen: keys of one to three
// words of a prefix and a byte that differs at every place, or a key that
// ends there.
func TestChunkTableShared(t *testing.T) {
	defer func(b int) { sortTableBytes = b }(sortTableBytes)
	sc := new(sortScratch)
	base := "cpu,arch=x64,datacenter=eu-central-1a,hostname=host_1"
	for levels := range sortTableLevels + 1 {
		for at := range len(base) + 1 {
			for _, other := range []string{base[:at] + "\x00", base[:at] + "\xff", base[:at]} {
				keys := []string{base, base + "z", other, base[:len(base)-1]}
				sortTableBytes = 8 * len(keys) * levels
				want := len(keys[0])
				for _, k := range keys[1:] {
					want = min(want, commonPrefixLen(keys[0], k))
				}
				if got := newChunkTable(keys, sc).shared; got != want {
					t.Fatalf("%d levels, keys %q: shared %d, want %d", levels, keys, got, want)
				}
			}
		}
	}
}

// TestCommonPrefixLen checks commonPrefixLen on strings that differ at
// each position of their first 8-byte words, or where one ends.
func TestCommonPrefixLen(t *testing.T) {
	a := "0123456789abcdefghij"
	for i := 0; i <= len(a); i++ {
		b := a[:i] + "\x80" + a[i:]
		if got := commonPrefixLen(a, b); got != i {
			t.Errorf("commonPrefixLen(%q, %q) = %d; want %d", a, b, got, i)
		}
		if got := commonPrefixLen(a[:i], a); got != i {
			t.Errorf("commonPrefixLen(%q, %q) = %d; want %d", a[:i], a, got, i)
		}
	}
}

// indexes returns 0, 1, ..., n-1.
func indexes(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
}

// BenchmarkSortSeriesKeys sorts 100,000 TSBS-like series keys as a
// snapshot does: by sortKeyOrder (chunks) and by a comparison sort
// (compare), for reference. The keys are in the order they were created
// and sit in memory in, as cache.sorted gathers them; their key order is
// another (arch and datacenter sort before the host name).
func BenchmarkSortSeriesKeys(b *testing.B) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(3, 4))
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("cpu,arch=x%d,datacenter=eu-central-1%c,hostname=host_%d,os=Ubuntu16.10,rack=%d,region=eu-central-1,service=%d,service_environment=test,service_version=1,team=NYC",
			rng.IntN(3), 'a'+rng.IntN(3), i, rng.IntN(100), rng.IntN(20))
	}
	b.Run("chunks", func(b *testing.B) {
		sc := new(sortScratch)
		for b.Loop() {
			sortKeyOrder(keys, sc)
		}
	})
	b.Run("compare", func(b *testing.B) {
		for b.Loop() {
			sort.Strings(slices.Clone(keys))
		}
	})
}
