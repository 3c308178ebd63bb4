package antientropy

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/strata-db/strata/tsdb"
)

// Fanout is the number of children of an inner node of a window tree.
const Fanout = 16

// Tree is the Merkle tree of one shard replica (docs/tree.md). Its leaves
// are tsdb's bucket digests; per time window, inner nodes of Fanout
// children are stacked over the window's Buckets leaves up to the window
// root; the shard root hashes the roots of the windows compared. The shape
// depends only on (buckets, window), so two replicas' trees line up node
// for node. Update rehashes only the paths above leaves that changed.
// A Tree is not safe for concurrent use.
type Tree struct {
	buckets int
	window  int64
	depth   int // inner levels above the leaves

	leaves  tsdb.DigestSet
	windows map[int64]*windowTree
}

// windowTree holds the inner levels of one window: levels[k-1] is level k
// (1 = the leaves' parents); the last level has one node, the window root.
type windowTree struct {
	levels [][]tsdb.Digest
}

// NewTree returns an empty tree for digests of the given layout (tsdb's
// digest-series-buckets and digest-window in ns).
func NewTree(buckets int, window int64) *Tree {
	depth := 0
	for n := buckets; n > 1; n = (n + Fanout - 1) / Fanout {
		depth++
	}
	return &Tree{buckets: buckets, window: window, depth: depth, leaves: tsdb.DigestSet{}, windows: map[int64]*windowTree{}}
}

// Depth returns the number of inner levels above the leaves (0 when one
// bucket is the whole window).
func (t *Tree) Depth() int { return t.depth }

// levelSize returns the number of nodes of level k (0 = leaves).
func (t *Tree) levelSize(k int) int {
	n := t.buckets
	for range k {
		n = (n + Fanout - 1) / Fanout
	}
	return n
}

// Update replaces the leaves with ds (which the tree keeps; the caller must
// not change it afterwards) and rehashes the nodes above the leaves that
// were added, removed or changed. It returns how many leaves changed.
func (t *Tree) Update(ds tsdb.DigestSet) int {
	dirty := map[int64]map[int]struct{}{}
	mark := func(b tsdb.BucketID) {
		d := dirty[b.WindowStart]
		if d == nil {
			d = map[int]struct{}{}
			dirty[b.WindowStart] = d
		}
		d[int(b.SeriesBucket)] = struct{}{}
	}
	changed := 0
	for b, d := range ds {
		if old, ok := t.leaves[b]; !ok || old != d {
			mark(b)
			changed++
		}
	}
	for b := range t.leaves {
		if _, ok := ds[b]; !ok {
			mark(b)
			changed++
		}
	}
	t.leaves = ds
	for w, idx := range dirty {
		t.rehash(w, idx)
	}
	return changed
}

// rehash recomputes the ancestors of the leaves idx of window w.
func (t *Tree) rehash(w int64, idx map[int]struct{}) {
	if t.depth == 0 {
		if _, ok := t.leaves[tsdb.BucketID{WindowStart: w}]; ok {
			t.windows[w] = &windowTree{}
		} else {
			delete(t.windows, w)
		}
		return
	}
	wt := t.windows[w]
	if wt == nil {
		wt = &windowTree{levels: make([][]tsdb.Digest, t.depth)}
		for k := 1; k <= t.depth; k++ {
			wt.levels[k-1] = make([]tsdb.Digest, t.levelSize(k))
		}
		t.windows[w] = wt
	}
	for k := 1; k <= t.depth; k++ {
		parents := make(map[int]struct{}, len(idx))
		for i := range idx {
			parents[i/Fanout] = struct{}{}
		}
		for p := range parents {
			wt.levels[k-1][p] = t.hashNode(w, k, p)
		}
		idx = parents
	}
	if wt.levels[t.depth-1][0] == (tsdb.Digest{}) {
		delete(t.windows, w)
	}
}

// node returns the digest of node i of level k of window w (zero: empty).
func (t *Tree) node(w int64, k, i int) tsdb.Digest {
	if k == 0 {
		return t.leaves[tsdb.BucketID{SeriesBucket: uint32(i), WindowStart: w}]
	}
	wt := t.windows[w]
	if wt == nil || i >= len(wt.levels[k-1]) {
		return tsdb.Digest{}
	}
	return wt.levels[k-1][i]
}

// hashNode computes node p of level k from its children: SHA-256 over
// (child index uint32 LE, digest) of every non-empty child; zero when all
// are empty.
func (t *Tree) hashNode(w int64, k, p int) tsdb.Digest {
	h := sha256.New()
	var buf [4 + digestSize]byte
	empty := true
	for _, c := range t.children(w, k, p) {
		binary.LittleEndian.PutUint32(buf[:], c.Index)
		copy(buf[4:], c.Digest[:])
		h.Write(buf[:])
		empty = false
	}
	var d tsdb.Digest
	if !empty {
		h.Sum(d[:0])
	}
	return d
}

// children returns the non-empty children of node p of level k >= 1.
func (t *Tree) children(w int64, k, p int) []Child {
	var out []Child
	lo, hi := p*Fanout, min((p+1)*Fanout, t.levelSize(k-1))
	for c := lo; c < hi; c++ {
		if d := t.node(w, k-1, c); d != (tsdb.Digest{}) {
			out = append(out, Child{Index: uint32(c), Digest: d})
		}
	}
	return out
}

// Children returns the non-empty children of an inner node; nil for a node
// outside the tree.
func (t *Tree) Children(ref NodeRef) []Child {
	k := int(ref.Level)
	if k < 1 || k > t.depth || int(ref.Index) >= t.levelSize(k) {
		return nil
	}
	return t.children(ref.Window, k, int(ref.Index))
}

// WindowRoot returns the root of window w (zero when it holds nothing).
func (t *Tree) WindowRoot(w int64) tsdb.Digest { return t.node(w, t.depth, 0) }

// WindowRoots returns the roots of the non-empty windows starting before
// before, ascending.
func (t *Tree) WindowRoots(before int64) []WindowRoot {
	var out []WindowRoot
	for w := range t.windows {
		if w < before {
			out = append(out, WindowRoot{Start: w, Root: t.WindowRoot(w)})
		}
	}
	slices.SortFunc(out, func(a, b WindowRoot) int { return cmp.Compare(a.Start, b.Start) })
	return out
}

// Root returns the shard root over the windows starting before before:
// SHA-256 over (start int64 LE, window root) of each, ascending; zero when
// there are none.
func (t *Tree) Root(before int64) tsdb.Digest {
	ws := t.WindowRoots(before)
	var d tsdb.Digest
	if len(ws) == 0 {
		return d
	}
	h := sha256.New()
	var buf [8 + digestSize]byte
	for _, w := range ws {
		binary.LittleEndian.PutUint64(buf[:], uint64(w.Start))
		copy(buf[8:], w.Root[:])
		h.Write(buf[:])
	}
	h.Sum(d[:0])
	return d
}

// Empty reports whether the tree has no leaf at all.
func (t *Tree) Empty() bool { return len(t.leaves) == 0 }

// Leaves returns how many buckets are non-empty.
func (t *Tree) Leaves() int { return len(t.leaves) }
