package query_test

import (
	"math"
	"testing"

	"github.com/strata-db/strata/coordinator/query"
)

// TestRawLimitShortcuts checks that raw queries with LIMIT, which read
// only the edge points of each series (and, for LIMIT 1, only one point
// per field through a first/last window), answer exactly what the full
// path answers. The full path is forced by a field condition that every
// point passes.
func TestRawLimitShortcuts(t *testing.T) {
	data := hostData + `cpu,host=a,region=east usage=50 1767225700000000000
cpu,host=b,region=west idle=1i 1767225700000000000
`
	e, st := newExec(t, query.NewConfig(), data)
	const all = ` (usage > -1 OR idle > -1) `
	for _, tc := range []struct {
		q, full    string
		edgeWindow bool
	}{
		{`SELECT * FROM cpu GROUP BY host ORDER BY time DESC LIMIT 1`,
			`SELECT * FROM cpu WHERE` + all + `GROUP BY host ORDER BY time DESC LIMIT 1`, true},
		{`SELECT * FROM cpu GROUP BY host LIMIT 1`,
			`SELECT * FROM cpu WHERE` + all + `GROUP BY host LIMIT 1`, true},
		{`SELECT * FROM cpu ORDER BY time DESC LIMIT 1`,
			`SELECT * FROM cpu WHERE` + all + `ORDER BY time DESC LIMIT 1`, true},
		{`SELECT usage, idle FROM cpu ORDER BY time DESC LIMIT 2 OFFSET 1`,
			`SELECT usage, idle FROM cpu WHERE` + all + `ORDER BY time DESC LIMIT 2 OFFSET 1`, false},
		{`SELECT usage, idle FROM cpu GROUP BY host LIMIT 2`,
			`SELECT usage, idle FROM cpu WHERE` + all + `GROUP BY host LIMIT 2`, false},
		{`SELECT idle FROM cpu WHERE host = 'b' ORDER BY time DESC LIMIT 1`,
			`SELECT idle FROM cpu WHERE host = 'b' AND` + all + `ORDER BY time DESC LIMIT 1`, true},
	} {
		t.Run(tc.q, func(t *testing.T) {
			before := len(st.ScanRequests())
			got := execJSON(t, e, tc.q, "s")
			req := st.ScanRequests()[before]
			if isEdge := req.Window != nil && req.Window.Every == math.MaxInt64; isEdge != tc.edgeWindow {
				t.Errorf("edge window pushdown = %v, want %v", isEdge, tc.edgeWindow)
			}
			if want := execJSON(t, e, tc.full, "s"); got != want {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
		})
	}
}
