package tsdb

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/strata-db/strata/tsdb/tsm"
)

// dataFileExt is the suffix of data files; names are "<seq>-<level>.tsm"
// with a zero-padded 12-digit sequence and 2-digit level (docs/layout.md).
const dataFileExt = ".tsm"

func dataFileName(seq uint64, level int) string {
	return fmt.Sprintf("%012d-%02d%s", seq, level, dataFileExt)
}

// parseDataFileName returns the sequence and level of a data file name.
func parseDataFileName(name string) (seq uint64, level int, ok bool) {
	base, found := strings.CutSuffix(name, dataFileExt)
	if !found {
		return 0, 0, false
	}
	seqStr, levelStr, found := strings.Cut(base, "-")
	if !found {
		return 0, 0, false
	}
	seq, err := strconv.ParseUint(seqStr, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	l, err := strconv.ParseUint(levelStr, 10, 16)
	if err != nil || l < 1 {
		return 0, 0, false
	}
	return seq, int(l), true
}

// dataFile is an open data file with a reference count: the shard's file set
// holds one reference, every query or compaction using it another. The file
// is unmapped (and, once obsolete, deleted) when the last one is released.
type dataFile struct {
	r        *tsm.Reader
	path     string
	seq      uint64
	level    int
	size     int64
	refs     atomic.Int64
	obsolete atomic.Bool
}

func openDataFile(path string, seq uint64, level int) (*dataFile, error) {
	r, err := tsm.Open(path)
	if err != nil {
		return nil, err
	}
	f := &dataFile{r: r, path: path, seq: seq, level: level, size: r.Size()}
	f.refs.Store(1)
	return f, nil
}

func (f *dataFile) acquire() { f.refs.Add(1) }

// release drops a reference; the last one closes the file and removes it
// when obsolete.
func (f *dataFile) release() {
	n := f.refs.Add(-1)
	if n > 0 {
		return
	}
	if n < 0 {
		panic("BUG: data file released more often than acquired")
	}
	_ = f.r.Close()
	if f.obsolete.Load() {
		_ = os.Remove(f.path)
	}
}

// fileOrder sorts files oldest first: by sequence, then level (a compaction
// output shares its newest input's sequence and has a higher level).
func fileOrder(a, b *dataFile) int {
	if a.seq != b.seq {
		if a.seq < b.seq {
			return -1
		}
		return 1
	}
	return a.level - b.level
}

// openFiles loads the data files of the shard directory, removing
// temporaries a crash left behind.
func (s *Shard) openFiles() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list shard dir: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
				return fmt.Errorf("remove temporary %s: %w", name, err)
			}
			continue
		}
		seq, level, ok := parseDataFileName(name)
		if !ok {
			continue
		}
		f, err := openDataFile(filepath.Join(s.dir, name), seq, level)
		if err != nil {
			return fmt.Errorf("open data file %s: %w", name, err)
		}
		s.files = append(s.files, f)
		s.nextSeq = max(s.nextSeq, seq)
	}
	slices.SortFunc(s.files, fileOrder)
	s.nextSeq++
	return nil
}

// readState is a consistent view of a shard for one read: referenced files,
// the snapshotting cache, the live cache and the tombstones.
type readState struct {
	files []*dataFile
	snap  *snapState
	cache *cache
	tombs []Tombstone
}

// acquireRead returns the current read state; release it when done.
func (s *Shard) acquireRead() (*readState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return nil, ErrEngineClosed
	}
	rs := &readState{files: slices.Clone(s.files), snap: s.snap, cache: s.cache, tombs: s.tombs.all()}
	for _, f := range rs.files {
		f.acquire()
	}
	return rs, nil
}

func (rs *readState) release() {
	for _, f := range rs.files {
		f.release()
	}
	rs.files = nil
}

// replaceFiles swaps old files for new ones in the file set (a snapshot has
// old empty; a compaction removes its inputs) and marks the old ones
// obsolete so they are deleted once no reader holds them.
func (s *Shard) replaceFiles(old, added []*dataFile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrEngineClosed
	}
	next := make([]*dataFile, 0, len(s.files)+len(added))
	for _, f := range s.files {
		if !slices.Contains(old, f) {
			next = append(next, f)
		}
	}
	if len(next)+len(old) != len(s.files) {
		panic("BUG: compaction input missing from file set")
	}
	next = append(next, added...)
	slices.SortFunc(next, fileOrder)
	s.files = next
	for _, f := range old {
		f.obsolete.Store(true)
		f.release()
	}
	s.metrics.files.Add(float64(len(added) - len(old)))
	return nil
}
