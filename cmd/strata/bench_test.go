package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/strata-db/strata/loadgen"
)

// benchSink is a /write and /query endpoint that counts the lines it gets
// and can fail every write with one status.
type benchSink struct {
	*httptest.Server
	failStatus int

	mu          sync.Mutex // protects the fields below
	lines       int
	writes      int
	gzipped     int
	consistency []string
	queries     []string
}

func newBenchSink(t *testing.T) *benchSink {
	t.Helper()
	s := &benchSink{}
	mux := http.NewServeMux()
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		gz := r.Header.Get("Content-Encoding") == "gzip"
		if gz {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, `{"error":"bad gzip"}`, http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, `{"error":"read"}`, http.StatusBadRequest)
			return
		}
		if s.failStatus != 0 {
			http.Error(w, `{"error":"sink says no"}`, s.failStatus)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.writes++
		if gz {
			s.gzipped++
		}
		s.lines += bytes.Count(raw, []byte("\n"))
		s.consistency = append(s.consistency, r.URL.Query().Get("consistency"))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.queries = append(s.queries, r.FormValue("q"))
		s.mu.Unlock()
		io.WriteString(w, `{"results":[{"statement_id":0}]}`)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// runBenchCmd runs `strata bench args...` and returns its stdout, stderr
// and error.
func runBenchCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newBenchCommand()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

func TestBenchGenerated(t *testing.T) {
	sink := newBenchSink(t)
	stdout, stderr, err := runBenchCmd(t, "--url", sink.URL, "--db", "b1", "--hosts", "10", "--interval", "10s",
		"--duration", "10m", "--batch-size", "100", "--workers", "2", "--consistency", "all", "--gzip", "--progress", "plain")
	if err != nil {
		t.Fatalf("bench: %v\nstderr: %s", err, stderr)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.lines != 600 || sink.writes != 6 || sink.gzipped != 6 {
		t.Errorf("sink got %d lines in %d writes (%d gzipped), want 600 in 6 (6 gzipped)", sink.lines, sink.writes, sink.gzipped)
	}
	for _, c := range sink.consistency {
		if c != "all" {
			t.Errorf("consistency = %q, want all", c)
		}
	}
	if len(sink.queries) != 1 || sink.queries[0] != `CREATE DATABASE "b1"` {
		t.Errorf("queries = %q, want one CREATE DATABASE \"b1\"", sink.queries)
	}
	for _, want := range []string{"600 lines, 6000 values", "ceiling", "rate/ceiling"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "loaded generated cpu data (10 hosts") {
		t.Errorf("stderr lacks the load report:\n%s", stderr)
	}
}

func TestBenchFileJSON(t *testing.T) {
	sink := newBenchSink(t)
	path := filepath.Join(t.TempDir(), "data.lp")
	if err := os.WriteFile(path, []byte("m,t=a x=1i,y=2i 1\nm,t=b x=3i 2\nm,t=c x=4i 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runBenchCmd(t, "--url", sink.URL, "--file", path, "--batch-size", "2",
		"--create-db=false", "--ceiling=false", "--json", "--progress", "off")
	if err != nil {
		t.Fatalf("bench: %v\nstderr: %s", err, stderr)
	}
	var sum struct {
		Lines   int64          `json:"lines"`
		Values  int64          `json:"values"`
		Batches int64          `json:"batches"`
		Ceiling map[string]any `json:"ceiling"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, stdout)
	}
	if sum.Lines != 3 || sum.Values != 4 || sum.Batches != 2 || sum.Ceiling != nil {
		t.Errorf("summary = %+v, want 3 lines, 4 values, 2 batches, no ceiling", sum)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.queries) != 0 {
		t.Errorf("queries = %q, want none with --create-db=false", sink.queries)
	}
}

func TestBenchFailsOnWriteErrors(t *testing.T) {
	sink := newBenchSink(t)
	sink.failStatus = http.StatusInternalServerError
	stdout, _, err := runBenchCmd(t, "--url", sink.URL, "--hosts", "2", "--duration", "1m", "--batch-size", "5",
		"--ceiling=false", "--progress", "off", "--retries", "1", "--retry-backoff", "1ms")
	if !errors.Is(err, loadgen.ErrWriteFailed) {
		t.Fatalf("bench error = %v, want ErrWriteFailed", err)
	}
	for _, want := range []string{"3 failed batches, 3 retries", "HTTP 500   3 batches", "sink says no"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
}

func TestBenchFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"file with hosts", []string{"--file", "x.lp", "--hosts", "3"}, "--hosts"},
		{"bad consistency", []string{"--consistency", "most"}, "consistency"},
		{"bad duration", []string{"--duration", "soon"}, "--duration"},
		{"bad progress", []string{"--progress", "loud"}, "--progress"},
		{"missing file", []string{"--file", "/nonexistent/x.lp"}, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--url", "http://127.0.0.1:1", "--ceiling=false"}, tc.args...)
			_, _, err := runBenchCmd(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("bench %v: error %v, want one mentioning %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestBenchQueries(t *testing.T) {
	a, b := newBenchSink(t), newBenchSink(t)
	stdout, stderr, err := runBenchCmd(t, "--queries", "lastpoint,high-cpu-1", "--url", a.URL, "--compare-url", b.URL,
		"--labels", "strata,influxd", "--db", "tsbs", "--hosts", "10", "--duration", "24h", "--query-count", "3", "--progress", "off")
	if err != nil {
		t.Fatalf("bench --queries: %v\nstderr: %s", err, stderr)
	}
	for _, s := range []*benchSink{a, b} {
		s.mu.Lock()
		n, writes := len(s.queries), s.writes
		s.mu.Unlock()
		// 3 timed queries of each type and one answer check.
		if n != 8 || writes != 0 {
			t.Errorf("a server got %d queries and %d writes, want 8 and none", n, writes)
		}
	}
	for _, want := range []string{"strata mean ms", "influxd p99", "mean strata/influxd", "lastpoint", "high-cpu-1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	if _, _, err := runBenchCmd(t, "--queries", "all", "--url", a.URL, "--file", "x.lp"); err == nil || !strings.Contains(err.Error(), "--file") {
		t.Errorf("--queries with --file: err = %v, want one naming --file", err)
	}
	if _, _, err := runBenchCmd(t, "--queries", "nope", "--url", a.URL); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown query type: err = %v, want one naming it", err)
	}
	stdout, _, err = runBenchCmd(t, "--queries", "lastpoint", "--mixed", "--workers", "4", "--url", a.URL, "--db", "tsbs", "--query-count", "2")
	if err != nil || !strings.Contains(stdout, "p99 with 4 clients / mean with 1 client") {
		t.Errorf("bench --mixed: %v\n%s", err, stdout)
	}
}
