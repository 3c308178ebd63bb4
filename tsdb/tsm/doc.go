// Package tsm reads and writes the storage engine's immutable, compressed
// data files ("TSM" files, after InfluxDB's time-structured merge tree).
//
// A file holds many columns. A column is the values of one field of one
// series, identified by the key (series key, field key) and typed by a
// models.FieldType. Keys are sorted bytewise by series key, then by field
// key. Each column is a list of blocks of at most MaxPointsPerBlock values,
// sorted by time and non-overlapping within one file. The index at the end
// of the file records, for every block, its time range, value count,
// position, size and statistics (min, max, sum, first, last), so window
// aggregates can use a block without decoding it when the block lies wholly
// inside one window. The on-disk format is specified in docs/format.md.
//
// A Writer creates a file (keys in order, blocks of a key in time order) and
// makes it appear atomically on Close. A Reader memory-maps a finished file,
// validates its footer and whole index on Open, and then serves lookups,
// CRC-checked block reads and ordered iteration. Merge k-way merges several
// files into one (the compaction primitive), newest file winning on equal
// timestamps, applying tombstones and re-blocking to full blocks.
//
// Array is the typed column shared with the engine's cache and cursors:
// EncodeBlock and DecodeBlock convert between an Array and a block using
// the codecs of package tsdb/encoding.
package tsm
