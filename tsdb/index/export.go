package index

// SnapshotFileName is the name, inside the index directory, of the
// snapshot ExportSnapshot's bytes are installed as.
const SnapshotFileName = snapshotFileName

// ExportSnapshot encodes the whole index as a snapshot file: an index
// directory holding only these bytes under SnapshotFileName opens to the
// index as it is now (a file-level shard copy ships it).
func (ix *Index) ExportSnapshot() ([]byte, error) {
	ix.rlockPostings()
	defer ix.runlockPostings()
	if ix.closed {
		return nil, ErrClosed
	}
	return ix.encodeSnapshot(nil).bytes(), nil
}
