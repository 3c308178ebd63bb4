package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseRetention parses a retention or shard-group duration the way
// InfluxQL writes them: Go durations ("90m", "1h30m") plus the units d
// (days) and w (weeks), combinable ("1w2d"); "INF", "inf" and "0" mean
// infinite and return 0.
func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if strings.EqualFold(s, "inf") || s == "0" {
		return 0, nil
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid duration %q: want a number followed by a unit (ns, us, ms, s, m, h, d, w)", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: %w", s, err)
		}
		j := i
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9') {
			j++
		}
		unit, ok := durationUnits[rest[i:j]]
		if !ok {
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q (want ns, us, ms, s, m, h, d or w)", s, rest[i:j])
		}
		if n > int64(1<<63-1)/int64(unit) || total > time.Duration(1<<63-1)-time.Duration(n)*unit {
			return 0, fmt.Errorf("invalid duration %q: too long", s)
		}
		total += time.Duration(n) * unit
		rest = rest[j:]
	}
	return total, nil
}

var durationUnits = map[string]time.Duration{
	"ns": time.Nanosecond,
	"us": time.Microsecond,
	"µs": time.Microsecond,
	"u":  time.Microsecond,
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
	"d":  24 * time.Hour,
	"w":  7 * 24 * time.Hour,
}

// formatRetention prints a duration the way InfluxDB's SHOW RETENTION
// POLICIES does ("168h0m0s"), with 0 shown as "INF" when infinite is meant.
func formatRetention(d time.Duration, zeroIsInfinite bool) string {
	if d == 0 && zeroIsInfinite {
		return "INF"
	}
	return d.String()
}
