package data

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// fakeStore is an in-memory shardStore.
type fakeStore struct {
	mu      sync.Mutex
	shards  map[uint64]int // id → points written
	writeFn func(id uint64) error
}

func newFakeStore(ids ...uint64) *fakeStore {
	s := &fakeStore{shards: make(map[uint64]int)}
	for _, id := range ids {
		s.shards[id] = 0
	}
	return s
}

func (s *fakeStore) CreateShard(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.shards[id]; !ok {
		s.shards[id] = 0
	}
	return nil
}

func (s *fakeStore) DeleteShard(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.shards[id]; !ok {
		return tsdb.ErrShardNotFound
	}
	delete(s.shards, id)
	return nil
}

func (s *fakeStore) ShardIDs() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []uint64
	for id := range s.shards {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (s *fakeStore) WriteReplicaToShard(_ context.Context, id uint64, points []models.Point, _ int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeFn != nil {
		if err := s.writeFn(id); err != nil {
			return err
		}
	}
	if _, ok := s.shards[id]; !ok {
		return tsdb.ErrShardNotFound
	}
	s.shards[id] += len(points)
	return nil
}

// stateWithShards builds a state with one database whose groups hold the
// given shards (id → owners); group 2 is deleted when deleted is set.
func stateWithShards(deleted bool) *meta.Data {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g1 := meta.ShardGroupInfo{ID: 1, StartTime: now, EndTime: now.Add(time.Hour),
		Shards: []meta.ShardInfo{{ID: 10, Owners: []uint64{1, 2}}, {ID: 11, Owners: []uint64{2, 3}}}}
	g2 := meta.ShardGroupInfo{ID: 2, StartTime: now.Add(time.Hour), EndTime: now.Add(2 * time.Hour),
		Shards: []meta.ShardInfo{{ID: 12, Owners: []uint64{1, 3}}}}
	if deleted {
		g2.DeletedAt = now
	}
	return &meta.Data{Databases: []meta.DatabaseInfo{{Name: "db", DefaultRetentionPolicy: "rp",
		RetentionPolicies: []meta.RetentionPolicyInfo{{Name: "rp", ReplicaN: 2, ShardGroupDuration: time.Hour, ShardGroups: []meta.ShardGroupInfo{g1, g2}}}}}}
}

// answered is a meta client whose Answered is fixed.
type answered bool

func (a answered) Answered() bool { return bool(a) }

func TestSyncShards(t *testing.T) {
	tests := []struct {
		name    string
		node    uint64
		held    []uint64
		deleted bool
		keep    func(uint64) bool
		want    []uint64
	}{
		{name: "creates owned shards", node: 1, want: []uint64{10, 12}},
		{name: "keeps owned, deletes others", node: 2, held: []uint64{10, 12, 99}, want: []uint64{10, 11}},
		{name: "deleted group's shard goes", node: 3, held: []uint64{11, 12}, deleted: true, want: []uint64{11}},
		{name: "removed node holds nothing", node: 7, held: []uint64{10}, want: nil},
		{name: "shard being copied stays", node: 7, held: []uint64{10, 11}, keep: func(id uint64) bool { return id == 11 }, want: []uint64{11}},
		// A state meta has not confirmed since the start (the one saved at
		// the last stop) may predate shards on disk: none is deleted.
		{name: "unconfirmed state deletes nothing", node: 2, held: []uint64{10, 12, 99}, keep: keepUntilAnswered(answered(false), nil), want: []uint64{10, 11, 12, 99}},
		{name: "confirmed state deletes", node: 2, held: []uint64{10, 12, 99}, keep: keepUntilAnswered(answered(true), nil), want: []uint64{10, 11}},
		{name: "confirmed state keeps a copied shard", node: 7, held: []uint64{10, 11}, keep: keepUntilAnswered(answered(true), func(id uint64) bool { return id == 11 }), want: []uint64{11}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newFakeStore(tc.held...)
			if err := syncShards(stateWithShards(tc.deleted), tc.node, store, tc.keep, discardLogger()); err != nil {
				t.Fatalf("syncShards: %v", err)
			}
			if got := store.ShardIDs(); !slices.Equal(got, tc.want) {
				t.Errorf("shards held: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLocalStoreCreatesOwnedShardOnDemand(t *testing.T) {
	store := newFakeStore()
	fm := &fakeMeta{data: stateWithShards(false)}
	ls := &localStore{store: store, meta: fm, node: func() uint64 { return 1 }}
	if err := ls.WriteToShard(context.Background(), 10, make([]models.Point, 3)); err != nil {
		t.Fatalf("write to an owned shard not yet created: %v", err)
	}
	if got := store.shards[10]; got != 3 {
		t.Errorf("points in shard 10: got %d, want 3", got)
	}
	err := ls.WriteToShard(context.Background(), 11, make([]models.Point, 1))
	if !errors.Is(err, coordinator.ErrShardNotFound) {
		t.Errorf("write to a shard of other owners: got %v, want coordinator.ErrShardNotFound", err)
	}
	if _, ok := store.shards[11]; ok {
		t.Errorf("shard 11 was created on a node that does not own it")
	}
	// A shard the cached state does not show yet, but meta does.
	newer := stateWithShards(false)
	newer.Databases[0].RetentionPolicies[0].ShardGroups[1].Shards = append(newer.Databases[0].RetentionPolicies[0].ShardGroups[1].Shards,
		meta.ShardInfo{ID: 13, Owners: []uint64{1}})
	refreshes := 0
	ls.refresh = func(context.Context) (*meta.Data, error) { refreshes++; return newer, nil }
	if err := ls.WriteToShard(context.Background(), 13, make([]models.Point, 2)); err != nil || store.shards[13] != 2 || refreshes != 1 {
		t.Errorf("write to a shard only meta knows yet: err %v, %d points, %d refreshes; want nil, 2, 1", err, store.shards[13], refreshes)
	}
	if err := ls.WriteToShard(context.Background(), 11, make([]models.Point, 1)); !errors.Is(err, coordinator.ErrShardNotFound) {
		t.Errorf("write to another node's shard after a refresh: got %v, want ErrShardNotFound", err)
	}
	store.writeFn = func(uint64) error {
		return &tsdb.PartialWriteError{Reason: "field type conflict", Dropped: 2, Errs: []error{errors.New(`field type conflict: input field "v"`)}}
	}
	var pw *coordinator.PartialWriteError
	if err := ls.WriteToShard(context.Background(), 10, nil); !errors.As(err, &pw) || pw.Dropped != 2 || pw.Reason != `field type conflict: input field "v"` {
		t.Errorf("partial write: got %v, want a coordinator.PartialWriteError naming the first conflict, dropped=2", err)
	}
}

// fakeGroupCreator records CreateShardGroup calls.
type fakeGroupCreator struct {
	data  *meta.Data
	times []time.Time
}

func (f *fakeGroupCreator) Data() *meta.Data { return f.data }
func (f *fakeGroupCreator) CreateShardGroup(_ context.Context, db, rp string, t time.Time) (*meta.ShardGroupInfo, error) {
	f.times = append(f.times, t)
	return &meta.ShardGroupInfo{}, nil
}

func TestPrecreateShardGroups(t *testing.T) {
	d := stateWithShards(false)
	start := d.Databases[0].RetentionPolicies[0].ShardGroups[1].StartTime // group 2: [start, start+1h)
	tests := []struct {
		name string
		now  time.Time
		want []time.Time
	}{
		{name: "far from the end", now: start.Add(5 * time.Minute), want: nil},
		{name: "near the end", now: start.Add(40 * time.Minute), want: []time.Time{start.Add(time.Hour)}},
		{name: "next exists", now: start.Add(-10 * time.Minute), want: nil},
		{name: "nothing current", now: start.Add(3 * time.Hour), want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeGroupCreator{data: d}
			if err := precreateShardGroups(context.Background(), f, tc.now, 30*time.Minute); err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(f.times, tc.want, time.Time.Equal) {
				t.Errorf("groups created at: got %v, want %v", f.times, tc.want)
			}
		})
	}
}

// fakeRegistrar is an in-memory metaRegistrar; fresh is what Refresh
// returns (meta's state).
type fakeRegistrar struct {
	data, fresh *meta.Data
	creates     int
	refreshes   int
}

func (f *fakeRegistrar) Data() *meta.Data { return f.data }
func (f *fakeRegistrar) Refresh(context.Context) (*meta.Data, error) {
	f.refreshes++
	f.data = f.fresh
	return f.fresh, nil
}
func (f *fakeRegistrar) CreateDataNode(_ context.Context, httpAddr, rpcAddr string) (*meta.NodeInfo, error) {
	f.creates++
	n := meta.NodeInfo{ID: 5, HTTPAddr: httpAddr, RPCAddr: rpcAddr}
	f.data.DataNodes = []meta.NodeInfo{n}
	f.data.MaxNodeID = 5
	return &n, nil
}

func TestRegisterKeepsNodeID(t *testing.T) {
	dir := t.TempDir()
	f := &fakeRegistrar{data: &meta.Data{}}
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	id, moved, err := register(ctx, dir, f, "h:1", "r:1", logger)
	if err != nil || id != 5 || moved || f.creates != 1 {
		t.Fatalf("first start: got id %d, moved %t, err %v, %d creates; want 5, false, nil, 1", id, moved, err, f.creates)
	}
	id, moved, err = register(ctx, dir, f, "h:1", "r:1", logger)
	if err != nil || id != 5 || moved || f.creates != 1 || f.refreshes != 0 {
		t.Fatalf("restart: got id %d, moved %t, err %v, %d creates, %d refreshes; want 5 from the cache with no new registration", id, moved, err, f.creates, f.refreshes)
	}
	id, moved, err = register(ctx, dir, f, "h:2", "r:2", logger)
	if err != nil || id != 5 || !moved || f.refreshes != 0 {
		t.Fatalf("moved addresses: got id %d, moved %t, err %v, %d refreshes; want 5, moved, without asking meta", id, moved, err, f.refreshes)
	}
	// A state saved before this node registered does not list it: only
	// meta can tell whether it is still a member.
	f.fresh = f.data
	f.data = &meta.Data{MaxNodeID: 4}
	id, _, err = register(ctx, dir, f, "h:2", "r:2", logger)
	if err != nil || id != 5 || f.refreshes != 1 {
		t.Fatalf("state older than the registration: got id %d, err %v, %d refreshes; want 5 after one refresh", id, err, f.refreshes)
	}
	f.data = &meta.Data{MaxNodeID: 5} // removed from the cluster meanwhile
	if _, _, err := register(ctx, dir, f, "h:2", "r:2", logger); err == nil {
		t.Fatal("a node removed from the cluster registered again under its old id; want an error")
	}
	if err := os.WriteFile(filepath.Join(dir, nodeFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := register(ctx, dir, f, "h:2", "r:2", logger); err == nil {
		t.Fatal("a corrupt node.json was accepted; want an error")
	}
}
