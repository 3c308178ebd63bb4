// Package datasets finds the shared third-party datasets (../shared/data,
// see its README) for tests and benchmarks, and skips a test plainly when
// they are absent: nothing from them is copied into the repository.
package datasets

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// EnvDir names the environment variable that points at the dataset folder;
// without it, the first shared/data found walking up from the working
// directory (a package's folder under `go test`) is used.
const EnvDir = "STRATA_DATA_DIR"

// Find returns the path of the dataset file name.
func Find(name string) (string, error) {
	if dir := os.Getenv(EnvDir); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("dataset %s in %s=%s: %w", name, EnvDir, dir, err)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("dataset %s: %w", name, err)
	}
	for {
		p := filepath.Join(dir, "shared", "data", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("dataset %s not found in any shared/data above the working directory (set %s): %w", name, EnvDir, fs.ErrNotExist)
		}
		dir = parent
	}
}

// Path returns the path of the dataset file name, or skips the test with
// the reason when it is absent.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	p, err := Find(name)
	if err != nil {
		tb.Skip("SKIPPED: " + err.Error())
	}
	return p
}

// Batches reads up to maxLines lines (all when maxLines <= 0) of a gzipped
// line-protocol dataset into bodies of batch lines each, the last possibly
// shorter; it skips the test when the dataset is absent.
func Batches(tb testing.TB, name string, batch, maxLines int) [][]byte {
	tb.Helper()
	out, err := readBatches(Path(tb, name), batch, maxLines)
	if err != nil {
		tb.Fatalf("read dataset %s: %v", name, err)
	}
	return out
}

func readBatches(path string, batch, maxLines int) ([][]byte, error) {
	if batch <= 0 {
		return nil, errors.New("batch must be positive")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var out [][]byte
	var cur bytes.Buffer
	n, inBatch := 0, 0
	for sc.Scan() && (maxLines <= 0 || n < maxLines) {
		cur.Write(sc.Bytes())
		cur.WriteByte('\n')
		n++
		if inBatch++; inBatch == batch {
			out = append(out, bytes.Clone(cur.Bytes()))
			cur.Reset()
			inBatch = 0
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur.Len() > 0 {
		out = append(out, bytes.Clone(cur.Bytes()))
	}
	return out, nil
}
