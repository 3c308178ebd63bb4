package data

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/tsdb/models"
)

// CopyForwardPath is the internode endpoint a copy's destination calls on
// its source (POST ?shard=ID&dest=NODE) to receive the writes the shard
// takes until the lease ends; each call renews it.
const CopyForwardPath = "/rpc/v1/copy/forward"

// Copy forwarding. A destination renews its lease every copyForwardRenew
// while its copy runs before the owner change; a lease lapses after
// copyForwardLease, so a destination that died stops costing its source.
// At most copyForwardQueue batches wait to be sent; more are dropped (the
// copy's next exchange brings them over).
const (
	copyForwardLease = 10 * time.Second
	copyForwardRenew = 2 * time.Second
	copyForwardQueue = 256
	copyForwardWrite = 5 * time.Second
)

// batchWriter is what forwarding needs of the internode RPC client.
type batchWriter interface {
	WriteShardBatch(ctx context.Context, nodeID, shardID uint64, batch []byte) error
}

// forwardBatch is one write on its way to a copy's destination.
type forwardBatch struct {
	shard, dest uint64
	batch       []byte
}

// copyForwarder runs on a copy's source: it sends the writes a shard
// takes to the nodes copying it, so a copy that is not an owner yet
// receives them as owners do and its Merkle root can agree with the
// source's before the owner change. Sending is best effort and off the
// write path. Safe for concurrent use.
type copyForwarder struct {
	writer batchWriter
	logger *slog.Logger
	// active counts the leases, so writes skip the lock when none.
	active atomic.Int64

	mu     sync.Mutex // protects leases
	leases map[uint64]map[uint64]time.Time

	queue chan forwardBatch
	stop  chan struct{}
	wg    sync.WaitGroup
}

func newCopyForwarder(w batchWriter, logger *slog.Logger) *copyForwarder {
	f := &copyForwarder{writer: w, logger: logger, leases: map[uint64]map[uint64]time.Time{},
		queue: make(chan forwardBatch, copyForwardQueue), stop: make(chan struct{})}
	f.wg.Add(1)
	go f.send()
	return f
}

// Renew starts or extends forwarding shard's writes to dest.
func (f *copyForwarder) Renew(shard, dest uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leases[shard] == nil {
		f.leases[shard] = map[uint64]time.Time{}
	}
	if _, ok := f.leases[shard][dest]; !ok {
		f.active.Add(1)
		f.logger.Info("forwarding writes to a shard copy", "shard_id", shard, "dest", dest)
	}
	f.leases[shard][dest] = time.Now().Add(copyForwardLease)
}

// Forward queues points, just written to shard, for the nodes copying it.
func (f *copyForwarder) Forward(shard uint64, points []models.Point) {
	if f.active.Load() == 0 {
		return
	}
	f.mu.Lock()
	var dests []uint64
	now := time.Now()
	for dest, until := range f.leases[shard] {
		if now.After(until) {
			delete(f.leases[shard], dest)
			f.active.Add(-1)
			f.logger.Info("stopped forwarding writes to a shard copy", "shard_id", shard, "dest", dest)
			continue
		}
		dests = append(dests, dest)
	}
	f.mu.Unlock()
	if len(dests) == 0 {
		return
	}
	batch := coordinator.AppendPoints(nil, points)
	for _, dest := range dests {
		select {
		case f.queue <- forwardBatch{shard: shard, dest: dest, batch: batch}:
		default: // the copy's next exchange brings them over
		}
	}
}

// send writes queued batches until Close.
func (f *copyForwarder) send() {
	defer f.wg.Done()
	for {
		select {
		case <-f.stop:
			return
		case b := <-f.queue:
			ctx, cancel := context.WithTimeout(context.Background(), copyForwardWrite)
			if err := f.writer.WriteShardBatch(ctx, b.dest, b.shard, b.batch); err != nil {
				f.logger.Debug("forwarding a write to a shard copy failed", "shard_id", b.shard, "dest", b.dest, "error", err)
			}
			cancel()
		}
	}
}

// Close stops sending; queued batches are dropped.
func (f *copyForwarder) Close() {
	select {
	case <-f.stop:
		return
	default:
		close(f.stop)
	}
	f.wg.Wait()
}

// ServeHTTP renews a lease: POST CopyForwardPath?shard=ID&dest=NODE.
func (f *copyForwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	shard, err1 := strconv.ParseUint(r.URL.Query().Get("shard"), 10, 64)
	dest, err2 := strconv.ParseUint(r.URL.Query().Get("dest"), 10, 64)
	if err1 != nil || err2 != nil || dest == 0 {
		http.Error(w, "shard and dest must be a shard id and a data node id", http.StatusBadRequest)
		return
	}
	f.Renew(shard, dest)
	w.WriteHeader(http.StatusNoContent)
}
