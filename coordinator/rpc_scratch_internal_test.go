package coordinator

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/strata-db/strata/internal/freelist"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

type storeFunc func(uint64, []models.Point) error

func (f storeFunc) WriteToShard(_ context.Context, id uint64, pts []models.Point) error {
	return f(id, pts)
}

type staticState struct{ d *meta.Data }

func (s staticState) Data() *meta.Data { return s.d }

// scratchBatch is n TSBS-like points (10 tags, 10 integer fields).
func scratchBatch(n int) []models.Point {
	pts := make([]models.Point, n)
	for i := range pts {
		p := &pts[i]
		p.Measurement = []byte("cpu")
		for j := range 10 {
			p.Tags = append(p.Tags, models.Tag{Key: fmt.Appendf(nil, "tag%d", j), Value: fmt.Appendf(nil, "value_%d_%d", j, i%100)})
			p.Fields = append(p.Fields, models.Field{Key: fmt.Appendf(nil, "usage_%d", j), Value: models.IntegerValue(int64(i * j))})
		}
		p.Time = int64(i/100) * 10e9
	}
	return pts
}

// allocatedBy returns the bytes fn allocates, after two GCs (which empty a
// sync.Pool).
func allocatedBy(fn func()) uint64 {
	runtime.GC()
	runtime.GC()
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func shardWriteRequest(t testing.TB, body []byte, encoding string) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, RPCShardWritePath+"?shard=1", bytes.NewReader(body))
	req.Header.Set(RPCVersionHeader, rpcVersionString)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	return req
}

// TestRPCHandler_KeepsBuffersAcrossGC guards the steady state of the
// receiving node: with the GC running between requests (every ~100 ms on
// a loaded data node), a request must not allocate its body, decoded body
// and decoder arrays again.
func TestRPCHandler_KeepsBuffersAcrossGC(t *testing.T) {
	// The measured requests carry a slightly larger batch than the first:
	// buffers are grown with headroom, not to the exact size.
	pts := scratchBatch(2000)
	raw := AppendPoints(nil, pts)
	comp := s2.Encode(nil, raw)
	next := scratchBatch(2080)
	nextRaw := AppendPoints(nil, next)
	nextComp := s2.Encode(nil, nextRaw)
	var stored int
	h := NewRPCHandler(NewConfig(), storeFunc(func(_ uint64, p []models.Point) error { stored = len(p); return nil }), nil, nil)
	for _, enc := range []string{"", RPCEncodingS2} {
		body := raw
		if enc != "" {
			body = comp
		}
		serve := func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, shardWriteRequest(t, body, enc))
			if w.Code != http.StatusNoContent || stored != len(pts) {
				t.Fatalf("encoding %q: status %d, stored %d points: %s", enc, w.Code, stored, w.Body)
			}
		}
		serve()
		// Requests (and their bodies) are built outside the measurement.
		body = nextRaw
		if enc != "" {
			body = nextComp
		}
		reqs := make([]*http.Request, 3)
		for i := range reqs {
			reqs[i] = shardWriteRequest(t, body, enc)
		}
		for i, req := range reqs {
			w := httptest.NewRecorder()
			n := allocatedBy(func() { h.ServeHTTP(w, req) })
			if w.Code != http.StatusNoContent || stored != len(next) {
				t.Fatalf("status %d, stored %d points: %s", w.Code, stored, w.Body)
			}
			// The batch is 2,000 points; the decoder arrays alone are
			// ~2.4 MB. What is left is the response and metrics.
			if n > 64<<10 {
				t.Errorf("encoding %q, request %d after 2 GCs: allocated %d bytes (raw batch %d bytes), want < 64 KiB", enc, i, n, len(raw))
			}
		}
	}
}

