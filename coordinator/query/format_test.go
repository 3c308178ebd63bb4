package query_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/strata-db/strata/coordinator/query"
)

func sampleResults() []*query.Result {
	return []*query.Result{
		{StatementID: 0, Series: []*query.Row{
			{Name: "cpu", Tags: map[string]string{"host": "a", "dc": "x"}, Columns: []string{"time", "v", "s"},
				Values: [][]any{{int64(1767225600123456789), 1.5, "a,b"}, {int64(1767225601000000000), nil, "q\"x"}}},
			{Name: "cpu", Tags: map[string]string{"host": "b", "dc": "x"}, Columns: []string{"time", "v", "s"},
				Values: [][]any{{int64(0), int64(2), ""}}},
		}},
		{StatementID: 1, Err: errors.New("boom")},
		{StatementID: 2},
	}
}

func TestWriteJSONEpochs(t *testing.T) {
	res := []*query.Result{{Series: []*query.Row{{Name: "m", Columns: []string{"time", "v"},
		Values: [][]any{{int64(1767225600123456789), 1.0}}}}}}
	for _, tc := range []struct{ epoch, want string }{
		{"", `"2026-01-01T00:00:00.123456789Z"`},
		{"ns", `1767225600123456789`},
		{"u", `1767225600123456`},
		{"ms", `1767225600123`},
		{"s", `1767225600`},
		{"m", `29453760`},
		{"h", `490896`},
	} {
		var buf bytes.Buffer
		if err := query.WriteJSON(&buf, res, query.FormatOptions{Epoch: tc.epoch}); err != nil {
			t.Fatalf("WriteJSON(epoch=%q): got %v, want nil", tc.epoch, err)
		}
		want := `{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","v"],"values":[[` + tc.want + `,1]]}]}]}`
		if got := strings.TrimSpace(buf.String()); got != want {
			t.Errorf("epoch=%q\n got %s\nwant %s", tc.epoch, got, want)
		}
	}
	var buf bytes.Buffer
	if err := query.WriteJSON(&buf, res, query.FormatOptions{Epoch: "fortnight"}); !errors.Is(err, query.ErrInvalidQuery) {
		t.Errorf("WriteJSON(epoch=fortnight): got %v, want ErrInvalidQuery", err)
	}
}

func TestWriteJSONErrorsAndEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := query.WriteJSON(&buf, sampleResults()[1:], query.FormatOptions{}); err != nil {
		t.Fatalf("WriteJSON: got %v, want nil", err)
	}
	want := `{"results":[{"statement_id":1,"error":"boom"},{"statement_id":2}]}`
	if got := strings.TrimSpace(buf.String()); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	buf.Reset()
	if err := query.WriteError(&buf, errors.New(`error parsing query: found EOF, expected FROM at line 1, char 9`), false); err != nil {
		t.Fatalf("WriteError: got %v, want nil", err)
	}
	want = `{"error":"error parsing query: found EOF, expected FROM at line 1, char 9"}`
	if got := strings.TrimSpace(buf.String()); got != want {
		t.Errorf("WriteError got %s\nwant %s", got, want)
	}
}

