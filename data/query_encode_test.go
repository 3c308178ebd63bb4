package data

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/influxdata/influxql"

	"github.com/strata-db/strata/coordinator/query"
)

// infRunner is a queryRunner whose every statement answers a row holding
// +Inf (what SELECT f*f gives for f = 1e200) and then a row of 4, through
// the request's sink.
type infRunner struct{}

func (infRunner) ExecuteQuery(_ context.Context, _ *influxql.Query, opts query.ExecutionOptions) ([]*query.Result, error) {
	for _, v := range []float64{math.Inf(1), 4} {
		t := int64(1e9)
		if v == 4 {
			t = 2e9
		}
		if err := opts.Sink.WriteRow(&query.Row{Name: "big", Columns: []string{"time", "f_f"}, Values: [][]any{{t, v}}}); err != nil {
			return nil, err
		}
	}
	return []*query.Result{{}}, nil
}

// TestQueryAnswerJSONCannotCarry checks the answer holding a value JSON
// cannot carry: InfluxDB 1.8.10's bodies for SELECT f*f with f = 1e200
// (HTTP 200, the body the error alone; chunked, an error line in place
// of the chunk that failed and the next chunks after it), not a 200 with
// an empty body.
func TestQueryAnswerJSONCannotCarry(t *testing.T) {
	h, _, _ := newTestHandler(t, nil)
	h.queries = infRunner{}
	const row4 = `{"results":[{"statement_id":0,"series":[{"name":"big","columns":["time","f_f"],"values":[["1970-01-01T00:00:02Z",4]]}]}]}`
	for _, tc := range []struct {
		name   string
		params url.Values
		want   string
	}{
		{"whole", url.Values{}, `{"error":"json: unsupported value: +Inf"}` + "\n"},
		{"pretty", url.Values{"pretty": {"true"}}, "{\n    \"error\": \"json: unsupported value: +Inf\"\n}\n"},
		{"chunked", url.Values{"chunked": {"true"}, "chunk_size": {"1"}}, `{"error":"json: unsupported value: +Inf"}` + "\n" + row4 + "\n"},
		{"csv", url.Values{"format": {"csv"}}, "name,tags,time,f_f\nbig,,1000000000,+Inf\nbig,,2000000000,4\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.params
			p.Set("db", "db0")
			p.Set("q", "SELECT f*f FROM big")
			req := httptest.NewRequest(http.MethodGet, "/query?"+p.Encode(), nil)
			if tc.name == "csv" {
				req.Header.Set("Accept", "application/csv")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK || w.Body.String() != tc.want {
				t.Errorf("status %d, body %q; want 200, %q", w.Code, w.Body.String(), tc.want)
			}
		})
	}
}
