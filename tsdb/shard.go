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
	// deleteOrder is held exclusively by deletes and shared by replica
	// writes from their tombstone filter to their cache insert
	// (WriteReplicaPoints), so a delete is either seen by the filter or
	// applied after the write's values are in the cache.
	deleteOrder sync.RWMutex
	// cache receives new writes; guarded by mu (the pointer), internally
	// locked (the content).
	cache *cache
	// snap is the cache being written to a file, nil when none; guarded by mu.
	snap *snapState
	// files are the data files, oldest first; guarded by mu (copy on write).
	files []*dataFile
	// nextSeq is the sequence number of the next level-1 file; guarded by mu.
	nextSeq uint64
	// cacheFreed is closed (and replaced) when a snapshot frees cache
	// memory, waking writers that wait for room; guarded by mu.
	cacheFreed chan struct{}

	snapMu    sync.Mutex // serializes snapshots
	compactMu sync.Mutex // serializes compactions; protects tombDrop
	// tombDrop is tombstone bookkeeping waiting for compaction inputs to be
	// deleted.
	tombDrop *tombstoneDrop

	lastWrite atomic.Int64 // unix ns of the last write, for cold detection
	// lastBehind is the unix ns at which ingest last outran the
	// snapshots: a write left the live cache full while a snapshot was
	// being written, a writer waited for cache room, or a snapshot was
	// split into parts (compaction planning: sparseHot).
	lastBehind atomic.Int64
	// lastBurst is the unix ns of the last snapshot of a burst of new
	// series: sparse files from a cache that filled within
	// sparseBurstFill of the previous snapshot (compaction planning:
	// sparseHot).
	lastBurst atomic.Int64
	// snapEnded is when the last snapshot's files were installed;
	// guarded by snapMu.
	snapEnded time.Time
	closed    atomic.Bool
	snapCh    chan struct{}
	// snapForced is set by forceSnapshot: the requested snapshot runs
	// even if the cache is not full.
	snapForced atomic.Bool
	stopCh     chan struct{}
	wg         sync.WaitGroup
	closeOnce  sync.Once
}

// snapState is a cache swapped out for a snapshot: readable, never written.
type snapState struct {
	c      *cache
	seq    uint64 // sequence of the (first) file it becomes
	parts  int    // files it becomes, of sequences seq, seq+1, ... (see snapshotParts)
	walSeg uint64 // WAL segments up to this one are in c
	// quick is set when c filled within sparseBurstFill of the previous
	// snapshot's end.
	quick bool
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
		cache:      newCache(),
		cacheFreed: make(chan struct{}),
		snapCh:     make(chan struct{}, 1),
		stopCh:     make(chan struct{}),
	}
	s.dig = newDigestState(cfg)
	ok := false
	defer func() {
		if !ok {
			s.closeResources(true)
		}
	}()
	// The index loads while the data files open and the WAL replays: at a
	// million series each takes seconds (issue 17: restart to first
	// answer). Replay waits for the index at the first record naming
	// series by index id (walRecordSeriesIDs). Both are done before
	// openShard returns, whatever fails.
	type openedIndex struct {
		idx *index.Index
		err error
	}
	indexDone := make(chan openedIndex, 1)
	go func() {
		idx, err := index.Open(filepath.Join(dir, indexDirName), logger)
		indexDone <- openedIndex{idx, err}
	}()
	var opened openedIndex
	received := false
	waitIndex := func() openedIndex {
		if !received {
			opened, received = <-indexDone, true
		}
		return opened
	}
	dataErr := s.openData(walMetrics, func(id uint64) []byte {
		if ix := waitIndex().idx; ix != nil {
			return ix.SeriesKey(id)
		}
		return nil // the index did not open: so does not the shard
	})
	waitIndex()
	s.index = opened.idx
	if opened.err != nil {
		return nil, fmt.Errorf("open shard %d index: %w", id, opened.err)
	}
	opened.idx.SetLimits(index.Limits{MaxSeries: cfg.MaxSeriesPerDatabase, MaxValuesPerTag: cfg.MaxValuesPerTag})
	if dataErr != nil {
		return nil, fmt.Errorf("open shard %d: %w", id, dataErr)
	}
	s.metrics.cacheBytes.Add(float64(s.cache.size.Load()))
	s.metrics.files.Add(float64(len(s.files)))
	s.lastWrite.Store(time.Now().UnixNano())
	s.wg.Add(1)
	go s.snapshotLoop()
	if cfg.CompactCheckInterval > 0 {
		s.wg.Add(1)
		go s.compactLoop()
	}
	ok = true
	return s, nil
}

