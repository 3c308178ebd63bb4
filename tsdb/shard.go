package tsdb

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata/tsdb/index"
	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/wal"
)

// Shard directory entries (docs/layout.md).
const (
	indexDirName = "index"
	walDirName   = "wal"
)

// Shard is the storage engine of one shard: series index, WAL, cache, data
// files and tombstones in one directory. All methods are safe for concurrent
// use. Writes are durable when WritePoints returns; reads see every write
// that returned before they started.
type Shard struct {
	id      uint64
	dir     string
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
	compSem chan struct{} // Store-wide compaction slots

	index *index.Index
	wal   *wal.WAL
	tombs *tombstoneSet
	dig   *digestState

	// mu orders writes against cache swaps, deletes and file-set changes.
	// Writers hold it shared from their WAL write to their cache insert, so
	// a snapshot (exclusive) never separates a WAL record from its values.
	mu sync.RWMutex
	// cache receives new writes; guarded by mu (the pointer), internally
	// locked (the content).
	cache *cache
	// snap is the cache being written to a file, nil when none; guarded by mu.
	snap *snapState
	// files are the data files, oldest first; guarded by mu (copy on write).
	files []*dataFile
	// nextSeq is the sequence number of the next level-1 file; guarded by mu.
	nextSeq uint64

	snapMu    sync.Mutex // serializes snapshots
	compactMu sync.Mutex // serializes compactions; protects tombDrop
	// tombDrop is tombstone bookkeeping waiting for compaction inputs to be
	// deleted.
	tombDrop *tombstoneDrop

	lastWrite atomic.Int64 // unix ns of the last write, for cold detection
	closed    atomic.Bool
	snapCh    chan struct{}
	stopCh    chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// snapState is a cache swapped out for a snapshot: readable, never written.
type snapState struct {
	c      *cache
	seq    uint64 // sequence of the file it becomes
	walSeg uint64 // WAL segments up to this one are in c
}

// openShard opens (creating if needed) the shard in dir and replays its WAL.
func openShard(id uint64, dir string, cfg Config, logger *slog.Logger, m *metrics,
	walMetrics *wal.Metrics, compSem chan struct{}) (*Shard, error) {
	logger = logger.With("shard_id", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create shard dir: %w", err)
	}
	s := &Shard{
		id: id, dir: dir, cfg: cfg, logger: logger, metrics: m, compSem: compSem,
		cache:  newCache(),
		snapCh: make(chan struct{}, 1),
		stopCh: make(chan struct{}),
	}
	s.dig = newDigestState(cfg)
	ok := false
	defer func() {
		if !ok {
			s.closeResources()
		}
	}()
	idx, err := index.Open(filepath.Join(dir, indexDirName), logger)
	if err != nil {
		return nil, fmt.Errorf("open shard %d index: %w", id, err)
	}
	idx.SetLimits(index.Limits{MaxSeries: cfg.MaxSeriesPerDatabase, MaxValuesPerTag: cfg.MaxValuesPerTag})
	s.index = idx
	if s.tombs, err = openTombstones(dir, logger); err != nil {
		return nil, fmt.Errorf("open shard %d: %w", id, err)
	}
	if err := s.openFiles(); err != nil {
		return nil, fmt.Errorf("open shard %d files: %w", id, err)
	}
	for _, t := range s.tombs.all() {
		s.nextSeq = max(s.nextSeq, t.Seq)
	}
	w, err := wal.Open(filepath.Join(dir, walDirName), cfg.WAL, logger, nil, wal.WithMetrics(walMetrics))
	if err != nil {
		return nil, fmt.Errorf("open shard %d wal: %w", id, err)
	}
	s.wal = w
	if err := s.replay(); err != nil {
		return nil, fmt.Errorf("replay shard %d wal: %w", id, err)
	}
	s.metrics.cacheBytes.Add(float64(s.cache.size.Load()))
	s.metrics.files.Add(float64(len(s.files)))
	s.lastWrite.Store(time.Now().UnixNano())
	s.wg.Add(1)
	go s.background()
	ok = true
	return s, nil
}

// replay re-inserts the WAL's records into the cache, in order.
func (s *Shard) replay() error {
	var dec walDecoder
	vis := walVisitor{
		value: func(seriesKey, field []byte, ts int64, v models.Value) error {
			s.cache.write(seriesKey, field, ts, v)
			return nil
		},
		delete: func(t Tombstone) error {
			s.cache.deleteRange(&t)
			return nil
		},
	}
	return s.wal.Replay(func(seg uint64, rec []byte) error {
		if err := dec.decode(rec, vis); err != nil {
			// The WAL checksummed the record, so this is a bug or a format
			// from the future; skip the record rather than refuse to open.
			s.metrics.replayErrors.Inc()
			s.logger.Error("skipping undecodable wal record", "segment", seg, "err", err)
		}
		return nil
	})
}

// ID returns the shard id.
func (s *Shard) ID() uint64 { return s.id }

// Index returns the shard's series index.
func (s *Shard) Index() *index.Index { return s.index }

// SeriesN returns the number of series in the shard's index.
func (s *Shard) SeriesN() int { return s.index.SeriesN() }

// Path returns the shard directory.
func (s *Shard) Path() string { return s.dir }

// DiskSize returns the bytes the shard directory holds on disk.
func (s *Shard) DiskSize() int64 {
	var n int64
	_ = filepath.WalkDir(s.dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			n += info.Size()
		}
		return nil
	})
	return n
}

