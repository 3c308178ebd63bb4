package data

// WriteChunkLines exposes writeChunkLines to the external tests.
const WriteChunkLines = writeChunkLines
