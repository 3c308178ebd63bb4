package tsm

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// TestWriterSpillsIndex: a file whose index outgrows indexSpillSize is
// written with the index spilled to a side file and copied back by Close;
// it reads back whole, and the side file is gone.
func TestWriterSpillsIndex(t *testing.T) {
	defer func(n int) { indexSpillSize = n }(indexSpillSize)
	indexSpillSize = 512
	path := filepath.Join(t.TempDir(), "spill.tsm")
	w, err := NewWriter(path)
	if err != nil {
		t.Fatalf("new writer: %v", err)
	}
	const nSeries, nFields = 500, 3
	for s := range nSeries {
		for f := range nFields {
			var a Array
			a.Reset(models.FieldTypeInteger)
			for i := range 3 {
				if err := a.Append(int64(i), models.IntegerValue(int64(s*100+f*10+i))); err != nil {
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
	if _, err := os.Stat(spill); !os.IsNotExist(err) {
		t.Fatalf("spill file %s still there after Close (stat: %v)", spill, err)
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
			if a.Len() != 3 || a.Integers[2] != int64(s*100+f*10+2) {
				t.Fatalf("%s %s: got %v, want 3 values ending %d", series, field, a.Integers, s*100+f*10+2)
			}
		}
	}
}
