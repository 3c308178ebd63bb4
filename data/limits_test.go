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
	dto "github.com/prometheus/client_model/go"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/internal/nodeauth"
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
	gauges := func() (active, queued float64) {
		var a, q dto.Metric
		if err := h.metrics.writesActive.Write(&a); err != nil {
			t.Fatal(err)
		}
		if err := h.metrics.writesQueued.Write(&q); err != nil {
			t.Fatal(err)
		}
		return a.GetGauge().GetValue(), q.GetGauge().GetValue()
	}
	if active, queued := gauges(); active != 1 || queued != 1 {
		t.Errorf("writes active %v, queued %v; want 1 and 1", active, queued)
	}
	close(bw.release)
	if got := <-first; got != 204 {
		t.Errorf("first write: %d; want 204", got)
	}
	if got := <-queued; got != 204 && got != 503 {
		t.Errorf("queued write: %d; want 204 (or 503 if it timed out on a slow machine)", got)
	}
	if active, queued := gauges(); active != 0 || queued != 0 {
		t.Errorf("after the writes: writes active %v, queued %v; want 0 and 0", active, queued)
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

// peerLimitServer serves a handler behind limitPerPeer(max) as the RPC
// server is wired (key verifying requests and naming their node; nil: no
// secret). A request to /block waits, after sending its name on entered,
// until unblock is called (at the latest when the test ends).
type peerLimitServer struct {
	url string
	ln  *peerLimitListener
	// reg holds the refused connections counter.
	reg     *prometheus.Registry
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	// blocked tracks the requests block started.
	blocked sync.WaitGroup
}

func newPeerLimitServer(t *testing.T, max int, key *nodeauth.Key) *peerLimitServer {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &peerLimitServer{reg: prometheus.NewRegistry(), entered: make(chan struct{}, 16), release: make(chan struct{})}
	refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"})
	s.reg.MustRegister(refused)
	s.ln = limitPerPeer(raw, max, refused).(*peerLimitListener)
	srv := &http.Server{ConnContext: withPeerConn, Handler: key.Handler(identifyPeers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			s.entered <- struct{}{}
			<-s.release
		}
		io.WriteString(w, "ok")
	}), key.Identity), nil)}
	go srv.Serve(s.ln)
	t.Cleanup(func() { srv.Close() })
	t.Cleanup(s.unblock) // first: answers the blocked requests
	s.url = "http://" + s.ln.Addr().String()
	return s
}

// unblock answers every blocked request and waits for their clients.
func (s *peerLimitServer) unblock() {
	s.once.Do(func() { close(s.release) })
	s.blocked.Wait()
}

// waitClosed waits until the server has closed every connection counted
// against peer (a client sees an answer before the server closes).
func (s *peerLimitServer) waitClosed(t *testing.T, peer string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.ln.mu.Lock()
		n := s.ln.open[peer]
		s.ln.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections of %s still open after 10s", n, peer)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// get sends one request on a new connection, signed as node identity with
// key (when not nil), and returns the answer's status and body.
func (s *peerLimitServer) get(key *nodeauth.Key, identity, path string) (int, string, error) {
	client := &http.Client{Transport: key.TransportAs(&http.Transport{DisableKeepAlives: true}, identity), Timeout: 10 * time.Second}
	resp, err := client.Get(s.url + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// block starts n requests to /block from node identity and waits until
// they are all being served; each must be answered 200 once unblocked.
func (s *peerLimitServer) block(t *testing.T, key *nodeauth.Key, identity string, n int) {
	t.Helper()
	for range n {
		s.blocked.Go(func() {
			if code, body, err := s.get(key, identity, "/block"); err != nil || code != 200 {
				t.Errorf("admitted request of node %q: %d %s %v; want 200", identity, code, body, err)
			}
		})
	}
	for range n {
		select {
		case <-s.entered:
		case <-time.After(10 * time.Second):
			t.Fatalf("a request of node %q was not admitted within 10s", identity)
		}
	}
}

// TestPeerConnectionLimit checks rpc-max-conns-per-peer on a listener: a
// peer's connections past the limit are answered 503 with a JSON error
// naming it, the admitted ones keep working, and a closed connection frees
// its place.
func TestPeerConnectionLimit(t *testing.T) {
	s := newPeerLimitServer(t, 2, nil)
	s.block(t, nil, "", 2)
	code, body, err := s.get(nil, "", "/")
	if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, `"code":"too_many_connections"`) ||
		!strings.Contains(body, "rpc-max-conns-per-peer is 2") {
		t.Errorf("third connection: %d %s %v; want 503 with the code and the limit", code, body, err)
	}
	if mfs, err := s.reg.Gather(); err != nil || len(mfs) != 1 || mfs[0].GetMetric()[0].GetCounter().GetValue() < 1 {
		t.Errorf("refused counter %v (%v); want at least 1", mfs, err)
	}
	s.unblock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, err := s.get(nil, "", "/")
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the blocked requests ended: %d %v; want 200", code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPeerConnectionLimitPerNode checks that connections whose requests
// name a node (signed with the cluster secret) count against that node,
// not their IP: two nodes on one address each get the whole limit, a
// node past it is refused by name, and a connection naming no node still
// counts against its IP.
func TestPeerConnectionLimitPerNode(t *testing.T) {
	key := nodeauth.New("s3cret")
	s := newPeerLimitServer(t, 2, key)
	s.block(t, key, "1", 2)
	s.block(t, key, "2", 2)
	code, body, err := s.get(key, "1", "/")
	if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, `"code":"too_many_connections"`) ||
		!strings.Contains(body, "too many connections from node 1: rpc-max-conns-per-peer is 2") {
		t.Errorf("third connection of node 1: %d %s %v; want 503 naming node 1 and the limit", code, body, err)
	}
	s.waitClosed(t, "127.0.0.1") // the refused connection
	if code, body, err := s.get(key, "", "/"); err != nil || code != 200 {
		t.Errorf("connection naming no node, while its IP has none open: %d %s %v; want 200", code, body, err)
	}
	s.waitClosed(t, "127.0.0.1")
	s.block(t, key, "", 2)
	if code, body, err := s.get(key, "", "/"); err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, "too many connections from 127.0.0.1") {
		t.Errorf("third connection naming no node: %d %s %v; want 503 naming the IP", code, body, err)
	}
}
