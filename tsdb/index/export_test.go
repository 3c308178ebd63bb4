package index

// WaitCompaction waits for the background snapshot, if one runs.
func (ix *Index) WaitCompaction() { ix.compactions.Wait() }
