package coordinator

import (
	"fmt"
	"strings"
)

// ConsistencyLevel is how many owners of a shard must acknowledge a write
// before WritePoints succeeds.
type ConsistencyLevel int

// Consistency levels, as InfluxDB Enterprise names them.
const (
	// ConsistencyLevelAny succeeds when at least one owner or one owner's
	// hinted-handoff queue took the write. Without hinted handoff it is
	// ConsistencyLevelOne.
	ConsistencyLevelAny ConsistencyLevel = iota
	// ConsistencyLevelOne succeeds when at least one owner wrote it.
	ConsistencyLevelOne
	// ConsistencyLevelQuorum succeeds when more than half the owners wrote it.
	ConsistencyLevelQuorum
	// ConsistencyLevelAll succeeds when every owner wrote it.
	ConsistencyLevelAll
)

// DefaultConsistencyLevel is the level of a write that names none.
const DefaultConsistencyLevel = ConsistencyLevelOne

// ParseConsistencyLevel parses the write API's consistency parameter:
// "any", "one", "quorum" or "all" (case-insensitive); "" is
// DefaultConsistencyLevel. Anything else wraps ErrInvalidConsistencyLevel.
func ParseConsistencyLevel(s string) (ConsistencyLevel, error) {
	switch strings.ToLower(s) {
	case "":
		return DefaultConsistencyLevel, nil
	case "any":
		return ConsistencyLevelAny, nil
	case "one":
		return ConsistencyLevelOne, nil
	case "quorum":
		return ConsistencyLevelQuorum, nil
	case "all":
		return ConsistencyLevelAll, nil
	}
	return 0, fmt.Errorf("parse consistency level %q: %w", s, ErrInvalidConsistencyLevel)
}

// String returns the level's name as the write API spells it.
func (l ConsistencyLevel) String() string {
	switch l {
	case ConsistencyLevelAny:
		return "any"
	case ConsistencyLevelOne:
		return "one"
	case ConsistencyLevelQuorum:
		return "quorum"
	case ConsistencyLevelAll:
		return "all"
	}
	return fmt.Sprintf("ConsistencyLevel(%d)", int(l))
}

// required returns how many acknowledgements a shard with owners owners
// needs at level l.
func (l ConsistencyLevel) required(owners int) int {
	switch l {
	case ConsistencyLevelQuorum:
		return owners/2 + 1
	case ConsistencyLevelAll:
		return owners
	}
	return 1
}
