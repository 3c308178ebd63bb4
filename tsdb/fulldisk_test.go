package tsdb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/strata-db/strata/internal/disktest"
	"github.com/strata-db/strata/tsdb/models"
)

// TestStoreOpensOnFullDisk: a store whose disk is full opens its shards
// and serves reads (a data node used to exit at start: the WAL wrote a new
// segment header at open); a write fails with ENOSPC, and once space is
// freed writes succeed without reopening and survive a reopen.
func TestStoreOpensOnFullDisk(t *testing.T) {
	mnt := disktest.MountTmpfsOrSkip(t, 4<<20)
	cfg := testConfig(filepath.Join(mnt, "data"))
	write := func(sh interface {
		WritePoints(context.Context, []models.Point) error
	}, ts int64) error {
		return sh.WritePoints(context.Background(), []models.Point{pt("a", "v", ts, models.FloatValue(float64(ts)))})
	}
	st, sh := openShard(t, cfg)
	must(t, write(sh, 1), "write before the disk fills")
	must(t, st.Close(), "close")

	filler := disktest.Fill(t, mnt)

	st = openStore(t, cfg)
	sh = st.Shard(1)
	if sh == nil {
		t.Fatalf("shard 1 missing after opening on a full disk; got ids %v", st.ShardIDs())
	}
	if got := readAll(t, sh, seriesKey("a"), "v", true); fmt.Sprint(got) != fmt.Sprint([]tv{{1, models.FloatValue(1)}}) {
		t.Fatalf("read on a full disk: got %v; want the point at 1", got)
	}
	if err := write(sh, 2); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full disk: got %v; want ENOSPC", err)
	}
	must(t, os.Remove(filler), "free space")
	must(t, write(sh, 3), "write once space is freed")
	must(t, st.Close(), "close")

	st = openStore(t, cfg)
	want := []tv{{1, models.FloatValue(1)}, {3, models.FloatValue(3)}}
	if got := readAll(t, st.Shard(1), seriesKey("a"), "v", true); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reopening: got %v; want %v", got, want)
	}
}
