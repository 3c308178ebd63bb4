package tsm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// TestWriterSpillsIndex: a file whose index outgrows indexSpillSize is
// written with the index spilled to a side file and copied back by Close;
// it reads back whole, and the side file is gone.
func TestWriterSpillsIndex(t *testing.T) {
	smallIndexChunks(t)
	writeSpilledFile(t, filepath.Join(t.TempDir(), "spill.tsm"), 0)
}

// TestWriterAdoptsSpill: a file whose blocks take a small part of it
// (one value per key, kept in the entries) reserves room for them in front
// of its spilled index, and Close makes the spill file the data file; one
// whose blocks outgrow that room has its index copied behind them. Both
// read back whole and leave no temporary file.
func TestWriterAdoptsSpill(t *testing.T) {
	smallIndexChunks(t)
	for _, tc := range []struct {
		name    string
		values  func(series int) int
		adopted bool
	}{
		{"inline", func(int) int { return 1 }, true},
		{"outgrown", func(s int) int { return map[bool]int{true: 1, false: 900}[s < 100] }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := writeSeries(t, filepath.Join(t.TempDir(), "a.tsm"), 0, tc.values)
			if w.spillAt == 0 {
				t.Fatalf("no room reserved in the spill file of a file with %d bytes of blocks", w.off)
			}
			if got := w.footer.indexOffset == w.spillAt; got != tc.adopted {
				t.Errorf("index at %d, spill room %d: adopted %v; want %v", w.footer.indexOffset, w.spillAt, got, tc.adopted)
			}
		})
	}
}

// TestWritersShareIndexBuffers: Writers that take their index buffer from
// the ones earlier Writers released (in sequence and side by side) write
// files that read back whole, each with its own content.
func TestWritersShareIndexBuffers(t *testing.T) {
	smallIndexChunks(t)
	dir := t.TempDir()
	for i := range 3 {
		writeSpilledFile(t, filepath.Join(dir, fmt.Sprintf("seq%d.tsm", i)), i)
	}
	t.Run("side by side", func(t *testing.T) {
		for i := range 4 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				writeSpilledFile(t, filepath.Join(dir, fmt.Sprintf("par%d.tsm", i)), 10+i)
			})
		}
	})
	// An abandoned Writer's buffer is released too; the next file is whole.
	w, err := NewWriter(filepath.Join(dir, "removed.tsm"))
	if err != nil {
		t.Fatalf("new writer: %v", err)
	}
	var a Array
	a.Reset(models.FieldTypeInteger)
	if err := a.Append(1, models.IntegerValue(1)); err != nil {
		t.Fatalf("append: %v", err)
	}
	for s := range 100 {
		if err := w.WriteValues([]byte(fmt.Sprintf("x,host=h%04d", s)), []byte("f"), &a); err != nil {
			t.Fatalf("write values: %v", err)
		}
	}
	if err := w.Remove(); err != nil {
		t.Fatalf("remove: %v", err)
	}
	writeSpilledFile(t, filepath.Join(dir, "after-remove.tsm"), 20)
}

// smallIndexChunks makes Writers hold their index in 64-byte chunks and
// spill past 512 bytes until the test ends, so that series records
// straddle chunks and small files spill.
func smallIndexChunks(t *testing.T) {
	t.Helper()
	size, chunk := indexSpillSize, indexChunkSize
	t.Cleanup(func() { indexSpillSize, indexChunkSize = size, chunk })
	indexSpillSize, indexChunkSize = 512, 64
}

// writeSpilledFile writes a file of 500 series x 3 fields of 3 values
// (offset by salt) whose index spills, and checks that it reads back
// whole.
func writeSpilledFile(t *testing.T, path string, salt int) {
	t.Helper()
	writeSeries(t, path, salt, func(int) int { return 3 })
}