// Close stops background work and closes the WAL, files and index. It is
// idempotent; the cache is not snapshotted (the WAL still holds it).
func (s *Shard) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stopCh)
		s.wg.Wait()
		s.snapMu.Lock() // wait for a snapshot started by a caller
		s.compactMu.Lock()
		s.mu.Lock()
		s.metrics.cacheBytes.Sub(float64(s.cacheBytes()))
		s.metrics.files.Sub(float64(len(s.files)))
		s.mu.Unlock()
		err = s.closeResources()
		s.compactMu.Unlock()
		s.snapMu.Unlock()
	})
	return err
}

// closeResources closes whatever openShard managed to open.
func (s *Shard) closeResources() error {
	var errs []error
	if s.wal != nil {
		if err := s.wal.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close wal: %w", err))
		}
	}
	s.mu.Lock()
	for _, f := range s.files {
		f.release()
	}
	s.files = nil
	s.mu.Unlock()
	if s.tombs != nil {
		if err := s.tombs.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.index != nil {
		if err := s.index.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close index: %w", err))
		}
	}
	return errors.Join(errs...)
}

// cacheBytes returns the bytes of the live and snapshotting caches; the
// caller holds mu.
func (s *Shard) cacheBytes() int64 {
	n := s.cache.size.Load()
	if s.snap != nil {
		n += s.snap.c.size.Load()
	}
	return n
}

// background runs snapshots when signalled and, when configured, the
// periodic snapshot/compaction planner.
func (s *Shard) background() {
	defer s.wg.Done()
	var tick <-chan time.Time
	if s.cfg.CompactCheckInterval > 0 {
		t := time.NewTicker(time.Duration(s.cfg.CompactCheckInterval))
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.stopCh:
			return
		case <-s.snapCh:
			s.snapshotLogged()
		case <-tick:
			s.mu.RLock()
			big := s.cache.size.Load() >= s.cfg.CacheSnapshotSize
			s.mu.RUnlock()
			idle := time.Since(time.Unix(0, s.lastWrite.Load()))
			if big || idle >= time.Duration(s.cfg.CacheSnapshotWriteColdDuration) {
				s.snapshotLogged()
			}
			s.compactPlanned(idle >= time.Duration(s.cfg.CompactFullWriteColdDuration))
		}
	}
}

func (s *Shard) snapshotLogged() {
	if err := s.Snapshot(); err != nil && !errors.Is(err, ErrEngineClosed) {
		s.metrics.snapshotErrors.Inc()
		s.logger.Error("cache snapshot failed", "err", err)
	}
}
