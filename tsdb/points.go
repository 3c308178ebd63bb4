package tsdb

import (
	"bytes"
	"fmt"
	"math"
	"time"

	"github.com/strata-db/strata/tsdb/models"
)

// BucketPoints calls fn for every live value of a digest bucket (see
// Digests), as single-field points in (series, field, time) order. The
// point and its byte slices are valid only during the call. Writing these
// points into another replica reproduces the bucket there.
func (s *Shard) BucketPoints(bucket BucketID, fn func(models.Point) error) error {
	lo := bucket.WindowStart
	hi := lo + int64(time.Duration(s.cfg.DigestWindow)) - 1
	return s.emitPoints(nil, func(series []byte) bool {
		return SeriesBucket(series, s.cfg.DigestSeriesBuckets) == bucket.SeriesBucket
	}, lo, hi, fn)
}

// SeriesPoints calls fn for every live value of one series with
// min <= time <= max, as single-field points in (field, time) order; the
// point is valid only during the call. The series' fields are those the
// index lists for its measurement.
func (s *Shard) SeriesPoints(seriesKey []byte, min, max int64, fn func(models.Point) error) error {
	name, _, err := models.ParseSeriesKey(seriesKey)
	if err != nil {
		return fmt.Errorf("shard %d series key %q: %w", s.id, seriesKey, err)
	}
	fields := s.index.Fields(name)
	return s.emitPoints(func(keep func(series []byte) bool, fn func(series, field []byte) error) error {
		for _, f := range fields {
			if err := fn(seriesKey, f.Name); err != nil {
				return err
			}
		}
		return nil
	}, nil, min, max, fn)
}

// keyLister calls fn for each (series, field) to emit, in order.
type keyLister func(keep func(series []byte) bool, fn func(series, field []byte) error) error

// emitPoints streams the values of the keys list (nil: every key of the
// read state whose series passes keep) within [min, max].
func (s *Shard) emitPoints(list keyLister, keep func(series []byte) bool, min, max int64, fn func(models.Point) error) error {
	if min > max {
		return nil
	}
	rs, err := s.acquireRead()
	if err != nil {
		return err
	}
	defer rs.release()
	if list == nil {
		list = rs.forEachKey
	}
	var p models.Point
	p.Fields = make([]models.Field, 1)
	var lastSeries []byte
	return list(keep, func(series, field []byte) error {
		a, err := rs.read(series, field, min, max)
		if err != nil {
			return fmt.Errorf("read shard %d: %w", s.id, err)
		}
		if a.Len() == 0 {
			return nil
		}
		if !bytes.Equal(series, lastSeries) {
			m, tags, err := models.ParseSeriesKey(series)
			if err != nil {
				return fmt.Errorf("shard %d series key %q: %w", s.id, series, err)
			}
			p.Measurement, p.Tags, lastSeries = m, tags, series
		}
		p.Fields[0].Key = field
		for i := range a.Len() {
			p.Time = a.Timestamps[i]
			p.Fields[0].Value = a.Value(i)
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	})
}

// allTime is the widest time range.
const allTimeMin, allTimeMax = math.MinInt64, math.MaxInt64
