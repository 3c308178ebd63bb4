package loadgen_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/loadgen"
)

func TestSummaryOutput(t *testing.T) {
	s := &loadgen.Summary{
		URL: "http://x:8086", Database: "db", Workers: 2, BatchSize: 5000,
		Batches: 10, BatchesFailed: 2, Lines: 50000, Values: 500000, WorkloadLines: 60000,
		Elapsed: 2 * time.Second, ClientCPU: time.Second, ValuesPerSec: 250000, LinesPerSec: 25000,
		Latency:     loadgen.Latency{P50: 12 * time.Millisecond, P90: 20 * time.Millisecond, P99: 30 * time.Millisecond, Max: 31 * time.Millisecond, Mean: 13 * time.Millisecond},
		Errors:      []loadgen.StatusCount{{Status: 0, Batches: 1}, {Status: 500, Batches: 1}},
		FirstError:  "write: HTTP 500: boom",
		Interrupted: true,
		Ceiling:     &loadgen.Ceiling{ValuesPerSec: 1e6, Passes: 1},
	}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"INTERRUPTED (50000 of 60000", "250.0k values/s", "rate/ceiling = 0.25",
		"p50 12.0ms", "p99 30.0ms", "2 failed batches", "no answer  1", "HTTP 500   1", "first error write: HTTP 500: boom", "client cpu  1s (0.50 cores)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("json summary does not decode: %v\n%s", err, js.String())
	}
	lat, _ := got["latency_ms"].(map[string]any)
	if got["values_per_sec"] != 250000.0 || got["elapsed_seconds"] != 2.0 || got["ceiling_ratio"] != 0.25 || lat["p99"] != 30.0 || got["batches_failed"] != 2.0 || got["client_cpu_seconds"] != 1.0 {
		t.Errorf("json summary = %s, want values_per_sec 250000, elapsed_seconds 2, ceiling_ratio 0.25, latency_ms.p99 30, batches_failed 2", js.String())
	}
}
