package coordinator_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// gatedStore is a store whose writes block until open is closed; it
// counts the writes in progress (each holds a decoded batch) and their
// peak.
type gatedStore struct {
	open          chan struct{}
	cur, peak     atomic.Int32
	written, seen atomic.Int32
}

func (g *gatedStore) WriteToShard(ctx context.Context, _ uint64, pts []models.Point) error {
	n := g.cur.Add(1)
	defer g.cur.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	g.seen.Add(1)
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.written.Add(int32(len(pts)))
	return nil
}

// startCountingPeer serves an RPCHandler over store behind a wrapper
// counting the requests that reached it, and returns a client whose meta
// state maps node 2 to it.
func startCountingPeer(t *testing.T, cfg coordinator.Config, store coordinator.TSDBStore, arrived *atomic.Int32) *coordinator.RPCClient {
	t.Helper()
	h := coordinator.NewRPCHandler(cfg, store, nil, prometheus.NewRegistry())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		h.ServeHTTP(w, r)
	}))
	p := &peer{srv: srv, data: testData(1, 1)}
	p.data.DataNodes = append(p.data.DataNodes, meta.NodeInfo{ID: 2, RPCAddr: srv.Listener.Addr().String()})
	client := coordinator.NewRPCClient(cfg, p, nil, prometheus.NewRegistry())
	t.Cleanup(func() {
		client.Close()
		srv.Close()
	})
	return client
}

// A sender far ahead of its replica (consistency one) has many shard
// writes in flight at once; the replica must decode and apply at most
// rpc-max-concurrent-writes of them at a time, the others waiting unread,
// and still write every one.
func TestRPCHandler_BoundsConcurrentWrites(t *testing.T) {
	const bound, requests = 2, 8
	cfg := rpcConfig()
	cfg.RPCMaxConcurrentWrites = bound
	store := &gatedStore{open: make(chan struct{})}
	var arrived atomic.Int32
	client := startCountingPeer(t, cfg, store, &arrived)

	pts := samplePoints()
	errs := make(chan error, requests)
	var wg sync.WaitGroup
	for range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- client.WriteShard(context.Background(), 2, 1, pts)
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for arrived.Load() < requests || store.cur.Load() < bound {
		if time.Now().After(deadline) {
			t.Fatalf("after 5s: %d of %d requests at the handler, %d writes in the store; want all and %d",
				arrived.Load(), requests, store.cur.Load(), bound)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Every request is at the handler: an unbounded handler now decodes
	// and applies them all; give it time to show.
	for range 40 {
		if store.cur.Load() > bound {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := store.peak.Load(); got > bound {
		t.Errorf("writes decoded and in the store at once: got %d; want at most rpc-max-concurrent-writes = %d", got, bound)
	}
	close(store.open)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("WriteShard: %v", err)
		}
	}
	if got, want := store.written.Load(), int32(requests*len(pts)); got != want {
		t.Errorf("points written: got %d; want %d", got, want)
	}
	if got := store.peak.Load(); got > bound {
		t.Errorf("peak writes in the store: got %d; want at most %d", got, bound)
	}
}

// A write that waits for a slot longer than rpc-read-timeout is answered
// 503 "busy" without being read or written, an error the PointsWriter
// hands to hinted handoff (not one of the answers a replay would get
// again).
func TestRPCHandler_BusyAfterReadTimeout(t *testing.T) {
	cfg := rpcConfig()
	cfg.RPCMaxConcurrentWrites = 1
	cfg.RPCReadTimeout = meta.Duration(100 * time.Millisecond)
	store := &gatedStore{open: make(chan struct{})}
	var arrived atomic.Int32
	client := startCountingPeer(t, cfg, store, &arrived)

	first := make(chan error, 1)
	go func() { first <- client.WriteShard(context.Background(), 2, 1, samplePoints()) }()
	for store.cur.Load() < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	err := client.WriteShard(context.Background(), 2, 1, samplePoints())
	var re *coordinator.RPCError
	if !errors.As(err, &re) || re.StatusCode != http.StatusServiceUnavailable || re.Code != "busy" {
		t.Fatalf("second write while the only slot is taken: got %v; want an RPCError 503 busy", err)
	}
	for _, replayed := range []error{coordinator.ErrShardNotFound, coordinator.ErrCorruptBatch, coordinator.ErrBodyTooLarge} {
		if errors.Is(err, replayed) {
			t.Errorf("busy answer %v wraps %v: the PointsWriter would not hand it off", err, replayed)
		}
	}
	if got := store.seen.Load(); got != 1 {
		t.Errorf("writes that reached the store: got %d; want 1 (the busy one must not)", got)
	}
	close(store.open)
	if err := <-first; err != nil {
		t.Errorf("first write: %v", err)
	}
}