func TestWriteJSONPretty(t *testing.T) {
	var buf bytes.Buffer
	res := []*query.Result{{Series: []*query.Row{{Name: "m", Columns: []string{"name"}, Values: [][]any{{"x"}}}}}}
	if err := query.WriteJSON(&buf, res, query.FormatOptions{Pretty: true}); err != nil {
		t.Fatalf("WriteJSON: got %v, want nil", err)
	}
	want := `{
    "results": [
        {
            "statement_id": 0,
            "series": [
                {
                    "name": "m",
                    "columns": [
                        "name"
                    ],
                    "values": [
                        [
                            "x"
                        ]
                    ]
                }
            ]
        }
    ]
}
`
	if got := buf.String(); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestWriteChunked(t *testing.T) {
	var buf bytes.Buffer
	if err := query.WriteChunked(&buf, sampleResults(), query.FormatOptions{Epoch: "s"}, 1); err != nil {
		t.Fatalf("WriteChunked: got %v, want nil", err)
	}
	want := []string{
		`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"dc":"x","host":"a"},"columns":["time","v","s"],"values":[[1767225600,1.5,"a,b"]],"partial":true}],"partial":true}]}`,
		`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"dc":"x","host":"a"},"columns":["time","v","s"],"values":[[1767225601,null,"q\"x"]]}],"partial":true}]}`,
		`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"dc":"x","host":"b"},"columns":["time","v","s"],"values":[[0,2,""]]}]}]}`,
		`{"results":[{"statement_id":1,"error":"boom"}]}`,
		`{"results":[{"statement_id":2}]}`,
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d chunks, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("chunk %d\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

func TestWriteChunkedPacksSeries(t *testing.T) {
	for _, tc := range []struct {
		size int
		want []string
	}{
		{2, []string{
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"dc":"x","host":"a"},"columns":["time","v","s"],"values":[[1767225600,1.5,"a,b"],[1767225601,null,"q\"x"]]}],"partial":true}]}`,
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"dc":"x","host":"b"},"columns":["time","v","s"],"values":[[0,2,""]]}]}]}`,
		}},
		{3, []string{
			`{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"dc":"x","host":"a"},"columns":["time","v","s"],"values":[[1767225600,1.5,"a,b"],[1767225601,null,"q\"x"]]},{"name":"cpu","tags":{"dc":"x","host":"b"},"columns":["time","v","s"],"values":[[0,2,""]]}]}]}`,
		}},
	} {
		var buf bytes.Buffer
		if err := query.WriteChunked(&buf, sampleResults()[:1], query.FormatOptions{Epoch: "s"}, tc.size); err != nil {
			t.Fatalf("WriteChunked: got %v, want nil", err)
		}
		got := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("chunk size %d\n got %s\nwant %s", tc.size, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

func TestWriteCSV(t *testing.T) {
	var buf bytes.Buffer
	res := sampleResults()
	res[0].Series = append(res[0].Series, &query.Row{Name: "cpu", Tags: map[string]string{"host": "c d", "dc": "x,y"},
		Columns: []string{"time", "other"}, Values: [][]any{{int64(5), true}}})
	res = append(res, &query.Result{StatementID: 3, Series: []*query.Row{{Name: "measurements", Columns: []string{"name"}, Values: [][]any{{"cpu"}}}}})
	if err := query.WriteCSV(&buf, res, query.FormatOptions{}); err != nil {
		t.Fatalf("WriteCSV: got %v, want nil", err)
	}
	want := `name,tags,time,v,s
cpu,"dc=x,host=a",1767225600123456789,1.5,"a,b"
cpu,"dc=x,host=a",1767225601000000000,,"q""x"
cpu,"dc=x,host=b",0,2,

name,tags,time,other
cpu,"dc=x\,y,host=c\ d",5,true

name,tags,name
measurements,,cpu
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	buf.Reset()
	if err := query.WriteCSVError(&buf, errors.New("error parsing query: bad")); err != nil {
		t.Fatalf("WriteCSVError: got %v, want nil", err)
	}
	if got, want := buf.String(), "error\nerror parsing query: bad\n"; got != want {
		t.Errorf("WriteCSVError got %q, want %q", got, want)
	}
}

// TestLimitRows checks max-row-limit's cut, as InfluxDB's handler makes
// it: the series reaching the limit keeps what fits and is partial, the
// series after it are dropped, a later statement keeps one empty partial
// series, and errors stay.
func TestLimitRows(t *testing.T) {
	vals := func(n int) [][]any {
		out := make([][]any, n)
		for i := range out {
			out[i] = []any{int64(i), float64(i)}
		}
		return out
	}
	cols := []string{"time", "v"}
	res := []*query.Result{
		{StatementID: 0, Series: []*query.Row{
			{Name: "a", Columns: cols, Values: vals(3)},
			{Name: "b", Columns: cols, Values: vals(4)},
			{Name: "c", Columns: cols, Values: vals(2)},
		}},
		{StatementID: 1, Err: errors.New("boom")},
		{StatementID: 2, Series: []*query.Row{{Name: "d", Columns: cols, Values: vals(2)}, {Name: "e", Columns: cols, Values: vals(2)}}},
	}
	query.LimitRows(res, 5)
	var buf bytes.Buffer
	if err := query.WriteJSON(&buf, res, query.FormatOptions{Epoch: "ns"}); err != nil {
		t.Fatalf("WriteJSON: got %v, want nil", err)
	}
	want := `{"results":[{"statement_id":0,"series":[` +
		`{"name":"a","columns":["time","v"],"values":[[0,0],[1,1],[2,2]]},` +
		`{"name":"b","columns":["time","v"],"values":[[0,0],[1,1]],"partial":true}]},` +
		`{"statement_id":1,"error":"boom"},` +
		`{"statement_id":2,"series":[{"name":"d","columns":["time","v"],"partial":true}]}]}`
	if got := strings.TrimSpace(buf.String()); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	unlimited := []*query.Result{{Series: []*query.Row{{Name: "a", Columns: cols, Values: vals(3)}}}}
	if query.LimitRows(unlimited, 0); len(unlimited[0].Series[0].Values) != 3 || unlimited[0].Series[0].Partial {
		t.Errorf("limit 0: got %+v, want the rows untouched", unlimited[0].Series[0])
	}
}
