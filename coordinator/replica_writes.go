package coordinator

import (
	"context"
	"sync"

	"github.com/strata-db/strata/meta"
)

// replicaWrites tracks, per shard, the remote owner writes still running,
// in cohorts: a waiter seals the shard's open cohort and waits for it
// alone, so writes that start later never hold it up.
type replicaWrites struct {
	mu     sync.Mutex
	shards map[uint64]*replicaCohort // the open cohort of each shard with writes running
}

// replicaCohort is a set of remote owner writes to one shard.
type replicaCohort struct {
	running int
	sealed  bool
	done    chan struct{} // made when sealed; closed when running reaches 0
}

// begin counts n remote owner writes to shardID starting, returning the
// cohort to hand end.
func (r *replicaWrites) begin(shardID uint64, n int) *replicaCohort {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shards == nil {
		r.shards = make(map[uint64]*replicaCohort)
	}
	c := r.shards[shardID]
	if c == nil {
		c = &replicaCohort{}
		r.shards[shardID] = c
	}
	c.running += n
	return c
}

// end counts one write of cohort c to shardID ended.
func (r *replicaWrites) end(shardID uint64, c *replicaCohort) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.running--
	if c.running > 0 {
		return
	}
	if c.sealed {
		close(c.done)
		return
	}
	delete(r.shards, shardID) // c is still the shard's open cohort
}

// wait waits until the writes to shardIDs running when it was called have
// ended, or ctx ends.
func (r *replicaWrites) wait(ctx context.Context, shardIDs []uint64) error {
	var waits []chan struct{}
	r.mu.Lock()
	for _, id := range shardIDs {
		c := r.shards[id]
		if c == nil {
			continue
		}
		c.sealed = true
		c.done = make(chan struct{})
		delete(r.shards, id)
		waits = append(waits, c.done)
	}
	r.mu.Unlock()
	for _, done := range waits {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// remoteOwners returns how many of shard's owners are not self.
func remoteOwners(shard *meta.ShardInfo, self uint64) int {
	n := 0
	for _, o := range shard.Owners {
		if o != self {
			n++
		}
	}
	return n
}

// ReplicaWaiter waits for the replica writes a node started before the
// call; ClusterStorage's deletes use it (a *PointsWriter is one).
type ReplicaWaiter interface {
	// WaitReplicaWrites waits until the remote owner writes to shardIDs
	// running when it was called have ended, or ctx ends.
	WaitReplicaWrites(ctx context.Context, shardIDs []uint64) error
}

// WaitReplicaWrites waits until the remote owner writes to shardIDs that
// were running when it was called (a write acknowledged at consistency one
// or any leaves the other owners' copies running) have ended: delivered,
// or handed to hinted handoff. It fails only when ctx ends first.
func (w *PointsWriter) WaitReplicaWrites(ctx context.Context, shardIDs []uint64) error {
	return w.replicas.wait(ctx, shardIDs)
}

// SetReplicaWaiter makes every later DROP MEASUREMENT, DROP SERIES and
// DELETE wait, before it reaches any owner, for the replica writes rw
// started before it, so an owner never applies a delete ahead of a copy of
// a write acknowledged earlier (and keeps the deleted points). Call it
// before the storage is used.
func (s *ClusterStorage) SetReplicaWaiter(rw ReplicaWaiter) {
	s.replicas = rw
}
