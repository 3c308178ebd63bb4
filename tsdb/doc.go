// Package tsdb is Strata's storage engine: a Store of shards, each shard an
// engine that owns a series index (tsdb/index), a write-ahead log (tsdb/wal),
// an in-memory cache of recent values, immutable compressed files (tsdb/tsm),
// a tombstone sidecar for deletes, and per-bucket digests for anti-entropy.
//
// The write path of a shard is: series and fields are made durable in the
// index (a field type conflict drops that point and is reported in a
// *PartialWriteError), the batch is encoded into one WAL record and fsynced,
// then the values are inserted into the cache. When the cache passes
// Config.CacheSnapshotSize it is swapped out and written to a level-1 file in
// the background; once that file is installed the WAL segments it covered are
// removed. A background compactor merges files level by level, applying
// overwrites (newer wins) and tombstones.
//
// Reads (Cursor, WindowAggregate, SeriesPoints, BucketPoints, Digests) merge
// the files, the cache being snapshotted and the live cache, newest first, and
// apply tombstones. See DESIGN.md for the reasoning and docs/ for the on-disk
// formats.
package tsdb
