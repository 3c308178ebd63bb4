package tsdb_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// reopenStore closes st and opens a store on the same directory.
func reopenStore(t *testing.T, st *tsdb.Store, cfg tsdb.Config) (*tsdb.Store, error) {
	t.Helper()
	must(t, st.Close(), "close")
	st = tsdb.NewStore(cfg, nil, prometheus.NewRegistry())
	return st, st.Open()
}

// TestCleanCloseListsValidatedFiles checks that a clean close lists the
// shard's data files for the next open (which then checks their CRCs
// instead of walking their indexes), that the data reads the same through
// that open, that a damaged list is ignored, and that a data file damaged
// after the close, its size and footer unchanged, is still refused.
func TestCleanCloseListsValidatedFiles(t *testing.T) {
	cfg := testConfig(t.TempDir())
	st := tsdb.NewStore(cfg, nil, prometheus.NewRegistry())
	must(t, st.Open(), "open")
	must(t, st.CreateShard(1), "create shard")
	for file := range 2 {
		var pts []models.Point
		for i := range int64(100) {
			pts = append(pts, pt("a", "v", int64(file)*100+i, models.IntegerValue(i)), pt("b", "w", i, models.FloatValue(float64(i))))
		}
		must(t, st.Shard(1).WritePoints(t.Context(), pts), "write")
		must(t, st.Shard(1).Snapshot(), "snapshot")
	}
	want := readAll(t, st.Shard(1), seriesKey("a"), "v", true)
	list := filepath.Join(cfg.Dir, "1", "validated")

	for _, damageList := range []bool{false, true} {
		var err error
		if st, err = reopenStore(t, st, cfg); err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if _, err := os.Stat(list); err != nil {
			t.Fatalf("no list of validated files after a clean close: %v", err)
		}
		if got := readAll(t, st.Shard(1), seriesKey("a"), "v", true); !equalTV(got, want) {
			t.Fatalf("after reopen (list damaged: %v): got %v; want %v", damageList, got, want)
		}
		if damageList {
			must(t, os.WriteFile(list, []byte("STRXVAL1 not a list"), 0o644), "damage list")
		}
	}
	must(t, st.Close(), "close")

	files, _ := filepath.Glob(filepath.Join(cfg.Dir, "1", "*.tsm"))
	if len(files) != 2 {
		t.Fatalf("data files: %v; want 2", files)
	}
	b, err := os.ReadFile(files[0])
	must(t, err, "read data file")
	b[len(b)-60] ^= 1 // the index's offset table, just before the footer
	must(t, os.WriteFile(files[0], b, 0o644), "damage data file")
	st = tsdb.NewStore(cfg, nil, prometheus.NewRegistry())
	if err := st.Open(); !errors.Is(err, tsm.ErrCorrupt) {
		st.Close()
		t.Fatalf("open with a damaged data file listed as validated: got %v; want ErrCorrupt", err)
	}
}

// TestInstallShardDropsValidatedList checks that a shard installed from
// copied files validates every file in full: a list of validated files
// among the copied ones is removed.
func TestInstallShardDropsValidatedList(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	must(t, sh.WritePoints(t.Context(), []models.Point{pt("a", "v", 1, models.IntegerValue(1))}), "write")
	exp, err := sh.ExportFiles(tsdb.ExportOptions{})
	must(t, err, "export")
	defer exp.Release()
	dst := openStore(t, testConfig(t.TempDir()))
	err = dst.InstallShard(7, func(dir string) error {
		for _, f := range exp.Files {
			r, err := f.Open()
			if err != nil {
				return err
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, f.Name), b, 0o644); err != nil {
				return err
			}
		}
		return os.WriteFile(filepath.Join(dir, "validated"), []byte("planted"), 0o644)
	})
	must(t, err, "install")
	if _, err := os.Stat(filepath.Join(dst.Shard(7).Path(), "validated")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("list of validated files in the installed shard: %v; want none", err)
	}
}
