package query

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
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
	got, err := json.Marshal(jsonValues(rows))
	if err != nil {
		t.Fatalf("marshal jsonValues: %v", err)
	}
	want, err := json.Marshal(rows)
	if err != nil {
		t.Fatalf("marshal [][]any: %v", err)
	}
	if string(got) != string(want) {
		t.Fatalf("jsonValues encoding differs from encoding/json:\n got %s\nwant %s", got, want)
	}
	if got, err := json.Marshal(jsonValues{}); err != nil || string(got) != "[]" {
		t.Errorf("empty rows: got %s, %v; want []", got, err)
	}
	if _, err := json.Marshal(jsonValues{{math.NaN()}}); err == nil {
		t.Error("NaN encoded without error; encoding/json refuses it")
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
// against encoding/json on results using every optional part.
func TestJSONResponseMatchesEncodingJSON(t *testing.T) {
	resp := jsonResponse{Results: []jsonResult{
		{StatementID: 0},
		{StatementID: 1, Err: "bad <query> & \"more\""},
		{StatementID: 2, Messages: []*Message{{Level: "warning", Text: "deprecated <x>"}}, Partial: true, Series: []jsonRow{
			{Name: "cpu", Tags: map[string]string{"z": "1", "a": "é<", "m": ""}, Columns: []string{"time", "v"}, Values: jsonValues{{"2026-01-01T00:00:00Z", 1.5}, {"x", nil}}, Partial: true},
			{Columns: nil},
			{Name: "m", Columns: []string{}, Values: jsonValues{}},
		}},
	}}
	var want bytes.Buffer
	if err := encodeJSON(&want, resp, false); err != nil {
		t.Fatal(err)
	}
	got, err := appendJSONResponse(nil, &resp)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Fatalf("direct JSON differs from encoding/json:\n got %s\nwant %s", got, want.String())
	}
}
