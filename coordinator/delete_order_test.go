package coordinator_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// TestDeleteWaitsForAcknowledgedReplicaWrites: a write acknowledged at
// consistency one while its second owner's copy is still on the way, then
// a DELETE through the same node: the delete must reach that owner after
// the copy, or the owner keeps the deleted points (the flaky
// data.TestQueryDDLAndDeletes: "count after DELETE on node 1: 10, want 5").
func TestDeleteWaitsForAcknowledgedReplicaWrites(t *testing.T) {
	d := testData(2, 2, group(1, testGroupStart, 1, []uint64{1, 2}))
	var (
		mu     sync.Mutex
		events []string // on node 2, in order
	)
	note := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	release := make(chan struct{})
	remote := &fakeShardWriter{WriteShardFn: func(ctx context.Context, nodeID, shardID uint64, pts []models.Point) error {
		<-release
		note("write")
		return nil
	}}
	local := &fakeStore{WriteToShardFn: func(uint64, []models.Point) error { return nil }}
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), local, remote, nil, nil)

	deleted := func(node uint64) *fakeReader {
		return &fakeReader{DeleteFromShardFn: func(context.Context, uint64, *coordinator.DeleteRequest) error {
			if node == 2 {
				note("delete")
			}
			return nil
		}}
	}
	nodes := &fakeNodes{nodes: map[uint64]coordinator.ShardReader{2: deleted(2)}}
	s := newStorage(d, 1, deleted(1), nodes)
	s.SetReplicaWaiter(w)

	ctx := context.Background()
	pts := mustParse(t, "cpu,host=a v=1 "+strconv.FormatInt(testGroupStart.Add(time.Minute).UnixNano(), 10))
	if err := w.WritePoints(ctx, testDB, testRP, coordinator.ConsistencyLevelOne, pts); err != nil {
		t.Fatalf("write: %v", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.DropMeasurement(ctx, testDB, "cpu") }()
	select {
	case err := <-errc:
		close(release)
		t.Fatalf("DROP MEASUREMENT ended (%v) while an acknowledged write to owner 2 was still on the way", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatalf("DROP MEASUREMENT: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"write", "delete"}; !slices.Equal(events, want) {
		t.Errorf("owner 2 saw %q, want %q", events, want)
	}
}

// TestDeleteThroughOtherNodeDropsLateReplicaCopy: a write acknowledged at
// consistency one through node 1 whose copy to owner 2 is held back, then
// a DELETE through node 2, then the copy delivered. Without ordering by
// the write's accepted time owner 2 stores the copy after the delete and
// keeps the deleted point. An earlier point of the series, on both owners,
// is deleted too. A point written after the delete, with a time
// inside the deleted range, must stay on both owners.
func TestDeleteThroughOtherNodeDropsLateReplicaCopy(t *testing.T) {
	d := testData(2, 2, group(1, testGroupStart, 1, []uint64{1, 2}))
	store1, store2 := openTestStore(t, 1), openTestStore(t, 1)
	owner2 := startPeer(t, rpcConfig(), store2)

	held := make(chan []byte, 1)
	release := make(chan struct{})
	delivered := make(chan error, 1)
	var hold bool
	remote := shardWriterFunc(func(ctx context.Context, nodeID, shardID uint64, batch []byte) error {
		if hold {
			hold = false
			held <- append([]byte(nil), batch...)
			go func(b []byte) {
				<-release
				delivered <- owner2.client.WriteShardBatch(context.Background(), nodeID, shardID, b)
			}(<-held)
			return context.DeadlineExceeded // the copy is late, not lost
		}
		return owner2.client.WriteShardBatch(ctx, nodeID, shardID, batch)
	})
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), store1, remote, nil, nil)

	ctx := context.Background()
	deletedAt := testGroupStart.Add(time.Minute).UnixNano()
	laterAt := testGroupStart.Add(2 * time.Minute).UnixNano()
	// The series is on both owners before: an owner records a delete as
	// tombstones of the series it holds (coordinator/DESIGN.md).
	hold = false
	if err := w.WritePoints(ctx, testDB, testRP, coordinator.ConsistencyLevelAll,
		mustParse(t, "cpu,host=a v=0 "+strconv.FormatInt(testGroupStart.Add(30*time.Second).UnixNano(), 10))); err != nil {
		t.Fatalf("first write: %v", err)
	}
	hold = true
	if err := w.WritePoints(ctx, testDB, testRP, coordinator.ConsistencyLevelOne,
		mustParse(t, "cpu,host=a v=1 "+strconv.FormatInt(deletedAt, 10))); err != nil {
		t.Fatalf("write: %v", err)
	}

	// DELETE through node 2, which never saw the write.
	s2 := newStorage(d, 2, coordinator.NewLocalShardReader(store2),
		&fakeNodes{nodes: map[uint64]coordinator.ShardReader{1: coordinator.NewLocalShardReader(store1)}})
	if err := s2.DeleteSeries(ctx, testDB, "cpu", nil, testGroupStart.UnixNano(), laterAt+int64(time.Hour)); err != nil {
		t.Fatalf("delete: %v", err)
	}
	time.Sleep(time.Millisecond) // the later write is accepted after the delete on any clock granularity

	close(release)
	if err := <-delivered; err != nil {
		t.Fatalf("late copy: %v", err)
	}
	if err := w.WritePoints(ctx, testDB, testRP, coordinator.ConsistencyLevelAll,
		mustParse(t, "cpu,host=a v=2 "+strconv.FormatInt(laterAt, 10))); err != nil {
		t.Fatalf("write after the delete: %v", err)
	}

	key := []byte("cpu,host=a")
	for node, st := range map[int]*tsdb.Store{1: store1, 2: store2} {
		var times []int64
		if err := st.Shard(1).SeriesPoints(key, testGroupStart.UnixNano(), laterAt+int64(time.Hour), func(p models.Point) error {
			times = append(times, p.Time)
			return nil
		}); err != nil {
			t.Fatalf("owner %d: read: %v", node, err)
		}
		if want := []int64{laterAt}; !slices.Equal(times, want) {
			t.Errorf("owner %d holds points at %v, want only the one written after the delete %v (deleted: %d)", node, times, want, deletedAt)
		}
	}
}

// shardWriterFunc is a coordinator.ShardWriter of one function.
type shardWriterFunc func(ctx context.Context, nodeID, shardID uint64, batch []byte) error

func (f shardWriterFunc) WriteShardBatch(ctx context.Context, nodeID, shardID uint64, batch []byte) error {
	return f(ctx, nodeID, shardID, batch)
}
