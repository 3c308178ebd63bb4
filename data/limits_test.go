package data

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// blockingWriter holds every write until release is closed.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (b *blockingWriter) WritePoints(ctx context.Context, _, _ string, _ coordinator.ConsistencyLevel, _ []models.Point) error {
	b.entered <- struct{}{}
	<-b.release
	b.mu.Lock()
	b.n++
	b.mu.Unlock()
	return nil
}

// TestWriteLimits checks max-concurrent-write-limit and
// max-enqueued-write-limit: one write runs, one waits, the next is refused
// at once with 503 and InfluxDB's message, and a waiting write past
// enqueued-write-timeout is refused too; refused writes write nothing.
func TestWriteLimits(t *testing.T) {
	h, _, _ := newTestHandler(t, func(c *Config) {
		c.HTTP.MaxConcurrentWriteLimit = 1
		c.HTTP.MaxEnqueuedWriteLimit = 1
		c.HTTP.EnqueuedWriteTimeout = meta.Duration(300 * time.Millisecond)
	})
	bw := &blockingWriter{entered: make(chan struct{}, 4), release: make(chan struct{})}
	h.writer = bw
	do := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/write?db=db0", strings.NewReader("cpu v=1 1")))
		return rec
	}
	first := make(chan int, 1)
	go func() { first <- do().Code }()
	<-bw.entered // the first write holds the only slot

	// A second write waits past the timeout: 503.
	if rec := do(); rec.Code != 503 || !strings.Contains(rec.Body.String(), msgTimeout) {
		t.Errorf("write waiting past enqueued-write-timeout: %d %s; want 503 %q", rec.Code, rec.Body, msgTimeout)
	}
	// A waiting write fills the queue; the next is refused at once.
	queued := make(chan int, 1)
	go func() { queued <- do().Code }()
	deadline := time.Now().Add(5 * time.Second)
	for h.writes.queued.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if rec := do(); rec.Code != 503 || !strings.Contains(rec.Body.String(), msgQueueFull) {
		t.Errorf("write past max-enqueued-write-limit: %d %s; want 503 %q", rec.Code, rec.Body, msgQueueFull)
	}
	close(bw.release)
	if got := <-first; got != 204 {
		t.Errorf("first write: %d; want 204", got)
	}
	if got := <-queued; got != 204 && got != 503 {
		t.Errorf("queued write: %d; want 204 (or 503 if it timed out on a slow machine)", got)
	}
	bw.mu.Lock()
	defer bw.mu.Unlock()
	if bw.n > 2 {
		t.Errorf("writes that reached the writer: %d; want at most 2", bw.n)
	}
}

// TestConnectionLimit checks that connections past max-connection-limit
// are closed at once while the admitted ones keep working, and that a
// closed connection frees its slot.
func TestConnectionLimit(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitConnections(raw, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	defer srv.Close()

	first, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(first, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if n, err := first.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "ok") {
		t.Fatalf("admitted connection: %q, %v; want an answer", buf[:n], err)
	}
	second, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := second.Read(buf); err == nil {
		t.Errorf("connection past the limit read %q; want it closed", buf[:n])
	}
	second.Close()
	first.Close()
	// The slot frees once the server closes the first connection.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + ln.Addr().String())
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection admitted after the first closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPeerConnectionLimit checks rpc-max-conns-per-peer on a listener: a
// peer's connections past the limit are answered 503 with a JSON error
// naming it, the admitted ones keep working, and a closed connection frees
// its place.
func TestPeerConnectionLimit(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"})
	reg.MustRegister(refused)
	ln := limitPerPeer(raw, 2, refused)
	entered, release := make(chan struct{}, 2), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	get := func(path string) (int, string, error) {
		resp, err := client.Get(url + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if code, body, err := get("/block"); err != nil || code != 200 {
				t.Errorf("admitted request: %d %s %v; want 200", code, body, err)
			}
		})
	}
	<-entered
	<-entered
	code, body, err := get("/")
	if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, `"code":"too_many_connections"`) ||
		!strings.Contains(body, "rpc-max-conns-per-peer is 2") {
		t.Errorf("third connection: %d %s %v; want 503 with the code and the limit", code, body, err)
	}
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 1 || mfs[0].GetMetric()[0].GetCounter().GetValue() < 1 {
		t.Errorf("refused counter %v (%v); want at least 1", mfs, err)
	}
	close(release)
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, err := get("/")
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the blocked requests ended: %d %v; want 200", code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
