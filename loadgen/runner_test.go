package loadgen_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/loadgen"
)

func newRunner(t *testing.T, cfg loadgen.Config, opts loadgen.RunnerOptions) *loadgen.Runner {
	t.Helper()
	r, err := loadgen.NewRunner(cfg, opts)
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func testConfig(url string) loadgen.Config {
	cfg := loadgen.NewConfig()
	cfg.URL = url
	cfg.Database = "bench"
	cfg.Workers = 3
	cfg.BatchSize = 7
	cfg.RetryBackoff = time.Millisecond
	return cfg
}

// TestRunDelivers sends generated data, plain and gzipped, and checks the
// server decoded every line and value, in batches of the requested size,
// with the query parameters passed through.
func TestRunDelivers(t *testing.T) {
	for _, gz := range []bool{false, true} {
		name := "plain"
		if gz {
			name = "gzip"
		}
		t.Run(name, func(t *testing.T) {
			srv := newFakeServer(t)
			cfg := testConfig(srv.URL)
			cfg.Gzip = gz
			cfg.Consistency = "quorum"
			cfg.RetentionPolicy = "autogen"
			cfg.Precision = "ns"
			gen := smallCPU()
			w, err := loadgen.GenerateCPU(gen, cfg.BatchSize)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for _, b := range w.Batches {
				want = append(want, b.Body...)
			}
			if gz {
				if err := w.Compress(); err != nil {
					t.Fatal(err)
				}
			}
			r := newRunner(t, cfg, loadgen.RunnerOptions{})
			sum, err := r.Run(context.Background(), w)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if srv.lines != 30 || srv.values != 300 {
				t.Errorf("server got %d lines %d values, want 30, 300", srv.lines, srv.values)
			}
			if sum.Lines != 30 || sum.Values != 300 || sum.Batches != 5 || sum.BatchesFailed != 0 {
				t.Errorf("summary: %d lines %d values %d batches %d failed, want 30, 300, 5, 0",
					sum.Lines, sum.Values, sum.Batches, sum.BatchesFailed)
			}
			sevens := 0
			for _, n := range srv.batchLines {
				switch n {
				case 7:
					sevens++
				case 2:
				default:
					t.Errorf("server got a batch of %d lines, want 7 (or the 2-line tail)", n)
				}
			}
			if sevens != 4 {
				t.Errorf("got %d batches of 7 lines, want 4", sevens)
			}
			for i, p := range srv.params {
				if p.Get("db") != "bench" || p.Get("consistency") != "quorum" || p.Get("rp") != "autogen" || p.Get("precision") != "ns" {
					t.Errorf("request %d params = %v, want db=bench consistency=quorum rp=autogen precision=ns", i, p)
				}
			}
			for i, e := range srv.encodings {
				if gz != (e == "gzip") {
					t.Errorf("request %d Content-Encoding = %q, want gzip=%t", i, e, gz)
				}
			}
			// Every body arrived intact (in some order across workers).
			got := bytes.Join(srv.bodies, nil)
			if len(got) != len(want) {
				t.Errorf("server got %d bytes of line protocol, want %d", len(got), len(want))
			}
			if runtime.GOOS == "linux" && sum.ClientCPU <= 0 {
				t.Errorf("ClientCPU = %s, want > 0 on linux", sum.ClientCPU)
			}
			if sum.Latency.P50 <= 0 || sum.Latency.P99 < sum.Latency.P50 || sum.Latency.Max < sum.Latency.P99 {
				t.Errorf("latency p50 %s p99 %s max %s, want 0 < p50 <= p99 <= max", sum.Latency.P50, sum.Latency.P99, sum.Latency.Max)
			}
		})
	}
}

// TestRunFailures checks failed batches are counted by status, the first
// error body is kept, and Run returns ErrWriteFailed.
func TestRunFailures(t *testing.T) {
	srv := newFakeServer(t)
	srv.fail = func(n int64) int {
		switch n {
		case 2:
			return http.StatusInternalServerError
		case 4, 5:
			return http.StatusBadRequest
		}
		return 0
	}
	cfg := testConfig(srv.URL)
	cfg.Workers = 1 // deterministic request order
	w, err := loadgen.GenerateCPU(smallCPU(), cfg.BatchSize)
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, cfg, loadgen.RunnerOptions{})
	sum, err := r.Run(context.Background(), w)
	if !errors.Is(err, loadgen.ErrWriteFailed) {
		t.Fatalf("Run error = %v, want ErrWriteFailed", err)
	}
	if errors.Is(err, loadgen.ErrInterrupted) {
		t.Errorf("Run error = %v, want no ErrInterrupted", err)
	}
	if sum.BatchesFailed != 3 || sum.Batches != 2 {
		t.Errorf("batches ok %d failed %d, want 2, 3", sum.Batches, sum.BatchesFailed)
	}
	want := []loadgen.StatusCount{{Status: 400, Batches: 2}, {Status: 500, Batches: 1}}
	if len(sum.Errors) != 2 || sum.Errors[0] != want[0] || sum.Errors[1] != want[1] {
		t.Errorf("errors by status = %v, want %v", sum.Errors, want)
	}
	if !strings.Contains(sum.FirstError, "500") || !strings.Contains(sum.FirstError, "injected failure 2") {
		t.Errorf("first error = %q, want the 500 answer of request 2 with its body", sum.FirstError)
	}
	if sum.Interrupted {
		t.Error("Interrupted = true, want false: every batch was attempted")
	}
}

