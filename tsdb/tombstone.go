package tsdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/strata-db/strata/internal/durable"
)

// Tombstone deletes the values of one series (one field of it, or all fields
// when Field is empty) with Min <= time <= Max from every file whose sequence
// number is below Seq. Data written after the delete lands in files with a
// sequence >= Seq and is therefore not affected. Once a full compaction has
// removed the data physically the tombstone is marked applied and kept
// until Config.TombstoneRetention has passed since Created, so that
// anti-entropy can tell deleted data from missing data. The sidecar format
// is specified in docs/tombstones.md.
type Tombstone struct {
	// Seq is the file sequence number that was next when the delete ran.
	Seq uint64
	// Created is the wall-clock time of the delete, ns since the epoch.
	Created int64
	// Applied reports that no file holds data it deletes any more.
	Applied bool
	// SeriesKey is the canonical series key.
	SeriesKey []byte
	// Field is the field key, or empty for all fields of the series.
	Field []byte
	// Min and Max bound the deleted time range, inclusive.
	Min, Max int64
}

// appliesTo reports whether t still removes values of (seriesKey, field)
// read from a file (or snapshot) of sequence seq.
func (t *Tombstone) appliesTo(seq uint64, seriesKey, field []byte) bool {
	return !t.Applied && seq < t.Seq && t.matches(seriesKey, field)
}

// matches reports whether t applies to (seriesKey, field) at some time.
func (t *Tombstone) matches(seriesKey, field []byte) bool {
	return bytes.Equal(t.SeriesKey, seriesKey) && (len(t.Field) == 0 || bytes.Equal(t.Field, field))
}

func appendTombstoneBody(dst []byte, t *Tombstone) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(t.SeriesKey)))
	dst = append(dst, t.SeriesKey...)
	dst = binary.AppendUvarint(dst, uint64(len(t.Field)))
	dst = append(dst, t.Field...)
	dst = binary.AppendVarint(dst, t.Min)
	dst = binary.AppendVarint(dst, t.Max)
	return dst
}

// readTombstoneBody decodes a tombstone; its byte slices are copies.
func readTombstoneBody(r *byteReader) Tombstone {
	var t Tombstone
	t.SeriesKey = bytes.Clone(r.Bytes())
	t.Field = bytes.Clone(r.Bytes())
	t.Min = r.Varint()
	t.Max = r.Varint()
	if r.Err() == nil && t.Min > t.Max {
		r.Fail("tombstone range")
	}
	return t
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// tombstoneFileName is the sidecar of a shard directory.
const tombstoneFileName = "tombstones"

// tombstoneMaxRecord bounds one sidecar record so a corrupt length is caught.
const tombstoneMaxRecord = 1 << 20

// tombstoneSet is the durable, in-memory list of a shard's tombstones.
// Safe for concurrent use.
type tombstoneSet struct {
	path   string
	logger *slog.Logger

	mu sync.RWMutex // protects f, list
	f  *os.File
	// list is copy-on-write: readers take the slice under RLock and may use it
	// after unlocking.
	list []Tombstone
}

// openTombstones loads the sidecar in dir, truncating a torn tail.
func openTombstones(dir string, logger *slog.Logger) (*tombstoneSet, error) {
	path := filepath.Join(dir, tombstoneFileName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open tombstones: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read tombstones: %w", err)
	}
	list, good, derr := decodeTombstoneFile(data)
	if derr != nil {
		logger.Warn("truncating torn tombstone file", "path", path, "offset", good, "err", derr)
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, fmt.Errorf("truncate tombstones: %w", err)
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek tombstones: %w", err)
	}
	return &tombstoneSet{path: path, logger: logger, f: f, list: list}, nil
}

// decodeTombstoneFile returns the records of a sidecar and the length of its
// valid prefix; err is non-nil when a torn or corrupt tail follows it.
func decodeTombstoneFile(data []byte) (list []Tombstone, good int, err error) {
	for good < len(data) {
		rest := data[good:]
		if len(rest) < 8 {
			return list, good, fmt.Errorf("tombstone header at %d: %w", good, ErrCorruptRecord)
		}
		n := binary.LittleEndian.Uint32(rest)
		sum := binary.LittleEndian.Uint32(rest[4:])
		if n > tombstoneMaxRecord || int(n) > len(rest)-8 {
			return list, good, fmt.Errorf("tombstone length %d at %d: %w", n, good, ErrCorruptRecord)
		}
		body := rest[8 : 8+n]
		if crc32.Checksum(body, castagnoli) != sum {
			return list, good, fmt.Errorf("tombstone checksum at %d: %w", good, ErrCorruptRecord)
		}
		r := newByteReader(body)
		flags := r.Byte()
		if flags > 1 {
			r.Fail("tombstone flags")
		}
		seq := r.Uvarint()
		created := r.Varint()
		t := readTombstoneBody(&r)
		if r.Err() == nil && len(r.Rest()) != 0 {
			r.Fail("tombstone trailing bytes")
		}
		if r.Err() != nil {
			return list, good, fmt.Errorf("tombstone at %d: %w", good, r.Err())
		}
		t.Seq, t.Created, t.Applied = seq, created, flags == 1
		list = append(list, t)
		good += 8 + int(n)
	}
	return list, good, nil
}

func appendTombstoneRecord(dst []byte, t *Tombstone) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	var flags byte
	if t.Applied {
		flags = 1
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, t.Seq)
	dst = binary.AppendVarint(dst, t.Created)
	dst = appendTombstoneBody(dst, t)
	body := dst[start+8:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	return dst
}

// add appends ts durably (fsync) and then publishes them to readers.
func (s *tombstoneSet) add(ts []Tombstone) error {
	if len(ts) == 0 {
		return nil
	}
	var buf []byte
	for i := range ts {
		buf = appendTombstoneRecord(buf, &ts[i])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return ErrEngineClosed
	}
	if _, err := s.f.Write(buf); err != nil {
		return fmt.Errorf("write tombstones: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync tombstones: %w", err)
	}
	next := make([]Tombstone, 0, len(s.list)+len(ts))
	next = append(next, s.list...)
	next = append(next, ts...)
	s.list = next
	return nil
}

// all returns the current tombstones; the slice must not be modified.
func (s *tombstoneSet) all() []Tombstone {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.list
}

// settle marks applied those of the first n tombstones for which apply
// returns true, drops applied tombstones created before expireBefore, and
// rewrites the sidecar atomically when anything changed.
func (s *tombstoneSet) settle(n int, apply func(t *Tombstone) bool, expireBefore int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return ErrEngineClosed
	}
	changed := false
	next := make([]Tombstone, 0, len(s.list))
	for i, t := range s.list {
		if i < n && !t.Applied && apply(&t) {
			t.Applied, changed = true, true
		}
		if t.Applied && t.Created < expireBefore {
			changed = true
			continue
		}
		next = append(next, t)
	}
	if !changed {
		return nil
	}
	var buf []byte
	for i := range next {
		buf = appendTombstoneRecord(buf, &next[i])
	}
	tmp := s.path + ".tmp"
	if err := durable.WriteFile(tmp, buf); err != nil {
		return fmt.Errorf("rewrite tombstones: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("rename tombstones: %w", err)
	}
	if err := durable.SyncDir(filepath.Dir(s.path)); err != nil {
		return err
	}
	nf, err := os.OpenFile(s.path, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("reopen tombstones: %w", err)
	}
	s.f.Close()
	s.f = nf
	s.list = next
	return nil
}

func (s *tombstoneSet) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("close tombstones: %w", err)
	}
	return nil
}
