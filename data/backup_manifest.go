package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The backup manifest (docs/backup.md) names every file of a backup with
// its size and SHA-256, and checksums itself.
const (
	// BackupFormat is the manifest's format field.
	BackupFormat = "strata-backup"
	// BackupVersion is the manifest version this build writes and reads.
	BackupVersion = 1
	// BackupManifestFile is the manifest's name inside a backup folder.
	BackupManifestFile = "manifest.json"
	// backupShardDir holds the shard streams.
	backupShardDir = "shards"
)

// ErrBackupCorrupt is wrapped by every error about a backup's files: one
// missing, cut short, or whose checksum does not match the manifest.
var ErrBackupCorrupt = errors.New("backup is corrupt or incomplete")

// BackupFileError names the file of a backup that failed a check.
type BackupFileError struct {
	// File is the path inside the backup folder.
	File string
	Err  error
}

// Error implements error.
func (e *BackupFileError) Error() string { return fmt.Sprintf("backup file %s: %s", e.File, e.Err) }

// Unwrap returns ErrBackupCorrupt and the cause.
func (e *BackupFileError) Unwrap() []error { return []error{ErrBackupCorrupt, e.Err} }

// BackupManifest describes one backup folder: the meta snapshot and one
// stream per shard. It is the last file a backup writes (atomically), so a
// folder with a valid manifest is complete.
type BackupManifest struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Sequence counts the backups written into the folder: 1 for the
	// first, one more for each incremental backup on top of it.
	Sequence int `json:"sequence"`
	// Started is when the backup began: every point acknowledged before it
	// is in the backup. Finished is when the manifest was written.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Filter is what the backup was asked to cover.
	Filter BackupFilter `json:"filter"`
	// Meta is the meta snapshot: the cluster state (meta.Data as JSON) at
	// raft index MetaIndex, read linearizably after Started.
	Meta      BackupFile `json:"meta"`
	MetaIndex uint64     `json:"meta_index"`
	// Shards are the backed-up shards, ascending by id.
	Shards []BackupShard `json:"shards"`
	// Checksum is the hex SHA-256 of the manifest's JSON encoding with
	// Checksum empty.
	Checksum string `json:"checksum"`
}

// BackupFilter selects what a backup covers; zero fields select all.
type BackupFilter struct {
	Database        string   `json:"database,omitempty"`
	RetentionPolicy string   `json:"retention_policy,omitempty"`
	Shards          []uint64 `json:"shards,omitempty"`
	// Since keeps the shard groups that end after it.
	Since time.Time `json:"since,omitzero"`
}

