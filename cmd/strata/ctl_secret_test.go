package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCtlFindsLocalClusterSecret checks that ctl run in the folder where
// `strata local` keeps its nodes uses that cluster's internode secret
// without a flag (the README runs `strata ctl show` right after `strata
// local`, which every meta node then refused with 401), and uses none
// elsewhere.
func TestCtlFindsLocalClusterSecret(t *testing.T) {
	t.Chdir(t.TempDir())
	if got := localClusterSecret(); got != "" {
		t.Fatalf("no strata local folder: secret %q; want none", got)
	}
	secret, err := localSecret(localDefaultDir)
	if err != nil {
		t.Fatal(err)
	}
	if got := localClusterSecret(); got != secret || got == "" {
		t.Fatalf("beside strata local's folder: secret %q; want the one it generated, %q", got, secret)
	}
	if _, err := os.Stat(filepath.Join(localDefaultDir, localSecretFile)); err != nil {
		t.Fatal(err)
	}
}
