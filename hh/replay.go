package hh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/strata-db/strata/internal/clock"
)

// Sender delivers a queued batch to its destination node.
// *coordinator.RPCClient has this method; the data node wraps it to turn
// answers the node will never change its mind on into *RejectError. It
// must honour ctx and not keep batch after it returns.
type Sender interface {
	WriteShardBatch(ctx context.Context, nodeID, shardID uint64, batch []byte) error
}

// BatchCodec reads what hinted handoff needs from the opaque batches it
// stores. The data node implements it with the coordinator's codec.
type BatchCodec interface {
	// PointCount returns the number of points in batch (0 if unreadable).
	// It is called on every enqueue, so it must be cheap.
	PointCount(batch []byte) int
	// TimeRange returns the smallest and largest timestamp in batch. It is
	// called only for records that are purged, to tell anti-entropy which
	// time range of which shard a replica missed.
	TimeRange(batch []byte) (minTime, maxTime int64, err error)
}

// purgeRequest asks a processor to drop the records enqueued before
// cutoff (unix ns).
type purgeRequest struct {
	cutoff int64
	reason string
	done   chan PurgeResult
}

// PurgeResult is what a purge dropped.
type PurgeResult struct {
	Records int64 `json:"records"`
	Points  int64 `json:"points"`
	Err     error `json:"-"`
}

// processor replays one queue to its destination node and purges it. It
// alone reads the queue.
type processor struct {
	nodeID  uint64
	q       *Queue
	stats   *queueStats
	sender  Sender
	codec   BatchCodec
	purged  *purgedSet
	cfg     Config
	logger  *slog.Logger
	lim     limiter
	purgeCh chan purgeRequest
}