// writeSeries writes a file of 500 series x 3 fields, values(s) values
// in each field of series s (offset by salt, irregular so that large
// blocks do not compress to nothing), whose index spills, checks
// that it reads back whole and that no temporary file remains, and
// returns the closed Writer.
func writeSeries(t *testing.T, path string, salt int, values func(int) int) *Writer {
	t.Helper()
	w, err := NewWriter(path)
	if err != nil {
		t.Fatalf("new writer: %v", err)
	}
	const nSeries, nFields = 500, 3
	for s := range nSeries {
		for f := range nFields {
			var a Array
			a.Reset(models.FieldTypeInteger)
			for i := range values(s) {
				if err := a.Append(int64(i), models.IntegerValue(int64(salt*100000+s*100+f*10+i*i%1013*1000))); err != nil {
					t.Fatalf("append: %v", err)
				}
			}
			if err := w.WriteValues([]byte(fmt.Sprintf("cpu,host=h%04d", s)), []byte(fmt.Sprintf("f%d", f)), &a); err != nil {
				t.Fatalf("write values: %v", err)
			}
		}
	}
	if w.indexSpill == nil {
		t.Fatalf("index of %d series was not spilled at a %d-byte threshold", nSeries, indexSpillSize)
	}
	spill := w.indexSpill.Name()
	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, tmp := range []string{spill, path + ".tmp"} {
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Fatalf("temporary file %s still there after Close (stat: %v)", tmp, err)
		}
	}
	r, err := Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer r.Close()
	if r.SeriesCount() != nSeries || r.KeyCount() != nSeries*nFields {
		t.Fatalf("file holds %d series, %d keys; want %d, %d", r.SeriesCount(), r.KeyCount(), nSeries, nSeries*nFields)
	}
	var a Array
	for s := range nSeries {
		for f := range nFields {
			series, field := []byte(fmt.Sprintf("cpu,host=h%04d", s)), []byte(fmt.Sprintf("f%d", f))
			ms := r.Entries(series, field)
			if len(ms) != 1 {
				t.Fatalf("%s %s: %d blocks, want 1", series, field, len(ms))
			}
			if err := r.ReadArray(ms[0], &a); err != nil {
				t.Fatalf("%s %s: read: %v", series, field, err)
			}
			n := values(s)
			if last := int64(salt*100000 + s*100 + f*10 + (n-1)*(n-1)%1013*1000); a.Len() != n || a.Integers[n-1] != last {
				t.Fatalf("%s %s: got %v, want %d values ending %d", series, field, a.Integers, n, last)
			}
		}
	}
	return w
}

// TestIteratorIndexRead: an iterator's IndexRead grows with every key and
// ends at the size of the index's series records.
func TestIteratorIndexRead(t *testing.T) {
	smallIndexChunks(t)
	path := filepath.Join(t.TempDir(), "it.tsm")
	writeSpilledFile(t, path, 0)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	it := r.Iterator()
	prev := it.IndexRead()
	if prev != 0 {
		t.Fatalf("IndexRead before the first key: %d; want 0", prev)
	}
	for it.Next() {
		if n := it.IndexRead(); n <= prev {
			t.Fatalf("IndexRead at %s %s: %d, not past %d", it.Series(), it.Field(), n, prev)
		}
		prev = it.IndexRead()
	}
	if want := int64(len(r.records)); prev != want {
		t.Errorf("IndexRead at the end: %d; want %d", prev, want)
	}
}

// TestWriterSpillWriteError: the spilled index is written in the
// background, and a failed write of it (here its file closed under the
// Writer) fails Close, which leaves no file behind.
func TestWriterSpillWriteError(t *testing.T) {
	smallIndexChunks(t)
	path := filepath.Join(t.TempDir(), "e.tsm")
	w, err := NewWriter(path)
	if err != nil {
		t.Fatalf("new writer: %v", err)
	}
	var a Array
	a.Reset(models.FieldTypeInteger)
	if err := a.Append(1, models.IntegerValue(1)); err != nil {
		t.Fatalf("append: %v", err)
	}
	for s := range 1000 {
		if s == 200 {
			if w.indexSpill == nil {
				t.Fatalf("index of %d series was not spilled at a %d-byte threshold", s, indexSpillSize)
			}
			_ = w.indexSpill.Close()
		}
		if err := w.WriteValues([]byte(fmt.Sprintf("cpu,host=h%04d", s)), []byte("f"), &a); err != nil {
			t.Fatalf("write values: %v", err)
		}
	}
	spill := w.indexSpill.Name()
	// The spill's own error, not a later one of using the closed file.
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "write tsm index spill file") {
		t.Fatalf("close after a failed index spill: got error %v; want the spill's write error", err)
	}
	for _, p := range []string{path, path + ".tmp", spill} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after the failed Close (stat: %v)", p, err)
		}
	}
}
