package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Summary is the outcome of a run. Counts cover accepted batches only,
// except BatchesFailed and Errors.
type Summary struct {
	// URL, Database, Consistency, Workers, BatchSize and Gzip echo the
	// configuration of the run.
	URL         string `json:"url"`
	Database    string `json:"db"`
	Consistency string `json:"consistency,omitempty"`
	Workers     int    `json:"workers"`
	BatchSize   int    `json:"batch_size"`
	Gzip        bool   `json:"gzip"`
	// Batches is the number of accepted batches (2xx answer).
	Batches int64 `json:"batches"`
	// BatchesFailed is the number of batches that failed after retries.
	BatchesFailed int64 `json:"batches_failed"`
	// Lines and Values were accepted by the server.
	Lines  int64 `json:"lines"`
	Values int64 `json:"values"`
	// WireBytes were sent in accepted bodies; RawBytes is their
	// uncompressed size.
	WireBytes int64 `json:"wire_bytes"`
	RawBytes  int64 `json:"raw_bytes"`
	// Retries counts resent requests.
	Retries int64 `json:"retries"`
	// WorkloadLines is how many lines the run meant to send.
	WorkloadLines int64 `json:"workload_lines"`
	// Elapsed is the wall time of the load, from the first request to the
	// last answer.
	Elapsed time.Duration `json:"-"`
	// ClientCPU is the CPU time this process used during the run (Linux
	// only, else 0): the load generator's own share of a shared machine.
	ClientCPU time.Duration `json:"-"`
	// ValuesPerSec, LinesPerSec and WireMBPerSec are means over Elapsed.
	ValuesPerSec float64 `json:"values_per_sec"`
	LinesPerSec  float64 `json:"lines_per_sec"`
	WireMBPerSec float64 `json:"wire_mb_per_sec"`
	// Latency summarises the accepted batches' latencies.
	Latency Latency `json:"latency_ms"`
	// Errors counts failed batches by HTTP status, in status order.
	Errors []StatusCount `json:"errors,omitempty"`
	// FirstError is the first failure, with the start of its answer body.
	FirstError string `json:"first_error,omitempty"`
	// Interrupted says the run was cancelled before every batch was sent.
	Interrupted bool `json:"interrupted"`
	// Ceiling is set by the caller when it measured one (MeasureCeiling).
	Ceiling *Ceiling `json:"ceiling,omitempty"`
}

// Latency holds batch latency statistics over accepted batches (the
// successful attempt, from sending the request to reading the answer).
// Percentiles are exact within about 3%.
type Latency struct {
	P50, P90, P99, Max, Mean time.Duration
}

// MarshalJSON writes the latencies as milliseconds.
func (l Latency) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return json.Marshal(map[string]float64{
		"p50": ms(l.P50), "p90": ms(l.P90), "p99": ms(l.P99), "max": ms(l.Max), "mean": ms(l.Mean),
	})
}

// StatusCount is how many batches failed with one HTTP status; Status 0
// means no answer (connection refused, reset, timeout).
type StatusCount struct {
	Status  int   `json:"status"`
	Batches int64 `json:"batches"`
}

// Ratio is ValuesPerSec over the ceiling's rate, or 0 without a ceiling.
func (s *Summary) Ratio() float64 {
	if s.Ceiling == nil || s.Ceiling.ValuesPerSec <= 0 {
		return 0
	}
	return s.ValuesPerSec / s.Ceiling.ValuesPerSec
}

// WriteJSON writes the summary as one indented JSON object.
func (s *Summary) WriteJSON(w io.Writer) error {
	type out struct {
		*Summary
		ElapsedSeconds   float64 `json:"elapsed_seconds"`
		ClientCPUSeconds float64 `json:"client_cpu_seconds,omitempty"`
		CeilingRatio     float64 `json:"ceiling_ratio,omitempty"`
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out{Summary: s, ElapsedSeconds: s.Elapsed.Seconds(), ClientCPUSeconds: s.ClientCPU.Seconds(), CeilingRatio: s.Ratio()}); err != nil {
		return fmt.Errorf("write json summary: %w", err)
	}
	return nil
}

// WriteText writes the human summary.
func (s *Summary) WriteText(w io.Writer) error {
	p := &errWriter{w: w}
	state := "complete"
	if s.Interrupted {
		state = fmt.Sprintf("INTERRUPTED (%d of %d lines sent)", s.Lines, s.WorkloadLines)
	}
	p.printf("strata bench: %s\n", state)
	p.printf("  target      %s db=%s consistency=%s workers=%d batch-size=%d gzip=%t\n",
		s.URL, s.Database, orDefault(s.Consistency), s.Workers, s.BatchSize, s.Gzip)
	p.printf("  written     %d lines, %d values in %d batches (%.1f MB on the wire) in %s\n",
		s.Lines, s.Values, s.Batches, float64(s.WireBytes)/1e6, s.Elapsed.Round(time.Millisecond))
	p.printf("  rate        %s values/s, %s lines/s, %.1f MB/s (mean over the run)\n",
		humanRate(s.ValuesPerSec), humanRate(s.LinesPerSec), s.WireMBPerSec)
	if s.ClientCPU > 0 && s.Elapsed > 0 {
		p.printf("  client cpu  %s (%.2f cores): what the load generator itself used\n",
			s.ClientCPU.Round(time.Millisecond), s.ClientCPU.Seconds()/s.Elapsed.Seconds())
	}
	if c := s.Ceiling; c != nil {
		p.printf("  ceiling     %s values/s: line-protocol/v2 decode of the same data on one core, this run; rate/ceiling = %.2f\n",
			humanRate(c.ValuesPerSec), s.Ratio())
	}
	p.printf("  latency     p50 %s  p90 %s  p99 %s  max %s  mean %s\n",
		formatLatency(s.Latency.P50), formatLatency(s.Latency.P90), formatLatency(s.Latency.P99),
		formatLatency(s.Latency.Max), formatLatency(s.Latency.Mean))
	p.printf("  errors      %d failed batches, %d retries\n", s.BatchesFailed, s.Retries)
	for _, e := range s.Errors {
		if e.Status == 0 {
			p.printf("    no answer  %d batches\n", e.Batches)
		} else {
			p.printf("    HTTP %d   %d batches\n", e.Status, e.Batches)
		}
	}
	if s.FirstError != "" {
		p.printf("  first error %s\n", s.FirstError)
	}
	return p.err
}

func orDefault(s string) string {
	if s == "" {
		return "(server default)"
	}
	return s
}

// errWriter keeps the first write error so a run of printf calls can be
// checked once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	if _, err := fmt.Fprintf(e.w, format, args...); err != nil {
		e.err = fmt.Errorf("write summary: %w", err)
	}
}
