package query_test

import (
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator/query"
)

// TestDSTPushdown checks what a tz() query asks Storage for: windows
// that cross a zone change are pushed down over the hourly (half-hourly
// for Lord Howe) grid their edges lie on; a range without a change keeps
// the one-width windows; no lower bound reads raw points. Each answers
// as the raw path does (a field condition forces it).
func TestDSTPushdown(t *testing.T) {
	e, st := newExec(t, query.NewConfig(), dstData+`ny v=1 1767225600000000000
`)
	tests := []struct {
		name, q       string
		every, offset time.Duration // 0: raw
	}{
		{"spring day", dstQueries[0].q, time.Hour, 0},
		{"fall day fill(none)", dstQueries[5].q, time.Hour, 0},
		{"london spring", dstQueries[8].q, time.Hour, 0},
		{"lord howe half hour", dstQueries[10].q, 30 * time.Minute, 0},
		{"no change in range", `SELECT count(v), sum(v) FROM ny WHERE time >= '2025-12-31T05:00:00Z' AND time < '2026-01-02T05:00:00Z' GROUP BY time(1d) tz('America/New_York')`, 24 * time.Hour, 5 * time.Hour},
		{"hourly windows across a whole-hour change", dstQueries[3].q, time.Hour, 5 * time.Hour},
		{"no lower bound", dstQueries[11].q, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(st.ScanRequests())
			got := execJSON(t, e, tc.q, "")
			w := st.ScanRequests()[before].Window
			switch {
			case tc.every == 0 && w != nil:
				t.Errorf("window %+v, want raw points", *w)
			case tc.every != 0 && w == nil:
				t.Errorf("raw points, want windows every %v offset %v", tc.every, tc.offset)
			case tc.every != 0 && (w.Every != int64(tc.every) || w.Offset != int64(tc.offset)):
				t.Errorf("windows every %v offset %v, want every %v offset %v", time.Duration(w.Every), time.Duration(w.Offset), tc.every, tc.offset)
			}
			raw := strings.Replace(tc.q, "WHERE ", "WHERE v > -1 AND ", 1)
			if want := execJSON(t, e, raw, ""); got != want {
				t.Errorf("pushed down and raw differ\n got %s\nwant %s", got, want)
			}
			if !strings.Contains(got, `"values":[[`) {
				t.Errorf("no values: %s", got)
			}
		})
	}
}
