package query_test

import (
	"strings"
	"testing"

	"github.com/strata-db/strata/coordinator/query"
)

// fillData has values at 0 s (10) and 30 s (40) and 50 s (7), so 10 s
// windows at 10 s, 20 s and 40 s are empty.
const fillData = `f,k=x v=10,i=10i 1767225600000000000
f,k=x v=40,i=40i 1767225630000000000
f,k=x v=7,i=7i 1767225650000000000
`

func TestFill(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), fillData)
	const where = ` FROM f WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:01:00Z' GROUP BY time(10s) `
	tests := []struct{ name, q, want string }{
		{"null", `SELECT mean(v)` + where + `fill(null)`,
			`[[1767225600,10],[1767225610,null],[1767225620,null],[1767225630,40],[1767225640,null],[1767225650,7]]`},
		{"none", `SELECT mean(v)` + where + `fill(none)`,
			`[[1767225600,10],[1767225630,40],[1767225650,7]]`},
		{"number", `SELECT mean(v)` + where + `fill(-1)`,
			`[[1767225600,10],[1767225610,-1],[1767225620,-1],[1767225630,40],[1767225640,-1],[1767225650,7]]`},
		{"previous", `SELECT mean(v)` + where + `fill(previous)`,
			`[[1767225600,10],[1767225610,10],[1767225620,10],[1767225630,40],[1767225640,40],[1767225650,7]]`},
		{"linear", `SELECT mean(v)` + where + `fill(linear)`,
			`[[1767225600,10],[1767225610,20],[1767225620,30],[1767225630,40],[1767225640,23.5],[1767225650,7]]`},
		{"linear integer", `SELECT sum(i)` + where + `fill(linear)`,
			`[[1767225600,10],[1767225610,20],[1767225620,30],[1767225630,40],[1767225640,23],[1767225650,7]]`},
		{"count null is zero", `SELECT count(v)` + where,
			`[[1767225600,1],[1767225610,0],[1767225620,0],[1767225630,1],[1767225640,0],[1767225650,1]]`},
		{"count none drops", `SELECT count(v)` + where + `fill(none)`,
			`[[1767225600,1],[1767225630,1],[1767225650,1]]`},
		{"desc with fill", `SELECT max(v)` + where + `fill(0) ORDER BY time DESC LIMIT 3`,
			`[[1767225650,7],[1767225640,0],[1767225630,40]]`},
		{"raw path fill", `SELECT median(v)` + where + `fill(previous)`,
			`[[1767225600,10],[1767225610,10],[1767225620,10],[1767225630,40],[1767225640,40],[1767225650,7]]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := `{"results":[{"statement_id":0,"series":[{"name":"f","columns":["time",` + colName(tc.q) + `],"values":` + tc.want + `}]}]}`
			if got := execJSON(t, e, tc.q, "s"); got != want {
				t.Errorf("%s\n got %s\nwant %s", tc.q, got, want)
			}
		})
	}
}

func colName(q string) string {
	for _, fn := range []string{"mean", "sum", "count", "max", "median"} {
		if len(q) > 7+len(fn) && q[7:7+len(fn)] == fn {
			return `"` + fn + `"`
		}
	}
	return ""
}

func TestTransforms(t *testing.T) {
	e, _ := newExec(t, query.NewConfig(), fillData+`f,k=x v=4,i=4i 1767225660000000000
`)
	tests := []struct{ name, q, want string }{
		{"derivative per second", `SELECT derivative(v) FROM f`,
			`"columns":["time","derivative"],"values":[[1767225630,1],[1767225650,-1.65],[1767225660,-0.3]]`},
		{"derivative unit", `SELECT derivative(v, 10s) FROM f`,
			`"columns":["time","derivative"],"values":[[1767225630,10],[1767225650,-16.5],[1767225660,-3]]`},
		{"non_negative_derivative", `SELECT non_negative_derivative(v) FROM f`,
			`"columns":["time","non_negative_derivative"],"values":[[1767225630,1]]`},
		{"non_negative_difference", `SELECT non_negative_difference(i) FROM f`,
			`"columns":["time","non_negative_difference"],"values":[[1767225630,30]]`},
		{"moving_average", `SELECT moving_average(v, 2) FROM f`,
			`"columns":["time","moving_average"],"values":[[1767225630,25],[1767225650,23.5],[1767225660,5.5]]`},
		{"cumulative_sum of aggregate", `SELECT cumulative_sum(sum(i)) FROM f WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:01:10Z' GROUP BY time(30s)`,
			`"columns":["time","cumulative_sum"],"values":[[1767225600,10],[1767225630,57],[1767225660,61]]`},
		{"elapsed", `SELECT elapsed(v, 10s) FROM f`,
			`"columns":["time","elapsed"],"values":[[1767225630,3],[1767225650,2],[1767225660,1]]`},
		{"mode spread integral", `SELECT mode(i), spread(i), integral(v, 10s) FROM f WHERE time <= '2026-01-01T00:00:30Z'`,
			`"columns":["time","mode","spread","integral"],"values":[[0,10,30,75]]`},
		{"bottom", `SELECT bottom(v, 2) FROM f`,
			`"columns":["time","bottom"],"values":[[1767225650,7],[1767225660,4]]`},
		{"percentile selects a point", `SELECT percentile(v, 50) FROM f`,
			`"columns":["time","percentile"],"values":[[1767225650,7]]`},
		// 0 s:10, 30 s:40, 50 s:7 → the value at 20 s is 30 and at 40 s
		// 23.5; the windows add up to the whole integral (122).
		{"integral by window interpolates at the edges", `SELECT integral(v, 10s) FROM f WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:01:00Z' GROUP BY time(20s) fill(none)`,
			`"columns":["time","integral"],"values":[[1767225600,40],[1767225620,66.75],[1767225640,15.25]]`},
		{"transformation of an aggregate in arithmetic (Grafana bits/s)", `SELECT non_negative_derivative(max(v), 1s) * 8 AS bits FROM f WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:01:10Z' GROUP BY time(10s) fill(none)`,
			`"columns":["time","bits"],"values":[[1767225630,8]]`},
		{"constant times a raw transformation", `SELECT 2 * derivative(v) FROM f`,
			`"columns":["time","derivative"],"values":[[1767225630,2],[1767225650,-3.3],[1767225660,-0.6]]`},
		{"math on aggregates", `SELECT max(v) - min(v) AS range FROM f`,
			`"columns":["time","range"],"values":[[0,36]]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := `{"results":[{"statement_id":0,"series":[{"name":"f",` + tc.want + `}]}]}`
			if got := execJSON(t, e, tc.q, "s"); got != want {
				t.Errorf("%s\n got %s\nwant %s", tc.q, got, want)
			}
		})
	}
}

// TestTransformPushdown checks that a transformation of pushable
// aggregates still reads window partials, and answers as the raw path.
func TestTransformPushdown(t *testing.T) {
	e, st := newExec(t, query.NewConfig(), hostData)
	const q = `SELECT non_negative_derivative(mean(usage), 1s) * 8, difference(sum(idle)) FROM cpu WHERE time >= '2026-01-01T00:00:00Z' AND time < '2026-01-01T00:02:00Z'`
	before := len(st.ScanRequests())
	got := execJSON(t, e, q+` GROUP BY time(30s), host`, "s")
	if st.ScanRequests()[before].Window == nil {
		t.Errorf("not pushed down: %s", q)
	}
	want := execJSON(t, e, q+` AND usage > -1 GROUP BY time(30s), host`, "s")
	if got != want {
		t.Errorf("pushed down and raw differ\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(got, `"values":[[`) {
		t.Errorf("no values: %s", got)
	}
}
