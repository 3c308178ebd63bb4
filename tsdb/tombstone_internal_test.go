package tsdb

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestTombstoneSidecarDurableAndTornTail(t *testing.T) {
	dir := t.TempDir()
	ts, err := openTombstones(dir, discard)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	in := []Tombstone{
		{Seq: 3, SeriesKey: []byte("cpu,host=a"), Min: 1, Max: 9},
		{Seq: 4, SeriesKey: []byte("cpu,host=b"), Field: []byte("v"), Min: -3, Max: 3},
	}
	if err := ts.add(in); err != nil {
		t.Fatalf("add: %v", err)
	}
	if err := ts.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	// Append a torn record.
	path := filepath.Join(dir, tombstoneFileName)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("open for append: %v", err)
	}
	f.Write([]byte{40, 0, 0, 0, 1, 2})
	f.Close()
	ts, err = openTombstones(dir, discard)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	got := ts.all()
	if len(got) != 2 || got[1].Seq != 4 || !bytes.Equal(got[1].Field, []byte("v")) || got[0].Max != 9 {
		t.Fatalf("reloaded: got %+v, want %+v", got, in)
	}
	// The torn tail is gone, so appends after it are readable.
	if err := ts.add([]Tombstone{{Seq: 5, SeriesKey: []byte("x"), Min: 0, Max: 1}}); err != nil {
		t.Fatalf("add after repair: %v", err)
	}
	// Mark seq 3 applied and expire it; seq 4 is not applied, so it stays.
	if err := ts.settle(2, func(t *Tombstone) bool { return t.Seq <= 3 }, 1); err != nil {
		t.Fatalf("settle: %v", err)
	}
	ts.close()
	ts, err = openTombstones(dir, discard)
	if err != nil {
		t.Fatalf("reopen 2: %v", err)
	}
	defer ts.close()
	got = ts.all()
	if len(got) != 2 || got[0].Seq != 4 || got[1].Seq != 5 {
		t.Fatalf("after settle: got seqs %v, want [4 5]", got)
	}
}

func FuzzTombstoneFileDecode(f *testing.F) {
	var good []byte
	good = appendTombstoneRecord(good, &Tombstone{Seq: 2, SeriesKey: []byte("cpu,host=a"), Min: 1, Max: 5})
	good = appendTombstoneRecord(good, &Tombstone{Seq: 3, SeriesKey: []byte("m"), Field: []byte("f"), Min: -1, Max: 0})
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		list, n, err := decodeTombstoneFile(data)
		if n < 0 || n > len(data) {
			t.Fatalf("valid prefix %d outside [0, %d]", n, len(data))
		}
		if (err == nil) != (n == len(data)) {
			t.Fatalf("err %v with valid prefix %d of %d", err, n, len(data))
		}
		// The valid prefix decodes to the same records on its own.
		again, m, err2 := decodeTombstoneFile(data[:n])
		if err2 != nil || m != n || len(again) != len(list) {
			t.Fatalf("prefix re-decode: got %d records, %v; want %d records", len(again), err2, len(list))
		}
		for _, tb := range list {
			if tb.Min > tb.Max {
				t.Fatalf("accepted tombstone with min %d > max %d", tb.Min, tb.Max)
			}
		}
	})
}
