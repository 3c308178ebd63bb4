package data

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"testing"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/internal/gcpace"
)

// gcTargetRecorder is a queryRunner that records the collector's target
// while it executes.
type gcTargetRecorder struct{ seen int }

func (g *gcTargetRecorder) ExecuteQuery(context.Context, *influxql.Query, query.ExecutionOptions) ([]*query.Result, error) {
	g.seen = debug.SetGCPercent(100)
	debug.SetGCPercent(g.seen)
	return []*query.Result{{}}, nil
}

// TestQueryRaisesGCTarget checks that /query runs its statements at
// query-gc-percent and keeps it right after it answers.
func TestQueryRaisesGCTarget(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	gcpace.Configure(30, 150)
	defer gcpace.Configure(100, 0)
	h, _, _ := newTestHandler(t, nil)
	rec := &gcTargetRecorder{}
	h.queries = rec
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/query?db=db0&q=SELECT+v+FROM+cpu", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("/query: status %d, body %s; want 200", w.Code, w.Body.String())
	}
	if rec.seen != 150 {
		t.Errorf("GC target while the query ran: %d; want 150 (query-gc-percent)", rec.seen)
	}
	// The target stays raised for gcpace.Hold after the answer: a client's
	// next query usually follows at once.
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("GC target right after the answer: %d; want 150 (query-gc-percent, held)", got)
	}
}
