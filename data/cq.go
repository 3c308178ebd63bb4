package data

import (
	"context"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/tsdb/models"
)

// intoWriter writes SELECT … INTO points (and so continuous queries')
// through the PointsWriter at the configured consistency level.
type intoWriter struct {
	w     *coordinator.PointsWriter
	level coordinator.ConsistencyLevel
}

func (i intoWriter) WritePoints(ctx context.Context, db, rp string, points []models.Point) error {
	return i.w.WritePoints(ctx, db, rp, i.level, points)
}
