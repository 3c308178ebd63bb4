package coordinator_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator"
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
