package tsdb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/strata-db/strata/tsdb/models"
)

// TestCompactionMergesAllTypes compacts files whose keys follow each other
// in time, overlap, overwrite each other and are partly deleted, for every
// field type (strings of varying length: compaction reuses its buffers
// across keys and shares string bytes), and checks every key against a
// model of what was written, after level and full compactions, the last
// of 15 files.
func TestCompactionMergesAllTypes(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	rng := rand.New(rand.NewPCG(7, 8))
	fields := []string{"b", "f", "i", "s", "u"}
	value := func(field string) models.Value {
		switch field {
		case "f":
			return models.FloatValue(rng.NormFloat64())
		case "i":
			return models.IntegerValue(rng.Int64N(2000) - 1000)
		case "u":
			return models.UnsignedValue(rng.Uint64N(1 << 40))
		case "b":
			return models.BooleanValue(rng.IntN(2) == 0)
		}
		return models.StringValue([]byte(fmt.Sprintf("v%d-%s", rng.IntN(1e6), string(make([]byte, rng.IntN(40))))))
	}
	hosts := []string{"h0", "h1", "h2", "h3"}
	model := map[string]map[int64]models.Value{} // host/field -> time -> value
	write := func(from, to, step int64, hostSubset []string) {
		var pts []models.Point
		for _, h := range hostSubset {
			for _, f := range fields {
				for ts := from; ts < to; ts += step + rng.Int64N(3) {
					v := value(f)
					pts = append(pts, pt(h, f, ts, v))
					m := model[h+"/"+f]
					if m == nil {
						m = map[int64]models.Value{}
						model[h+"/"+f] = m
					}
					m[ts] = v
				}
			}
		}
		must(t, sh.WritePoints(context.Background(), pts), "write")
		must(t, sh.Snapshot(), "snapshot")
	}
	del := func(host, field string, min, max int64) {
		must(t, sh.DeleteFieldRange(seriesKey(host), []byte(field), min, max), "delete")
		for ts := range model[host+"/"+field] {
			if ts >= min && ts <= max {
				delete(model[host+"/"+field], ts)
			}
		}
	}
	check := func(stage string) {
		t.Helper()
		for _, h := range hosts {
			for _, f := range fields {
				got := readAll(t, sh, seriesKey(h), f, true)
				var want []tv
				for ts, v := range model[h+"/"+f] {
					want = append(want, tv{ts, v})
				}
				slices.SortFunc(want, func(a, b tv) int { return int(a.ts - b.ts) })
				if !equalTV(got, want) {
					t.Fatalf("%s: %s/%s: got %d values, want %d (first diff near %v)", stage, h, f, len(got), len(want), firstDiff(got, want))
				}
			}
		}
	}
	// Successive time ranges (appended), one key in only some files.
	write(0, 3000, 1, hosts)
	write(3000, 6000, 1, hosts[:3])
	write(6000, 9000, 2, hosts)
	write(9000, 9500, 1, hosts[1:])
	check("files")
	must(t, sh.Compact(false), "level compaction")
	check("level compaction")
	// Overlaps and overwrites of older values, then deletes.
	write(1000, 2500, 3, hosts)
	write(8000, 12000, 1, hosts[2:])
	write(-500, 200, 1, hosts[:1])
	write(2000, 2100, 1, hosts)
	del("h1", "s", 2050, 5000)
	del("h2", "i", -100, 100)
	del("h0", "b", 8500, 8600)
	write(4000, 4100, 1, hosts[1:2])
	check("overlapping files")
	must(t, sh.Compact(true), "full compaction")
	check("full compaction")
	write(11_000, 13_000, 5, hosts)
	write(12_000, 12_100, 1, hosts)
	must(t, sh.Compact(true), "second full compaction")
	check("second full compaction")
	// A wide merge: 14 overlapping files and the full one, the keys of each
	// in some of them (compaction orders its inputs' keys in a heap).
	for i := range int64(14) {
		write(i*300, i*300+900, 1+i%3, hosts[i%4:])
	}
	must(t, sh.Compact(true), "wide full compaction")
	check("wide full compaction")
}

func firstDiff(a, b []tv) string {
	for i := range min(len(a), len(b)) {
		if a[i].ts != b[i].ts || !a[i].v.Equal(b[i].v) {
			return "index " + strconv.Itoa(i) + ": got " + a[i].String() + ", want " + b[i].String()
		}
	}
	return "index " + strconv.Itoa(min(len(a), len(b)))
}

// TestCompactionCopiesRuns compacts files that hold mostly disjoint hosts,
// as the snapshots of a burst of new series do, so that compaction copies
// runs of keys from one input: a run must stop at a key another input
// also holds (an overwrite at the same time, where the newer file wins,
// and a key with values in two files), and a key in a run that a
// tombstone deletes from must lose those values, while a value written
// after the delete stays.
func TestCompactionCopiesRuns(t *testing.T) {
	_, sh := openShard(t, testConfig(t.TempDir()))
	fields := []string{"a", "b", "c"}
	model := map[string]map[int64]float64{} // host/field -> time -> value
	var pts []models.Point
	add := func(host, field string, ts int64, v float64) {
		pts = append(pts, pt(host, field, ts, models.FloatValue(v)))
		if model[host+"/"+field] == nil {
			model[host+"/"+field] = map[int64]float64{}
		}
		model[host+"/"+field][ts] = v
	}
	host := func(i int) string { return fmt.Sprintf("h%02d", i) }
	snapshot := func() {
		must(t, sh.WritePoints(context.Background(), pts), "write")
		must(t, sh.Snapshot(), "snapshot")
		pts = nil
	}
	for file := range 4 {
		for h := file * 10; h < file*10+10; h++ {
			for j, f := range fields {
				add(host(h), f, int64(file+1), float64(h*10+j))
			}
		}
		switch file {
		case 1:
			add(host(5), "b", 1, -1) // overwrites file 0's value
		case 2:
			add(host(15), "a", 100, -2) // a second value of a file 1 key
			snapshot()
			must(t, sh.DeleteFieldRange(seriesKey(host(3)), []byte("a"), 0, 1000), "delete")
			delete(model, host(3)+"/a")
			must(t, sh.DeleteFieldRange(seriesKey(host(27)), nil, 0, 1000), "delete")
			for _, f := range fields {
				delete(model, host(27)+"/"+f)
			}
			continue
		case 3:
			add(host(3), "a", 50, -3) // written after the delete
		}
		snapshot()
	}
	check := func(stage string) {
		t.Helper()
		for h := range 40 {
			for _, f := range fields {
				var want []tv
				for ts, v := range model[host(h)+"/"+f] {
					want = append(want, tv{ts, models.FloatValue(v)})
				}
				slices.SortFunc(want, func(a, b tv) int { return int(a.ts - b.ts) })
				if got := readAll(t, sh, seriesKey(host(h)), f, true); !equalTV(got, want) {
					t.Fatalf("%s: %s/%s: got %v, want %v", stage, host(h), f, got, want)
				}
			}
		}
	}
	check("files")
	must(t, sh.Compact(false), "level compaction")
	check("level compaction")
	must(t, sh.Compact(true), "full compaction")
	check("full compaction")
}
