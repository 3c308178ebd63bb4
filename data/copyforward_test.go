package data

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/tsdb/models"
)

// sentBatches records what a copyForwarder sends.
type sentBatches struct {
	mu   sync.Mutex
	sent map[[2]uint64]int // {node, shard} -> points
}

func (s *sentBatches) WriteShardBatch(_ context.Context, node, shard uint64, batch []byte) error {
	pts, err := coordinator.DecodePoints(batch, nil)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent[[2]uint64{node, shard}] += len(pts)
	return nil
}

func (s *sentBatches) get(node, shard uint64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[[2]uint64{node, shard}]
}

func TestCopyForwarder(t *testing.T) {
	w := &sentBatches{sent: map[[2]uint64]int{}}
	f := newCopyForwarder(w, discardLogger())
	defer f.Close()
	var parser models.Parser
	pts, err := parser.Parse([]byte("cpu v=1 1\ncpu v=2 2\n"), models.PrecisionNanosecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Forward(10, pts) // no lease: nothing sent

	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, CopyForwardPath+"?shard=10&dest=x", nil))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("bad dest: status %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, CopyForwardPath+"?shard=10&dest=3", nil))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("renew: status %d", rec.Code)
	}
	f.Forward(10, pts)
	f.Forward(11, pts) // another shard: not forwarded
	deadline := time.Now().Add(5 * time.Second)
	for w.get(3, 10) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("forwarded %d points of shard 10 to node 3, want 2", w.get(3, 10))
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A lapsed lease stops forwarding.
	f.mu.Lock()
	f.leases[10][3] = time.Now().Add(-time.Second)
	f.mu.Unlock()
	f.Forward(10, pts)
	if n := f.active.Load(); n != 0 {
		t.Fatalf("%d leases active after the only one lapsed", n)
	}
	time.Sleep(50 * time.Millisecond)
	if got := w.get(3, 10); got != 2 || w.get(3, 11) != 0 {
		t.Fatalf("forwarded %d points of shard 10 and %d of 11 in all, want 2 and 0", got, w.get(3, 11))
	}
}
