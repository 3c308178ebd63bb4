package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestJSONValuesMatchEncodingJSON checks the hand-written row encoder
// against encoding/json on values of every kind rows hold.
func TestJSONValuesMatchEncodingJSON(t *testing.T) {
	rows := [][]any{
		{nil, true, false, int64(-7), int64(math.MaxInt64), int(3), uint64(math.MaxUint64)},
		{0.0, math.Copysign(0, -1), 1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, -2.5e-300, math.MaxFloat64, math.SmallestNonzeroFloat64},
		{"", "plain", `q"uote\back`, "<a href='x'>&</a>", "tab\tnl\nret\rbs\bff\f", "\x00\x01\x1f\x7f", "é ☃ 𝄞", "\xff\xfe bad", "line\u2028sep\u2029"},
		{"2026-01-01T00:00:00Z", int64(1767225600000), map[string]any{"k": 1}, []string{"x"}},
	}
	got, err := appendJSONValues(nil, rows, timeFormat{}, nil)
	if err != nil {
		t.Fatalf("appendJSONValues: %v", err)
	}
	want, err := json.Marshal(rows)
	if err != nil {
		t.Fatalf("marshal [][]any: %v", err)
	}
	if string(got) != string(want) {
		t.Fatalf("appendJSONValues differs from encoding/json:\n got %s\nwant %s", got, want)
	}
	if got, err := appendJSONValues(nil, nil, timeFormat{}, nil); err != nil || string(got) != "[]" {
		t.Errorf("empty rows: got %s, %v; want []", got, err)
	}
	if _, err := appendJSONValues(nil, [][]any{{math.NaN()}}, timeFormat{}, nil); err == nil {
		t.Error("NaN encoded without error; encoding/json refuses it")
	}
}

// TestJSONTimesRenderedAsWritten checks that a row's time is written as
// the RFC3339Nano string of its zone or the integer of its epoch unit, and
// that only a row's first value is taken for a time.
func TestJSONTimesRenderedAsWritten(t *testing.T) {
	const ns = int64(1767225600123456789)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	for _, tc := range []struct {
		tf   timeFormat
		want any
	}{
		{timeFormat{on: true}, time.Unix(0, ns).UTC().Format(time.RFC3339Nano)},
		{timeFormat{on: true, loc: paris}, time.Unix(0, ns).In(paris).Format(time.RFC3339Nano)},
		{timeFormat{on: true, unit: int64(time.Millisecond)}, ns / int64(time.Millisecond)},
		{timeFormat{on: true, unit: 1}, ns},
		{timeFormat{}, ns},
	} {
		got, err := appendJSONValues(nil, [][]any{{ns, ns}, {"not a time", ns}}, tc.tf, nil)
		if err != nil {
			t.Fatalf("appendJSONValues(%+v): %v", tc.tf, err)
		}
		want, _ := json.Marshal([][]any{{tc.want, ns}, {"not a time", ns}})
		if string(got) != string(want) {
			t.Errorf("time format %+v:\n got %s\nwant %s", tc.tf, got, want)
		}
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "a<b>&c", "\u2028", "\xff", "\"\\\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

func FuzzJSONFloat(f *testing.F) {
	for _, x := range []float64{0, 1, -1.5, 1e21, 1e-7, 123.456} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		want, _ := json.Marshal(x)
		if got := appendJSONFloat(nil, x); string(got) != string(want) {
			t.Fatalf("appendJSONFloat(%v) = %s, want %s", x, got, want)
		}
	})
}

