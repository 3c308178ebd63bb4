package tsdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/strata-db/strata/internal/durable"
	"github.com/strata-db/strata/tsdb/tsm"
)

// validatedFileName is the shard file in which a clean close lists its
// data files and what validating them established (tsm.Validated), so
// that the next open checks their checksums instead of walking their
// indexes again (docs/layout.md; issue 17: restart at a million series).
const validatedFileName = "validated"

// validatedMagic starts a list that gives each file's value count too;
// a list that starts with validatedMagicV1 (written before) gives none.
var (
	validatedMagic   = []byte("STRXVAL2")
	validatedMagicV1 = []byte("STRXVAL1")
)

// validatedFile is a data file's entry in the list: what validating it
// established, and its value count (-1 if unknown), which a file opened
// without walking its index cannot count but compaction planning reads
// (sparse).
type validatedFile struct {
	v      tsm.Validated
	values int64
}

// writeValidated lists the shard's data files for the next open; the
// caller holds mu.
func (s *Shard) writeValidated() error {
	buf := bytes.Clone(validatedMagic)
	for _, f := range s.files {
		v := f.r.Validated()
		name := filepath.Base(f.path)
		buf = binary.AppendUvarint(buf, uint64(len(name)))
		buf = append(buf, name...)
		buf = binary.AppendUvarint(buf, uint64(v.Size))
		buf = binary.AppendUvarint(buf, uint64(v.Blocks))
		buf = binary.AppendUvarint(buf, uint64(f.values+1))
		buf = append(buf, v.Footer[:]...)
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	if err := durable.ReplaceFile(filepath.Join(s.dir, validatedFileName), buf); err != nil {
		return fmt.Errorf("write validated data files: %w", err)
	}
	return nil
}

// readValidated returns the list the last clean close wrote, by file
// name. A missing list is empty; so is a damaged one, with a warning: the
// files are then validated in full, which is always safe.
func (s *Shard) readValidated() map[string]validatedFile {
	b, err := os.ReadFile(filepath.Join(s.dir, validatedFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		var out map[string]validatedFile
		if out, err = decodeValidated(b); err == nil {
			return out
		}
	}
	s.logger.Warn("ignoring the list of validated data files; validating every file", "err", err)
	return nil
}

// errBadValidated is a list of validated files that does not decode.
var errBadValidated = errors.New("bad list of validated data files")

func decodeValidated(b []byte) (map[string]validatedFile, error) {
	v1 := bytes.HasPrefix(b, validatedMagicV1)
	if len(b) < len(validatedMagic)+4 || !(v1 || bytes.HasPrefix(b, validatedMagic)) ||
		crc32.Checksum(b[:len(b)-4], castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("header or checksum: %w", errBadValidated)
	}
	out := map[string]validatedFile{}
	for p := b[len(validatedMagic) : len(b)-4]; len(p) > 0; {
		var f validatedFile
		name, p1, ok := lenPrefixed(p)
		size, p2, ok2 := uvarintPrefix(p1)
		blocks, p3, ok3 := uvarintPrefix(p2)
		values := uint64(0) // unknown
		if !v1 && ok3 {
			values, p3, ok3 = uvarintPrefix(p3)
		}
		if !ok || !ok2 || !ok3 || len(p3) < len(f.v.Footer) {
			return nil, fmt.Errorf("entry %d: %w", len(out), errBadValidated)
		}
		f.v.Size, f.v.Blocks, f.values = int64(size), int(blocks), int64(values)-1
		p = p3[copy(f.v.Footer[:], p3):]
		out[string(name)] = f
	}
	return out, nil
}

func uvarintPrefix(p []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(p)
	if n <= 0 {
		return 0, nil, false
	}
	return v, p[n:], true
}

func lenPrefixed(p []byte) ([]byte, []byte, bool) {
	n, p, ok := uvarintPrefix(p)
	if !ok || n > uint64(len(p)) {
		return nil, nil, false
	}
	return p[:n], p[n:], true
}
