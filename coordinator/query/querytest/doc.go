// Package querytest provides an in-memory query.Storage for tests of the
// InfluxQL executor and of code built on it. It splits each series' data
// into time-based shards, so callers see the same several-batches-per-
// series behaviour as in a cluster, and answers windowed scans with
// partial aggregates per shard.
package querytest
