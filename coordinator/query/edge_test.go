package query_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator/query"
)

// TestRawLimitShortcuts checks that raw queries with LIMIT, which read
// only the edge points of each series (and, for LIMIT 1, only one point
// per field through a first/last window asking no exact count), answer
// exactly what the full path answers. The full path is forced by a field condition that every
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
			// The edge point is all the rows need: a storage may read it
			// without counting every point (tsdb's edge path).
			if tc.edgeWindow && req.Window.Aggregates&query.AggregateCountAny == 0 {
				t.Errorf("edge window asks for %b, want AggregateCountAny among them", req.Window.Aggregates)
			}
			if want := execJSON(t, e, tc.full, "s"); got != want {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestTimeSpansOverflowingInt64 checks the functions that compute with
// the time between points when two points lie further apart than int64
// nanoseconds can subtract (~292 years): the differences used to wrap
// and turn negative.
func TestTimeSpansOverflowingInt64(t *testing.T) {
	t0 := time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	data := fmt.Sprintf("old v=1 %d\nold v=3 %d\n", t0.UnixNano(), t1.UnixNano())
	e, _ := newExec(t, query.NewConfig(), data)
	secs := float64(t1.Unix() - t0.Unix())
	value := func(q string, row int) any {
		t.Helper()
		res := exec(t, e, q)
		if res[0].Err != nil || len(res[0].Series) != 1 || len(res[0].Series[0].Values) <= row {
			t.Fatalf("%s: got %v, %+v; want a row %d", q, res[0].Err, res[0].Series, row)
		}
		return res[0].Series[0].Values[row][1]
	}
	if got, want := value(`SELECT elapsed(v, 1s) FROM old`, 0), int64(secs); got != want {
		t.Errorf("elapsed: got %v, want %v", got, want)
	}
	if got, want := value(`SELECT derivative(v, 1s) FROM old`, 0), 2/secs; !near(got, want) {
		t.Errorf("derivative: got %v, want %v", got, want)
	}
	if got, want := value(`SELECT integral(v, 1s) FROM old`, 0), 2*secs; !near(got, want) {
		t.Errorf("integral: got %v, want %v", got, want)
	}
	// Windows of 100 years: linear fill puts 1 + 2*(k·100y)/500y in the
	// empty window k.
	q := fmt.Sprintf(`SELECT max(v) FROM old WHERE time >= %d AND time <= %d GROUP BY time(%dns, %dns) fill(linear)`,
		t0.UnixNano(), t1.UnixNano(), int64(secs/5)*int64(time.Second), t0.UnixNano())
	if got, want := value(q, 1), 1+2*0.2; !near(got, want) {
		t.Errorf("fill(linear): got %v, want %v", got, want)
	}
}

func near(got any, want float64) bool {
	f, ok := got.(float64)
	return ok && math.Abs(f-want) <= 1e-9*math.Abs(want)
}
