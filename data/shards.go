package data

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/index"
	"github.com/strata-db/strata/tsdb/models"
)

// shardStore is what shard lifecycle and local writes need from tsdb.Store.
type shardStore interface {
	CreateShard(id uint64) error
	DeleteShard(id uint64) error
	ShardIDs() []uint64
	WriteReplicaToShard(ctx context.Context, id uint64, points []models.Point, accepted int64) error
}

// ownedShards returns the ids of the shards of live groups that node owns.
// Shards of deleted groups, dropped databases and other owners are absent.
func ownedShards(d *meta.Data, node uint64) map[uint64]bool {
	owned := make(map[uint64]bool)
	for _, db := range d.Databases {
		for _, rp := range db.RetentionPolicies {
			for _, sg := range rp.ShardGroups {
				if sg.Deleted() {
					continue
				}
				for _, sh := range sg.Shards {
					for _, o := range sh.Owners {
						if o == node {
							owned[sh.ID] = true
						}
					}
				}
			}
		}
	}
	return owned
}

// syncShards makes the store hold exactly the shards node owns in d:
// missing ones are created, ones it no longer owns (dropped database,
// deleted group, removed ownership) are deleted, except those keep (when
// not nil) reports (shards being copied here). It returns the first error
// but keeps going past it.
func syncShards(d *meta.Data, node uint64, store shardStore, keep func(uint64) bool, logger *slog.Logger) error {
	owned := ownedShards(d, node)
	held := make(map[uint64]bool)
	var errs []error
	for _, id := range store.ShardIDs() {
		held[id] = true
		if owned[id] || (keep != nil && keep(id)) {
			continue
		}
		if err := store.DeleteShard(id); err != nil && !errors.Is(err, tsdb.ErrShardNotFound) {
			errs = append(errs, err)
			continue
		}
		logger.Info("deleted shard no longer owned", "shard_id", id)
	}
	for id := range owned {
		if held[id] {
			continue
		}
		if err := store.CreateShard(id); err != nil {
			errs = append(errs, err)
			continue
		}
		logger.Info("created shard", "shard_id", id)
	}
	return errors.Join(errs...)
}

// keepUntilAnswered returns keep, extended to every shard while m has not
// heard from meta since the node started: the state saved at the last
// stop can be older than the shards on disk (a group created, and written
// to, after the save; a kill -9 seconds after a new group deleted its
// acknowledged points at the restart), so a shard it does not list is no
// proof that the node lost it. Deletions wait for meta's answer.
func keepUntilAnswered(m interface{ Answered() bool }, keep func(uint64) bool) func(uint64) bool {
	return func(id uint64) bool { return !m.Answered() || (keep != nil && keep(id)) }
}

// localStore writes to this node's shards, creating a shard that meta says
// this node owns but the lifecycle loop has not created yet. A write can
// race the loop right after a new group appears, and it can even arrive
// (from another data node) before this node's cached state shows the
// group: then the state is read from meta once more before the write is
// refused.
type localStore struct {
	store shardStore
	meta  interface{ Data() *meta.Data }
	node  func() uint64
	// refresh reads the current state from meta, bypassing the cache; nil
	// disables the re-check.
	refresh func(ctx context.Context) (*meta.Data, error)
	// forward, when not nil, passes every write on to the nodes copying
	// its shard.
	forward *copyForwarder
}

// refreshTimeout bounds the meta read behind an unknown shard.
const refreshTimeout = 5 * time.Second

// WriteToShard implements coordinator.TSDBStore. Field type conflicts and
// points past the series limits come back as a
// *coordinator.PartialWriteError (the shard took the other points); a
// shard this node does not own is coordinator.ErrShardNotFound.
func (s *localStore) WriteToShard(ctx context.Context, id uint64, points []models.Point) error {
	return s.WriteReplicaToShard(ctx, id, points, 0)
}

// WriteReplicaToShard implements coordinator.ReplicaStore: it writes as
// WriteToShard does, less the values deleted after accepted (see
// tsdb.Shard.WriteReplicaPoints; 0 drops nothing).
func (s *localStore) WriteReplicaToShard(ctx context.Context, id uint64, points []models.Point, accepted int64) error {
	err := s.store.WriteReplicaToShard(ctx, id, points, accepted)
	if errors.Is(err, tsdb.ErrShardNotFound) {
		if !s.owns(id) {
			return fmt.Errorf("shard %d: %w", id, coordinator.ErrShardNotFound)
		}
		if err := s.store.CreateShard(id); err != nil {
			return err
		}
		err = s.store.WriteReplicaToShard(ctx, id, points, accepted)
	}
	var pw *tsdb.PartialWriteError
	if s.forward != nil && (err == nil || errors.As(err, &pw)) {
		s.forward.Forward(id, points)
	}
	if errors.As(err, &pw) {
		reason := pw.Reason
		if len(pw.Errs) > 0 {
			// InfluxDB names the first conflict or limit, in the index's
			// words.
			reason = pw.Errs[0].Error()
			var pe index.PointError
			if errors.As(pw.Errs[0], &pe) {
				reason = pe.Err.Error()
			}
		}
		return &coordinator.PartialWriteError{Reason: reason, Dropped: pw.Dropped}
	}
	return err
}

// owns reports whether meta assigns shard id to this node, asking meta
// directly when the cached state does not say so.
func (s *localStore) owns(id uint64) bool {
	if d := s.meta.Data(); d != nil && ownedShards(d, s.node())[id] {
		return true
	}
	if s.refresh == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	d, err := s.refresh(ctx)
	return err == nil && d != nil && ownedShards(d, s.node())[id]
}

// shardGroupCreator is what pre-creation needs from the meta client.
type shardGroupCreator interface {
	Data() *meta.Data
	CreateShardGroup(ctx context.Context, db, rp string, t time.Time) (*meta.ShardGroupInfo, error)
}

// precreateShardGroups creates, for every policy whose current group ends
// within advance of now, the group that follows it, so the first writes
// of the next period do not wait for meta. Policies without a current
// group (nothing written lately) are left alone.
func precreateShardGroups(ctx context.Context, mc shardGroupCreator, now time.Time, advance time.Duration) error {
	d := mc.Data()
	if d == nil {
		return nil
	}
	var errs []error
	for _, db := range d.Databases {
		for _, rp := range db.RetentionPolicies {
			cur := d.ShardGroupByTimestamp(db.Name, rp.Name, now)
			if cur == nil || cur.EndTime.Sub(now) > advance {
				continue
			}
			if d.ShardGroupByTimestamp(db.Name, rp.Name, cur.EndTime) != nil {
				continue
			}
			if _, err := mc.CreateShardGroup(ctx, db.Name, rp.Name, cur.EndTime); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
