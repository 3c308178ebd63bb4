package tsdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/wal"
)

// Store holds the shards of a data node, each in its own directory under
// Config.Dir named by the shard id. All methods are safe for concurrent use.
type Store struct {
	cfg        Config
	logger     *slog.Logger
	metrics    *metrics
	walMetrics *wal.Metrics
	compSem    chan struct{}

	mu     sync.RWMutex // protects shards and open
	shards map[uint64]*Shard
	open   bool
}

// NewStore returns a closed Store; call Open. A nil logger discards logs and
// a nil reg registers no metrics.
func NewStore(cfg Config, logger *slog.Logger, reg prometheus.Registerer) *Store {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	wm, err := wal.NewMetrics(reg)
	if err != nil {
		// A foreign collector holds a WAL metric name: keep going with
		// unregistered metrics rather than fail the data node.
		logger.Warn("wal metrics not registered", "err", err)
		wm, _ = wal.NewMetrics(nil)
	}
	return &Store{
		cfg:        cfg,
		logger:     logger,
		metrics:    newMetrics(reg),
		walMetrics: wm,
		compSem:    make(chan struct{}, max(1, cfg.MaxConcurrentCompactions)),
		shards:     make(map[uint64]*Shard),
	}
}

// Open validates the config and opens every shard directory found under
// Config.Dir (replaying their WALs). Calling Open on an open Store is a
// no-op.
func (s *Store) Open() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open {
		return nil
	}
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("create store dir: %w", err)
	}
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("list store dir: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), installPrefix) {
			// A shard install a crash interrupted: never a shard.
			if err := os.RemoveAll(filepath.Join(s.cfg.Dir, e.Name())); err != nil {
				return fmt.Errorf("remove interrupted shard install: %w", err)
			}
			continue
		}
		id, err := strconv.ParseUint(e.Name(), 10, 64)
		if err != nil || !e.IsDir() {
			continue
		}
		sh, err := s.openShardLocked(id)
		if err != nil {
			for _, o := range s.shards {
				_ = o.Close()
			}
			clear(s.shards)
			return err
		}
		s.shards[id] = sh
	}
	s.open = true
	s.logger.Info("store opened", "shards", len(s.shards))
	return nil
}

func (s *Store) openShardLocked(id uint64) (*Shard, error) {
	sh, err := openShard(id, s.shardDir(id), s.cfg, s.logger, s.metrics, s.walMetrics, s.compSem)
	if err != nil {
		return nil, err
	}
	s.metrics.shards.Inc()
	return sh, nil
}

func (s *Store) shardDir(id uint64) string {
	return filepath.Join(s.cfg.Dir, strconv.FormatUint(id, 10))
}

// Close closes every shard. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return nil
	}
	s.open = false
	var errs []error
	for id, sh := range s.shards {
		if err := sh.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close shard %d: %w", id, err))
		}
		s.metrics.shards.Dec()
	}
	clear(s.shards)
	return errors.Join(errs...)
}

// CreateShard creates and opens shard id; it is a no-op when the shard
// exists.
func (s *Store) CreateShard(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return ErrStoreClosed
	}
	if _, ok := s.shards[id]; ok {
		return nil
	}
	sh, err := s.openShardLocked(id)
	if err != nil {
		return err
	}
	s.shards[id] = sh
	s.logger.Info("shard created", "shard_id", id)
	return nil
}

// Shard returns shard id, or nil when the Store does not hold it.
func (s *Store) Shard(id uint64) *Shard {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.shards[id]
}

// ShardIDs returns the ids of the open shards, ascending.
func (s *Store) ShardIDs() []uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]uint64, 0, len(s.shards))
	for id := range s.shards {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// DeleteShard closes shard id and removes its directory. Deleting a shard
// the Store does not hold returns ErrShardNotFound.
func (s *Store) DeleteShard(id uint64) error {
	s.mu.Lock()
	sh, ok := s.shards[id]
	if ok {
		delete(s.shards, id)
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("delete shard %d: %w", id, ErrShardNotFound)
	}
	s.metrics.shards.Dec()
	if err := sh.close(false); err != nil {
		s.logger.Warn("closing deleted shard failed", "shard_id", id, "err", err)
	}
	if err := os.RemoveAll(sh.dir); err != nil {
		return fmt.Errorf("remove shard %d: %w", id, err)
	}
	s.logger.Info("shard deleted", "shard_id", id)
	return nil
}

// DiskSize returns the bytes on disk of all shards.
func (s *Store) DiskSize() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var n int64
	for _, sh := range s.shards {
		n += sh.DiskSize()
	}
	return n
}

// WriteToShard writes points to shard id durably (see Shard.WritePoints:
// a full cache makes it wait, bounded by ctx). A missing shard gives
// ErrShardNotFound.
func (s *Store) WriteToShard(ctx context.Context, id uint64, points []models.Point) error {
	sh := s.Shard(id)
	if sh == nil {
		return fmt.Errorf("write to shard %d: %w", id, ErrShardNotFound)
	}
	return sh.WritePoints(ctx, points)
}
