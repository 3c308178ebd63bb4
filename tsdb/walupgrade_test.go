package tsdb_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-db/strata/tsdb/index"
	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/wal"
)

// TestReplayMixesWALRecordKinds checks an upgrade: a shard whose WAL holds
// a record the current encoder writes followed by points records of the
// earlier layouts (from testdata: kind 1, written by the encoder before
// kind 3, kind 3, written before kind 4, and kind 4, written before
// kind 5) replays them all on open.
func TestReplayMixesWALRecordKinds(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	st, sh := openShard(t, cfg)
	must(t, sh.WritePoints(context.Background(), []models.Point{pt("new", "v", 7, models.IntegerValue(70))}), "write")
	must(t, st.Close(), "close")

	// Append the old records to the shard's WAL, as a node before the
	// upgrade would have left them.
	w, err := wal.Open(filepath.Join(dir, "1", "wal"), cfg.WAL, slog.New(slog.DiscardHandler), nil)
	must(t, err, "open wal")
	for _, name := range []string{"wal-points-kind1.rec", "wal-points-kind4-s2.rec", "wal-points-kind3.rec"} {
		rec, err := os.ReadFile(filepath.Join("testdata", name))
		must(t, err, "read "+name)
		_, err = w.Write(rec)
		must(t, err, "write "+name)
	}
	must(t, w.Close(), "close wal")

	sh = openStore(t, cfg).Shard(1)
	if got := readAll(t, sh, seriesKey("new"), "v", true); len(got) != 1 || got[0].ts != 7 || got[0].v.Integer() != 70 {
		t.Fatalf("kind-5 value after reopen: got %v, want [7=70]", got)
	}
	// The kind-1 and kind-4 records hold points i of series
	// cpu\,x,host=h\ <i%7> (padded with 20 z's in the kind-4 one) with
	// integer field i = -1000·i at time i·1e9 − 5e9: the kind-1 record
	// points 0 and 1, the kind-4 one points 0 to 49 but 3.
	key := func(host string) []byte {
		return models.AppendSeriesKey(nil, []byte("cpu,x"), models.Tags{{Key: []byte("host"), Value: []byte(host)}})
	}
	if got := readAll(t, sh, key("h 1"), "i", true); len(got) != 1 || got[0].ts != -4e9 || got[0].v.Integer() != -1000 {
		t.Fatalf("kind-1 value after reopen: got %v, want [-4000000000=-1000]", got)
	}
	if got := readAll(t, sh, key("h 3zzzzzzzzzzzzzzzzzzzz"), "i", true); len(got) != 6 {
		t.Fatalf("kind-4 s2 values of h 3 after reopen: got %d (%v), want 6 (points 10, 17, ... 45; 3 was dropped)", len(got), got)
	}
	// The kind-3 record holds schemaTestPoints(12): series cpu,host=a
	// and mem take turns; point i has user = i, or idle = "x<i>" when
	// (i/2)%3 is 2, at time i seconds.
	if got := readAll(t, sh, []byte("mem"), "user", true); len(got) != 4 || got[3].ts != 9e9 || got[3].v.Integer() != 9 {
		t.Fatalf("kind-3 user values of mem after reopen: got %v, want 1, 3, 7, 9 at those seconds", got)
	}
	cpu := models.AppendSeriesKey(nil, []byte("cpu"), models.Tags{{Key: []byte("host"), Value: []byte("a")}})
	if got := readAll(t, sh, cpu, "idle", true); len(got) != 2 || got[1].ts != 10e9 || string(got[1].v.S) != "x10" {
		t.Fatalf("kind-3 idle values of cpu,host=a after reopen: got %v, want x4, x10", got)
	}
}

// TestReplayResolvesSeriesIDs checks replay of WAL records that name their
// series by index id: after series b, the newest, is dropped and the shard
// reopened, a new series c must not get b's id (replay of the record
// holding b's values would give them to c), a re-created series keeps
// only its values written after the drop, and series a keeps all of its.
func TestReplayResolvesSeriesIDs(t *testing.T) {
	cfg := testConfig(t.TempDir())
	st, sh := openShard(t, cfg)
	ctx := context.Background()
	must(t, sh.WritePoints(ctx, []models.Point{
		pt("a", "v", 1, models.IntegerValue(1)), pt("b", "v", 1, models.IntegerValue(2)),
	}), "write a, b")
	must(t, sh.DropSeries([]byte("cpu"), index.TagMatch{Key: "host", Op: index.Equal, Value: "b"}), "drop b")
	must(t, st.Close(), "close")

	st = openStore(t, cfg)
	sh = st.Shard(1)
	must(t, sh.WritePoints(ctx, []models.Point{pt("c", "v", 3, models.IntegerValue(3))}), "write c")
	must(t, sh.WritePoints(ctx, []models.Point{pt("b", "v", 4, models.IntegerValue(4))}), "re-create b")
	must(t, st.Close(), "close")

	sh = openStore(t, cfg).Shard(1)
	for _, tc := range []struct {
		host string
		want string
	}{
		{"a", "[1=1]"},
		{"b", "[4=4]"},
		{"c", "[3=3]"},
	} {
		var got []string
		for _, x := range readAll(t, sh, seriesKey(tc.host), "v", true) {
			got = append(got, fmt.Sprintf("%d=%d", x.ts, x.v.Integer()))
		}
		if got := fmt.Sprint(got); got != tc.want {
			t.Errorf("series %s after replay: got %s, want %s", tc.host, got, tc.want)
		}
	}
}
