package tsdb

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/strata-db/strata/tsdb/index"
)

// DeleteSeriesRange deletes the values of the given series (all fields)
// with min <= time <= max. It records durable tombstones (the sidecar for
// files, a WAL record for the cache) before returning; compaction later
// removes the data physically. Writes are paused while it runs.
func (s *Shard) DeleteSeriesRange(seriesKeys [][]byte, min, max int64) error {
	if min > max || len(seriesKeys) == 0 {
		return nil
	}
	ts := make([]Tombstone, len(seriesKeys))
	for i, k := range seriesKeys {
		ts[i] = Tombstone{SeriesKey: bytes.Clone(k), Min: min, Max: max}
	}
	return s.deleteTombstones(ts)
}

// DeleteFieldRange deletes the values of one field of one series with
// min <= time <= max.
func (s *Shard) DeleteFieldRange(seriesKey, field []byte, min, max int64) error {
	if min > max {
		return nil
	}
	return s.deleteTombstones([]Tombstone{{SeriesKey: bytes.Clone(seriesKey), Field: bytes.Clone(field), Min: min, Max: max}})
}

// Tombstones returns the shard's tombstones, applied ones included (they
// are kept for Config.TombstoneRetention), so anti-entropy can tell deleted
// data from missing data. The result is a copy.
func (s *Shard) Tombstones() []Tombstone {
	return slices.Clone(s.tombs.all())
}

// ApplyTombstones records tombstones another replica holds (anti-entropy
// repair) and deletes what they cover, as DeleteSeriesRange and
// DeleteFieldRange do, but each keeps its Created time: both replicas then
// hold the same tombstone, recognise it as such, and drop it at the same
// time. A tombstone with an empty series key or Min > Max is ignored.
func (s *Shard) ApplyTombstones(ts []Tombstone) error {
	cp := make([]Tombstone, 0, len(ts))
	for _, t := range ts {
		if len(t.SeriesKey) == 0 || t.Min > t.Max {
			continue
		}
		cp = append(cp, Tombstone{Created: t.Created, SeriesKey: bytes.Clone(t.SeriesKey), Field: bytes.Clone(t.Field), Min: t.Min, Max: t.Max})
	}
	if len(cp) == 0 {
		return nil
	}
	return s.deleteTombstones(cp)
}

// deleteTombstones records ts (a zero Created becomes now) and deletes what
// they cover.
func (s *Shard) deleteTombstones(ts []Tombstone) error {
	s.deleteOrder.Lock()
	defer s.deleteOrder.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrEngineClosed
	}
	now := time.Now().UnixNano()
	for i := range ts {
		ts[i].Seq = s.nextSeq
		if ts[i].Created == 0 {
			ts[i].Created = now
		}
	}
	if err := s.tombs.add(ts); err != nil {
		return fmt.Errorf("delete in shard %d: %w", s.id, err)
	}
	enc := walEncoder{}
	if _, err := s.wal.Write(enc.encodeDelete(ts)); err != nil {
		return fmt.Errorf("delete in shard %d wal: %w", s.id, err)
	}
	var freed int64
	for i := range ts {
		freed += s.cache.deleteRange(&ts[i])
		s.dig.markDelete(&ts[i])
	}
	s.metrics.cacheBytes.Sub(float64(freed))
	return nil
}

// DropMeasurement deletes every series of a measurement (all their data, as
// tombstones) and then removes the measurement, its series and fields from
// the index.
func (s *Shard) DropMeasurement(name []byte) error {
	if err := s.deleteSeriesIDs(s.index.MeasurementSeriesIDs(name)); err != nil {
		return err
	}
	if err := s.index.DropMeasurement(name); err != nil {
		return fmt.Errorf("drop measurement in shard %d: %w", s.id, err)
	}
	return nil
}

// DropSeries deletes the series of a measurement that match expr (nil
// matches all) and removes them from the index.
func (s *Shard) DropSeries(measurement []byte, expr index.TagExpr) error {
	ids := s.index.MatchSeries(measurement, expr)
	if err := s.deleteSeriesIDs(ids); err != nil {
		return err
	}
	if err := s.index.DropSeries(ids); err != nil {
		return fmt.Errorf("drop series in shard %d: %w", s.id, err)
	}
	return nil
}

func (s *Shard) deleteSeriesIDs(ids []uint64) error {
	keys := make([][]byte, 0, len(ids))
	for _, id := range ids {
		if k := s.index.SeriesKey(id); k != nil {
			keys = append(keys, k)
		}
	}
	return s.DeleteSeriesRange(keys, allTimeMin, allTimeMax)
}
