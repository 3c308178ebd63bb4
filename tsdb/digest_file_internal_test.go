package tsdb

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
)

// digestTestShard opens shard 1 of a store in dir (buckets series
// buckets, windows of 1 h) with the planner off; opened again on the same
// dir, it restarts the shard.
func digestTestShard(t *testing.T, dir string, buckets int) *Shard {
	t.Helper()
	cfg := NewConfig()
	cfg.Dir = dir
	cfg.CompactCheckInterval = 0
	cfg.CompactThroughput = 0
	cfg.DigestSeriesBuckets = buckets
	cfg.DigestWindow = Duration(time.Hour)
	return openTestShard(t, cfg)
}

func digestTestPoint(host, field string, ts int64, v models.Value) models.Point {
	return models.Point{Measurement: []byte("m"), Tags: models.Tags{{Key: []byte("h"), Value: []byte(host)}},
		Fields: []models.Field{{Key: []byte(field), Value: v}}, Time: ts}
}

// digestTestKey is the series key of digestTestPoint(host, ...).
func digestTestKey(host string) []byte { return []byte("m,h=" + host) }

// digestTestValues are 12 series × 3 fields (float, integer, string) at
// 10-minute steps over 6 hours, each value a function of (host, ts, gen):
// gen 1 overwrites gen 0 with other values.
func digestTestValues(from, to int64, gen int) []models.Point {
	var pts []models.Point
	for h := range 12 {
		host := "h" + strconv.Itoa(h)
		for ts := from; ts < to; ts += int64(10 * time.Minute) {
			n := ts/int64(time.Minute) + int64(h) + int64(gen)*1000
			pts = append(pts,
				digestTestPoint(host, "f", ts, models.FloatValue(float64(n)/3)),
				digestTestPoint(host, "i", ts, models.IntegerValue(n)),
				digestTestPoint(host, "s", ts, models.StringValue([]byte("v"+strconv.FormatInt(n, 10)))))
		}
	}
	return pts
}

// digestSparseValues are 60 series × 5 fields (float, integer, unsigned,
// boolean, string) with one or two values each in [from, to), at a time
// that depends on the series: keys whose digest records are derived from
// their data file's index entries (all but the strings). gen 1 overwrites
// gen 0 with other values.
func digestSparseValues(from, to int64, gen int) []models.Point {
	var pts []models.Point
	for h := range 60 {
		host := "s" + strconv.Itoa(h)
		ts := from + int64(h)*int64(37*time.Minute)%(to-from)
		for k := range 1 + h%2 {
			t := ts + int64(k)*int64(10*time.Second)
			n := t/int64(time.Second) + int64(h) + int64(gen)*1000
			pts = append(pts,
				digestTestPoint(host, "f", t, models.FloatValue(float64(n)/7)),
				digestTestPoint(host, "i", t, models.IntegerValue(n)),
				digestTestPoint(host, "u", t, models.UnsignedValue(uint64(n)*3)),
				digestTestPoint(host, "b", t, models.BooleanValue(n%3 == 0)),
				digestTestPoint(host, "s", t, models.StringValue([]byte("v"+strconv.FormatInt(n, 10)))))
		}
	}
	return pts
}

