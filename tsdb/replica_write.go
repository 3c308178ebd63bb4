package tsdb

import (
	"context"
	"fmt"

	"github.com/strata-db/strata/tsdb/models"
)

// WriteReplicaPoints writes a copy of points another node's coordinator
// accepted at accepted (ns since the epoch, its clock) as WritePoints
// does, but first drops the values a tombstone created after accepted
// covers: the delete that made that tombstone was issued after the write
// was acknowledged, so the write must not outlive it when its copy arrives
// late (a replica RPC still on the way, a hinted-handoff replay). An
// accepted of 0 (unknown: a batch from an older node) drops nothing.
// Deletes of this shard wait for the filter and the write, so none slips
// in between.
func (s *Shard) WriteReplicaPoints(ctx context.Context, points []models.Point, accepted int64) error {
	if accepted == 0 {
		return s.WritePoints(ctx, points)
	}
	s.deleteOrder.RLock()
	defer s.deleteOrder.RUnlock()
	return s.WritePoints(ctx, dropDeletedAfter(s.tombs.all(), points, accepted))
}

// dropDeletedAfter returns points without the values covered by a
// tombstone of ts created after accepted. points is returned as is when
// nothing is covered; otherwise the result is a new slice, and a point
// losing some of its fields gets a new Fields slice (points' own arrays
// are never modified).
func dropDeletedAfter(ts []Tombstone, points []models.Point, accepted int64) []models.Point {
	later := make([]*Tombstone, 0, 4)
	for i := range ts {
		if ts[i].Created > accepted {
			later = append(later, &ts[i])
		}
	}
	if len(later) == 0 {
		return points
	}
	var (
		out []models.Point
		key []byte
	)
	for i := range points {
		p := points[i]
		key = p.AppendSeriesKey(key[:0])
		kept := p.Fields
		for j := len(p.Fields) - 1; j >= 0; j-- {
			if coveredByAny(later, key, p.Fields[j].Key, p.Time) {
				if len(kept) == len(p.Fields) {
					kept = append([]models.Field(nil), p.Fields...)
				}
				kept = append(kept[:j], kept[j+1:]...)
			}
		}
		if len(kept) == len(p.Fields) && out == nil {
			continue
		}
		if out == nil {
			out = append(make([]models.Point, 0, len(points)), points[:i]...)
		}
		if len(kept) > 0 {
			p.Fields = kept
			out = append(out, p)
		}
	}
	if out == nil {
		return points
	}
	return out
}

// coveredByAny reports whether a tombstone of ts deletes field of the
// series key at time t.
func coveredByAny(ts []*Tombstone, key, field []byte, t int64) bool {
	for _, tb := range ts {
		if tb.Min <= t && t <= tb.Max && tb.matches(key, field) {
			return true
		}
	}
	return false
}

// WriteReplicaToShard writes a replica copy to shard id as
// Shard.WriteReplicaPoints does. A missing shard gives ErrShardNotFound.
func (s *Store) WriteReplicaToShard(ctx context.Context, id uint64, points []models.Point, accepted int64) error {
	sh := s.Shard(id)
	if sh == nil {
		return fmt.Errorf("write to shard %d: %w", id, ErrShardNotFound)
	}
	return sh.WriteReplicaPoints(ctx, points, accepted)
}
