// Package proctest runs real strata processes for multi-process tests: it
// builds the binary once per test binary, starts processes with their output
// captured to files, and stops them gracefully (SIGTERM) or kills them
// (SIGKILL) so tests can prove what survives a crash.
package proctest
