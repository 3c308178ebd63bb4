// Package durable writes files so that what it reports written survives a
// crash or power loss: data fsynced before a rename, directories fsynced
// after entries are created, renamed or removed in them.
package durable

import (
	"fmt"
	"os"
	"path/filepath"
)

// SyncDir fsyncs the directory dir, making creations, renames and removals
// of its entries durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s for sync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// WriteFile creates or truncates path, writes data and fsyncs the file (not
// its directory).
func WriteFile(path string, data []byte) error { return writeFile(path, 0o644, data) }

// WriteChunks is WriteFile of the concatenation of chunks, written one
// after the other without joining them.
func WriteChunks(path string, chunks ...[]byte) error { return writeFile(path, 0o644, chunks...) }

func writeFile(path string, perm os.FileMode, chunks ...[]byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		if _, err := f.Write(c); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReplaceFile atomically replaces path with data: it writes and fsyncs
// path+".tmp", renames it over path and fsyncs the directory, so a crash
// leaves either the old content or the new, never a torn file.
func ReplaceFile(path string, data []byte) error { return ReplaceFilePerm(path, data, 0o644) }

// ReplaceFilePerm is ReplaceFile creating the file with permissions perm
// (0o600 for a file that holds secrets).
func ReplaceFilePerm(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	os.Remove(tmp) // a leftover keeps its old mode; the error is the one below
	if err := writeFile(tmp, perm, data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return SyncDir(filepath.Dir(path))
}