// write writes points to sh in batches.
func digestTestWrite(t *testing.T, sh *Shard, pts []models.Point) {
	t.Helper()
	for i := 0; i < len(pts); i += 500 {
		if err := sh.WritePoints(context.Background(), pts[i:min(i+500, len(pts))]); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
}

func digestsOf(t *testing.T, sh *Shard) DigestSet {
	t.Helper()
	ds, err := sh.Digests(context.Background())
	if err != nil {
		t.Fatalf("digests: %v", err)
	}
	return ds
}

// TestDigestFilesStayRight gives shards histories that make per-file
// digests wrong if they are combined where they must not be (an overwrite
// across files, a delete, a compaction, a digest file that
// belongs to another data file) and checks every digest against a shard
// that holds the same live values in its cache only, where they are
// hashed value by value.
func TestDigestFilesStayRight(t *testing.T) {
	hour := int64(time.Hour)
	tests := []struct {
		name string
		// history builds the shard under test; want writes the live
		// content the same history leaves into a fresh shard.
		history func(t *testing.T, sh *Shard, dir string) *Shard
		want    func(t *testing.T, sh *Shard)
		// combined: the last Digests must not decode any value.
		combined bool
	}{{
		name: "disjoint files combined without decoding",
		history: func(t *testing.T, sh *Shard, _ string) *Shard {
			for start := int64(0); start < 6*hour; start += hour / 2 {
				digestTestWrite(t, sh, digestTestValues(start, start+hour/2, 0))
				digestMust(t, sh.Snapshot())
			}
			return sh
		},
		want:     func(t *testing.T, sh *Shard) { digestTestWrite(t, sh, digestTestValues(0, 6*hour, 0)) },
		combined: true,
	}, {
		name: "overwrite across files",
		history: func(t *testing.T, sh *Shard, _ string) *Shard {
			digestTestWrite(t, sh, digestTestValues(0, 6*hour, 0))
			digestMust(t, sh.Snapshot())
			digestTestWrite(t, sh, digestTestValues(2*hour, 3*hour, 1))
			digestMust(t, sh.Snapshot())
			return sh
		},
		want: func(t *testing.T, sh *Shard) {
			digestTestWrite(t, sh, digestTestValues(0, 2*hour, 0))
			digestTestWrite(t, sh, digestTestValues(2*hour, 3*hour, 1))
			digestTestWrite(t, sh, digestTestValues(3*hour, 6*hour, 0))
		},
	}, {
		name: "overwrite from the cache",
		history: func(t *testing.T, sh *Shard, _ string) *Shard {
			digestTestWrite(t, sh, digestTestValues(0, 6*hour, 0))
			digestMust(t, sh.Snapshot())
			digestTestWrite(t, sh, digestTestValues(5*hour, 6*hour, 1))
			return sh
		},
		want: func(t *testing.T, sh *Shard) {
			digestTestWrite(t, sh, digestTestValues(0, 5*hour, 0))
			digestTestWrite(t, sh, digestTestValues(5*hour, 6*hour, 1))
		},
	}, {
		name: "delete over files",
		history: func(t *testing.T, sh *Shard, _ string) *Shard {
			digestTestWrite(t, sh, digestTestValues(0, 6*hour, 0))
			digestMust(t, sh.Snapshot())
			digestMust(t, sh.DeleteSeriesRange([][]byte{digestTestKey("h3")}, hour+1, 4*hour))
			return sh
		},
		want: func(t *testing.T, sh *Shard) {
			digestTestWrite(t, sh, digestTestValues(0, 6*hour, 0))
			digestMust(t, sh.DeleteSeriesRange([][]byte{digestTestKey("h3")}, hour+1, 4*hour))
		},
	}, {
		name: "delete applied by a full compaction",
		history: func(t *testing.T, sh *Shard, _ string) *Shard {
			digestTestWrite(t, sh, digestTestValues(0, 3*hour, 0))
			digestMust(t, sh.Snapshot())
			digestTestWrite(t, sh, digestTestValues(3*hour, 6*hour, 0))
			digestMust(t, sh.Snapshot())
			digestMust(t, sh.DeleteSeriesRange([][]byte{digestTestKey("h5")}, 0, 5*hour))
			digestMust(t, sh.Compact(true))
			return sh
		},
		want: func(t *testing.T, sh *Shard) {
			digestTestWrite(t, sh, digestTestValues(0, 6*hour, 0))
			digestMust(t, sh.DeleteSeriesRange([][]byte{digestTestKey("h5")}, 0, 5*hour))
		},
	}, {
		name: "level and full compactions of overwrites",
		history: func(t *testing.T, sh *Shard, _ string) *Shard {
			for gen := range 2 {
				for start := int64(0); start < 6*hour; start += 2 * hour {
					digestTestWrite(t, sh, digestTestValues(start, start+hour, gen))
					digestMust(t, sh.Snapshot())
				}
			}
			digestMust(t, sh.Compact(false))
			digestMust(t, sh.Compact(true))
			return sh
		},
		want: func(t *testing.T, sh *Shard) {
			for start := int64(0); start < 6*hour; start += 2 * hour {
				digestTestWrite(t, sh, digestTestValues(start, start+hour, 1))
			}
		},
		combined: true,
	}, {
		name: "compaction copying the blocks of keys in one input",
		history: func(t *testing.T, sh *Shard, _ string) *Shard {
			all := digestTestValues(0, 6*hour, 0)
			for _, half := range [][]models.Point{all[:len(all)/2], all[len(all)/2:]} {
				digestTestWrite(t, sh, half)
				digestMust(t, sh.Snapshot())
			}
			digestMust(t, sh.Compact(true))
			return sh
		},
		want:     func(t *testing.T, sh *Shard) { digestTestWrite(t, sh, digestTestValues(0, 6*hour, 0)) },
		combined: true,
	}, {
		name: "sparse keys in disjoint files combined without decoding",
		history: func(t *testing.T, sh *Shard, _ string) *Shard {
			// Two files a window: a key's derived sums add up.
			for start := int64(0); start < 6*hour; start += hour / 2 {
				digestTestWrite(t, sh, digestSparseValues(start, start+hour/2, 0))
				digestMust(t, sh.Snapshot())
			}
			return sh
		},
		want: func(t *testing.T, sh *Shard) {
			for start := int64(0); start < 6*hour; start += hour / 2 {
				digestTestWrite(t, sh, digestSparseValues(start, start+hour/2, 0))
			}
		},
		combined: true,
	}, {
		name: "sparse keys overwritten across files",
		history: func(t *testing.T, sh *Shard, _ string) *Shard {
			digestTestWrite(t, sh, digestSparseValues(0, 3*hour, 0))
			digestMust(t, sh.Snapshot())
			digestTestWrite(t, sh, digestSparseValues(0, 3*hour, 1))
			digestMust(t, sh.Snapshot())
			return sh
		},
		want: func(t *testing.T, sh *Shard) { digestTestWrite(t, sh, digestSparseValues(0, 3*hour, 1)) },
	}, {
		name: "sparse keys through level and full compactions",
		history: func(t *testing.T, sh *Shard, _ string) *Shard {
			for gen := range 2 {
				for start := int64(0); start < 6*hour; start += 2 * hour {
					digestTestWrite(t, sh, digestSparseValues(start, start+hour, gen))
					digestMust(t, sh.Snapshot())
				}
			}
			digestMust(t, sh.Compact(false))
			digestMust(t, sh.Compact(true))
			return sh
		},
		want: func(t *testing.T, sh *Shard) {
			for start := int64(0); start < 6*hour; start += 2 * hour {
				digestTestWrite(t, sh, digestSparseValues(start, start+hour, 1))
			}
		},
		combined: true,
	}, {
		name: "delete over sparse keys",
		history: func(t *testing.T, sh *Shard, _ string) *Shard {
			digestTestWrite(t, sh, digestSparseValues(0, 6*hour, 0))
			digestMust(t, sh.Snapshot())
			digestMust(t, sh.DeleteSeriesRange([][]byte{digestTestKey("s3"), digestTestKey("s8")}, 0, 3*hour))
			return sh
		},
		want: func(t *testing.T, sh *Shard) {
			digestTestWrite(t, sh, digestSparseValues(0, 6*hour, 0))
			digestMust(t, sh.DeleteSeriesRange([][]byte{digestTestKey("s3"), digestTestKey("s8")}, 0, 3*hour))
		},
	}, {
		name: "digest files lost",
		history: func(t *testing.T, sh *Shard, dir string) *Shard {
			for start := int64(0); start < 6*hour; start += 2 * hour {
				digestTestWrite(t, sh, digestTestValues(start, start+2*hour, 0))
				digestMust(t, sh.Snapshot())
			}
			digestMust(t, sh.Close())
			removeDigestFiles(t, sh.Path())
			return digestTestShard(t, dir, 8)
		},
		want: func(t *testing.T, sh *Shard) { digestTestWrite(t, sh, digestTestValues(0, 6*hour, 0)) },
	}, {
		name: "digest file of another data file",
		history: func(t *testing.T, sh *Shard, dir string) *Shard {
			digestTestWrite(t, sh, digestTestValues(0, 3*hour, 0))
			digestMust(t, sh.Snapshot())
			digestTestWrite(t, sh, digestTestValues(3*hour, 6*hour, 1))
			digestMust(t, sh.Snapshot())
			digestMust(t, sh.Close())
			digs, _ := filepath.Glob(filepath.Join(sh.Path(), "*"+digestFileExt))
			if len(digs) != 2 {
				t.Fatalf("digest files: %v, want 2", digs)
			}
			b, err := os.ReadFile(digs[0])
			digestMust(t, err)
			digestMust(t, os.WriteFile(digs[1], b, 0o644))
			return digestTestShard(t, dir, 8)
		},
		want: func(t *testing.T, sh *Shard) {
			digestTestWrite(t, sh, digestTestValues(0, 3*hour, 0))
			digestTestWrite(t, sh, digestTestValues(3*hour, 6*hour, 1))
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sh := tc.history(t, digestTestShard(t, dir, 8), dir)
			ref := digestTestShard(t, t.TempDir(), 8)
			tc.want(t, ref)
			want := digestsOf(t, ref)
			if len(want) < 2 {
				t.Fatalf("reference shard has %d buckets, want several", len(want))
			}
			before := counterValue(t, sh.metrics.digestDecoded)
			got := digestsOf(t, sh)
			if !maps.Equal(got, want) {
				diff := 0
				for b, d := range want {
					if got[b] != d {
						diff++
					}
				}
				t.Fatalf("digests: %d of %d buckets differ from the shard holding the same values (%d buckets)", diff, len(want), len(got))
			}
			if decoded := counterValue(t, sh.metrics.digestDecoded) - before; tc.combined && decoded != 0 {
				t.Fatalf("digests decoded %v key windows, want all combined from digest files", decoded)
			}
			// After a restart (digests computed afresh from the files).
			digestMust(t, sh.Close())
			if got := digestsOf(t, digestTestShard(t, dir, 8)); !maps.Equal(got, want) {
				t.Fatalf("digests after reopen differ from the shard holding the same values")
			}
		})
	}
}

func removeDigestFiles(t *testing.T, dir string) {
	t.Helper()
	digs, err := filepath.Glob(filepath.Join(dir, "*"+digestFileExt))
	digestMust(t, err)
	if len(digs) == 0 {
		t.Fatalf("no digest file in %s", dir)
	}
	for _, p := range digs {
		digestMust(t, os.Remove(p))
	}
}

// TestDigestFilesWrittenAndRemoved: snapshots and compactions write a
// digest file beside each data file, a lost one is written again on
// demand, compacted inputs lose theirs, and an orphan is removed on open.
func TestDigestFilesWrittenAndRemoved(t *testing.T) {
	dir := t.TempDir()
	sh := digestTestShard(t, dir, 8)
	hour := int64(time.Hour)
	for start := int64(0); start < 4*hour; start += hour {
		digestTestWrite(t, sh, digestTestValues(start, start+hour, 0))
		digestMust(t, sh.Snapshot())
	}
	countFiles := func(ext string) int {
		m, err := filepath.Glob(filepath.Join(sh.Path(), "*"+ext))
		digestMust(t, err)
		return len(m)
	}
	if n, d := countFiles(dataFileExt), countFiles(digestFileExt); n != 4 || d != 4 {
		t.Fatalf("after 4 snapshots: %d data files, %d digest files; want 4 and 4", n, d)
	}
	digestMust(t, sh.Compact(true))
	want := digestsOf(t, sh)
	if n, d := countFiles(dataFileExt), countFiles(digestFileExt); n != 1 || d != 1 {
		t.Fatalf("after a full compaction: %d data files, %d digest files; want 1 and 1", n, d)
	}
	digestMust(t, sh.Close())
	removeDigestFiles(t, sh.Path())
	orphan := filepath.Join(sh.Path(), dataFileName(90, 90, 1)[:len(dataFileName(90, 90, 1))-len(dataFileExt)]+digestFileExt)
	digestMust(t, os.WriteFile(orphan, []byte("left by a crash"), 0o644))
	sh = digestTestShard(t, dir, 8)
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphaned digest file still there after open (stat: %v)", err)
	}
	if got := digestsOf(t, sh); !maps.Equal(got, want) {
		t.Fatalf("digests after the digest file was lost differ")
	}
	if d := countFiles(digestFileExt); d != 1 {
		t.Fatalf("digest files after Digests recomputed the lost one: %d, want 1", d)
	}
}

func digestMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeDigestFileV1 writes the digest file of the data file at tsmPath in
// version 1 (every key's sums stored, none derived), as a binary before
// derived records wrote it.
func writeDigestFileV1(t *testing.T, tsmPath string, window int64) {
	t.Helper()
	r, err := tsm.Open(tsmPath)
	digestMust(t, err)
	defer r.Close()
	b := binary.LittleEndian.AppendUint64([]byte{'S', 'D', 'G', digestFileOldVersion}, uint64(window))
	var acc, blk tsm.Array
	it := r.Iterator()
	for it.Next() {
		digestMust(t, readKeyRaw(r, it.Type(), it.Entries(), &acc, &blk))
		b = appendDigestRecord(b, appendWindowSums(nil, &acc, window), window)
	}
	size, tail, err := dataFileTail(tsmPath)
	digestMust(t, err)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.KeyCount()))
	b = binary.LittleEndian.AppendUint64(b, uint64(size))
	b = append(b, tail[:]...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	digestMust(t, os.WriteFile(digestFilePath(tsmPath), append(b, digestFileEnd...), 0o644))
}

// TestDigestFileVersion1Read: digest files of version 1 (no derived
// records) are read as they are, not computed again, and give the digests
// of the same values.
func TestDigestFileVersion1Read(t *testing.T) {
	hour := int64(time.Hour)
	dir := t.TempDir()
	sh := digestTestShard(t, dir, 8)
	ref := digestTestShard(t, t.TempDir(), 8)
	for start := int64(0); start < 4*hour; start += 2 * hour {
		for _, s := range []*Shard{sh, ref} {
			digestTestWrite(t, s, digestSparseValues(start, start+2*hour, 0))
			digestTestWrite(t, s, digestTestValues(start, start+2*hour, 0))
		}
		digestMust(t, sh.Snapshot())
	}
	digestMust(t, sh.Close())
	files, err := filepath.Glob(filepath.Join(sh.Path(), "*"+dataFileExt))
	digestMust(t, err)
	if len(files) != 2 {
		t.Fatalf("data files: %v, want 2", files)
	}
	for _, f := range files {
		writeDigestFileV1(t, f, hour)
	}
	sh = digestTestShard(t, dir, 8)
	before := counterValue(t, sh.metrics.digestDecoded)
	if got, want := digestsOf(t, sh), digestsOf(t, ref); !maps.Equal(got, want) {
		t.Fatalf("digests from version 1 digest files differ from the shard holding the same values")
	}
	if decoded := counterValue(t, sh.metrics.digestDecoded) - before; decoded != 0 {
		t.Fatalf("digests decoded %v key windows, want all combined from the version 1 files", decoded)
	}
	for _, f := range files {
		b, err := os.ReadFile(digestFilePath(f))
		digestMust(t, err)
		if b[3] != digestFileOldVersion {
			t.Fatalf("%s: version %d after Digests, want the version 1 file kept", f, b[3])
		}
	}
}

