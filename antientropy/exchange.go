package antientropy

import (
	"bytes"
	"context"
	"encoding"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/strata-db/strata/internal/clock"
	"github.com/strata-db/strata/tsdb"
)

// Batch bounds of the exchange's requests.
const (
	maxNodesPerRequest   = 1024
	maxBucketsPerRequest = 256
	maxSlicesPerRequest  = 1024
)

// exchangeResult is the outcome of one exchange.
type exchangeResult struct {
	state     string // equal, repaired, streamed, deferred, error
	differing int    // differing buckets
	series    int    // series merged
	points    int    // values written on either side
	before    int64  // windows starting before this were compared
}

// call sends req to peer's path and decodes the answer into resp,
// counting bytes both ways.
func (s *Service) call(ctx context.Context, peer uint64, path string, req encoding.BinaryMarshaler, resp encoding.BinaryUnmarshaler) error {
	raw, _ := req.MarshalBinary()
	body := compress(raw)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RPCTimeout.D())
	defer cancel()
	rc, err := s.peers.Post(ctx, peer, copyPath(ctx, path), bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxRequestSize+1))
	if err != nil {
		return fmt.Errorf("read answer of node %d: %w", peer, err)
	}
	s.metrics.bytes.WithLabelValues("sent").Add(float64(len(body)))
	s.metrics.bytes.WithLabelValues("received").Add(float64(len(b)))
	if b, err = decompress(b, maxRequestSize); err != nil {
		return fmt.Errorf("answer of node %d: %w", peer, err)
	}
	if err := resp.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("answer of node %d: %w", peer, err)
	}
	return nil
}

