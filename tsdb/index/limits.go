package index

import (
	"errors"
	"fmt"

	"github.com/strata-db/strata/tsdb/models"
)

// Limits bound the series writes may add to one Index: InfluxDB's [data]
// max-series-per-database and max-values-per-tag, applied to the index of
// one shard. Zero means no limit.
type Limits struct {
	// MaxSeries is the most series the index takes from writes.
	MaxSeries int
	// MaxValuesPerTag is the most values one tag key of one measurement
	// takes from writes.
	MaxValuesPerTag int
}

// ErrLimitExceeded is wrapped by *MaxSeriesError and *MaxValuesPerTagError.
var ErrLimitExceeded = errors.New("index limit exceeded")

// MaxSeriesError rejects a point whose new series would pass
// Limits.MaxSeries.
type MaxSeriesError struct {
	Limit int
}

// Error uses InfluxDB 1.8's wording: "max-series-per-database limit
// exceeded: (1000)".
func (e *MaxSeriesError) Error() string {
	return fmt.Sprintf("max-series-per-database limit exceeded: (%d)", e.Limit)
}

// Unwrap returns ErrLimitExceeded.
func (e *MaxSeriesError) Unwrap() error { return ErrLimitExceeded }

// MaxValuesPerTagError rejects a point whose new tag value would pass
// Limits.MaxValuesPerTag; N is how many values the tag key has.
type MaxValuesPerTagError struct {
	Measurement, Tag, Value string
	N, Limit                int
}

// Error uses InfluxDB 1.8's wording: `max-values-per-tag limit exceeded
// (100/100): measurement="cpu" tag="host" value="h100"`.
func (e *MaxValuesPerTagError) Error() string {
	return fmt.Sprintf("max-values-per-tag limit exceeded (%d/%d): measurement=%q tag=%q value=%q",
		e.N, e.Limit, e.Measurement, e.Tag, e.Value)
}

// Unwrap returns ErrLimitExceeded.
func (e *MaxValuesPerTagError) Unwrap() error { return ErrLimitExceeded }

// SetLimits sets the limits that new series from writes are checked
// against. Series the index holds, and those it replays from its files on
// open, are never refused. Safe for concurrent use.
func (ix *Index) SetLimits(l Limits) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.limits = l
}

// limitCheck tracks, for one createSlow call, what the batch has added so
// far, so its points are checked against the limits together.
type limitCheck struct {
	limits Limits
	// newValues counts, per (measurement, tag key), the batch's new values;
	// seen holds them.
	newValues map[[2]string]int
	seen      map[[3]string]struct{}
}

// refuse returns why the new series of p may not be created, or nil. The
// series the batch creates before p are in the key table already (see
// createSlow). When it returns nil, p's new tag values count against later
// points.
func (ix *Index) refuse(lc *limitCheck, p *models.Point) error {
	if limit := lc.limits.MaxSeries; limit > 0 && ix.series.live >= limit {
		return &MaxSeriesError{Limit: limit}
	}
	limit := lc.limits.MaxValuesPerTag
	if limit <= 0 {
		return nil
	}
	m := ix.measurements[string(p.Measurement)]
	var fresh [][3]string
	for _, t := range p.Tags {
		n := 0
		if m != nil {
			if tv := m.tags[string(t.Key)]; tv != nil {
				if _, ok := tv.values.get(bytesString(t.Value)); ok {
					continue
				}
				n = tv.values.len()
			}
		}
		k := [3]string{string(p.Measurement), string(t.Key), string(t.Value)}
		if _, ok := lc.seen[k]; ok {
			continue
		}
		n += lc.newValues[[2]string{k[0], k[1]}]
		if n >= limit {
			return &MaxValuesPerTagError{Measurement: k[0], Tag: k[1], Value: k[2], N: n, Limit: limit}
		}
		fresh = append(fresh, k)
	}
	if len(fresh) > 0 && lc.seen == nil {
		lc.newValues, lc.seen = make(map[[2]string]int), make(map[[3]string]struct{})
	}
	for _, k := range fresh {
		lc.seen[k] = struct{}{}
		lc.newValues[[2]string{k[0], k[1]}]++
	}
	return nil
}
