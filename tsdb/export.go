package tsdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-db/strata/internal/durable"
	"github.com/strata-db/strata/tsdb/index"
)

// ExportedFile is one file of a pinned shard file set: Name is its path
// inside the shard directory (slash-separated), Size its length.
type ExportedFile struct {
	Name string
	Size int64
	open func() (io.ReadCloser, error)
}

// Open returns the file's content; close it when done.
func (f ExportedFile) Open() (io.ReadCloser, error) { return f.open() }

// ExportedFiles is a consistent set of a shard's immutable files, pinned
// so that compactions cannot delete them until Release: its data files,
// its tombstones and a snapshot of its series index. Installed in an empty
// directory (Store.InstallShard), they open to the shard as it was when
// the set was pinned, minus writes still in its cache then.
type ExportedFiles struct {
	Files []ExportedFile
	data  []*dataFile
}

// Release unpins the data files.
func (e *ExportedFiles) Release() {
	for _, f := range e.data {
		f.release()
	}
	e.data = nil
}

// ExportOptions choose what ExportFiles includes besides the data files,
// tombstones and index.
type ExportOptions struct {
	// Digests adds each data file's digest file (docs/digest.md), made
	// first where missing, so the receiver's digests need not decode the
	// data files. Receivers of an older version refuse the names.
	Digests bool
}

// ExportFiles snapshots the shard's cache to a data file and pins the
// shard's files for a file-level copy (see ExportedFiles). Writes that
// arrive meanwhile are not in the set.
func (s *Shard) ExportFiles(opts ExportOptions) (*ExportedFiles, error) {
	if err := s.Snapshot(); err != nil {
		return nil, err
	}
	rs, err := s.acquireRead()
	if err != nil {
		return nil, err
	}
	e := &ExportedFiles{data: rs.files}
	for _, f := range rs.files {
		e.Files = append(e.Files, fileToExport(f.path, f.size))
		if !opts.Digests {
			continue
		}
		if err := f.ensureDigests(s.dig.window); err != nil {
			// The receiver computes it from the data file.
			s.logger.Warn("exporting a data file without its digest file", "file", f.path, "err", err)
			continue
		}
		dp := digestFilePath(f.path)
		fi, err := os.Stat(dp)
		if err != nil {
			e.Release()
			return nil, fmt.Errorf("export shard %d: %w", s.id, err)
		}
		e.Files = append(e.Files, fileToExport(dp, fi.Size()))
	}
	// The tombstones as read with the files: a fresh sidecar holding them.
	var tombs []byte
	for i := range rs.tombs {
		tombs = appendTombstoneRecord(tombs, &rs.tombs[i])
	}
	e.Files = append(e.Files, bytesFile(tombstoneFileName, tombs))
	// The index after the files: it names every series they hold.
	snap, err := s.index.ExportSnapshot()
	if err != nil {
		e.Release()
		return nil, fmt.Errorf("export shard %d index: %w", s.id, err)
	}
	e.Files = append(e.Files, bytesFile(path.Join(indexDirName, index.SnapshotFileName), snap))
	return e, nil
}

// fileToExport is the file at p, named by its base name.
func fileToExport(p string, size int64) ExportedFile {
	return ExportedFile{Name: filepath.Base(p), Size: size,
		open: func() (io.ReadCloser, error) { return os.Open(p) }}
}

func bytesFile(name string, b []byte) ExportedFile {
	return ExportedFile{Name: name, Size: int64(len(b)),
		open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// ValidExportedFileName reports whether name is one ExportFiles produces:
// a data file, a data file's digest file, the tombstones or the index
// snapshot. Anything else (a path leaving the directory among them) is
// refused by an installer.
func ValidExportedFileName(name string) bool {
	if name == tombstoneFileName || name == path.Join(indexDirName, index.SnapshotFileName) {
		return true
	}
	if base, ok := strings.CutSuffix(name, digestFileExt); ok {
		name = base + dataFileExt
	}
	_, ok := parseDataFileName(name)
	return ok && !strings.ContainsAny(name, `/\`)
}

// installPrefix starts the name of the directory InstallShard fills
// before it becomes the shard's; Store.Open removes leftovers.
const installPrefix = ".install-"

// ErrShardExists is InstallShard refusing to replace a shard the Store
// holds.
var ErrShardExists = errors.New("shard exists")

// InstallShard creates shard id from files: fill writes them into the
// empty directory it is given (ExportedFiles' names), and the directory
// becomes the shard's only once fill succeeded and the shard opens; on
// any failure nothing of it remains. A shard the Store already holds is
// refused with ErrShardExists.
func (s *Store) InstallShard(id uint64, fill func(dir string) error) error {
	if s.Shard(id) != nil {
		return fmt.Errorf("install shard %d: %w", id, ErrShardExists)
	}
	tmp := filepath.Join(s.cfg.Dir, installPrefix+strconv.FormatUint(id, 10))
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("install shard %d: %w", id, err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, indexDirName), 0o755); err != nil {
		return fmt.Errorf("install shard %d: %w", id, err)
	}
	installed := false
	defer func() {
		if !installed {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := fill(tmp); err != nil {
		return fmt.Errorf("install shard %d: %w", id, err)
	}
	// Copied files are validated in full when the shard opens, whatever
	// the sender says about them.
	if err := os.Remove(filepath.Join(tmp, validatedFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("install shard %d: %w", id, err)
	}
	for _, dir := range []string{filepath.Join(tmp, indexDirName), tmp} {
		if err := durable.SyncDir(dir); err != nil {
			return fmt.Errorf("install shard %d: %w", id, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return ErrStoreClosed
	}
	if _, ok := s.shards[id]; ok {
		return fmt.Errorf("install shard %d: %w", id, ErrShardExists)
	}
	dir := s.shardDir(id)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("install shard %d: %w", id, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("install shard %d: %w", id, err)
	}
	installed = true
	if err := durable.SyncDir(s.cfg.Dir); err != nil {
		_ = os.RemoveAll(dir)
		return fmt.Errorf("install shard %d: %w", id, err)
	}
	sh, err := s.openShardLocked(id)
	if err != nil {
		_ = os.RemoveAll(dir)
		return fmt.Errorf("install shard %d: %w", id, err)
	}
	s.shards[id] = sh
	s.logger.Info("shard installed from copied files", "shard_id", id)
	return nil
}
