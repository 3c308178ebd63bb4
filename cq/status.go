package cq

import (
	"time"

	"github.com/strata-db/strata/meta"
)

// Lag is how far q's last completed run is behind the newest run due at
// now: 0 when it is up to date, growing while no node runs it.
func Lag(q meta.ContinuousQueryInfo, now time.Time) (time.Duration, error) {
	st, err := parseStatement(q.Query)
	if err != nil {
		return 0, err
	}
	sc, err := newSchedule(st)
	if err != nil {
		return 0, err
	}
	return sc.lag(q, now), nil
}

// lastRun is q's last completed run, or the run time before its creation
// when it never ran.
func (sc schedule) lastRun(q meta.ContinuousQueryInfo) time.Time {
	if q.LastRun.IsZero() {
		return sc.floor(q.CreatedAt)
	}
	return q.LastRun
}

func (sc schedule) lag(q meta.ContinuousQueryInfo, now time.Time) time.Duration {
	return max(0, sc.floor(now).Sub(sc.lastRun(q)))
}
