// Package meta is Strata's cluster metadata service: a small, strongly
// consistent store replicated with hashicorp/raft across the meta nodes.
//
// The state (type Data) holds the meta nodes, the data nodes, databases,
// retention policies, shard groups with their shards and owners, and users.
// It changes only through versioned, idempotent commands (type Command)
// applied by the raft FSM; Apply is deterministic, so every meta node holds
// the same Data at the same raft index.
//
// A meta node is a Server: it owns raft (bolt log and stable store, file
// snapshots, TCP transport) and serves the meta HTTP API (commands, state
// reads with a consistency mode and an index long-poll, join/leave, status,
// health and metrics). Data nodes and the operator CLI use a Client, which
// keeps a cached copy of Data current by long-polling.
//
// See DESIGN.md for why it is built this way and docs/api.md for the
// command and HTTP wire formats.
package meta
