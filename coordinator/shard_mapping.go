package coordinator

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// mapping is the per-call scratch of WritePoints: the shard batches of one
// write and the buffers behind them. It is pooled so that steady-state
// writes allocate nothing for routing.
type mapping struct {
	groups  []groupRef
	batches []shardBatch
	shardOf []int32        // per point: index into batches, or -1 when dropped
	buf     []models.Point // backing array the batches' points are cut from
	key     []byte         // series key scratch
	results []ownerResult  // per owner write, batch by batch
	states  []shardState   // per batch
	done    chan ownerDone // the owner writes' answers; dropped while some may still send
	counts  []int          // per batch: points routed to it
	dropped int            // points beyond the retention policy
}

// groupRef is one shard group a write touches, with its bounds in ns.
type groupRef struct {
	info       *meta.ShardGroupInfo
	start, end int64
	base       int // index of the group's first shard in mapping.batches
}

// shardBatch is one shard's points of a write.
type shardBatch struct {
	shard  *meta.ShardInfo
	points []models.Point
}

func (m *mapping) reset() {
	clear(m.groups)
	m.groups = m.groups[:0]
	clear(m.batches)
	m.batches = m.batches[:0]
	clear(m.buf) // drop references to the caller's bytes
	m.buf = m.buf[:0]
	clear(m.results)
	m.results = m.results[:0]
	m.states = m.states[:0]
	m.shardOf = m.shardOf[:0]
	m.key = m.key[:0]
	m.dropped = 0
}

// mapShards fills m with the shard batches of points: it drops points
// beyond the retention policy and finds (or creates) each point's shard
// group and shard, as (*meta.Data).ShardFor routes.
func (w *PointsWriter) mapShards(ctx context.Context, m *mapping, db, rp string, points []models.Point, now time.Time) error {
	data := w.meta.Data()
	if data == nil {
		return fmt.Errorf("write points: %w", ErrMetaNotReady)
	}
	di := data.Database(db)
	if di == nil {
		return fmt.Errorf("write points to database %q: %w", db, ErrDatabaseNotFound)
	}
	if rp == "" {
		name, err := di.DefaultPolicy()
		if err != nil {
			return fmt.Errorf("write points: %w", err)
		}
		rp = name
	}
	rpi := di.RetentionPolicy(rp)
	if rpi == nil {
		return fmt.Errorf("write points to %q.%q: %w", db, rp, ErrRetentionPolicyNotFound)
	}
	minTime := int64(math.MinInt64)
	if rpi.Duration > 0 {
		minTime = now.Add(-rpi.Duration).UnixNano()
	}

	if cap(m.shardOf) < len(points) {
		m.shardOf = make([]int32, len(points))
	}
	m.shardOf = m.shardOf[:len(points)]
	var cur *groupRef
	for i := range points {
		p := &points[i]
		if p.Time < minTime {
			m.shardOf[i] = -1
			m.dropped++
			continue
		}
		if cur == nil || p.Time < cur.start || p.Time >= cur.end {
			g, err := w.groupFor(ctx, m, db, rpi, p.Time)
			if err != nil {
				return err
			}
			cur = g
		}
		n := len(cur.info.Shards)
		if n == 1 {
			m.shardOf[i] = int32(cur.base)
			continue
		}
		key := p.Key // the parser's, when it made the point
		if key == nil {
			m.key = p.AppendSeriesKey(m.key[:0])
			key = m.key
		}
		m.shardOf[i] = int32(cur.base + int(fnv64a(key)%uint64(n)))
	}
	m.fill(points)
	return nil
}

// groupFor returns the group of m covering t, adding it to m (from the
// policy's groups, or created through meta) when the write has not touched
// it yet. The pointer is valid until m.groups grows again.
func (w *PointsWriter) groupFor(ctx context.Context, m *mapping, db string, rpi *meta.RetentionPolicyInfo, t int64) (*groupRef, error) {
	for i := range m.groups {
		if g := &m.groups[i]; t >= g.start && t < g.end {
			return g, nil
		}
	}
	var info *meta.ShardGroupInfo
	for i := range rpi.ShardGroups {
		sg := &rpi.ShardGroups[i]
		if !sg.Deleted() && t >= unixNano(sg.StartTime) && t < unixNano(sg.EndTime) {
			info = sg
			break
		}
	}
	if info == nil {
		ts := time.Unix(0, t).UTC()
		sg, err := w.meta.CreateShardGroup(ctx, db, rpi.Name, ts)
		if err != nil {
			return nil, fmt.Errorf("create shard group for %q.%q at %s: %w", db, rpi.Name, ts.Format(time.RFC3339Nano), err)
		}
		if sg == nil || t < unixNano(sg.StartTime) || t >= unixNano(sg.EndTime) {
			return nil, fmt.Errorf("create shard group for %q.%q at %s: meta returned a group not covering it: %w",
				db, rpi.Name, ts.Format(time.RFC3339Nano), ErrConsistency)
		}
		info = sg
	}
	if len(info.Shards) == 0 {
		return nil, fmt.Errorf("shard group %d of %q.%q has no shards: %w", info.ID, db, rpi.Name, ErrConsistency)
	}
	m.groups = append(m.groups, groupRef{info: info, start: unixNano(info.StartTime), end: unixNano(info.EndTime), base: len(m.batches)})
	for i := range info.Shards {
		m.batches = append(m.batches, shardBatch{shard: &info.Shards[i]})
	}
	return &m.groups[len(m.groups)-1], nil
}

// fill cuts each batch's points out of points as routed in m.shardOf. When
// every point goes to one shard the batch is points itself (no copy);
// otherwise the points are grouped by shard into m.buf, keeping their order.
func (m *mapping) fill(points []models.Point) {
	if m.dropped == 0 && len(m.batches) == 1 {
		m.batches[0].points = points
		return
	}
	// Count per batch, then place with running offsets (a counting sort).
	m.counts = growInts(m.counts, len(m.batches))
	for _, s := range m.shardOf {
		if s >= 0 {
			m.counts[s]++
		}
	}
	n := len(points) - m.dropped
	if cap(m.buf) < n {
		m.buf = make([]models.Point, n)
	}
	m.buf = m.buf[:n]
	off := 0
	for i := range m.batches {
		b := &m.batches[i]
		c := m.counts[i]
		b.points = m.buf[off : off : off+c]
		off += c
	}
	for i, s := range m.shardOf {
		if s >= 0 {
			b := &m.batches[s]
			b.points = append(b.points, points[i])
		}
	}
}

// unixNano is t in ns since the epoch, clamped to the int64 range (group
// bounds can lie beyond year 2262, where time.UnixNano is undefined).
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(minNanoTime):
		return math.MinInt64
	case t.After(maxNanoTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// fnv64a is FNV-1a over b, as (*meta.Data).ShardFor hashes series keys,
// computed without the allocation of hash/fnv.
func fnv64a(b []byte) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for _, c := range b {
		h ^= uint64(c)
		h *= prime64
	}
	return h
}

func growInts(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	s = s[:n]
	clear(s)
	return s
}
