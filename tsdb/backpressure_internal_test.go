package tsdb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/strata-db/strata/tsdb/models"
)

// fullCacheShard opens a shard whose cache holds about 8 KiB, and a batch
// builder for it: batch(i, n) is n one-value points of one series from
// time i.
func fullCacheShard(t *testing.T) (*Shard, func(from, n int) []models.Point) {
	t.Helper()
	cfg := NewConfig()
	cfg.Dir = t.TempDir()
	cfg.CompactCheckInterval = 0
	// Snapshots start only when the cache is full, so the test decides
	// when one can run.
	cfg.CacheSnapshotSize = 8 << 10
	cfg.CacheMaxSize = 8 << 10
	sh := openTestShard(t, cfg)
	batch := func(from, n int) []models.Point {
		pts := make([]models.Point, n)
		for i := range pts {
			pts[i] = models.Point{
				Measurement: []byte("cpu"),
				Tags:        models.Tags{{Key: []byte("host"), Value: []byte("a")}},
				Fields:      []models.Field{{Key: []byte("v"), Value: models.FloatValue(float64(from + i))}},
				Time:        int64(from + i),
			}
		}
		return pts
	}
	return sh, batch
}

// wantShardState checks how many values of the test series the shard
// serves and how many writes it rejected for a full cache.
func wantShardState(t *testing.T, sh *Shard, values int, rejected float64) {
	t.Helper()
	c, err := sh.Cursor([]byte("cpu,host=a"), []byte("v"), 0, 1<<40, true)
	if err != nil {
		t.Fatalf("cursor: %v", err)
	}
	defer c.Close()
	if n := c.Len(); n != values {
		t.Fatalf("shard serves %d values, want %d", n, values)
	}
	if got := counterValue(t, sh.metrics.cacheFull); got != rejected {
		t.Fatalf("strata_tsdb_cache_full_total = %v, want %v", got, rejected)
	}
}

// TestFullCacheWriteWaitsForSnapshot: a write that finds the cache full
// waits for a snapshot to free room and is then accepted (issue 17: it used
// to fail at once with ErrCacheFull, a 500 to the client).
func TestFullCacheWriteWaitsForSnapshot(t *testing.T) {
	sh, batch := fullCacheShard(t)
	if err := sh.WritePoints(context.Background(), batch(0, 200)); err != nil {
		t.Fatalf("first batch: %v", err)
	}
	// Hold snapshots back, so the next batch finds the cache full and has
	// to wait.
	sh.snapMu.Lock()
	done := make(chan error, 1)
	go func() { done <- sh.WritePoints(context.Background(), batch(200, 300)) }()
	for counterValue(t, sh.metrics.cacheWaits) == 0 && len(done) == 0 {
		time.Sleep(time.Millisecond)
	}
	if len(done) > 0 {
		sh.snapMu.Unlock()
		t.Fatalf("write into a full cache returned %v before any snapshot, want it to wait", <-done)
	}
	sh.snapMu.Unlock() // the snapshot the waiting writer asked for runs
	if err := <-done; err != nil {
		t.Fatalf("write after the snapshot freed room: got %v, want nil", err)
	}
	wantShardState(t, sh, 500, 0)
}

// TestFullCacheWriteTimesOut: when no snapshot frees room before the
// write's deadline (the coordinator's write timeout), the write fails with
// an error saying so, and nothing of it is written.
func TestFullCacheWriteTimesOut(t *testing.T) {
	sh, batch := fullCacheShard(t)
	if err := sh.WritePoints(context.Background(), batch(0, 200)); err != nil {
		t.Fatalf("first batch: %v", err)
	}
	sh.snapMu.Lock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := sh.WritePoints(ctx, batch(200, 300))
	sh.snapMu.Unlock()
	if !errors.Is(err, ErrCacheFull) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write past its deadline into a full cache: got %v, want ErrCacheFull and DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "gave up after waiting") {
		t.Fatalf("error %q does not say the write waited", err)
	}
	wantShardState(t, sh, 200, 1)
}

// TestOversizeBatchFailsAtOnce: a batch bigger than the whole cache cannot
// be helped by waiting, so it fails at once, even with no deadline.
func TestOversizeBatchFailsAtOnce(t *testing.T) {
	sh, batch := fullCacheShard(t)
	err := sh.WritePoints(context.Background(), batch(0, 5000))
	if !errors.Is(err, ErrCacheFull) || !strings.Contains(err.Error(), "cache-max-memory-size is") {
		t.Fatalf("oversize batch: got %v, want ErrCacheFull naming the limit", err)
	}
	wantShardState(t, sh, 0, 1)
}

// counterValue reads a counter's current value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return m.GetCounter().GetValue()
}
