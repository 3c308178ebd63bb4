package durable

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplaceFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for _, content := range []string{"first", "second, longer"} {
		if err := ReplaceFile(p, []byte(content)); err != nil {
			t.Fatalf("ReplaceFile: %v", err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("after ReplaceFile(%q): read %q, %v", content, got, err)
		}
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temp file left behind: %v", err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("SyncDir of a missing directory: got no error")
	}
	if err := ReplaceFile(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Error("ReplaceFile into a missing directory: got no error")
	}
}

func TestWriteChunks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "snapshot")
	if err := os.WriteFile(p, []byte("an older, longer content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteChunks(p, []byte("one,"), nil, []byte("two")); err != nil {
		t.Fatalf("WriteChunks: %v", err)
	}
	if got, err := os.ReadFile(p); err != nil || string(got) != "one,two" {
		t.Fatalf("after WriteChunks: read %q, %v; want %q", got, err, "one,two")
	}
}