// TestRunRetries checks 5xx answers are retried until they succeed and
// 4xx answers are not retried.
func TestRunRetries(t *testing.T) {
	srv := newFakeServer(t)
	srv.fail = func(n int64) int {
		switch n {
		case 1, 2:
			return http.StatusServiceUnavailable // retried twice, then accepted
		case 4:
			return http.StatusBadRequest // final
		}
		return 0
	}
	cfg := testConfig(srv.URL)
	cfg.Workers = 1
	cfg.Retries = 3
	w, err := loadgen.GenerateCPU(smallCPU(), cfg.BatchSize)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := newRunner(t, cfg, loadgen.RunnerOptions{}).Run(context.Background(), w)
	if !errors.Is(err, loadgen.ErrWriteFailed) {
		t.Fatalf("Run error = %v, want ErrWriteFailed for the 400", err)
	}
	if sum.Retries != 2 || sum.BatchesFailed != 1 || sum.Batches != 4 {
		t.Errorf("retries %d failed %d ok %d, want 2, 1, 4", sum.Retries, sum.BatchesFailed, sum.Batches)
	}
	if got := srv.writes.Load(); got != 7 {
		t.Errorf("server saw %d write requests, want 7 (5 batches + 2 retries)", got)
	}
}

func TestRunConnectionRefused(t *testing.T) {
	srv := newFakeServer(t)
	url := srv.URL
	srv.Close()
	cfg := testConfig(url)
	w, err := loadgen.GenerateCPU(smallCPU(), cfg.BatchSize)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := newRunner(t, cfg, loadgen.RunnerOptions{}).Run(context.Background(), w)
	if !errors.Is(err, loadgen.ErrWriteFailed) {
		t.Fatalf("Run error = %v, want ErrWriteFailed", err)
	}
	if len(sum.Errors) != 1 || sum.Errors[0].Status != 0 || sum.Errors[0].Batches != 5 {
		t.Errorf("errors = %v, want 5 batches with no answer (status 0)", sum.Errors)
	}
}

