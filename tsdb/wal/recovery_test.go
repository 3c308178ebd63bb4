package wal_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/tsdb/wal"
)

// Framing sizes from docs/format.md.
const (
	segmentHeaderSize = 8
	recordHeaderSize  = 8
)

func segmentFile(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d.wal", id))
}

// writeSegment writes recs into a fresh WAL in dir, one segment, and closes
// it. It returns the segment id and the offset where each record starts.
func writeSegment(t *testing.T, dir string, recs [][]byte) (uint64, []int64) {
	t.Helper()
	cfg := testConfig(1 << 20)
	cfg.NoSync = true
	w := mustOpen(t, dir, cfg, nil)
	var seg uint64
	offs := make([]int64, len(recs))
	off := int64(segmentHeaderSize)
	for i, rec := range recs {
		s, err := w.Write(rec)
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		if i > 0 && s != seg {
			t.Fatalf("records spread over segments %d and %d; want one", seg, s)
		}
		seg = s
		offs[i] = off
		off += recordHeaderSize + int64(len(rec))
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return seg, offs
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// checkRecords reopens dir and checks that replay returns exactly want and
// that the corrupt-tail counter reads wantTruncations.
func checkRecords(t *testing.T, dir string, want [][]byte, wantTruncations float64) *wal.WAL {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := testConfig(1 << 20)
	cfg.NoSync = true
	w := mustOpen(t, dir, cfg, reg)
	got := replayAll(t, w)
	if len(got) != len(want) {
		w.Close()
		t.Fatalf("replayed %d records; want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].rec, want[i]) {
			t.Errorf("record %d: got %d bytes %q...; want %d bytes", i, len(got[i].rec), head(got[i].rec), len(want[i]))
		}
	}
	if n := metricValue(t, reg, "strata_wal_corrupt_tail_truncations_total"); n != wantTruncations {
		t.Errorf("strata_wal_corrupt_tail_truncations_total = %v; want %v", n, wantTruncations)
	}
	return w
}

func head(b []byte) []byte { return b[:min(len(b), 8)] }

func TestTornTailEveryOffset(t *testing.T) {
	src := t.TempDir()
	recs := [][]byte{makeRecord(1, 30), makeRecord(2, 0), makeRecord(3, 45), makeRecord(4, 37)}
	seg, offs := writeSegment(t, src, recs)
	last := offs[len(offs)-1]
	end := last + recordHeaderSize + int64(len(recs[len(recs)-1]))
	for cut := last; cut < end; cut++ {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			dir := copyDir(t, src)
			if err := os.Truncate(segmentFile(dir, seg), cut); err != nil {
				t.Fatal(err)
			}
			var wantTrunc float64
			if cut > last {
				wantTrunc = 1
			}
			w := checkRecords(t, dir, recs[:len(recs)-1], wantTrunc)
			fi, err := os.Stat(segmentFile(dir, seg))
			if err != nil || fi.Size() != last {
				t.Errorf("segment after repair: size %v, error %v; want %d bytes", sizeOf(fi), err, last)
			}
			// The repaired WAL takes new records after the kept ones.
			extra := []byte("after repair")
			if _, err := w.Write(extra); err != nil {
				t.Fatalf("Write after repair: %v", err)
			}
			w.Close()
			checkRecords(t, dir, append(recs[:len(recs)-1:len(recs)-1], extra), 0).Close()
		})
	}
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}

func TestTornSegmentHeader(t *testing.T) {
	for cut := range int64(segmentHeaderSize + 1) {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			dir := t.TempDir()
			recs := [][]byte{makeRecord(1, 20)}
			seg, _ := writeSegment(t, dir, recs)
			// A crash right after the first write (or a rotation) created
			// segment seg+1 leaves its header torn: cut bytes of it.
			data, err := os.ReadFile(segmentFile(dir, seg))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(segmentFile(dir, seg+1), data[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			var wantTrunc float64
			if cut > 0 && cut < segmentHeaderSize {
				wantTrunc = 1
			}
			w := checkRecords(t, dir, recs, wantTrunc)
			defer w.Close()
			// The torn (or empty) segment's id is reused for the active one.
			if segs := w.Segments(); len(segs) != 2 || segs[1] != seg+1 {
				t.Errorf("Segments() = %v; want [%d %d]", segs, seg, seg+1)
			}
		})
	}
}