// TestDigestFileDerivedRuns: derived records, counted and written in runs,
// keep their places among stored records: runs longer than a write, one
// between two stored records, and one that ends the file are all read
// back in order, and the trailer counts every key.
func TestDigestFileDerivedRuns(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f"+dataFileExt)
	if err := os.WriteFile(path, make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	window := int64(time.Hour)
	derived := &tsm.Array{Type: models.FieldTypeFloat, Timestamps: []int64{1}, Floats: []float64{1}}
	stored := &tsm.Array{Type: models.FieldTypeInteger, Timestamps: []int64{1, 2, 3}, Integers: []int64{4, 5, 6}}
	var want []bool // per key: derived
	for _, run := range []int{3000, 1, 0, 1024, 5, 2500} {
		for range run {
			want = append(want, true)
		}
		want = append(want, false)
	}
	want = append(want, true, true, true) // a run that ends the file
	w := newDigestFileWriter(path, window)
	for _, d := range want {
		if d {
			w.addArray(derived)
		} else {
			w.addArray(stored)
		}
	}
	if err := w.finish(); err != nil {
		t.Fatal(err)
	}
	if !checkDigestFile(path, 100, len(want), window) {
		t.Fatalf("digest file of %d keys does not check", len(want))
	}
	r, err := openDigestFile(path, window)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	for i, d := range want {
		if err := r.next(); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
		if r.derived != d || (!d && len(r.sums) != 1) {
			t.Fatalf("key %d: derived %v with %d sums, want derived %v", i, r.derived, len(r.sums), d)
		}
	}
	if err := r.next(); err == nil {
		t.Fatalf("a record after the %d keys written", len(want))
	}
}