// TestRunInterrupted cancels the context mid-run: batches in flight finish,
// no new one starts, and Run says it was interrupted.
func TestRunInterrupted(t *testing.T) {
	srv := newFakeServer(t)
	srv.delay = 20 * time.Millisecond
	cfg := testConfig(srv.URL)
	cfg.Workers = 2
	cfg.BatchSize = 1
	w, err := loadgen.GenerateCPU(smallCPU(), cfg.BatchSize) // 30 batches: >= 300ms
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	sum, err := newRunner(t, cfg, loadgen.RunnerOptions{}).Run(ctx, w)
	if !errors.Is(err, loadgen.ErrInterrupted) || errors.Is(err, loadgen.ErrWriteFailed) {
		t.Fatalf("Run error = %v, want ErrInterrupted only", err)
	}
	if !sum.Interrupted || sum.Batches == 0 || sum.Batches >= 30 || sum.BatchesFailed != 0 {
		t.Errorf("interrupted %t, %d ok %d failed; want true, 0 < ok < 30, 0 failed", sum.Interrupted, sum.Batches, sum.BatchesFailed)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if int64(srv.lines) != sum.Lines {
		t.Errorf("server accepted %d lines, summary says %d", srv.lines, sum.Lines)
	}
}

func TestCreateDatabase(t *testing.T) {
	srv := newFakeServer(t)
	cfg := testConfig(srv.URL)
	cfg.Database = `my "db"`
	if err := newRunner(t, cfg, loadgen.RunnerOptions{}).CreateDatabase(context.Background()); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	cfg.Database = "forbidden"
	err := newRunner(t, cfg, loadgen.RunnerOptions{}).CreateDatabase(context.Background())
	var he *loadgen.HTTPError
	if !errors.As(err, &he) || !strings.Contains(he.Body, "forbidden") {
		t.Errorf("CreateDatabase(forbidden) = %v, want an HTTPError carrying the statement error", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	want := []string{`CREATE DATABASE "my \"db\""`, `CREATE DATABASE "forbidden"`}
	if len(srv.queries) != 2 || srv.queries[0] != want[0] || srv.queries[1] != want[1] {
		t.Errorf("queries = %q, want %q", srv.queries, want)
	}
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunProgress(t *testing.T) {
	for _, tty := range []bool{false, true} {
		srv := newFakeServer(t)
		srv.delay = 5 * time.Millisecond
		cfg := testConfig(srv.URL)
		cfg.Workers = 1
		cfg.BatchSize = 1
		var out syncBuffer
		r := newRunner(t, cfg, loadgen.RunnerOptions{Progress: &out, ProgressTTY: tty, ProgressInterval: 20 * time.Millisecond})
		w, err := loadgen.GenerateCPU(smallCPU(), cfg.BatchSize)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(context.Background(), w); err != nil {
			t.Fatalf("Run: %v", err)
		}
		s := out.String()
		for _, want := range []string{"values/s", "lines/s", "errors 0", "p50 ", "p99 ", "%]"} {
			if !strings.Contains(s, want) {
				t.Errorf("tty=%t: progress output %q lacks %q", tty, s, want)
			}
		}
		if tty && (!strings.HasPrefix(s, "\r") || !strings.HasSuffix(s, "\n") || !strings.Contains(s, "[100.0%]")) {
			t.Errorf("tty progress %q: want \\r-rewritten line ending at 100%% and a newline", s)
		}
		if !tty && (strings.Contains(s, "\r") || !strings.HasSuffix(s, "\n")) {
			t.Errorf("plain progress %q: want newline-terminated lines without \\r", s)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*loadgen.Config)
	}{
		{"bad scheme", func(c *loadgen.Config) { c.URL = "ftp://x" }},
		{"no host", func(c *loadgen.Config) { c.URL = "http://" }},
		{"no db", func(c *loadgen.Config) { c.Database = "" }},
		{"no workers", func(c *loadgen.Config) { c.Workers = 0 }},
		{"no batch", func(c *loadgen.Config) { c.BatchSize = 0 }},
		{"no timeout", func(c *loadgen.Config) { c.Timeout = 0 }},
		{"negative retries", func(c *loadgen.Config) { c.Retries = -1 }},
		{"bad consistency", func(c *loadgen.Config) { c.Consistency = "most" }},
		{"bad precision", func(c *loadgen.Config) { c.Precision = "d" }},
	}
	if err := loadgen.NewConfig().Validate(); err != nil {
		t.Fatalf("defaults: Validate() = %v, want nil", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadgen.NewConfig()
			tc.mod(&cfg)
			if err := cfg.Validate(); !errors.Is(err, loadgen.ErrInvalidConfig) {
				t.Errorf("Validate() = %v, want ErrInvalidConfig", err)
			}
		})
	}
}
