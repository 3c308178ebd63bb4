//go:build !race

package tsdb

// raceEnabled reports whether the race detector is on: sync.Pool then
// drops pooled values at random, so allocation counts are not checked.
const raceEnabled = false
