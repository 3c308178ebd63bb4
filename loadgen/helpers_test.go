package loadgen_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
)

// decodeCount decodes body with line-protocol/v2 and returns its lines and
// field values, or the first decode error.
func decodeCount(body []byte) (lines, values int, err error) {
	dec := lineprotocol.NewDecoderWithBytes(body)
	for dec.Next() {
		if _, err := dec.Measurement(); err != nil {
			return 0, 0, fmt.Errorf("line %d: %w", lines+1, err)
		}
		for {
			k, _, err := dec.NextTag()
			if err != nil {
				return 0, 0, fmt.Errorf("line %d: %w", lines+1, err)
			}
			if k == nil {
				break
			}
		}
		for {
			k, _, err := dec.NextField()
			if err != nil {
				return 0, 0, fmt.Errorf("line %d: %w", lines+1, err)
			}
			if k == nil {
				break
			}
			values++
		}
		if _, err := dec.Time(lineprotocol.Nanosecond, time.Time{}); err != nil {
			return 0, 0, fmt.Errorf("line %d: %w", lines+1, err)
		}
		lines++
	}
	return lines, values, nil
}

// fakeServer implements /write and /query well enough for the runner: it
// decodes every body with line-protocol/v2 and counts what it accepted.
type fakeServer struct {
	*httptest.Server
	// fail, when set, gives the status to answer request n (1-based) with
	// instead of accepting it; 0 accepts.
	fail func(n int64) int
	// delay, when set, is slept before answering each write.
	delay time.Duration

	writes atomic.Int64

	mu         sync.Mutex // protects the fields below
	lines      int
	values     int
	batchLines []int
	params     []url.Values
	encodings  []string
	queries    []string
	bodies     [][]byte
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/write", f.handleWrite)
	mux.HandleFunc("/query", f.handleQuery)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) handleWrite(w http.ResponseWriter, r *http.Request) {
	n := f.writes.Add(1)
	if r.Method != http.MethodPost {
		http.Error(w, `{"error":"method"}`, http.StatusMethodNotAllowed)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, `{"error":"bad gzip"}`, http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, `{"error":"read body"}`, http.StatusBadRequest)
		return
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if f.fail != nil {
		if status := f.fail(n); status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":"injected failure %d"}`, n)
			return
		}
	}
	lines, values, err := decodeCount(raw)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":%q}`, err.Error())
		return
	}
	f.mu.Lock()
	f.lines += lines
	f.values += values
	f.batchLines = append(f.batchLines, lines)
	f.params = append(f.params, r.URL.Query())
	f.encodings = append(f.encodings, r.Header.Get("Content-Encoding"))
	f.bodies = append(f.bodies, raw)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeServer) handleQuery(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, `{"error":"bad form"}`, http.StatusBadRequest)
		return
	}
	q := r.Form.Get("q")
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if bytes.Contains([]byte(q), []byte("forbidden")) {
		fmt.Fprint(w, `{"results":[{"statement_id":0,"error":"database name forbidden"}]}`)
		return
	}
	fmt.Fprint(w, `{"results":[{"statement_id":0}]}`)
}
