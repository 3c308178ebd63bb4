package tsdb

import (
	"errors"
	"fmt"
	"time"

	"github.com/strata-db/strata/tsdb/wal"
)

// Defaults for Config.
const (
	// DefaultCacheSnapshotSize is the cache size that triggers a snapshot to a
	// level-1 file (InfluxDB's cache-snapshot-memory-size is 25 MiB).
	DefaultCacheSnapshotSize = 25 << 20
	// DefaultCacheMaxSize is the hard limit of a shard's cache (live plus
	// snapshotting); a write that would pass it waits for a snapshot to free
	// room, and fails with ErrCacheFull only when its deadline passes first.
	// InfluxDB's default is 1 GiB, where a full cache failed writes; here a
	// full cache only slows writers down, and 256 MiB keeps a data node
	// under 1 GB of heap at a million series (issue 17).
	DefaultCacheMaxSize = 256 << 20
	// DefaultCacheSnapshotWriteColdDuration is how long a shard must go
	// without writes before its cache is snapshotted whatever its size, which
	// bounds the WAL a restart replays (InfluxDB's default).
	DefaultCacheSnapshotWriteColdDuration = 10 * time.Minute
	// DefaultCompactThroughput is the compaction write rate limit in bytes/s
	// (0 disables the limit).
	DefaultCompactThroughput = 48 << 20
	// DefaultMaxConcurrentCompactions bounds compactions running at once
	// across the Store.
	DefaultMaxConcurrentCompactions = 1
	// DefaultCompactFullWriteColdDuration is how long a shard must go without
	// writes before it is fully compacted.
	DefaultCompactFullWriteColdDuration = 4 * time.Hour
	// DefaultCompactCheckInterval is how often the compaction planner runs.
	DefaultCompactCheckInterval = time.Second
	// DefaultTombstoneRetention is how long a tombstone is kept after its
	// data was removed by compaction: longer than the hinted-handoff max-age
	// (InfluxDB's default is 7 days) plus an anti-entropy cycle, so deleted
	// data is never repaired back from a replica that missed the delete.
	DefaultTombstoneRetention = 8 * 24 * time.Hour
	// DefaultDigestWindow is the time width of a digest bucket.
	DefaultDigestWindow = time.Hour
	// DefaultDigestSeriesBuckets is the number of series-key hash ranges of
	// the digest buckets.
	DefaultDigestSeriesBuckets = 4096
	// DefaultMaxSeriesPerDatabase is InfluxDB 1.8's default.
	DefaultMaxSeriesPerDatabase = 1_000_000
	// DefaultMaxValuesPerTag is 0 (no limit), where InfluxDB 1.8's is
	// 100,000: TSBS-style data with a million hosts, which issue 17 sizes
	// Strata for, has a million values of one tag, and a shard can never
	// hold more values of a tag than max-series-per-database allows series.
	DefaultMaxValuesPerTag = 0
)

// Duration is a time.Duration that reads and writes TOML as a string such as
// "1h30m".
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalText formats the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Config configures a Store and every shard engine in it.
type Config struct {
	// Dir holds one sub-directory per shard, named by the shard id.
	Dir string `toml:"dir"`
	// CacheSnapshotSize is the cache size in bytes that triggers a snapshot.
	// A cache's size is the memory its value arrays hold (their capacity,
	// string bytes and per-entry overheads), not only the values in them.
	CacheSnapshotSize int64 `toml:"cache-snapshot-memory-size"`
	// CacheMaxSize is the hard limit of a shard's cache in bytes.
	CacheMaxSize int64 `toml:"cache-max-memory-size"`
	// CacheSnapshotWriteColdDuration is the quiet time after which the cache
	// is snapshotted whatever its size.
	CacheSnapshotWriteColdDuration Duration `toml:"cache-snapshot-write-cold-duration"`
	// CompactThroughput limits compaction writes in bytes per second; 0 is
	// unlimited.
	CompactThroughput int64 `toml:"compact-throughput"`
	// MaxConcurrentCompactions bounds compactions running at once in the Store.
	MaxConcurrentCompactions int `toml:"max-concurrent-compactions"`
	// CompactFullWriteColdDuration is the quiet time after which a shard is
	// fully compacted.
	CompactFullWriteColdDuration Duration `toml:"compact-full-write-cold-duration"`
	// CompactCheckInterval is the period of the background planner
	// (compactions, cold snapshots); 0 turns the planner off (tests call
	// Snapshot/Compact). Snapshots triggered by cache size run regardless.
	CompactCheckInterval Duration `toml:"compact-check-interval"`
	// TombstoneRetention is how long applied tombstones are kept.
	TombstoneRetention Duration `toml:"tombstone-retention"`
	// DigestWindow is the time width of a digest bucket.
	DigestWindow Duration `toml:"digest-window"`
	// DigestSeriesBuckets is the number of series-key hash ranges.
	DigestSeriesBuckets int `toml:"digest-series-buckets"`
	// MaxSeriesPerDatabase is the most series a shard takes from writes
	// (InfluxDB's name: in a cluster each data node enforces it on each of
	// its shards); points of further new series are dropped and reported in
	// a partial write. 0 means no limit.
	MaxSeriesPerDatabase int `toml:"max-series-per-database"`
	// MaxValuesPerTag is the most values a tag key of a measurement takes
	// from writes in a shard; points bringing further values are dropped
	// and reported in a partial write. 0 means no limit.
	MaxValuesPerTag int `toml:"max-values-per-tag"`
	// WAL configures each shard's write-ahead log.
	WAL wal.Config `toml:"wal"`
}

