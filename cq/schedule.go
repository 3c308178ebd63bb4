package cq

import (
	"fmt"
	"time"

	"github.com/influxdata/influxql"
)

// schedule is when a continuous query runs and what each run covers, as
// InfluxDB 1.8 defines it: runs every RESAMPLE EVERY (default: the GROUP
// BY interval) at times aligned to it (shifted by the GROUP BY offset);
// the run at t covers [t-for, t), for being RESAMPLE FOR (default: the
// interval, or every when that is longer).
type schedule struct {
	every, forDur, offset time.Duration
}

func newSchedule(s *influxql.CreateContinuousQueryStatement) (schedule, error) {
	interval, err := s.Source.GroupByInterval()
	if err != nil {
		return schedule{}, err
	}
	if interval <= 0 {
		return schedule{}, fmt.Errorf("continuous query %s has no GROUP BY time()", s.Name)
	}
	offset, err := s.Source.GroupByOffset()
	if err != nil {
		return schedule{}, err
	}
	sc := schedule{every: interval, forDur: interval, offset: offset}
	if s.ResampleEvery > 0 {
		sc.every = s.ResampleEvery
	}
	switch {
	case s.ResampleFor > 0:
		sc.forDur = s.ResampleFor
	case sc.every > interval:
		sc.forDur = sc.every
	}
	return sc, nil
}

// floor is the last run time at or before t.
func (sc schedule) floor(t time.Time) time.Time {
	return t.Add(-sc.offset).Truncate(sc.every).Add(sc.offset)
}

// window is what the run at t covers.
func (sc schedule) window(t time.Time) (start, end time.Time) {
	return t.Add(-sc.forDur), t
}

// due lists the run times after last (a run time) up to now, oldest
// first, leaving out (and counting) those before now-maxCatchUp.
func (sc schedule) due(last, now time.Time, maxCatchUp time.Duration) (runs []time.Time, skipped int) {
	newest := sc.floor(now)
	first := last.Add(sc.every)
	if oldest := sc.floor(now.Add(-maxCatchUp)); first.Before(oldest) {
		skipped = int(oldest.Sub(first) / sc.every)
		first = first.Add(time.Duration(skipped) * sc.every)
	}
	for t := first; !t.After(newest); t = t.Add(sc.every) {
		runs = append(runs, t)
	}
	return runs, skipped
}

// runStatement is the SELECT … INTO of the run at t: the query's SELECT
// limited to the run's window.
func (sc schedule) runStatement(src *influxql.SelectStatement, t time.Time) *influxql.SelectStatement {
	start, end := sc.window(t)
	sel := src.Clone()
	timeCond := &influxql.BinaryExpr{Op: influxql.AND,
		LHS: &influxql.BinaryExpr{Op: influxql.GTE, LHS: &influxql.VarRef{Val: "time"}, RHS: &influxql.TimeLiteral{Val: start.UTC()}},
		RHS: &influxql.BinaryExpr{Op: influxql.LT, LHS: &influxql.VarRef{Val: "time"}, RHS: &influxql.TimeLiteral{Val: end.UTC()}},
	}
	if sel.Condition == nil {
		sel.Condition = timeCond
	} else {
		sel.Condition = &influxql.BinaryExpr{Op: influxql.AND, LHS: &influxql.ParenExpr{Expr: sel.Condition}, RHS: timeCond}
	}
	return sel
}
