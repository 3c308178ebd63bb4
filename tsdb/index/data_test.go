package index_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
)

// dataFile returns the path of a file in the shared dataset folder, or skips
// the test when it is absent. The folder is $STRATA_DATA_DIR, or the first
// shared/data found walking up from the package directory.
func dataFile(tb testing.TB, name string) string {
	tb.Helper()
	if dir := os.Getenv("STRATA_DATA_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			tb.Skipf("dataset %s not available (STRATA_DATA_DIR=%s): %v", name, dir, err)
		}
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Skipf("dataset %s not available: %v", name, err)
	}
	for {
		p := filepath.Join(dir, "shared", "data", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skipf("dataset %s not found in any shared/data above the package; set STRATA_DATA_DIR", name)
		}
		dir = parent
	}
}

// loadBatches reads up to maxLines lines of a gzipped line-protocol file and
// returns them in bodies of batch lines each (the last may be shorter).
func loadBatches(tb testing.TB, name string, batch, maxLines int) [][]byte {
	tb.Helper()
	f, err := os.Open(dataFile(tb, name))
	if err != nil {
		tb.Fatalf("open dataset: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatalf("open gzip %s: %v", name, err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var out [][]byte
	var cur bytes.Buffer
	n, inBatch := 0, 0
	for sc.Scan() && n < maxLines {
		cur.Write(sc.Bytes())
		cur.WriteByte('\n')
		n++
		inBatch++
		if inBatch == batch {
			out = append(out, bytes.Clone(cur.Bytes()))
			cur.Reset()
			inBatch = 0
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	if cur.Len() > 0 {
		out = append(out, bytes.Clone(cur.Bytes()))
	}
	return out
}