// openData opens the shard's tombstones, data files and WAL, and replays
// the WAL into the cache, resolving series ids with seriesKey.
func (s *Shard) openData(walMetrics *wal.Metrics, seriesKey func(id uint64) []byte) error {
	var err error
	if s.tombs, err = openTombstones(s.dir, s.logger); err != nil {
		return err
	}
	if err := s.openFiles(); err != nil {
		return fmt.Errorf("files: %w", err)
	}
	for _, t := range s.tombs.all() {
		s.nextSeq = max(s.nextSeq, t.Seq)
	}
	w, err := wal.Open(filepath.Join(s.dir, walDirName), s.cfg.WAL, s.logger, nil, wal.WithMetrics(walMetrics))
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	s.wal = w
	if err := s.replay(seriesKey); err != nil {
		return fmt.Errorf("replay wal: %w", err)
	}
	return nil
}

// replay re-inserts the WAL's records into the cache, in order, finding
// the keys of series named by index id with seriesKey.
func (s *Shard) replay(seriesKey func(id uint64) []byte) error {
	dec := walDecoder{seriesKey: seriesKey}
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
	err := s.wal.Replay(func(seg uint64, rec []byte) error {
		if err := dec.decode(rec, vis); err != nil {
			// The WAL checksummed the record, so this is a bug or a format
			// from the future; skip the record rather than refuse to open.
			s.metrics.replayErrors.Inc()
			s.logger.Error("skipping undecodable wal record", "segment", seg, "err", err)
		}
		return nil
	})
	if dec.unknownSeries > 0 {
		s.logger.Info("skipped wal values of dropped series", "values", dec.unknownSeries)
	}
	return err
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
func (s *Shard) Close() error { return s.close(true) }

// close stops the shard's work and closes its files. reopen says the
// shard will be opened again, so the list of validated data files and the
// index snapshot that speed that open are written; a shard being deleted
// skips them.
func (s *Shard) close(reopen bool) error {
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
		var verr error
		if reopen {
			verr = s.writeValidated()
		}
		s.mu.Unlock()
		if verr != nil {
			s.logger.Warn("the next open will validate every data file", "err", verr)
		}
		err = s.closeResources(reopen)
		s.compactMu.Unlock()
		s.snapMu.Unlock()
	})
	return err
}

// closeResources closes whatever openShard managed to open; reopen as
// for close.
func (s *Shard) closeResources(reopen bool) error {
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
		closeIndex := s.index.Close
		if !reopen {
			closeIndex = s.index.Discard
		}
		if err := closeIndex(); err != nil {
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

// snapshotLoop runs snapshots when signalled and, when the planner is
// configured, on its tick for a big or cold cache. It is apart from
// compactLoop so a long compaction (minutes at a million series) never
// holds back the snapshot that frees a full cache (issue 17).
func (s *Shard) snapshotLoop() {
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
			if s.snapshotDue() {
				s.snapshotLogged()
			}
		case <-tick:
			s.mu.RLock()
			big := s.cache.full(s.cfg.CacheSnapshotSize)
			s.mu.RUnlock()
			if big || s.idle() >= time.Duration(s.cfg.CacheSnapshotWriteColdDuration) {
				s.snapshotLogged()
			}
		}
	}
}

// compactLoop runs the compaction planner on its tick; it is not started
// when the planner is off (CompactCheckInterval 0).
func (s *Shard) compactLoop() {
	defer s.wg.Done()
	t := time.NewTicker(time.Duration(s.cfg.CompactCheckInterval))
	defer t.Stop()
	for {
		select {
		case <-s.stopCh:
			return
		case <-t.C:
			s.compactPlanned(s.idle() >= time.Duration(s.cfg.CompactFullWriteColdDuration))
		}
	}
}

// idle returns the time since the shard's last write.
func (s *Shard) idle() time.Duration {
	return time.Since(time.Unix(0, s.lastWrite.Load()))
}

func (s *Shard) snapshotLogged() {
	if err := s.Snapshot(); err != nil && !errors.Is(err, ErrEngineClosed) {
		s.metrics.snapshotErrors.Inc()
		s.logger.Error("cache snapshot failed", "err", err)
	}
}