func TestBitFlipInLastSegment(t *testing.T) {
	src := t.TempDir()
	recs := [][]byte{makeRecord(1, 30), makeRecord(2, 25), makeRecord(3, 20)}
	seg, offs := writeSegment(t, src, recs)
	last := offs[len(offs)-1]
	end := last + recordHeaderSize + int64(len(recs[len(recs)-1]))
	for off := last; off < end; off++ {
		t.Run(fmt.Sprint(off), func(t *testing.T) {
			dir := copyDir(t, src)
			flipByte(t, segmentFile(dir, seg), off, byte(1)<<(off%8))
			checkRecords(t, dir, recs[:len(recs)-1], 1).Close()
		})
	}
}

func TestBitFlipInOlderSegment(t *testing.T) {
	tests := []struct {
		name string
		off  func(offs []int64) int64
		keep int // records of the older segment still replayed
	}{
		{"segment header", func([]int64) int64 { return 2 }, 0},
		{"first record header", func(o []int64) int64 { return o[0] + 1 }, 0},
		{"second record payload", func(o []int64) int64 { return o[1] + recordHeaderSize + 3 }, 1},
		{"third record crc", func(o []int64) int64 { return o[2] + 5 }, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(1 << 20)
			cfg.NoSync = true
			old := [][]byte{makeRecord(1, 30), makeRecord(2, 25), makeRecord(3, 20)}
			newer := [][]byte{makeRecord(4, 10), makeRecord(5, 15)}
			w := mustOpen(t, dir, cfg, nil)
			var offs []int64
			off := int64(segmentHeaderSize)
			var oldSeg uint64
			for _, rec := range old {
				s, err := w.Write(rec)
				if err != nil {
					t.Fatal(err)
				}
				oldSeg = s
				offs = append(offs, off)
				off += recordHeaderSize + int64(len(rec))
			}
			if _, err := w.Rotate(); err != nil {
				t.Fatal(err)
			}
			for _, rec := range newer {
				if _, err := w.Write(rec); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			flipByte(t, segmentFile(dir, oldSeg), tc.off(offs), 0x04)

			reg := prometheus.NewRegistry()
			w = mustOpen(t, dir, cfg, reg)
			defer w.Close()
			got := replayAll(t, w)
			want := append(old[:tc.keep:tc.keep], newer...)
			if len(got) != len(want) {
				t.Fatalf("replayed %d records; want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i].rec, want[i]) {
					t.Errorf("record %d: got %q...; want %q...", i, head(got[i].rec), head(want[i]))
				}
			}
			if n := metricValue(t, reg, "strata_wal_corrupt_segments_total"); n != 1 {
				t.Errorf("strata_wal_corrupt_segments_total = %v; want 1", n)
			}
		})
	}
}

func flipByte(t *testing.T, path string, off int64, mask byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= mask
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesForeignSegment(t *testing.T) {
	dir := t.TempDir()
	seg, _ := writeSegment(t, dir, [][]byte{makeRecord(1, 20)})
	flipByte(t, segmentFile(dir, seg), 0, 0xff)
	_, err := wal.Open(dir, testConfig(1<<20), nil, nil)
	var cerr *wal.CorruptionError
	if !errors.As(err, &cerr) || !errors.Is(err, wal.ErrCorrupt) {
		t.Fatalf("Open with a bad segment magic: got error %v; want a *CorruptionError wrapping ErrCorrupt", err)
	}
	if cerr.Segment != seg || cerr.Offset != 0 || cerr.Dir != dir {
		t.Errorf("CorruptionError = {Dir %s, Segment %d, Offset %d}; want {%s, %d, 0}", cerr.Dir, cerr.Segment, cerr.Offset, dir, seg)
	}
	if _, err := os.Stat(segmentFile(dir, seg)); err != nil {
		t.Errorf("foreign segment after failed Open: %v; want it left in place", err)
	}
}

func TestOpenIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	recs := [][]byte{makeRecord(1, 20)}
	writeSegment(t, dir, recs)
	for _, name := range []string{"notes.txt", "00000000000000000009.wal.tmp", "0000000000000000009.wal"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checkRecords(t, dir, recs, 0).Close()
}
