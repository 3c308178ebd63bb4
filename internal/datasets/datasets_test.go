package datasets

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
)

func TestFindAndBatches(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("a v=1 1\nb v=2 2\nc v=3 3\n"))
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "x.lp.gz"), gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvDir, dir)
	if _, err := Find("missing.lp.gz"); err == nil {
		t.Fatal("Find of a missing dataset: got no error")
	}
	got := Batches(t, "x.lp.gz", 2, 0)
	if len(got) != 2 || string(got[0]) != "a v=1 1\nb v=2 2\n" || string(got[1]) != "c v=3 3\n" {
		t.Fatalf("Batches(2, all): got %q", got)
	}
	if got := Batches(t, "x.lp.gz", 5, 2); len(got) != 1 || string(got[0]) != "a v=1 1\nb v=2 2\n" {
		t.Fatalf("Batches(5, max 2 lines): got %q", got)
	}
}
