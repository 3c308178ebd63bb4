// Package antientropy finds and repairs replicas of a shard that diverged.
//
// Each data node keeps, per shard it holds, a fixed-shape Merkle tree (Tree)
// over tsdb's bucket digests (series-key hash range × time window). Every
// check interval the Service compares each of its shards with the shard's
// other owners top-down over RPC — shard root, window roots, inner nodes,
// leaves, per-series hashes, per-series time slices — and moves only the
// values of the slices that differ, in both directions, resolving the same
// series, field and timestamp holding different values by one deterministic
// rule (the greater value wins) and honouring tombstones. A replica that
// lacks a shard entirely gets it streamed whole (WriteShardStream,
// ReadShardStream), the mechanism shard copies reuse.
//
// The service reaches the meta state, the local store, its peers and the
// hinted-handoff queues through small interfaces (MetaView, Store, Peers,
// Hints), so it is tested without servers; package data wires the real
// ones in and mounts Handler on the internode RPC listener. The tree and
// the wire messages are specified in docs/tree.md and docs/wire.md.
package antientropy
