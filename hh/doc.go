// Package hh is hinted handoff: one durable, disk-backed queue per
// destination data node, holding the shard writes that node missed, and a
// goroutine per queue that replays them to it in order once it answers.
//
// A queue is a directory of append-only segment files of checksummed
// records (shard id and the point batch in the internode RPC's own
// encoding, stored opaque and replayed without re-encoding) plus a
// position file. Appends are group-committed: concurrent writers share
// one write call and one fsync, and each returns only once its record is
// durable. Replay advances the position only past records the node
// acknowledged or rejected for good. docs/format.md specifies the files;
// DESIGN.md says why they are so.
package hh
