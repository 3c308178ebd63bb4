// Package encoding holds the block codecs of the storage engine: it turns a
// column of up to MaxValues timestamps, floats, integers, unsigneds, booleans
// or strings into a compact byte block and back.
//
// Every block starts with one header byte whose high nibble names the value
// type and whose low nibble names the scheme used for this block, so an
// encoder can pick the smallest scheme per block and formats can evolve
// without breaking old files. The formats are specified in docs/format.md.
//
// Append* functions encode and append to dst; Decode* functions decode src
// and append to dst, reusing its capacity, and on error return dst with its
// original length. All functions are safe for
// concurrent use: per-call scratch space comes from sync.Pools. Decoders
// treat src as untrusted: they never panic, never allocate more than
// MaxValues elements (or a bound derived from len(src)), and every error
// they return wraps ErrCorrupt (truncated input also wraps
// io.ErrUnexpectedEOF).
package encoding
