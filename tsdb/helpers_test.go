package tsdb_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// testConfig returns a config for tests: background planner off, big
// caches (tests snapshot and compact explicitly), WAL fsync on.
func testConfig(dir string) tsdb.Config {
	cfg := tsdb.NewConfig()
	cfg.Dir = dir
	cfg.CompactCheckInterval = 0
	cfg.CacheSnapshotSize = 1 << 30
	cfg.CacheMaxSize = 2 << 30
	cfg.CompactThroughput = 0
	return cfg
}

// openStore opens a Store on cfg and closes it at cleanup.
func openStore(t testing.TB, cfg tsdb.Config) *tsdb.Store {
	t.Helper()
	s := tsdb.NewStore(cfg, nil, prometheus.NewRegistry())
	if err := s.Open(); err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openShard opens a store in dir and returns its shard 1.
func openShard(t testing.TB, cfg tsdb.Config) (*tsdb.Store, *tsdb.Shard) {
	t.Helper()
	s := openStore(t, cfg)
	if err := s.CreateShard(1); err != nil {
		t.Fatalf("create shard: %v", err)
	}
	return s, s.Shard(1)
}

// pt builds a one-field point of measurement cpu with tag host.
func pt(host, field string, ts int64, v models.Value) models.Point {
	return models.Point{
		Measurement: []byte("cpu"),
		Tags:        models.Tags{{Key: []byte("host"), Value: []byte(host)}},
		Fields:      []models.Field{{Key: []byte(field), Value: v}},
		Time:        ts,
	}
}

func seriesKey(host string) []byte {
	return models.AppendSeriesKey(nil, []byte("cpu"), models.Tags{{Key: []byte("host"), Value: []byte(host)}})
}

type tv struct {
	ts int64
	v  models.Value
}

func (x tv) String() string { return fmt.Sprintf("%d=%v", x.ts, x.v) }

// readAll reads (key, field) over all time through a cursor.
func readAll(t testing.TB, sh *tsdb.Shard, key []byte, field string, asc bool) []tv {
	t.Helper()
	return readRange(t, sh, key, field, math.MinInt64, math.MaxInt64, asc)
}

func readRange(t testing.TB, sh *tsdb.Shard, key []byte, field string, min, max int64, asc bool) []tv {
	t.Helper()
	c, err := sh.Cursor(key, []byte(field), min, max, asc)
	if err != nil {
		t.Fatalf("cursor %s %s: %v", key, field, err)
	}
	defer c.Close()
	var out []tv
	for {
		ts, v, ok := c.Next()
		if !ok {
			return out
		}
		if v.S != nil {
			v.S = append([]byte(nil), v.S...)
		}
		out = append(out, tv{ts, v})
	}
}

func equalTV(a, b []tv) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ts != b[i].ts || !a[i].v.Equal(b[i].v) {
			return false
		}
	}
	return true
}

// must fails the test on err.
func must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
