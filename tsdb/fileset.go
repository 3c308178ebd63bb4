package tsdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/strata-db/strata/internal/durable"

	"github.com/strata-db/strata/tsdb/tsm"
)

// dataFileExt is the suffix of data files; names are
// "<first seq>-<last seq>-<level>.tsm" with zero-padded 12-digit sequences
// and a 2-digit level (docs/layout.md).
const dataFileExt = ".tsm"

func dataFileName(minSeq, seq uint64, level int) string {
	return fmt.Sprintf("%012d-%012d-%02d%s", minSeq, seq, level, dataFileExt)
}

// fileID is what a data file name says: the range of snapshot sequences
// merged into the file and its level.
type fileID struct {
	minSeq, seq uint64
	level       int
}

// supersedes reports whether f was produced by a compaction that had g
// among its inputs (a crash can leave the inputs behind).
func (f fileID) supersedes(g fileID) bool {
	return f.level > g.level && f.minSeq <= g.minSeq && g.seq <= f.seq
}

// parseDataFileName returns the sequence range and level of a data file.
func parseDataFileName(name string) (fileID, bool) {
	base, found := strings.CutSuffix(name, dataFileExt)
	if !found {
		return fileID{}, false
	}
	parts := strings.Split(base, "-")
	if len(parts) != 3 {
		return fileID{}, false
	}
	lo, err1 := strconv.ParseUint(parts[0], 10, 64)
	hi, err2 := strconv.ParseUint(parts[1], 10, 64)
	l, err3 := strconv.ParseUint(parts[2], 10, 16)
	if err1 != nil || err2 != nil || err3 != nil || l < 1 || lo > hi {
		return fileID{}, false
	}
	return fileID{minSeq: lo, seq: hi, level: int(l)}, true
}

// dataFile is an open data file with a reference count: the shard's file set
// holds one reference, every query or compaction using it another. The file
// is unmapped (and, once obsolete, deleted) when the last one is released.
type dataFile struct {
	r        *tsm.Reader
	path     string
	minSeq   uint64 // first snapshot sequence merged into the file
	seq      uint64 // last one: the file's place in the newest-wins order
	level    int
	size     int64
	values   int64 // values in the file, -1 if unknown (see sparse)
	refs     atomic.Int64
	obsolete atomic.Bool

	digestsMu sync.Mutex  // serializes making the digest file
	digestsOK atomic.Bool // the digest file was checked (ensureDigests)
}

// openWrittenFile opens the file w has just written and closed, trusting
// the index w built (tsm.Writer.OpenReader): a snapshot or compaction
// output need not be validated again the moment it is written.
func openWrittenFile(w *tsm.Writer, id fileID) (*dataFile, error) {
	r, err := w.OpenReader()
	if err != nil {
		return nil, err
	}
	return newDataFile(r, id), nil
}

func newDataFile(r *tsm.Reader, id fileID) *dataFile {
	f := &dataFile{r: r, path: r.Path(), minSeq: id.minSeq, seq: id.seq, level: id.level, size: r.Size(),
		values: r.ValueCount()}
	f.refs.Store(1)
	return f
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
		_ = os.Remove(digestFilePath(f.path))
	}
}

// fileOrder sorts files oldest first: by last sequence, then level (live
// files have disjoint sequence ranges; the level only orders a compaction
// output after an input a reader still holds).
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
// temporaries and compaction inputs that a crash left behind.
func (s *Shard) openFiles() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list shard dir: %w", err)
	}
	ids := map[string]fileID{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
				return fmt.Errorf("remove temporary %s: %w", name, err)
			}
			continue
		}
		if id, ok := parseDataFileName(name); ok {
			ids[name] = id
		}
	}
	removed := false
	for name, id := range ids {
		for other, oid := range ids {
			if other != name && oid.supersedes(id) {
				s.logger.Info("removing compacted input left by a crash", "file", name, "output", other)
				if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
					return fmt.Errorf("remove superseded %s: %w", name, err)
				}
				delete(ids, name)
				removed = true
				break
			}
		}
	}
	// A digest file without its data file (its data file was deleted, and
	// a crash came before the digest file was) could otherwise be taken
	// for a later file of the same name.
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), digestFileExt)
		if _, live := ids[base+dataFileExt]; ok && !live {
			if err := os.Remove(filepath.Join(s.dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove orphaned %s: %w", e.Name(), err)
			}
		}
	}
	if removed {
		if err := durable.SyncDir(s.dir); err != nil {
			return err
		}
	}
	// Files the last clean close listed as validated get their checksums
	// checked but not their indexes walked again (see validatedFileName);
	// their value counts come from the list.
	validated := s.readValidated()
	for name, id := range ids {
		path := filepath.Join(s.dir, name)
		var r *tsm.Reader
		v, listed := validated[name]
		if listed {
			r, err = tsm.OpenValidated(path, v.v)
		} else {
			r, err = tsm.Open(path)
		}
		if err != nil {
			return fmt.Errorf("open data file %s: %w", name, err)
		}
		f := newDataFile(r, id)
		if f.values < 0 && listed {
			f.values = v.values
		}
		s.files = append(s.files, f)
		s.nextSeq = max(s.nextSeq, id.seq)
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
	// held are the caches the state holds a reference to until release.
	held [2]*cache
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
	rs.held[0] = s.cache
	if s.snap != nil {
		rs.held[1] = s.snap.c
	}
	for _, c := range rs.held {
		if c != nil {
			c.acquire()
		}
	}
	return rs, nil
}

func (rs *readState) release() {
	for _, f := range rs.files {
		f.release()
	}
	rs.files = nil
	for i, c := range rs.held {
		if c != nil {
			c.release()
			rs.held[i] = nil
		}
	}
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
