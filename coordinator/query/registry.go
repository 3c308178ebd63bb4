package query

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/influxdata/influxql"
)

// registry tracks running queries for SHOW QUERIES, KILL QUERY and the
// concurrency limit.
type registry struct {
	mu     sync.Mutex
	nextID uint64
	tasks  map[uint64]*task
}

type task struct {
	id uint64
	// q is the query; text its String(), formatted by the first SHOW
	// QUERIES that lists it rather than for every query (the executor
	// never changes q). Both are guarded by the registry's mu.
	q      *influxql.Query
	text   string
	db     string
	start  time.Time
	ctx    context.Context
	cancel context.CancelCauseFunc
	r      *registry
}

func newRegistry() *registry {
	return &registry{nextID: 1, tasks: make(map[uint64]*task)}
}

// attach registers a query, or fails when limit (0 = none) queries run.
func (r *registry) attach(ctx context.Context, q *influxql.Query, db string, limit int) (*task, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if limit > 0 && len(r.tasks) >= limit {
		return nil, fmt.Errorf("%w(%d, %d)", ErrMaxConcurrentQueries, len(r.tasks), limit)
	}
	cctx, cancel := context.WithCancelCause(ctx)
	t := &task{id: r.nextID, q: q, db: db, start: time.Now(), ctx: cctx, cancel: cancel, r: r}
	r.nextID++
	r.tasks[t.id] = t
	return t, nil
}

func (t *task) detach() {
	t.cancel(nil)
	t.r.mu.Lock()
	delete(t.r.tasks, t.id)
	t.r.mu.Unlock()
}

func (r *registry) kill(id uint64) error {
	r.mu.Lock()
	t, ok := r.tasks[id]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("kill query %d: %w", id, ErrQueryNotFound)
	}
	t.cancel(ErrQueryKilled)
	return nil
}

// show answers SHOW QUERIES with InfluxDB 1.x's columns.
func (r *registry) show() []*Row {
	r.mu.Lock()
	ids := make([]uint64, 0, len(r.tasks))
	for id := range r.tasks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	row := &Row{Columns: []string{"qid", "query", "database", "duration", "status"}}
	now := time.Now()
	for _, id := range ids {
		t := r.tasks[id]
		status := "running"
		if t.ctx.Err() != nil {
			status = "killed"
		}
		if t.q != nil {
			t.text, t.q = t.q.String(), nil
		}
		row.Values = append(row.Values, []any{int64(t.id), t.text, t.db, formatDuration(now.Sub(t.start)), status})
	}
	r.mu.Unlock()
	return []*Row{row}
}

// formatDuration renders a duration as InfluxDB's SHOW QUERIES does: the
// largest units first, e.g. "1s", "25ms", "350µs".
func formatDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Truncate(time.Second).String()
	case d >= time.Millisecond:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	default:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	}
}
