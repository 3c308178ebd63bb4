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
	return s.emitPoints(func(series []byte) bool {
		return SeriesBucket(series, s.cfg.DigestSeriesBuckets) == bucket.SeriesBucket
	}, lo, hi, fn)
}

// SeriesPoints calls fn for every live value of one series with
// min <= time <= max, as single-field points in (field, time) order; the
// point is valid only during the call.
func (s *Shard) SeriesPoints(seriesKey []byte, min, max int64, fn func(models.Point) error) error {
	return s.emitPoints(func(series []byte) bool { return bytes.Equal(series, seriesKey) }, min, max, fn)
}

func (s *Shard) emitPoints(keep func(series []byte) bool, min, max int64, fn func(models.Point) error) error {
	if min > max {
		return nil
	}
	rs, err := s.acquireRead()
	if err != nil {
		return err
	}
	defer rs.release()
	var p models.Point
	p.Fields = make([]models.Field, 1)
	var lastSeries []byte
	return rs.forEachKey(keep, func(series, field []byte) error {
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