// cutoff returns the start of the first window not compared yet: windows
// must have ended settle-horizon ago (all windows for a manual repair).
func (s *Service) cutoff(manual bool) int64 {
	if manual {
		return math.MaxInt64
	}
	edge := clock.Now().Add(-s.cfg.SettleHorizon.D()).UnixNano()
	// A window [w, w+window) is settled when w+window <= edge, that is
	// when it starts before the window holding edge.
	return floorDiv(edge, s.window) * s.window
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// exchange compares shard with peer's replica and repairs both (docs/tree.md
// "Exchange").
func (s *Service) exchange(ctx context.Context, shard, peer uint64, manual bool, prog *progress) (exchangeResult, error) {
	res := exchangeResult{state: "equal"}
	if s.hints.Pending(peer) {
		res.state = "deferred"
		return res, nil
	}
	sh := s.store.Shard(shard)
	if sh == nil {
		if err := s.store.CreateShard(shard); err != nil {
			return res, fmt.Errorf("create shard %d: %w", shard, err)
		}
		if sh = s.store.Shard(shard); sh == nil {
			return res, fmt.Errorf("shard %d: %w", shard, ErrShardNotFound)
		}
	}
	prog.phase(fmt.Sprintf("comparing trees with node %d", peer), 1)
	before := s.cutoff(manual)
	res.before = before
	start := time.Now()
	var tree *Tree
	var root tsdb.Digest
	var local []WindowRoot
	var empty bool
	var leaves int
	err := s.withTree(ctx, shard, sh, true, func(t *Tree) error {
		tree = t
		root, local = t.Root(before), t.WindowRoots(before)
		empty = t.Empty() && len(sh.Tombstones()) == 0
		for b := range t.leaves {
			if b.WindowStart < before {
				leaves++
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	s.metrics.bucketsCompared.Add(float64(leaves))
	if err := s.pause(ctx, start); err != nil {
		return res, err
	}
	var rr RootResponse
	req := RootRequest{Shard: shard, From: s.node(), Buckets: uint32(s.buckets), Window: s.window, Before: before, Root: root}
	if err := s.call(ctx, peer, RootPath, &req, &rr); err != nil {
		return res, err
	}
	switch rr.State {
	case RootEqual:
		return res, nil
	case RootDeferred:
		res.state = "deferred"
		return res, nil
	case RootMissing:
		if empty {
			return res, nil
		}
		prog.phase(fmt.Sprintf("streaming shard to node %d", peer), 1)
		n, err := s.pushShard(ctx, shard, sh, peer)
		res.state, res.points = "streamed", n
		prog.step(1, n)
		return res, err
	}
	if empty {
		prog.phase(fmt.Sprintf("streaming shard from node %d", peer), 1)
		n, err := s.pullShard(ctx, shard, sh, peer)
		res.state, res.points = "streamed", n
		prog.step(1, n)
		return res, err
	}
	prog.step(1, 0)

	// Windows whose roots differ, then down the levels.
	windows := differing(local, rr.Windows, windowKV)
	var leavesDiff []tsdb.BucketID
	var frontier []NodeRef
	for _, w := range windows {
		if tree.depth == 0 {
			leavesDiff = append(leavesDiff, tsdb.BucketID{WindowStart: w})
		} else {
			frontier = append(frontier, NodeRef{Window: w, Level: uint8(tree.depth), Index: 0})
		}
	}
	for len(frontier) > 0 {
		prog.phase(fmt.Sprintf("comparing level %d with node %d", frontier[0].Level, peer), len(frontier))
		var next []NodeRef
		for chunk := range chunks(frontier, maxNodesPerRequest) {
			var nr NodesResponse
			if err := s.call(ctx, peer, NodesPath, &NodesRequest{Shard: shard, Nodes: chunk}, &nr); err != nil {
				return res, err
			}
			if len(nr.Children) != len(chunk) {
				return res, fmt.Errorf("node %d answered %d nodes for %d: %w", peer, len(nr.Children), len(chunk), ErrCorruptMessage)
			}
			err := s.withTree(ctx, shard, sh, false, func(t *Tree) error {
				for i, n := range chunk {
					for _, idx := range differing(t.Children(n), nr.Children[i], childKV) {
						if n.Level == 1 {
							leavesDiff = append(leavesDiff, tsdb.BucketID{SeriesBucket: idx, WindowStart: n.Window})
						} else {
							next = append(next, NodeRef{Window: n.Window, Level: n.Level - 1, Index: idx})
						}
					}
				}
				return nil
			})
			if err != nil {
				return res, err
			}
			prog.step(len(chunk), 0)
		}
		frontier = next
	}
	res.differing = len(leavesDiff)
	s.metrics.differingBuckets.Add(float64(len(leavesDiff)))
	if len(leavesDiff) == 0 {
		// The trees changed between the root and the levels: next round.
		return res, nil
	}

	// Per-series hashes inside the differing leaves.
	prog.phase(fmt.Sprintf("comparing series of %d buckets with node %d", len(leavesDiff), peer), len(leavesDiff))
	var diffSeries []SeriesWindow
	for chunk := range chunks(leavesDiff, maxBucketsPerRequest) {
		var sr SeriesResponse
		if err := s.call(ctx, peer, SeriesPath, &SeriesRequest{Shard: shard, Buckets: chunk}, &sr); err != nil {
			return res, err
		}
		if len(sr.Buckets) != len(chunk) {
			return res, fmt.Errorf("node %d answered %d buckets for %d: %w", peer, len(sr.Buckets), len(chunk), ErrCorruptMessage)
		}
		start := time.Now()
		for i, b := range chunk {
			mine, err := seriesDigests(sh, b)
			if err != nil {
				return res, err
			}
			for _, k := range differing(mine, sr.Buckets[i], seriesKV) {
				diffSeries = append(diffSeries, SeriesWindow{Key: []byte(k), Window: b.WindowStart})
			}
		}
		if err := s.pause(ctx, start); err != nil {
			return res, err
		}
		prog.step(len(chunk), 0)
	}
	res.series = len(diffSeries)

	// Slices of the differing series, then the values of differing slices.
	prog.phase(fmt.Sprintf("repairing %d series with node %d", len(diffSeries), peer), len(diffSeries))
	for chunk := range chunks(diffSeries, maxSlicesPerRequest) {
		var sl SlicesResponse
		if err := s.call(ctx, peer, SlicesPath, &SlicesRequest{Shard: shard, Items: chunk}, &sl); err != nil {
			return res, err
		}
		if len(sl.Items) != len(chunk) {
			return res, fmt.Errorf("node %d answered %d slice sets for %d: %w", peer, len(sl.Items), len(chunk), ErrCorruptMessage)
		}
		var ranges []SeriesRange
		start := time.Now()
		for i, it := range chunk {
			mine, err := seriesSlices(sh, it.Key, it.Window, s.window)
			if err != nil {
				return res, err
			}
			ranges = append(ranges, diffRanges(it.Key, it.Window, s.window, mine, sl.Items[i])...)
		}
		if err := s.pause(ctx, start); err != nil {
			return res, err
		}
		n, err := s.repairRanges(ctx, shard, sh, peer, ranges)
		res.points += n
		if err != nil {
			return res, err
		}
		prog.step(len(chunk), n)
	}
	s.metrics.seriesRepaired.Add(float64(res.series))
	res.state = "repaired"
	return res, nil
}

// repairRanges merges the values of ranges with peer's in bounded batches
// and returns the values written on both sides.
func (s *Service) repairRanges(ctx context.Context, shard uint64, sh Shard, peer uint64, ranges []SeriesRange) (int, error) {
	points := 0
	for len(ranges) > 0 {
		var fr FetchResponse
		if err := s.call(ctx, peer, FetchPath, &FetchRequest{Shard: shard, Ranges: ranges}, &fr); err != nil {
			return points, err
		}
		if fr.Served == 0 || int(fr.Served) > len(ranges) {
			return points, fmt.Errorf("node %d served %d of %d ranges: %w", peer, fr.Served, len(ranges), ErrCorruptMessage)
		}
		served := ranges[:fr.Served]
		ranges = ranges[fr.Served:]
		if err := s.limiterFor(ctx).wait(ctx, valuesBytes(fr.Columns)); err != nil {
			return points, err
		}
		start := time.Now()
		mineT := tombstonesFor(sh.Tombstones(), served)
		theirsT := tombstonesFor(fr.Tombstones, served)
		if miss := missingTombstones(mineT, theirsT); len(miss) > 0 {
			if err := sh.ApplyTombstones(miss); err != nil {
				return points, fmt.Errorf("apply tombstones of node %d: %w", peer, err)
			}
		}
		localOnly := missingTombstones(theirsT, mineT)
		mine, _, err := readColumns(sh, served, math.MaxInt)
		if err != nil {
			return points, err
		}
		m := merge(mine, fr.Columns, localOnly)
		if m.typeConflicts > 0 {
			s.logger.Warn("anti-entropy found field type conflicts it cannot repair", "shard_id", shard, "owner_id", peer, "values", m.typeConflicts)
		}
		written, _, err := writeColumns(ctx, sh, m.toLocal)
		if err != nil {
			return points, fmt.Errorf("write repaired values: %w", err)
		}
		s.metrics.pointsRepaired.WithLabelValues("in").Add(float64(written))
		points += int(written)
		if err := s.pause(ctx, start); err != nil {
			return points, err
		}
		n, err := s.applyRemote(ctx, shard, peer, localOnly, m.toRemote)
		points += n
		if err != nil {
			return points, err
		}
	}
	return points, nil
}

// applyRemote sends tombstones and columns to peer in batches of about
// max-batch-size bytes.
func (s *Service) applyRemote(ctx context.Context, shard, peer uint64, ts []tsdb.Tombstone, cols []Column) (int, error) {
	written := 0
	for len(ts) > 0 || len(cols) > 0 {
		req := ApplyRequest{Shard: shard, Tombstones: ts}
		ts = nil
		size := 0
		for len(cols) > 0 && (size == 0 || size < s.cfg.MaxBatchSize) {
			size += valuesBytes(cols[:1])
			req.Columns = append(req.Columns, cols[0])
			cols = cols[1:]
		}
		if err := s.limiterFor(ctx).wait(ctx, size); err != nil {
			return written, err
		}
		var ar ApplyResponse
		if err := s.call(ctx, peer, ApplyPath, &req, &ar); err != nil {
			return written, err
		}
		if ar.Dropped > 0 {
			s.logger.Warn("owner refused repaired values (field type conflict)", "shard_id", shard, "owner_id", peer, "values", ar.Dropped)
		}
		s.metrics.pointsRepaired.WithLabelValues("out").Add(float64(ar.Written))
		written += int(ar.Written)
	}
	return written, nil
}

// pushShard streams the whole local shard to peer.
func (s *Service) pushShard(ctx context.Context, shard uint64, sh Shard, peer uint64) (int, error) {
	pr, pw := io.Pipe()
	done := make(chan StreamStats, 1)
	go func() {
		st, err := WriteShardStream(ctx, pw, sh, s.cfg.MaxBatchSize, func(n int) error { return s.limiterFor(ctx).wait(ctx, n) })
		pw.CloseWithError(err)
		done <- st
	}()
	rc, err := s.peers.Post(ctx, peer, ShardReceivePath+"?shard="+strconv.FormatUint(shard, 10), pr)
	pr.CloseWithError(io.ErrClosedPipe) // unblocks the writer if the call ended early
	st := <-done
	s.metrics.bytes.WithLabelValues("sent").Add(float64(st.Bytes))
	if err != nil {
		return 0, fmt.Errorf("stream shard %d to node %d: %w", shard, peer, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<10))
	if err == nil {
		b, err = decompress(b, 1<<10)
	}
	if err != nil {
		return 0, fmt.Errorf("stream shard %d to node %d: %w", shard, peer, err)
	}
	var ar ApplyResponse
	if err := ar.UnmarshalBinary(b); err != nil {
		return 0, fmt.Errorf("stream shard %d to node %d: %w", shard, peer, err)
	}
	s.metrics.pointsRepaired.WithLabelValues("out").Add(float64(ar.Written))
	s.logger.Info("streamed shard to owner", "shard_id", shard, "owner_id", peer, "values", ar.Written)
	return int(ar.Written), nil
}

// pullShard streams peer's whole replica of shard into sh.
func (s *Service) pullShard(ctx context.Context, shard uint64, sh Shard, peer uint64) (int, error) {
	body, _ := (&StreamRequest{Shard: shard}).MarshalBinary()
	rc, err := s.peers.Post(ctx, peer, ShardSendPath, bytes.NewReader(compress(body)))
	if err != nil {
		return 0, fmt.Errorf("stream shard %d from node %d: %w", shard, peer, err)
	}
	defer rc.Close()
	// Received whole-shard streams count against the rate limit as sent
	// ones do (the sender does not pace them).
	st, err := ReadShardStream(ctx, &pacedReader{ctx: ctx, r: rc, limiter: s.limiterFor(ctx)}, sh)
	s.metrics.bytes.WithLabelValues("received").Add(float64(st.Bytes))
	s.metrics.pointsRepaired.WithLabelValues("in").Add(float64(st.Values))
	if err != nil {
		return st.Values, fmt.Errorf("stream shard %d from node %d: %w", shard, peer, err)
	}
	s.logger.Info("streamed shard from owner", "shard_id", shard, "owner_id", peer, "values", st.Values)
	return st.Values, nil
}

// valuesBytes estimates the wire size of columns' values.
func valuesBytes(cols []Column) int {
	n := 0
	for i := range cols {
		n += len(cols[i].Series) + len(cols[i].Field) + 8*cols[i].Len()
	}
	return n
}

// chunks yields s in pieces of at most n.
func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// differing returns the keys of the entries of a and b whose values
// differ, or that only one side holds; kv gives an entry's key and value.
func differing[E any, K, V comparable](a, b []E, kv func(E) (K, V)) []K {
	m := make(map[K]V, len(a))
	for _, e := range a {
		k, v := kv(e)
		m[k] = v
	}
	var out []K
	for _, e := range b {
		k, v := kv(e)
		if mv, ok := m[k]; !ok || mv != v {
			out = append(out, k)
		}
		delete(m, k)
	}
	for k := range m {
		out = append(out, k)
	}
	return out
}

func windowKV(w WindowRoot) (int64, tsdb.Digest)   { return w.Start, w.Root }
func childKV(c Child) (uint32, tsdb.Digest)        { return c.Index, c.Digest }
func seriesKV(s SeriesDigest) (string, SeriesHash) { return string(s.Key), s.Hash }

// diffRanges returns the time ranges of the slices that differ, adjacent
// ones joined.
func diffRanges(key []byte, w, window int64, a, b SliceHashes) []SeriesRange {
	var out []SeriesRange
	for i := range Slices {
		if a[i] == b[i] {
			continue
		}
		lo, hi := sliceRange(w, window, i)
		if n := len(out); n > 0 && out[n-1].Max+1 == lo {
			out[n-1].Max = hi
			continue
		}
		out = append(out, SeriesRange{Key: key, Min: lo, Max: hi})
	}
	return out
}
