//go:build !race

package tsm_test

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
