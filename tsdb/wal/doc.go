// Package wal is Strata's write-ahead log: an append-only sequence of segment
// files holding checksummed, opaque records.
//
// The storage engine encodes a batch of points into one record and calls
// [WAL.Write], which returns only after the record is on stable storage
// (fsynced). Concurrent writers share fsyncs through group commit: while one
// writer's group is being written and synced, the records of the others are
// gathered into the next group, which the first waiter to wake writes with a
// single write system call and a single fsync.
//
// On [Open] the newest segment is scanned and a torn or corrupt tail (a crash
// in the middle of a write) is truncated, logged and counted; writes then go to
// a fresh segment. [WAL.Replay] returns every surviving record in order so the
// engine can rebuild its in-memory cache. Once the data of sealed segments is
// in the engine's files, [WAL.RemoveThrough] deletes them.
//
// The on-disk format is specified in docs/format.md; DESIGN.md explains the
// group-commit and error-handling invariants.
package wal