// run replays the queue until ctx is done: whenever records are durable,
// in rounds of up to batch-size bytes, backing off after a failure from
// retry-interval, doubling up to retry-max-interval, and purging records
// past max-age every purge-interval.
func (p *processor) run(ctx context.Context) {
	purge := time.NewTicker(p.cfg.PurgeInterval.D())
	defer purge.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var backoff time.Duration
	waiting := false
	for {
		if !waiting {
			p.stats.backoff.Store(0) // retrying, not backing off
			acked, caughtUp, err := p.round(ctx)
			if ctx.Err() != nil {
				return
			}
			if acked > 0 {
				backoff = 0
			}
			switch {
			case err != nil:
				backoff = nextBackoff(backoff, p.cfg.RetryInterval.D(), p.cfg.RetryMaxInterval.D())
				waiting = true
				retry.Reset(backoff)
				p.stats.backoff.Store(int64(backoff))
				p.logger.Debug("hinted-handoff replay failed; backing off", "node_id", p.nodeID, "backoff", backoff, "err", err)
			case !caughtUp:
				select {
				case <-ctx.Done():
					return
				case req := <-p.purgeCh:
					req.done <- p.purge(req.cutoff, req.reason)
				case <-purge.C:
					p.purgeAged()
				default:
				}
				continue
			default:
				backoff = 0
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-p.q.notify:
		case <-retry.C:
			waiting = false
		case <-purge.C:
			p.purgeAged()
		case req := <-p.purgeCh:
			req.done <- p.purge(req.cutoff, req.reason)
		}
	}
}

// nextBackoff doubles cur, starting at first and capped at most.
func nextBackoff(cur, first, most time.Duration) time.Duration {
	if cur == 0 {
		return first
	}
	return min(2*cur, most)
}

// round sends records in order until batch-size bytes went, the queue
// has no durable record left (caughtUp) or a send fails, then saves the
// position. Only records the node acknowledged, or rejected for good,
// are moved past.
func (p *processor) round(ctx context.Context) (acked int, caughtUp bool, err error) {
	defer func() {
		if serr := p.q.savePosition(); serr != nil && err == nil {
			err = serr
		}
		if err != nil && ctx.Err() == nil {
			p.stats.replayErrors.Add(1)
			p.stats.setErr(err, time.Now())
		}
	}()
	var sent int64
	for sent < p.cfg.BatchSize {
		rec, err := p.q.peek()
		if errors.Is(err, io.EOF) {
			return acked, true, nil
		}
		if err != nil {
			p.logger.Error("hinted-handoff queue unreadable", "node_id", p.nodeID, "err", err)
			return acked, false, err
		}
		size := int64(recordHeaderSize + len(rec.payload))
		if err := p.lim.wait(ctx, size); err != nil {
			return acked, false, err
		}
		err = p.sender.WriteShardBatch(ctx, p.nodeID, rec.shardID, rec.payload)
		var rej *RejectError
		switch {
		case err == nil:
			p.stats.replayed.Add(uint64(rec.points))
		case errors.As(err, &rej):
			n := int(rec.points)
			if rej.Points > 0 && rej.Points < n {
				n = rej.Points
			}
			p.stats.drop(rej.Reason, n)
			p.stats.replayed.Add(uint64(int(rec.points) - n))
			p.logger.Warn("hinted-handoff record rejected by its node; skipping it", "node_id", p.nodeID,
				"shard_id", rec.shardID, "reason", rej.Reason, "dropped_points", n, "err", err)
		default:
			return acked, false, fmt.Errorf("replay shard %d to node %d: %w", rec.shardID, p.nodeID, err)
		}
		p.q.skip(rec)
		acked++
		sent += size
	}
	return acked, false, nil
}

// purgeAged drops the records older than max-age.
func (p *processor) purgeAged() {
	p.purge(clock.Now().Add(-p.cfg.MaxAge.D()).UnixNano(), DropMaxAge)
}

// purge drops the durable records enqueued before cutoff, counting their
// points under reason and recording each one's shard and time range for
// anti-entropy.
func (p *processor) purge(cutoff int64, reason string) PurgeResult {
	var res PurgeResult
	for {
		rec, err := p.q.peek()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			res.Err = err
			break
		}
		if rec.enqueued >= cutoff {
			break
		}
		minT, maxT := batchTimeRange(p.codec, rec.payload)
		p.purged.add(p.nodeID, rec.shardID, minT, maxT)
		p.stats.drop(reason, int(rec.points))
		res.Records++
		res.Points += int64(rec.points)
		p.q.skip(rec)
	}
	if res.Records == 0 {
		return res
	}
	if err := p.q.savePosition(); err != nil && res.Err == nil {
		res.Err = err
	}
	if err := p.purged.save(); err != nil && res.Err == nil {
		res.Err = err
	}
	p.logger.Warn("hinted-handoff records purged", "node_id", p.nodeID, "reason", reason,
		"records", res.Records, "points", res.Points, "err", res.Err)
	return res
}

// batchTimeRange is the time range of batch, or all time when it cannot
// be read.
func batchTimeRange(codec BatchCodec, batch []byte) (int64, int64) {
	if codec != nil {
		if minT, maxT, err := codec.TimeRange(batch); err == nil {
			return minT, maxT
		}
	}
	return math.MinInt64, math.MaxInt64
}

// limiter holds replay to rate bytes/s (0: unlimited), allowing a burst
// of one second's worth. A record larger than the burst goes out whole
// and the wait after it pays the debt.
type limiter struct {
	rate   int64
	tokens float64
	last   time.Time
}

// wait blocks until n more bytes may be sent, or ctx is done.
func (l *limiter) wait(ctx context.Context, n int64) error {
	if l.rate <= 0 {
		return nil
	}
	now := time.Now()
	if l.last.IsZero() {
		l.tokens = float64(l.rate)
	} else {
		l.tokens = min(l.tokens+now.Sub(l.last).Seconds()*float64(l.rate), float64(l.rate))
	}
	l.last = now
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(-l.tokens / float64(l.rate) * float64(time.Second)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