// TestJSONResponseMatchesEncodingJSON checks the direct response writer
// against encoding/json on results using every optional part, and the
// pretty output (encoding/json through jsonRow's MarshalJSON) against
// encoding/json's indentation of the same document.
func TestJSONResponseMatchesEncodingJSON(t *testing.T) {
	resp := jsonResponse{Results: []jsonResult{
		{StatementID: 0},
		{StatementID: 1, Err: "bad <query> & \"more\""},
		{StatementID: 2, Messages: []*Message{{Level: "warning", Text: "deprecated <x>"}}, Partial: true, Series: []jsonRow{
			{Name: "cpu", Tags: map[string]string{"z": "1", "a": "é<", "m": ""}, Columns: []string{"time", "v"},
				Values: [][]any{{int64(1767225600000000000), 1.5}, {"x", nil}}, Partial: true, time: timeFormat{on: true}},
			{Columns: nil},
			{Name: "m", Columns: []string{}, Values: [][]any{}},
		}},
	}}
	// The same document as plain values, the time already a string.
	type refRow struct {
		Name    string            `json:"name,omitempty"`
		Tags    map[string]string `json:"tags,omitempty"`
		Columns []string          `json:"columns"`
		Values  [][]any           `json:"values,omitempty"`
		Partial bool              `json:"partial,omitempty"`
	}
	type refResult struct {
		StatementID int        `json:"statement_id"`
		Series      []refRow   `json:"series,omitempty"`
		Messages    []*Message `json:"messages,omitempty"`
		Partial     bool       `json:"partial,omitempty"`
		Err         string     `json:"error,omitempty"`
	}
	ref := struct {
		Results []refResult `json:"results"`
	}{Results: []refResult{
		{StatementID: 0},
		{StatementID: 1, Err: resp.Results[1].Err},
		{StatementID: 2, Messages: resp.Results[2].Messages, Partial: true, Series: []refRow{
			{Name: "cpu", Tags: resp.Results[2].Series[0].Tags, Columns: []string{"time", "v"},
				Values: [][]any{{"2026-01-01T00:00:00Z", 1.5}, {"x", nil}}, Partial: true},
			{Columns: nil},
			{Name: "m", Columns: []string{}, Values: [][]any{}},
		}},
	}}
	for _, pretty := range []bool{false, true} {
		var want bytes.Buffer
		if err := encodeJSON(&want, ref, pretty); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := writeResponse(&got, &resp, pretty); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("pretty=%v: JSON differs from encoding/json:\n got %s\nwant %s", pretty, got.String(), want.String())
		}
	}
}

// pieceWriter records the pieces written to it.
type pieceWriter struct {
	all    bytes.Buffer
	pieces []int
	fail   bool
}

func (w *pieceWriter) Write(p []byte) (int, error) {
	if w.fail {
		return 0, errors.New("client gone")
	}
	w.pieces = append(w.pieces, len(p))
	return w.all.Write(p)
}

// TestWriteJSONStreamsLargeAnswers checks that a large compact answer is
// written in pieces of about streamChunk bytes, cut between rows and
// series, whose bytes are those of the answer encoded whole; that an
// answer with a value encoding/json refuses writes nothing and fails; and
// that a failed write ends the answer with its error.
func TestWriteJSONStreamsLargeAnswers(t *testing.T) {
	var series []*Row
	for s := 0; s < 40; s++ {
		r := &Row{Name: "cpu", Tags: map[string]string{"hostname": fmt.Sprintf("host_%d", s)},
			Columns: []string{"time", "usage_user", "region", "n"}, hasTime: true}
		for i := 0; i < 1000; i++ {
			r.Values = append(r.Values, []any{int64(i) * 1e10, 90.5 + float64(i)/7, "eu-west-1", int64(i)})
		}
		series = append(series, r)
	}
	results := []*Result{{StatementID: 0, Series: series}, {StatementID: 1, Err: errors.New("boom")}}
	whole, err := appendJSONResponse(nil, &jsonResponse{Results: []jsonResult{toJSONResult(results[0], 0), toJSONResult(results[1], 0)}}, nil)
	if err != nil {
		t.Fatalf("encode whole: %v", err)
	}
	var w pieceWriter
	if err := WriteJSON(&w, results, FormatOptions{}); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	if !bytes.Equal(w.all.Bytes(), whole) {
		t.Fatalf("streamed answer differs from the whole one (%d vs %d bytes)", w.all.Len(), len(whole))
	}
	if len(w.pieces) < len(whole)/streamChunk {
		t.Errorf("%d bytes written in %d pieces, want at least %d", len(whole), len(w.pieces), len(whole)/streamChunk)
	}
	for _, n := range w.pieces {
		if n > streamChunk+1024 {
			t.Errorf("a piece of %d bytes, want at most a row over %d", n, streamChunk)
		}
	}

	series[30].Values[500][1] = math.Inf(1)
	w = pieceWriter{}
	const infBody = `{"error":"json: unsupported value: +Inf"}` + "\n" // InfluxDB 1.8.10's
	if err := WriteJSON(&w, results, FormatOptions{}); err != nil || w.all.String() != infBody {
		t.Errorf("answer holding +Inf: got %v and %q written, want %q alone", err, w.all.String(), infBody)
	}
	series[30].Values[500][1] = 1.0
	w = pieceWriter{fail: true}
	if err := WriteJSON(&w, results, FormatOptions{}); err == nil || !strings.Contains(err.Error(), "client gone") {
		t.Errorf("failing writer: got %v, want its error", err)
	}
}

