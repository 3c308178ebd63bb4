// Package coordinator is the replicated write path of a data node: it maps
// points to shard groups and shards, sends each shard's points to every
// owner in parallel (the local store, or a peer over the internode RPC),
// parks failed replica writes in hinted handoff, and answers as soon as the
// write's consistency level is met, leaving slower replica writes to finish
// in the background on an encoded copy of the points.
//
// The package depends only on meta (cluster state) and tsdb/models (points).
// Everything else it needs (the meta client, the local store, the remote
// shard writer, the hinted-handoff queues) is a small interface declared
// here and wired in by the data node, so each piece is tested with fakes.
//
// It also holds the internode shard-write RPC: a versioned, checksummed
// binary point-batch codec (AppendPoints, DecodePoints; spec in
// docs/wire.md) that hinted handoff and anti-entropy reuse, an RPCClient
// that implements ShardWriter over net/http, and an RPCHandler that serves
// it. DESIGN.md explains the consistency semantics and why they are so.
//
// The read path is here too: ClusterStorage implements query.Storage (the
// InfluxQL executor in coordinator/query reads through it) by mapping a
// query's time range to shard groups, reading each shard from one owner
// (this node first, then the others in turn, retrying the next owner when
// one fails) through a LocalShardReader over tsdb or the shard-read RPCs,
// and sending deletes to every owner. DESIGN.md's "Read path" section has
// the reasons.
package coordinator