// TestRPCHandler_ScratchRelease checks what an idle scratch keeps: no
// reference into the last body, and nothing grown past the idle limits.
func TestRPCHandler_ScratchRelease(t *testing.T) {
	h := NewRPCHandler(NewConfig(), storeFunc(func(uint64, []models.Point) error { return nil }), nil, nil)
	serve := func(pts []models.Point) {
		t.Helper()
		raw := AppendPoints(nil, pts)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, shardWriteRequest(t, s2.Encode(nil, raw), RPCEncodingS2))
		if w.Code != http.StatusNoContent {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	idle := func() *recvScratch {
		t.Helper()
		if h.scratch.Idle() != 1 {
			t.Fatalf("%d idle scratches, want 1", h.scratch.Idle())
		}
		sc := h.scratch.TryGet()
		h.scratch.Put(sc)
		return sc
	}

	serve(scratchBatch(100))
	sc := idle()
	if cap(sc.body) == 0 || cap(sc.decoded) == 0 || cap(sc.points) == 0 {
		t.Fatalf("idle scratch kept body %d, decoded %d, points %d bytes of capacity", cap(sc.body), cap(sc.decoded), cap(sc.points))
	}
	for i, p := range sc.points[:cap(sc.points)] {
		if p.Measurement != nil || p.Tags != nil || p.Fields != nil {
			t.Fatalf("idle point %d still references the body", i)
		}
	}

	// A few points whose body decodes past maxIdleRPCBuffer: the decoded
	// buffer is dropped, and the decoder, which is kept, no longer
	// references it.
	huge := scratchBatch(3)
	huge[1].Fields[0].Value = models.StringValue(bytes.Repeat([]byte("s"), maxIdleRPCBuffer+1))
	serve(huge)
	sc = idle()
	if cap(sc.decoded) > maxIdleRPCBuffer {
		t.Fatalf("idle scratch kept a decoded body of %d bytes, limit %d", cap(sc.decoded), maxIdleRPCBuffer)
	}
	if cap(sc.dec.tags.buf) == 0 {
		t.Fatal("small decoder arrays were dropped")
	}
	if refs := decoderRefs(&sc.dec, false); len(refs) > 0 {
		t.Fatalf("idle decoder still references the dropped body: %v", refs)
	}

	// A batch decoding past maxIdleRPCBuffer and maxIdleDecoder: its
	// buffers are dropped, not kept for the next request.
	big := scratchBatch(40000)
	if n := len(AppendPoints(nil, big)); n <= maxIdleRPCBuffer {
		t.Fatalf("big batch is %d bytes, want > %d", n, maxIdleRPCBuffer)
	}
	serve(big)
	sc = idle()
	if cap(sc.decoded) > maxIdleRPCBuffer || cap(sc.body) > maxIdleRPCBuffer {
		t.Fatalf("idle scratch kept body %d, decoded %d bytes, limit %d", cap(sc.body), cap(sc.decoded), maxIdleRPCBuffer)
	}
	if sc.dec.retainedBytes() != 0 || cap(sc.points) != 0 {
		t.Fatalf("idle scratch kept decoder arrays of %d bytes, %d points past %d bytes",
			sc.dec.retainedBytes(), cap(sc.points), maxIdleDecoder)
	}
	serve(scratchBatch(100)) // and it still works
}

// takeIdle removes an idle scratch from l, failing when there is none.
func takeIdle[T any](t *testing.T, l freelist.List[T]) *T {
	t.Helper()
	v := l.TryGet()
	if v == nil {
		t.Fatal("no idle scratch")
	}
	return v
}

// TestRPCClient_KeepsBuffersAcrossGC guards the sending node: encoding and
// compressing a batch after GCs reuses the buffers of the previous call,
// each sized for its own role.
func TestRPCClient_KeepsBuffersAcrossGC(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("s2=%t", compress), func(t *testing.T) {
			pts := scratchBatch(2000)
			raw := AppendPoints(nil, pts)
			cfg := NewConfig()
			cfg.RPCCompression = compress
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var b bytes.Buffer
				_, _ = b.ReadFrom(r.Body)
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			d := &meta.Data{DataNodes: []meta.NodeInfo{{ID: 2, RPCAddr: srv.Listener.Addr().String()}}}
			c := NewRPCClient(cfg, staticState{d}, nil, nil)
			defer c.Close()
			if err := c.WriteShard(context.Background(), 2, 1, pts); err != nil {
				t.Fatal(err)
			}
			sc := takeIdle(t, c.scratch)
			if c.scratch.Idle() != 0 {
				t.Fatalf("%d more idle scratches, want 0", c.scratch.Idle())
			}
			if cap(sc.batch) < len(raw) {
				t.Fatalf("idle batch buffer of %d bytes, want >= %d", cap(sc.batch), len(raw))
			}
			if compress && cap(sc.comp) < s2.MaxEncodedLen(len(raw)) {
				t.Fatalf("idle s2 buffer of %d bytes, want >= %d", cap(sc.comp), s2.MaxEncodedLen(len(raw)))
			}
			batchBuf, compBuf := cap(sc.batch), cap(sc.comp)
			c.scratch.Put(sc)
			for i := range 3 {
				runtime.GC()
				runtime.GC()
				// A batch a little larger than the first fits the
				// headroom the buffers were grown with.
				if err := c.WriteShard(context.Background(), 2, 1, scratchBatch(2000+40*i)); err != nil {
					t.Fatal(err)
				}
				got := takeIdle(t, c.scratch)
				if got != sc || cap(got.batch) != batchBuf || cap(got.comp) != compBuf {
					t.Fatalf("call %d after 2 GCs: scratch %p (batch %d, s2 %d bytes), want the idle one %p (%d, %d)",
						i, got, cap(got.batch), cap(got.comp), sc, batchBuf, compBuf)
				}
				c.scratch.Put(got)
			}
		})
	}
}
