package tsdb

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/strata-db/strata/tsdb/models"
	"github.com/strata-db/strata/tsdb/tsm"
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
// read state whose series passes keep) within [min, max]. The fields of
// a series are read together (readState.readSeriesInto), so a point
// written meanwhile is emitted with all its fields or none: a stream of
// torn points would give a backup, or a replica repaired from it, points
// missing fields they were written with.
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
	var (
		series []byte   // the series whose fields are being listed
		fields [][]byte // its fields listed so far
		arrays []tsm.Array
		bufs   readBufs
	)
	emit := func() error {
		if len(fields) == 0 {
			return nil
		}
		arrays = slices.Grow(arrays[:0], len(fields))[:len(fields)]
		if err := rs.readSeriesInto(arrays, series, fields, min, max, nil, &bufs); err != nil {
			return fmt.Errorf("read shard %d: %w", s.id, err)
		}
		parsed := false
		for j, field := range fields {
			a := &arrays[j]
			if a.Len() > 0 && !parsed {
				m, tags, err := models.ParseSeriesKey(series)
				if err != nil {
					return fmt.Errorf("shard %d series key %q: %w", s.id, series, err)
				}
				p.Measurement, p.Tags, parsed = m, tags, true
			}
			p.Fields[0].Key = field
			for i := range a.Len() {
				p.Time = a.Timestamps[i]
				p.Fields[0].Value = a.Value(i)
				if err := fn(p); err != nil {
					return err
				}
			}
		}
		fields = fields[:0]
		return nil
	}
	err = list(keep, func(s, field []byte) error {
		if !bytes.Equal(s, series) {
			if err := emit(); err != nil {
				return err
			}
			series = s
		}
		fields = append(fields, field)
		return nil
	})
	if err != nil {
		return err
	}
	return emit()
}

// allTime is the widest time range.
const allTimeMin, allTimeMax = math.MinInt64, math.MaxInt64
