//go:build race

package tsm_test

// raceEnabled reports whether the race detector is on; the dataset-sized
// test, which has no concurrency, skips itself then to keep CI fast.
const raceEnabled = true