// NewConfig returns a Config with the defaults.
func NewConfig() Config {
	return Config{
		CacheSnapshotSize:              DefaultCacheSnapshotSize,
		CacheMaxSize:                   DefaultCacheMaxSize,
		CacheSnapshotWriteColdDuration: Duration(DefaultCacheSnapshotWriteColdDuration),
		CompactThroughput:              DefaultCompactThroughput,
		MaxConcurrentCompactions:       DefaultMaxConcurrentCompactions,
		CompactFullWriteColdDuration:   Duration(DefaultCompactFullWriteColdDuration),
		CompactCheckInterval:           Duration(DefaultCompactCheckInterval),
		TombstoneRetention:             Duration(DefaultTombstoneRetention),
		DigestWindow:                   Duration(DefaultDigestWindow),
		DigestSeriesBuckets:            DefaultDigestSeriesBuckets,
		MaxSeriesPerDatabase:           DefaultMaxSeriesPerDatabase,
		MaxValuesPerTag:                DefaultMaxValuesPerTag,
		WAL:                            wal.NewConfig(),
	}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("tsdb config: dir must be set")
	case c.CacheSnapshotSize <= 0:
		return fmt.Errorf("tsdb config: cache-snapshot-memory-size %d must be > 0", c.CacheSnapshotSize)
	case c.CacheMaxSize < c.CacheSnapshotSize:
		return fmt.Errorf("tsdb config: cache-max-memory-size %d must be >= cache-snapshot-memory-size %d",
			c.CacheMaxSize, c.CacheSnapshotSize)
	case c.CacheSnapshotWriteColdDuration < 0:
		return fmt.Errorf("tsdb config: cache-snapshot-write-cold-duration %v must be >= 0", time.Duration(c.CacheSnapshotWriteColdDuration))
	case c.CompactThroughput < 0:
		return fmt.Errorf("tsdb config: compact-throughput %d must be >= 0", c.CompactThroughput)
	case c.MaxConcurrentCompactions < 1:
		return fmt.Errorf("tsdb config: max-concurrent-compactions %d must be >= 1", c.MaxConcurrentCompactions)
	case c.CompactCheckInterval < 0:
		return fmt.Errorf("tsdb config: compact-check-interval %v must be >= 0", time.Duration(c.CompactCheckInterval))
	case c.TombstoneRetention < 0:
		return fmt.Errorf("tsdb config: tombstone-retention %v must be >= 0", time.Duration(c.TombstoneRetention))
	case c.DigestWindow <= 0:
		return fmt.Errorf("tsdb config: digest-window %v must be > 0", time.Duration(c.DigestWindow))
	case c.DigestSeriesBuckets < 1:
		return fmt.Errorf("tsdb config: digest-series-buckets %d must be >= 1", c.DigestSeriesBuckets)
	case c.MaxSeriesPerDatabase < 0:
		return fmt.Errorf("tsdb config: max-series-per-database %d must be >= 0", c.MaxSeriesPerDatabase)
	case c.MaxValuesPerTag < 0:
		return fmt.Errorf("tsdb config: max-values-per-tag %d must be >= 0", c.MaxValuesPerTag)
	}
	if err := c.WAL.Validate(); err != nil {
		return fmt.Errorf("tsdb config: %w", err)
	}
	return nil
}
