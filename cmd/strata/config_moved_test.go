package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/data"
)

// TestReadConfigMovedKey checks that a data node config still setting a
// key that moved into [http] is refused with the new place, and that the
// new place is read.
func TestReadConfigMovedKey(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.toml")
	if err := os.WriteFile(old, []byte("auth-enabled = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := data.NewConfig()
	if err := readConfig(old, &cfg); err == nil || !strings.Contains(err.Error(), `unknown key auth-enabled (top level) (use [http] auth-enabled)`) {
		t.Errorf("old key: got %v; want an error naming [http] auth-enabled", err)
	}
	moved := filepath.Join(dir, "new.toml")
	if err := os.WriteFile(moved, []byte("[http]\nauth-enabled = true\nmax-body-size = 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg = data.NewConfig()
	if err := readConfig(moved, &cfg); err != nil || !cfg.HTTP.AuthEnabled || cfg.HTTP.MaxBodySize != 7 {
		t.Errorf("[http] keys: got %v, auth %v, max-body-size %d; want nil, true, 7", err, cfg.HTTP.AuthEnabled, cfg.HTTP.MaxBodySize)
	}
}
