package tsdb

import (
	"errors"
	"fmt"
	"slices"

	"github.com/strata-db/strata/tsdb/index"
	"github.com/strata-db/strata/tsdb/models"
)

// indexPoints makes the batch's series and fields durable in the index and
// returns the drop mask of points rejected for field type conflicts or the
// series limits (nil when none) with the matching *PartialWriteError.
func (s *Shard) indexPoints(points []models.Point, sc *writeScratch) ([]bool, *PartialWriteError, error) {
	sc.ids = slices.Grow(sc.ids[:0], len(points))[:len(points)]
	conflicts, err := s.index.CreateSeriesAndFields(points, sc.ids)
	if err != nil {
		return nil, nil, fmt.Errorf("index points in shard %d: %w", s.id, err)
	}
	if len(conflicts) == 0 {
		return nil, nil, nil
	}
	drop := slices.Grow(sc.drop[:0], len(points))[:len(points)]
	clear(drop)
	sc.drop = drop
	reason := "field type conflict"
	if errors.Is(conflicts[0].Err, index.ErrLimitExceeded) {
		reason = "series limit exceeded"
	}
	perr := &PartialWriteError{Reason: reason, Dropped: len(conflicts)}
	for _, c := range conflicts {
		drop[c.Index] = true
		perr.Errs = append(perr.Errs, c)
	}
	s.metrics.pointsDropped.Add(float64(len(conflicts)))
	return drop, perr, nil
}
