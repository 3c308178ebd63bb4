package tsdb

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// TestCloseForDeleteSkipsRestartAids checks that closing a shard about to
// be deleted writes neither the list of validated data files nor anything
// else only the next open would read, while a plain Close writes the list.
func TestCloseForDeleteSkipsRestartAids(t *testing.T) {
	for _, reopen := range []bool{true, false} {
		dir := t.TempDir()
		sh := digestTestShard(t, dir, 4)
		digestTestWrite(t, sh, []models.Point{digestTestPoint("h1", "v", 1, models.IntegerValue(1))})
		digestMust(t, sh.Snapshot())
		digestMust(t, sh.close(reopen))
		_, err := os.Stat(filepath.Join(sh.dir, validatedFileName))
		if reopen && err != nil {
			t.Fatalf("Close wrote no list of validated files: %v", err)
		}
		if !reopen && !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("close of a shard being deleted: validated list %v; want none", err)
		}
	}
}