// BackupFile is one file of a backup.
type BackupFile struct {
	// Name is the path inside the backup folder, with forward slashes.
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// BackupShard is one shard of a backup and the file holding its stream.
type BackupShard struct {
	ID              uint64    `json:"id"`
	Database        string    `json:"database"`
	RetentionPolicy string    `json:"retention_policy"`
	ShardGroup      uint64    `json:"shard_group"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	// Source is the data node the stream was read from; Unreconciled the
	// other owners it could not be reconciled with first (values only
	// they held may be missing).
	Source       uint64   `json:"source_node"`
	Unreconciled []uint64 `json:"unreconciled,omitempty"`
	// Digest is the shard's content digest when it was read: a later
	// backup reuses File while the digest stays the same.
	Digest string `json:"digest"`
	// Sequence is the backup of the folder that wrote File.
	Sequence   int        `json:"sequence"`
	Values     int        `json:"values"`
	Tombstones int        `json:"tombstones"`
	File       BackupFile `json:"file"`
}

// checksum returns the hex SHA-256 of m's encoding with Checksum empty.
func (m *BackupManifest) checksum() string {
	c := *m
	c.Checksum = ""
	b, err := json.Marshal(&c)
	if err != nil {
		panic("BUG: encode backup manifest: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ReadBackupManifest reads and checks dir's manifest (format, version and
// its own checksum); it does not read the files it names (see Verify). A
// folder without one wraps fs.ErrNotExist.
func ReadBackupManifest(dir string) (*BackupManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, BackupManifestFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s has no %s (not a backup, or one that did not finish): %w", dir, BackupManifestFile, err)
		}
		return nil, fmt.Errorf("read backup manifest: %w", err)
	}
	var m BackupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, &BackupFileError{File: BackupManifestFile, Err: fmt.Errorf("not valid JSON: %w", err)}
	}
	if m.Format != BackupFormat {
		return nil, &BackupFileError{File: BackupManifestFile, Err: fmt.Errorf("format %q is not %q", m.Format, BackupFormat)}
	}
	if m.Version != BackupVersion {
		return nil, &BackupFileError{File: BackupManifestFile, Err: fmt.Errorf("version %d; this build reads version %d", m.Version, BackupVersion)}
	}
	if sum := m.checksum(); sum != m.Checksum {
		return nil, &BackupFileError{File: BackupManifestFile, Err: fmt.Errorf("checksum mismatch: the manifest says %s, its content hashes to %s", m.Checksum, sum)}
	}
	for _, f := range m.files() {
		if !filepath.IsLocal(filepath.FromSlash(f.Name)) {
			return nil, &BackupFileError{File: BackupManifestFile, Err: fmt.Errorf("file name %q leaves the backup folder", f.Name)}
		}
	}
	return &m, nil
}

// files returns every file the manifest names.
func (m *BackupManifest) files() []BackupFile {
	out := []BackupFile{m.Meta}
	for _, s := range m.Shards {
		out = append(out, s.File)
	}
	return out
}

// Verify checks that every file the manifest names is in dir with its
// size and checksum. The first failure is a *BackupFileError naming the
// file.
func (m *BackupManifest) Verify(dir string) error {
	for _, f := range m.files() {
		if err := verifyFile(dir, f); err != nil {
			return err
		}
	}
	return nil
}

// verifyFile checks one file's size and checksum.
func verifyFile(dir string, f BackupFile) error {
	fh, err := os.Open(filepath.Join(dir, filepath.FromSlash(f.Name)))
	if err != nil {
		return &BackupFileError{File: f.Name, Err: err}
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return &BackupFileError{File: f.Name, Err: err}
	}
	if n != f.Size {
		return &BackupFileError{File: f.Name, Err: fmt.Errorf("%d bytes, the manifest says %d", n, f.Size)}
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return &BackupFileError{File: f.Name, Err: fmt.Errorf("checksum mismatch: the manifest says %s, the file hashes to %s", f.SHA256, sum)}
	}
	return nil
}

// writeManifest writes m (with its checksum) to dir atomically: a
// temporary file, fsynced, renamed over the old manifest, the folder
// fsynced.
func writeManifest(dir string, m *BackupManifest) error {
	m.Checksum = m.checksum()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode backup manifest: %w", err)
	}
	return writeFileAtomic(dir, BackupManifestFile, b, 0o644)
}

// writeFileAtomic writes b to dir/name, with permissions perm, through a
// fsynced temporary file.
func writeFileAtomic(dir, name string, b []byte, perm os.FileMode) error {
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.WriteFile(tmp, b, perm); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := syncPath(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return syncPath(dir)
}

// syncPath fsyncs a file or folder.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return nil
}

// removeUnreferenced deletes the shard streams and meta snapshots of dir
// that m does not name (earlier backups' files, leftovers of a backup that
// did not finish).
func removeUnreferenced(dir string, m *BackupManifest) error {
	keep := map[string]bool{}
	for _, f := range m.files() {
		keep[f.Name] = true
	}
	var names []string
	metas, _ := filepath.Glob(filepath.Join(dir, "meta-*.json"))
	shards, _ := filepath.Glob(filepath.Join(dir, backupShardDir, "*"))
	for _, p := range slices.Concat(metas, shards) {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			continue
		}
		if name := filepath.ToSlash(rel); !keep[name] {
			names = append(names, p)
		}
	}
	var errs []error
	for _, p := range names {
		if err := os.Remove(p); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
