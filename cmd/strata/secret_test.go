package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
)

// TestLocalSecret checks that strata local's secret is generated once,
// private to its owner, and reused by the next start.
func TestLocalSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	first, err := localSecret(dir)
	if err != nil || len(first) < 32 {
		t.Fatalf("localSecret: %q, %v; want a long secret", first, err)
	}
	again, err := localSecret(dir)
	if err != nil || again != first {
		t.Errorf("second start: %q, %v; want the first secret %q", again, err, first)
	}
	st, err := os.Stat(filepath.Join(dir, localSecretFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("secret file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	if other, _ := localSecret(t.TempDir()); other == first {
		t.Errorf("two clusters got the same secret")
	}
}

// TestCtlInternalSecret checks that ctl reaches meta nodes that require
// the internal shared secret only when given it.
func TestCtlInternalSecret(t *testing.T) {
	mc := metatest.NewWithOptions(t, 1, metatest.Options{Configure: func(_ int, cfg *meta.Config) { cfg.InternalSharedSecret = "s3" }})
	mc.WaitLeader()
	addrs := mc.HTTPAddrs()
	if out, err := runCtl(t, addrs, "", "create-database", "db0"); err == nil || !strings.Contains(err.Error(), "internode authentication failed") {
		t.Errorf("ctl without the secret: %v (%s); want internode authentication failed", err, out)
	}
	if out, err := runCtl(t, addrs, "", "--internal-shared-secret", "s3", "create-database", "db0"); err != nil {
		t.Errorf("ctl with the secret: %v (%s)", err, out)
	}
	t.Setenv("STRATA_CTL_INTERNAL_SHARED_SECRET", "s3")
	if out, err := runCtl(t, addrs, "", "show-databases"); err != nil || !strings.Contains(out, "db0") {
		t.Errorf("ctl with the secret from the environment: %v (%s); want db0 listed", err, out)
	}
}
