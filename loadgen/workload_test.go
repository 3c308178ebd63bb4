package loadgen_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-db/strata/internal/datasets"

	"github.com/strata-db/strata/loadgen"
)

func TestSplitLines(t *testing.T) {
	tests := []struct {
		name       string
		data       string
		batchSize  int
		wantLines  []int
		wantValues []int
		wantBodies []string
	}{
		{
			name:      "exact batches",
			data:      "m a=1 1\nm a=1,b=2 2\nm a=1 3\nm a=1,b=2,c=3 4\n",
			batchSize: 2, wantLines: []int{2, 2}, wantValues: []int{3, 4},
			wantBodies: []string{"m a=1 1\nm a=1,b=2 2\n", "m a=1 3\nm a=1,b=2,c=3 4\n"},
		},
		{
			name:      "short last batch without newline",
			data:      "m a=1 1\nm a=1 2\nm a=1,b=2 3",
			batchSize: 2, wantLines: []int{2, 1}, wantValues: []int{2, 2},
			wantBodies: []string{"m a=1 1\nm a=1 2\n", "m a=1,b=2 3"},
		},
		{
			name:      "comments and blank lines ride along uncounted",
			data:      "# header\n\nm a=1 1\n  \nm a=1 2\n# tail\n",
			batchSize: 1, wantLines: []int{1, 1}, wantValues: []int{1, 1},
			wantBodies: []string{"# header\n\nm a=1 1\n", "  \nm a=1 2\n# tail\n"},
		},
		{
			name:      "crlf",
			data:      "m a=1,b=2 1\r\nm a=1 2\r\n",
			batchSize: 5, wantLines: []int{2}, wantValues: []int{3},
			wantBodies: []string{"m a=1,b=2 1\r\nm a=1 2\r\n"},
		},
		{
			name:      "only comments",
			data:      "# nothing\n\n",
			batchSize: 5,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := loadgen.SplitLines([]byte(tc.data), tc.batchSize)
			if len(w.Batches) != len(tc.wantLines) {
				t.Fatalf("got %d batches, want %d", len(w.Batches), len(tc.wantLines))
			}
			var lines, values int64
			for i, b := range w.Batches {
				if b.Lines != tc.wantLines[i] || b.Values != tc.wantValues[i] || string(b.Body) != tc.wantBodies[i] {
					t.Errorf("batch %d = {%q, lines %d, values %d}, want {%q, %d, %d}",
						i, b.Body, b.Lines, b.Values, tc.wantBodies[i], tc.wantLines[i], tc.wantValues[i])
				}
				lines += int64(b.Lines)
				values += int64(b.Values)
			}
			if w.Lines != lines || w.Values != values {
				t.Errorf("totals = %d lines %d values, want %d, %d", w.Lines, w.Values, lines, values)
			}
		})
	}
}

