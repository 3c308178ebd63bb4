package query

import (
	"math"
	"time"

	"github.com/influxdata/influxql"
)

// windowing is how a SELECT lays out its GROUP BY time windows.
//
// Without tz(), or with a tz() whose UTC offsets over the query's range
// are all congruent modulo the interval, windows have one width: they
// start at t - ((t - offset) mod interval), the zone's offset folded into
// offset. Otherwise (a DST change inside the range, for intervals longer
// than the change) loc is set and windows follow InfluxDB 1.x's
// IteratorOptions.Window rule (zoneWindow), so they can be 23 h or 25 h
// long.
type windowing struct {
	interval, offset int64
	loc              *time.Location
	// gridEvery and gridOffset, when gridEvery > 0, are fixed-width
	// windows every edge of the zone's windows lies on: Storage can
	// compute partial aggregates over them and the executor merges them
	// into the zone's windows exactly (0: read raw points).
	gridEvery, gridOffset int64
}

// minGridEvery is the finest grid worth pushing down: below it (zones
// with odd historical offsets) the partials would outnumber the points.
const minGridEvery = int64(time.Minute)

// maxZoneTransitions bounds the zone changes looked at for one query.
const maxZoneTransitions = 1 << 14

// newWindowing lays out the windows of GROUP BY time(interval, offset)
// over [min, max] in loc (nil without tz()).
func newWindowing(loc *time.Location, interval, offset, min, max int64) windowing {
	w := windowing{interval: interval, offset: offset}
	if loc == nil || interval <= 0 {
		return w
	}
	// The windows holding [min, max] reach at most one interval past
	// either end, and Window looks offsets up at t - offset.
	reach := addSat(interval, interval)
	offs, ok := zoneOffsets(loc, subSat(min, reach), addSat(max, reach))
	uniform := ok
	for _, o := range offs[1:] {
		if floorMod(o-offs[0], interval) != 0 {
			uniform = false
		}
	}
	if uniform {
		// Every offset shifts the windows by the same amount.
		w.offset = offset - offs[0]
		return w
	}
	w.loc = loc
	if min == influxql.MinTime || !ok {
		// No lower bound: the range reaches back to local mean time, whose
		// odd offsets leave no useful grid.
		return w
	}
	// Every edge is a multiple of interval shifted by offset minus one of
	// the offsets in force (see zoneWindow), so it lies on the grid of
	// their common divisor.
	g := interval
	for _, o := range offs[1:] {
		g = gcd(g, abs64(o-offs[0]))
	}
	if g >= minGridEvery {
		w.gridEvery, w.gridOffset = g, floorMod(offset-offs[0], g)
	}
	return w
}

// zoneWindow returns the window [start, end) holding t for windows of
// width every shifted by offset in loc. It follows InfluxDB 1.x's
// query.IteratorOptions.Window: the zone offset is looked up at t (less
// the GROUP BY offset) to truncate t to local window boundaries, then
// again at the start and the end found; where they differ by less than
// every, the edge moves by the difference (a day across spring forward
// lasts 23 h, across fall back 25 h), except that an end moving back (a
// skipped local hour) moves only if the zone at the new end is the one
// at the old end. Changes of every or more move no edge.
func zoneWindow(t, every, offset int64, loc *time.Location) (start, end int64) {
	t -= offset
	zone := zoneOffset(loc, t)
	dt := floorMod(floorMod(t, every)+floorMod(zone, every), every)
	if t < math.MinInt64+dt {
		start = math.MinInt64
	} else {
		start = t - dt
	}
	if o := zone - zoneOffset(loc, start); o != 0 && abs64(o) < every {
		start += o
	}
	start += offset
	if rest := every - dt; t > math.MaxInt64-rest {
		end = math.MaxInt64
	} else {
		end = t + rest
	}
	endZone := zoneOffset(loc, end)
	if o := zone - endZone; o != 0 && abs64(o) < every {
		if o > 0 || zoneOffset(loc, end+o) == endZone {
			end += o
		}
	}
	return start, addSat(end, offset)
}

// zoneOffset is loc's UTC offset at t, in ns.
func zoneOffset(loc *time.Location, t int64) int64 {
	_, off := time.Unix(0, t).In(loc).Zone()
	return int64(off) * int64(time.Second)
}

// zoneOffsets returns the distinct UTC offsets (ns) loc uses over
// [lo, hi], the one at lo first; ok is false when there were more
// changes than it looks at.
func zoneOffsets(loc *time.Location, lo, hi int64) (offs []int64, ok bool) {
	t := time.Unix(0, lo).In(loc)
	_, off := t.Zone()
	offs = []int64{int64(off) * int64(time.Second)}
	last := time.Unix(0, hi)
	for range maxZoneTransitions {
		_, end := t.ZoneBounds()
		if end.IsZero() || end.After(last) || !end.After(t) {
			return offs, true
		}
		t = end
		_, off = t.Zone()
		o := int64(off) * int64(time.Second)
		seen := false
		for _, x := range offs {
			seen = seen || x == o
		}
		if !seen {
			offs = append(offs, o)
		}
	}
	return offs, false
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func abs64(a int64) int64 {
	if a < 0 {
		return -a
	}
	return a
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

func subSat(a, b int64) int64 {
	if b == math.MinInt64 {
		return addSat(addSat(a, math.MaxInt64), 1)
	}
	return addSat(a, -b)
}

// nsBetween is b - a as a float64, exact in range where the int64
// difference of two times overflows (they can lie 2^64-1 ns apart).
func nsBetween(a, b int64) float64 {
	if b >= a {
		return float64(uint64(b - a))
	}
	return -float64(uint64(a - b))
}