// BenchmarkWriteJSONRaw encodes an answer shaped as TSBS high-cpu-all's:
// one series of 3,300 rows of a time, ten tag strings and ten integers.
func BenchmarkWriteJSONRaw(b *testing.B) {
	cols := []string{"time"}
	var rows [][]any
	for i := range 3300 {
		row := []any{int64(1451606400e9) + int64(i)*10e9}
		for tg := range 10 {
			row = append(row, fmt.Sprintf("tag_%d_value_%d", tg, i/330))
		}
		for f := range 10 {
			row = append(row, int64(i*7+f)%100)
		}
		rows = append(rows, row)
	}
	for tg := range 10 {
		cols = append(cols, fmt.Sprintf("tag_%d", tg))
	}
	for f := range 10 {
		cols = append(cols, fmt.Sprintf("usage_%d", f))
	}
	results := []*Result{{Series: []*Row{{Name: "cpu", Columns: cols, Values: rows, hasTime: true}}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteJSON(io.Discard, results, FormatOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUTCDateMatchesAppendFormat checks the cached-date RFC3339Nano
// writer against time.Time.AppendFormat over times in and out of order,
// across days, with and without fractions, up to the last int64.
func TestUTCDateMatchesAppendFormat(t *testing.T) {
	ts := []int64{0, 1, 999999999, 1e9, nsPerDay - 1, nsPerDay, nsPerDay + 1, 1451606400e9, 1451606400e9 + 100,
		1767225600123456789, 1767225600120000000, math.MaxInt64, math.MaxInt64 - nsPerDay, 951782400e9 - 1, 951782400e9}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		switch r.IntN(3) {
		case 0:
			ts = append(ts, r.Int64())
		case 1:
			ts = append(ts, r.Int64N(4e18)/1e9*1e9) // whole seconds
		default:
			ts = append(ts, ts[len(ts)-1]+r.Int64N(30e9)) // the next row
		}
	}
	var d utcDate
	for _, x := range ts {
		got := string(d.appendRFC3339Nano(nil, x))
		if want := time.Unix(0, x).UTC().Format(time.RFC3339Nano); got != want {
			t.Fatalf("time %d: got %s, want %s", x, got, want)
		}
	}
}

// TestJSONRepeatedStringsMatchEncodingJSON checks columns of strings as
// raw answers hold them (a tag's value repeated, changing, escaped, and
// mixed with other types) against encoding/json.
func TestJSONRepeatedStringsMatchEncodingJSON(t *testing.T) {
	vals := []any{"a", "a", "b<>", "b<>", "", "", nil, "q\"x", int64(3), "q\"x", "\xff", "\xff", "é", "a"}
	var rows [][]any
	for i := range 40 {
		rows = append(rows, []any{vals[i%len(vals)], vals[(i/3)%len(vals)], "fixed", vals[(i*5)%len(vals)]})
	}
	got, err := appendJSONValues(nil, rows, timeFormat{}, nil)
	if err != nil {
		t.Fatalf("appendJSONValues: %v", err)
	}
	want, err := json.Marshal(rows)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	if string(got) != string(want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