func writeGzip(t *testing.T, path string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("gzip close: %v", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

func TestReadFilePlainAndGzip(t *testing.T) {
	data := []byte("m,t=a x=1,y=2 1\nm,t=b x=3 2\nm,t=c x=4,y=5,z=6 3\n")
	dir := t.TempDir()
	plain := filepath.Join(dir, "data.lp")
	if err := os.WriteFile(plain, data, 0o600); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, "data.lp.gz")
	writeGzip(t, gz, data)
	for _, path := range []string{plain, gz} {
		w, err := loadgen.ReadFile(path, 2)
		if err != nil {
			t.Fatalf("ReadFile(%s): %v", path, err)
		}
		if w.Lines != 3 || w.Values != 6 || len(w.Batches) != 2 {
			t.Errorf("ReadFile(%s) = %d lines, %d values, %d batches; want 3, 6, 2", filepath.Base(path), w.Lines, w.Values, len(w.Batches))
		}
		var joined []byte
		for _, b := range w.Batches {
			joined = append(joined, b.Body...)
		}
		if !bytes.Equal(joined, data) {
			t.Errorf("ReadFile(%s) bodies joined = %q, want %q", filepath.Base(path), joined, data)
		}
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadgen.ReadFile(filepath.Join(dir, "missing.lp"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v, want os.ErrNotExist", err)
	}
	empty := filepath.Join(dir, "empty.lp")
	if err := os.WriteFile(empty, []byte("# only a comment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadgen.ReadFile(empty, 10); !errors.Is(err, loadgen.ErrEmptyWorkload) {
		t.Errorf("empty file: got %v, want ErrEmptyWorkload", err)
	}
	bad := filepath.Join(dir, "bad.lp.gz")
	if err := os.WriteFile(bad, []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadgen.ReadFile(bad, 10); err == nil {
		t.Error("corrupt gzip: got nil error, want one")
	}
}

func TestCompressRoundTrip(t *testing.T) {
	cfg := loadgen.NewCPUConfig()
	cfg.Hosts = 7
	cfg.Duration = 10 * cfg.Interval
	w, err := loadgen.GenerateCPU(cfg, 9)
	if err != nil {
		t.Fatal(err)
	}
	var raw [][]byte
	for _, b := range w.Batches {
		raw = append(raw, bytes.Clone(b.Body))
	}
	if err := w.Compress(); err != nil {
		t.Fatalf("Compress: %v", err)
	}
	if !w.Gzipped {
		t.Fatal("Gzipped = false after Compress, want true")
	}
	var wire int64
	for i, b := range w.Batches {
		zr, err := gzip.NewReader(bytes.NewReader(b.Body))
		if err != nil {
			t.Fatalf("batch %d: gunzip: %v", i, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("batch %d: gunzip: %v", i, err)
		}
		if !bytes.Equal(got, raw[i]) {
			t.Fatalf("batch %d: gunzipped body differs from the original (%d vs %d bytes)", i, len(got), len(raw[i]))
		}
		if b.RawBytes != len(raw[i]) {
			t.Errorf("batch %d: RawBytes = %d, want %d", i, b.RawBytes, len(raw[i]))
		}
		wire += int64(len(b.Body))
	}
	if w.WireBytes != wire || w.WireBytes >= w.RawBytes {
		t.Errorf("WireBytes = %d, want %d and < RawBytes %d", w.WireBytes, wire, w.RawBytes)
	}
}

// TestReadFileDataset checks the cheap per-line value count against a full
// line-protocol/v2 decode of a real TSBS file.
func TestReadFileDataset(t *testing.T) {
	for _, name := range []string{"tsbs-cpu-only-s10-1h.lp.gz", "tsbs-devops-s10-1h.lp.gz"} {
		t.Run(name, func(t *testing.T) {
			w, err := loadgen.ReadFile(datasets.Path(t, name), 5000)
			if err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			var lines, values int
			for i, b := range w.Batches {
				l, v, err := decodeCount(b.Body)
				if err != nil {
					t.Fatalf("batch %d: decode: %v", i, err)
				}
				if l != b.Lines || v != b.Values {
					t.Errorf("batch %d: counted %d lines %d values, decoder says %d, %d", i, b.Lines, b.Values, l, v)
				}
				if i < len(w.Batches)-1 && b.Lines != 5000 {
					t.Errorf("batch %d has %d lines, want 5000", i, b.Lines)
				}
				lines += l
				values += v
			}
			if int64(lines) != w.Lines || int64(values) != w.Values {
				t.Errorf("totals %d lines %d values, decoder says %d, %d", w.Lines, w.Values, lines, values)
			}
			if name == "tsbs-cpu-only-s10-1h.lp.gz" && (w.Lines != 3600 || w.Values != 36000) {
				t.Errorf("cpu-only s10: %d lines %d values, want 3600, 36000 (shared/data/README.md)", w.Lines, w.Values)
			}
			if name == "tsbs-devops-s10-1h.lp.gz" && (w.Lines != 32400 || w.Values != 363600) {
				t.Errorf("devops s10: %d lines %d values, want 32400, 363600 (shared/data/README.md)", w.Lines, w.Values)
			}
		})
	}
}

// FuzzSplitLines: arbitrary input never panics, batches joined are exactly
// the input (when it holds any point line), none is larger
// than the batch size, and the totals add up.
func FuzzSplitLines(f *testing.F) {
	f.Add([]byte("m a=1 1\n# c\n\nm b=\"x,y z\",c=2 2\r\n"), 1)
	f.Add([]byte("\n\n\n"), 3)
	f.Add([]byte(`m\ x,t=a\ b f=1`), 0)
	f.Fuzz(func(t *testing.T, data []byte, batchSize int) {
		if batchSize > 1000 {
			batchSize = 1000
		}
		w := loadgen.SplitLines(data, batchSize)
		var joined []byte
		var lines, values int64
		for i, b := range w.Batches {
			if b.Lines < 1 || (batchSize >= 1 && b.Lines > batchSize) || b.Values < 0 || b.RawBytes != len(b.Body) {
				t.Fatalf("batch %d: lines %d values %d rawBytes %d/%d, batch size %d", i, b.Lines, b.Values, b.RawBytes, len(b.Body), batchSize)
			}
			joined = append(joined, b.Body...)
			lines += int64(b.Lines)
			values += int64(b.Values)
		}
		if len(w.Batches) > 0 && !bytes.Equal(data, joined) {
			t.Fatalf("batches joined (%d bytes) are not the input (%d bytes)", len(joined), len(data))
		}
		if lines != w.Lines || values != w.Values || int64(len(joined)) != w.RawBytes {
			t.Fatalf("totals %d/%d/%d, batches sum to %d/%d/%d", w.Lines, w.Values, w.RawBytes, lines, values, len(joined))
		}
	})
}
