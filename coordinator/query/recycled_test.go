package query_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/coordinator/query/querytest"
)

// ownedWindows hands the executor its windowed batches as the local shard
// reader does: Owned, their windows from MakeWindows.
type ownedWindows struct{ *querytest.Store }

func (o ownedWindows) Scan(ctx context.Context, req query.ScanRequest, fn func(*query.SeriesBatch) error) error {
	return o.Store.Scan(ctx, req, func(b *query.SeriesBatch) error {
		if req.Window == nil {
			return fn(b)
		}
		c := *b
		c.Fields = slices.Clone(b.Fields)
		for i, f := range b.Fields {
			c.Fields[i].Windows = query.MakeWindows(len(f.Windows))
			copy(c.Fields[i].Windows, f.Windows)
		}
		c.Owned = true
		return fn(&c)
	})
}

// TestOwnedWindowsRecycled runs windowed queries over owned windows, which
// the executor recycles once its rows are built: every answer is the one
// over copied windows, and stays so while later queries reuse the windows
// of the earlier ones.
func TestOwnedWindowsRecycled(t *testing.T) {
	st := mustStore(t)
	plain := query.NewExecutor(query.Config{}, st, nil, nil)
	owned := query.NewExecutor(query.Config{}, ownedWindows{st}, nil, nil)
	const span = " WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:02:00Z'"
	queries := []string{
		"SELECT max(usage), count(idle) FROM cpu" + span + " GROUP BY time(30s)",
		"SELECT last(label), sum(used) FROM mem" + span + " GROUP BY time(1m)",
		"SELECT min(usage), first(idle) FROM cpu" + span + " AND host = 'b' GROUP BY time(10s)",
		"SELECT mean(usage) FROM cpu" + span + " GROUP BY time(20s), host",
	}
	render := func(res []*query.Result) string {
		var rows [][][]any
		for _, r := range res {
			for _, row := range r.Series {
				rows = append(rows, row.Values)
			}
		}
		return fmt.Sprint(rows)
	}
	var first []string
	var kept [][]*query.Result
	for round := range 3 {
		for i, q := range queries {
			want := execJSON(t, plain, q, "")
			if got := execJSON(t, owned, q, ""); got != want {
				t.Fatalf("round %d, %s:\ngot  %s\nwant %s", round, q, got, want)
			}
			if round == 0 {
				res := exec(t, owned, q)
				kept = append(kept, res)
				first = append(first, render(res))
				if first[i] == "" {
					t.Fatalf("%s: no rows", q)
				}
			}
		}
	}
	for i, res := range kept {
		if got := render(res); got != first[i] {
			t.Errorf("%s: the answer changed after later queries:\ngot  %s\nwant %s", queries[i], got, first[i])
		}
	}
}
