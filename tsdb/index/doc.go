// Package index is the per-shard series index of the storage engine.
//
// An Index maps series keys (see tsdb/models) to dense uint64 ids, and keeps
// measurement → series, (measurement, tag key) → tag value → series postings
// and measurement → field → type. It serves SHOW MEASUREMENTS / TAG KEYS /
// TAG VALUES / FIELD KEYS / SERIES and tag predicates (=, !=, =~, !~, with
// InfluxDB's rule that a missing tag has the empty value).
//
// The index lives in memory. It is durable through an append-only log of
// checksummed records (series created, field created, series dropped,
// measurement dropped) in its directory, replayed on Open, with a torn tail
// truncated; when the log grows past 64 MiB it is folded into a snapshot
// file. The formats are in docs/index-log.md.
//
// The storage engine calls CreateSeriesAndFields before writing a batch to
// its WAL: new series and fields are fsynced first (one fsync per batch), and
// a batch whose series and fields all exist costs a read lock and no
// allocation.
package index
