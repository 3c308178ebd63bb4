package data

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

func openTestStore(t *testing.T) (*tsdb.Store, string) {
	t.Helper()
	cfg := tsdb.NewConfig()
	cfg.Dir = t.TempDir()
	st := tsdb.NewStore(cfg, nil, prometheus.NewRegistry())
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, cfg.Dir
}

func writeTestLines(t *testing.T, st *tsdb.Store, shard uint64, lines string) {
	t.Helper()
	var p models.Parser
	pts, err := p.Parse([]byte(lines), models.PrecisionNanosecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteToShard(context.Background(), shard, pts); err != nil {
		t.Fatal(err)
	}
}

// shardContent is every series key, field, time and value of a shard,
// its tombstones and its series count, as text.
func shardContent(t *testing.T, sh *tsdb.Shard) string {
	t.Helper()
	var b strings.Builder
	keys := aeShard{sh}.SeriesKeys()
	slices.SortFunc(keys, bytes.Compare)
	for _, k := range keys {
		err := sh.SeriesPoints(k, minTime, maxTime, func(p models.Point) error {
			fmt.Fprintf(&b, "%s %v %d\n", k, p.Fields, p.Time)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	fmt.Fprintf(&b, "tombstones %+v\nseries %d\n", sh.Tombstones(), sh.SeriesN())
	return b.String()
}

const minTime, maxTime = -1 << 63, 1<<63 - 1

// TestShardFileCopy: a shard installed from the file stream of another
// (data files of two levels, tombstones, index, values still in the
// cache) answers the same values and has the same Merkle digests; a
// stream with a flipped byte or cut short installs nothing, and the
// corrupt one says so.
func TestShardFileCopy(t *testing.T) {
	ctx := context.Background()
	src, _ := openTestStore(t)
	if err := src.CreateShard(7); err != nil {
		t.Fatal(err)
	}
	var lines strings.Builder
	for i := range 200 {
		fmt.Fprintf(&lines, "cpu,host=h%d usage=%d.5,n=%di,ok=true,s=\"x%d\" %d\n", i%13, i, i, i, 1000+i)
	}
	writeTestLines(t, src, 7, lines.String())
	sh := src.Shard(7)
	if err := sh.Snapshot(); err != nil {
		t.Fatal(err)
	}
	writeTestLines(t, src, 7, "mem,host=h1 free=3i 5000\nmem,host=h2 free=4i 5000\n")
	if err := sh.Compact(true); err != nil {
		t.Fatal(err)
	}
	if err := sh.DeleteSeriesRange([][]byte{[]byte("cpu,host=h3")}, 1000, 1100); err != nil {
		t.Fatal(err)
	}
	// In the cache only when the files are exported.
	writeTestLines(t, src, 7, "disk,host=h9 used=1 6000\n")

	set, err := sh.ExportFiles(tsdb.ExportOptions{Digests: true})
	if err != nil {
		t.Fatal(err)
	}
	var stream bytes.Buffer
	n, err := writeShardFiles(&stream, set.Files)
	set.Release()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no file content streamed")
	}

	dst, _ := openTestStore(t)
	err = dst.InstallShard(7, func(dir string) error {
		return readShardFiles(ctx, bytes.NewReader(stream.Bytes()), dir)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each data file came with its digest file.
	tsms, _ := filepath.Glob(filepath.Join(dst.Shard(7).Path(), "*.tsm"))
	digs, _ := filepath.Glob(filepath.Join(dst.Shard(7).Path(), "*.digest"))
	if len(tsms) == 0 || len(digs) != len(tsms) {
		t.Fatalf("installed %d data files and %d digest files, want one digest file each", len(tsms), len(digs))
	}
	want, got := shardContent(t, sh), shardContent(t, dst.Shard(7))
	if !strings.Contains(want, "disk,host=h9") || strings.Contains(want, "cpu,host=h3 [{usage") {
		t.Fatalf("source shard content unexpected:\n%s", want)
	}
	if got != want {
		t.Fatalf("copied shard answers\n%s\nsource answers\n%s", got, want)
	}
	wd, err := sh.Digests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gd, err := dst.Shard(7).Digests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(wd, gd) {
		t.Fatalf("digests differ: copy %d buckets, source %d", len(gd), len(wd))
	}

	// A second install of a shard the store holds is refused.
	if err := dst.InstallShard(7, func(string) error { return nil }); !errors.Is(err, tsdb.ErrShardExists) {
		t.Fatalf("install over an existing shard: %v, want ErrShardExists", err)
	}

	bad := func(name string, body []byte, corrupt bool) {
		t.Run(name, func(t *testing.T) {
			st, dir := openTestStore(t)
			err := st.InstallShard(7, func(dir string) error {
				return readShardFiles(ctx, bytes.NewReader(body), dir)
			})
			if err == nil {
				t.Fatal("installed a bad stream")
			}
			if corrupt != errors.Is(err, errCopyCorrupt) {
				t.Fatalf("error %v: corrupt %v, want %v", err, errors.Is(err, errCopyCorrupt), corrupt)
			}
			if !corrupt && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				t.Fatalf("cut stream: %v, want an unexpected end", err)
			}
			if st.Shard(7) != nil {
				t.Fatal("a shard remains after a failed install")
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				t.Fatalf("store dir holds %v after a failed install", entries)
			}
		})
	}
	flipped := bytes.Clone(stream.Bytes())
	flipped[len(flipped)/2] ^= 0x40
	bad("flipped-byte", flipped, true)
	bad("cut", stream.Bytes()[:len(stream.Bytes())*2/3], false)
	bad("no-end-mark", stream.Bytes()[:stream.Len()-2], false)
}
