package data

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/tsdb"
	"github.com/strata-db/strata/tsdb/models"
)

// restoreBatchValues is how many values a restore gathers before it
// writes them: a shard stream hands its values over one field at a time,
// and the write path's cost is mostly per point, so the values of a
// series are first merged into one point per timestamp.
const restoreBatchValues = 50000

// restoreTarget writes a restored shard stream through write, the write
// path of the cluster: it gathers the single-field points of each series,
// merges those of one timestamp into one point, and writes them in
// batches of about restoreBatchValues values (the last by flush). It
// counts the points the write path refuses. It holds no tombstones and
// applies none: a stream carries only live values, and the source's
// deletions concern the source's data, not what the target database
// already holds. Not safe for concurrent use.
type restoreTarget struct {
	write func(ctx context.Context, points []models.Point) error
	// series are the points gathered of the current series, one per
	// timestamp; at maps a timestamp to its index there.
	series []models.Point
	at     map[int64]int
	// batch holds merged points not written yet, of values values.
	batch  []models.Point
	values int

	dropped int
	reason  string
}

// Tombstones implements antientropy.StreamTarget.
func (*restoreTarget) Tombstones() []tsdb.Tombstone { return nil }

// ApplyTombstones implements antientropy.StreamTarget; see restoreTarget.
func (*restoreTarget) ApplyTombstones([]tsdb.Tombstone) error { return nil }

// WritePoints implements antientropy.StreamTarget: it gathers points and
// writes full batches.
func (t *restoreTarget) WritePoints(ctx context.Context, points []models.Point) error {
	if t.at == nil {
		t.at = map[int64]int{}
	}
	for i := range points {
		p := &points[i]
		if len(t.series) > 0 && !sameSeries(&t.series[0], p) {
			if err := t.endSeries(ctx); err != nil {
				return err
			}
		}
		if j, ok := t.at[p.Time]; ok {
			t.series[j].Fields = append(t.series[j].Fields, p.Fields...)
		} else {
			t.at[p.Time] = len(t.series)
			t.series = append(t.series, models.Point{Measurement: p.Measurement, Tags: p.Tags, Time: p.Time,
				Fields: append([]models.Field(nil), p.Fields...)})
		}
		t.values += len(p.Fields)
	}
	if t.values >= restoreBatchValues {
		// A long series is written in parts: the points of one
		// timestamp that straddle two parts are merged by the storage.
		return t.endSeries(ctx)
	}
	return nil
}

// endSeries moves the gathered series into the batch, writing the batch
// once it is full.
func (t *restoreTarget) endSeries(ctx context.Context) error {
	t.batch = append(t.batch, t.series...)
	t.series = t.series[:0]
	clear(t.at)
	if t.values < restoreBatchValues {
		return nil
	}
	return t.writeBatch(ctx)
}

// flush writes everything gathered.
func (t *restoreTarget) flush(ctx context.Context) error {
	t.batch = append(t.batch, t.series...)
	t.series = t.series[:0]
	clear(t.at)
	return t.writeBatch(ctx)
}

// writeBatch writes the batch, counting refused points.
func (t *restoreTarget) writeBatch(ctx context.Context) error {
	if len(t.batch) == 0 {
		return nil
	}
	err := t.write(ctx, t.batch)
	n := t.values
	t.batch, t.values = t.batch[:0], 0
	var pw *coordinator.PartialWriteError
	switch {
	case errors.As(err, &pw):
		t.dropped += pw.Dropped
		t.reason = pw.Reason
	case err != nil:
		return fmt.Errorf("write %d values: %w", n, err)
	}
	return nil
}

// sameSeries reports whether two points have the same measurement and
// tags.
func sameSeries(a, b *models.Point) bool {
	if !bytes.Equal(a.Measurement, b.Measurement) || len(a.Tags) != len(b.Tags) {
		return false
	}
	for i := range a.Tags {
		if !bytes.Equal(a.Tags[i].Key, b.Tags[i].Key) || !bytes.Equal(a.Tags[i].Value, b.Tags[i].Value) {
			return false
		}
	}
	return true
}
