package coordinator_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// peer is an RPCHandler on a loopback listener, known to the client's
// meta state as data node 2.
type peer struct {
	srv    *httptest.Server
	data   *meta.Data
	client *coordinator.RPCClient
}

func (p *peer) Data() *meta.Data { return p.data }

// startPeer serves an RPCHandler over store and returns it with a client
// whose meta state maps node 2 to it. Both are closed at cleanup.
func startPeer(t testing.TB, cfg coordinator.Config, store coordinator.TSDBStore) *peer {
	t.Helper()
	srv := httptest.NewServer(coordinator.NewRPCHandler(cfg, store, nil, prometheus.NewRegistry()))
	p := &peer{srv: srv, data: testData(1, 1)}
	p.data.DataNodes = append(p.data.DataNodes, meta.NodeInfo{ID: 2, RPCAddr: srv.Listener.Addr().String()})
	p.client = coordinator.NewRPCClient(cfg, p, nil, prometheus.NewRegistry())
	t.Cleanup(func() {
		p.client.Close()
		srv.Close()
	})
	return p
}

func rpcConfig() coordinator.Config {
	c := coordinator.NewConfig()
	c.RPCTimeout = meta.Duration(5 * time.Second)
	return c
}

func TestRPC_RoundTrip(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("s2=%t", compress), func(t *testing.T) {
			cfg := rpcConfig()
			cfg.RPCCompression = compress
			var mu sync.Mutex
			var got []models.Point
			var gotShard uint64
			store := &fakeStore{WriteToShardFn: func(shard uint64, pts []models.Point) error {
				mu.Lock()
				defer mu.Unlock()
				gotShard = shard
				for i := range pts {
					got = append(got, pts[i].Clone())
				}
				return nil
			}}
			p := startPeer(t, cfg, store)
			want := samplePoints()
			for range 3 { // reuses the pooled connection and buffers
				mu.Lock()
				got = nil
				mu.Unlock()
				if err := p.client.WriteShard(context.Background(), 2, 42, want); err != nil {
					t.Fatalf("WriteShard: got %v; want nil", err)
				}
				mu.Lock()
				if gotShard != 42 || !pointsEqual(got, want) {
					t.Fatalf("peer stored shard %d %v; want shard 42 %v", gotShard, got, want)
				}
				mu.Unlock()
			}
			// A pre-encoded batch (as hinted handoff replays them) goes too.
			if err := p.client.WriteShardBatch(context.Background(), 2, 43, coordinator.AppendPoints(nil, want[:1])); err != nil {
				t.Fatalf("WriteShardBatch: got %v; want nil", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if gotShard != 43 || len(got) != len(want)+1 {
				t.Errorf("after WriteShardBatch: shard %d, %d points stored; want shard 43, %d", gotShard, len(got), len(want)+1)
			}
		})
	}
}

func TestRPC_Answers(t *testing.T) {
	diskErr := errors.New("disk on fire")
	for _, tc := range []struct {
		name       string
		storeErr   error
		wantIs     error
		wantStatus int
	}{
		{"shard not found", fmt.Errorf("write to shard 42: %w", coordinator.ErrShardNotFound), coordinator.ErrShardNotFound, 404},
		{"internal", diskErr, nil, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPeer(t, rpcConfig(), &fakeStore{WriteToShardFn: func(uint64, []models.Point) error { return tc.storeErr }})
			err := p.client.WriteShard(context.Background(), 2, 42, samplePoints())
			var re *coordinator.RPCError
			if !errors.As(err, &re) || re.StatusCode != tc.wantStatus || re.NodeID != 2 {
				t.Fatalf("WriteShard: got %v; want an *RPCError from node 2 with status %d", err, tc.wantStatus)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("WriteShard: got %v; want an error wrapping %v", err, tc.wantIs)
			}
			if !strings.Contains(re.Message, tc.storeErr.Error()) {
				t.Errorf("RPCError message %q; want it to carry the store's %q", re.Message, tc.storeErr)
			}
		})
	}
	t.Run("partial", func(t *testing.T) {
		p := startPeer(t, rpcConfig(), &fakeStore{WriteToShardFn: func(uint64, []models.Point) error { return &partialErr{dropped: 2} }})
		err := p.client.WriteShard(context.Background(), 2, 42, samplePoints())
		var pe *coordinator.PartialWriteError
		if !errors.As(err, &pe) || pe.Dropped != 2 || !strings.HasPrefix(pe.Reason, "field type conflict") || strings.Contains(pe.Reason, "dropped=") {
			t.Fatalf("WriteShard: got %#v; want *PartialWriteError{Reason: \"field type conflict...\", Dropped: 2}", err)
		}
	})
	t.Run("unknown node", func(t *testing.T) {
		p := startPeer(t, rpcConfig(), &fakeStore{})
		if err := p.client.WriteShard(context.Background(), 7, 42, samplePoints()); !errors.Is(err, coordinator.ErrNodeNotFound) {
			t.Fatalf("WriteShard to node 7: got %v; want ErrNodeNotFound", err)
		}
	})
}

// rawConn is one client connection to the handler, for tests that need to
// control which connection a request uses.
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, p *peer) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", p.srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, br: bufio.NewReader(c)}
}

// do sends one request and reads its answer.
func (rc *rawConn) do(t *testing.T, header string, body []byte) (*http.Response, rpcAnswerBody) {
	t.Helper()
	rc.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(rc.c, header); err != nil {
		t.Fatalf("write request header: %v", err)
	}
	if _, err := rc.c.Write(body); err != nil {
		t.Fatalf("write request body: %v", err)
	}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ans rpcAnswerBody
	_ = json.Unmarshal(raw, &ans)
	return resp, ans
}

type rpcAnswerBody struct {
	Code    string `json:"code"`
	Error   string `json:"error"`
	Dropped int    `json:"dropped"`
}

func requestHeader(version string, n int, extra string) string {
	return fmt.Sprintf("POST %s?shard=1 HTTP/1.1\r\nHost: peer\r\n%s: %s\r\nContent-Length: %d\r\n%s\r\n",
		coordinator.RPCShardWritePath, coordinator.RPCVersionHeader, version, n, extra)
}

func TestRPC_ProtocolVersion(t *testing.T) {
	stored := 0
	p := startPeer(t, rpcConfig(), &fakeStore{WriteToShardFn: func(uint64, []models.Point) error { stored++; return nil }})
	rc := dialRaw(t, p)
	body := coordinator.AppendPoints(nil, samplePoints())
	for _, v := range []string{"2", "0", ""} {
		resp, ans := rc.do(t, requestHeader(v, len(body), ""), body)
		if resp.StatusCode != 400 || ans.Code != "protocol_version" || !strings.Contains(ans.Error, "speaks version 1") {
			t.Errorf("version %q: got %d %+v; want 400 protocol_version saying this node speaks version 1", v, resp.StatusCode, ans)
		}
	}
	// The connection is still good for a request of the right version.
	if resp, ans := rc.do(t, requestHeader("1", len(body), ""), body); resp.StatusCode != 204 {
		t.Fatalf("version 1 after mismatches: got %d %+v; want 204", resp.StatusCode, ans)
	}
	if stored != 1 {
		t.Errorf("store writes: got %d; want 1 (mismatched versions must not be written)", stored)
	}
	// A batch of another version inside a version-1 request is refused too.
	bad := append([]byte(nil), body...)
	bad[2] = 9
	if resp, ans := rc.do(t, requestHeader("1", len(bad), ""), reseal(bad)); resp.StatusCode != 400 || ans.Code != "protocol_version" {
		t.Errorf("batch version 9: got %d %+v; want 400 protocol_version", resp.StatusCode, ans)
	}
}

func TestRPC_BadRequests(t *testing.T) {
	cfg := rpcConfig()
	cfg.RPCMaxBodySize = 64 << 10
	p := startPeer(t, cfg, &fakeStore{WriteToShardFn: func(uint64, []models.Point) error { return nil }})
	rc := dialRaw(t, p)
	good := coordinator.AppendPoints(nil, samplePoints())
	bomb := s2.Encode(nil, make([]byte, 1<<20)) // decodes past the limit
	for _, tc := range []struct {
		name       string
		header     string
		body       []byte
		wantStatus int
		wantCode   string
	}{
		{"garbage", requestHeader("1", 5, ""), []byte("hello"), 400, "corrupt_batch"},
		{"bad s2", requestHeader("1", 5, "Content-Encoding: s2\r\n"), []byte("hello"), 400, "corrupt_batch"},
		{"s2 bomb", requestHeader("1", len(bomb), "Content-Encoding: s2\r\n"), bomb, 413, "body_too_large"},
		{"unknown encoding", requestHeader("1", len(good), "Content-Encoding: zstd\r\n"), good, 400, "bad_request"},
		{"bad shard", strings.Replace(requestHeader("1", len(good), ""), "shard=1", "shard=x", 1), good, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := rc
			if tc.wantStatus == 413 {
				conn = dialRaw(t, p) // 413 closes the connection
			}
			resp, ans := conn.do(t, tc.header, tc.body)
			if resp.StatusCode != tc.wantStatus || ans.Code != tc.wantCode {
				t.Errorf("got %d %+v; want %d %s", resp.StatusCode, ans, tc.wantStatus, tc.wantCode)
			}
		})
	}
}

// TestRPC_OversizeClosesOnlyThatConnection checks a body over the bound is
// refused with 413 and its connection closed, while another connection
// carries on, and the client sees ErrBodyTooLarge and then recovers.
func TestRPC_OversizeClosesOnlyThatConnection(t *testing.T) {
	cfg := rpcConfig()
	cfg.RPCMaxBodySize = 1 << 10
	cfg.RPCCompression = false
	p := startPeer(t, cfg, &fakeStore{WriteToShardFn: func(uint64, []models.Point) error { return nil }})
	small := coordinator.AppendPoints(nil, samplePoints()[:1])
	big := make([]byte, 4<<10)

	other := dialRaw(t, p)
	if resp, _ := other.do(t, requestHeader("1", len(small), ""), small); resp.StatusCode != 204 {
		t.Fatalf("first request on the other connection: got %d; want 204", resp.StatusCode)
	}
	for _, tc := range []struct{ name, header string }{
		{"content-length", requestHeader("1", len(big), "")},
		{"chunked", fmt.Sprintf("POST %s?shard=1 HTTP/1.1\r\nHost: peer\r\n%s: 1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n",
			coordinator.RPCShardWritePath, coordinator.RPCVersionHeader, len(big))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			victim := dialRaw(t, p)
			body := big
			if strings.Contains(tc.header, "chunked") {
				body = append(append([]byte(nil), big...), "\r\n0\r\n\r\n"...)
			}
			resp, ans := victim.do(t, tc.header, body)
			if resp.StatusCode != 413 || ans.Code != "body_too_large" || !resp.Close {
				t.Fatalf("oversize request: got %d %+v close=%t; want 413 body_too_large with Connection: close", resp.StatusCode, ans, resp.Close)
			}
			victim.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := victim.br.ReadByte(); err != io.EOF {
				t.Errorf("read after 413: got %v; want io.EOF (connection closed by the server)", err)
			}
			if resp, _ := other.do(t, requestHeader("1", len(small), ""), small); resp.StatusCode != 204 {
				t.Fatalf("other connection after the oversize request: got %d; want 204", resp.StatusCode)
			}
		})
	}

	huge := make([]models.Point, 200)
	for i := range huge {
		huge[i] = samplePoints()[0]
	}
	if err := p.client.WriteShard(context.Background(), 2, 1, huge); !errors.Is(err, coordinator.ErrBodyTooLarge) {
		t.Fatalf("client oversize write: got %v; want ErrBodyTooLarge", err)
	}
	if err := p.client.WriteShard(context.Background(), 2, 1, samplePoints()[:1]); err != nil {
		t.Fatalf("client write after the oversize one: got %v; want nil", err)
	}
}

// TestRPC_Timeouts checks the client gives up on a peer that does not
// answer, and the handler on a client that stops sending its body.
func TestRPC_Timeouts(t *testing.T) {
	cfg := rpcConfig()
	cfg.RPCTimeout = meta.Duration(100 * time.Millisecond)
	cfg.RPCReadTimeout = meta.Duration(100 * time.Millisecond)
	release := make(chan struct{})
	p := startPeer(t, cfg, &fakeStore{WriteToShardFn: func(uint64, []models.Point) error {
		<-release
		return nil
	}})
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for handlers

	start := time.Now()
	err := p.client.WriteShard(context.Background(), 2, 1, samplePoints())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WriteShard to a stuck peer: got %v; want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("WriteShard took %v; want about the 100ms rpc timeout", d)
	}

	// A client that sends half a body: the handler stops waiting.
	rc := dialRaw(t, p)
	rc.c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(rc.c, requestHeader("1", 100, "")+"0123456789")
	resp, err := http.ReadResponse(rc.br, nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("stalled body: got %d; want 400 (or the connection closed)", resp.StatusCode)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("stalled body: no answer within 5s; want the handler to give up after its 100ms read timeout")
	}
}

// TestPointsWriter_OverRPC writes with RF 2 through a real RPCClient to a
// loopback peer: both replicas get the same points.
func TestPointsWriter_OverRPC(t *testing.T) {
	var rec recorder
	p := startPeer(t, rpcConfig(), localRecorder(2, &rec))
	d := p.data
	d.Databases[0].RetentionPolicies[0].ShardGroups = []meta.ShardGroupInfo{group(1, testGroupStart, 10, []uint64{1, 2})}
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), localRecorder(1, &rec), p.client, nil, nil)
	var lp bytes.Buffer
	for i := range 50 {
		fmt.Fprintf(&lp, "cpu,host=h%d usage=%d.5,idle=%di,ok=true,msg=\"x y\" %d\n", i%7, i, i, testGroupStart.UnixNano()+int64(i))
	}
	if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll, mustParse(t, lp.String())); err != nil {
		t.Fatalf("WritePoints: got %v; want nil", err)
	}
	writes := rec.all()
	if len(writes) != 2 || writes[0].node == writes[1].node {
		t.Fatalf("writes: got %d; want one per node", len(writes))
	}
	if strings.Join(writes[0].lines, "\n") != strings.Join(writes[1].lines, "\n") || len(writes[0].lines) != 50 {
		t.Errorf("replicas differ or are short: %d and %d points", len(writes[0].lines), len(writes[1].lines))
	}
}

// FuzzRPCHandler feeds arbitrary bodies, plain and as s2, to the handler:
// it never panics, answers only with the documented statuses, and stores
// only batches that decode.
func FuzzRPCHandler(f *testing.F) {
	good := coordinator.AppendPoints(nil, samplePoints())
	f.Add(good, false)
	f.Add(s2.Encode(nil, good), true)
	f.Add([]byte("garbage"), true)
	cfg := coordinator.NewConfig()
	cfg.RPCMaxBodySize = 1 << 16
	h := coordinator.NewRPCHandler(cfg, &fakeStore{WriteToShardFn: func(_ uint64, pts []models.Point) error {
		if len(pts) > 0 && len(pts[0].Fields) == 0 {
			return errors.New("BUG: stored a point without fields")
		}
		return nil
	}}, nil, nil)
	f.Fuzz(func(t *testing.T, body []byte, compressed bool) {
		req := httptest.NewRequest(http.MethodPost, coordinator.RPCShardWritePath+"?shard=1", bytes.NewReader(body))
		req.Header.Set(coordinator.RPCVersionHeader, "1")
		if compressed {
			req.Header.Set("Content-Encoding", coordinator.RPCEncodingS2)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 204, 400, 413:
		default:
			t.Fatalf("status %d (%s); want 204, 400 or 413", rec.Code, rec.Body.String())
		}
	})
}

// TestPointsWriter_PeerDownGoesToHintedHandoff stops the peer's server and
// writes with RF 2: the real RPC failure (connection refused) is counted
// and the replica is queued in hinted handoff.
func TestPointsWriter_PeerDownGoesToHintedHandoff(t *testing.T) {
	p := startPeer(t, rpcConfig(), localRecorder(2, &recorder{}))
	p.srv.Close()
	d := p.data
	d.Databases[0].RetentionPolicies[0].ShardGroups = []meta.ShardGroupInfo{group(1, testGroupStart, 10, []uint64{1, 2})}
	var queued []uint64
	var mu sync.Mutex
	hh := &fakeHH{
		PendingFn: func(uint64) bool { return false },
		WriteShardFn: func(node, shard uint64, pts []models.Point) error {
			mu.Lock()
			defer mu.Unlock()
			queued = append(queued, node)
			return nil
		},
	}
	reg := prometheus.NewRegistry()
	w := newPointsWriter(t, testConfig(), selfID(1), staticMeta(t, d), localRecorder(1, &recorder{}), p.client, hh, reg)
	pts := mustParse(t, fmt.Sprintf("m v=1 %d", testGroupStart.UnixNano()))
	if err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelOne, pts); err != nil {
		t.Fatalf("level one with the peer down: got %v; want nil", err)
	}
	err := w.WritePoints(context.Background(), testDB, "", coordinator.ConsistencyLevelAll, pts)
	var oe *coordinator.OwnerError
	if !errors.Is(err, coordinator.ErrConsistency) || !errors.Is(err, coordinator.ErrQueued) || !errors.As(err, &oe) || oe.OwnerID != 2 {
		t.Fatalf("level all with the peer down: got %v; want ErrConsistency naming owner 2 as queued", err)
	}
	if !strings.Contains(err.Error(), "owner 2: queued in hinted handoff after: write shard 10 to node 2") {
		t.Errorf("error %q does not say owner 2's write failed and was queued", err)
	}
	w.Close() // the level-one write answered before its failed owner was queued
	mu.Lock()
	defer mu.Unlock()
	if len(queued) != 2 || queued[0] != 2 || queued[1] != 2 {
		t.Errorf("hinted handoff writes for nodes %v; want [2 2]", queued)
	}
	if got := metricValue(t, reg, "strata_coordinator_replica_write_failures_total", "node", "2"); got != 2 {
		t.Errorf("replica_write_failures_total{node=2}: got %v; want 2", got)
	}
	if got := metricValue(t, reg, "strata_coordinator_hinted_handoff_writes_total", "node", "2"); got != 2 {
		t.Errorf("hinted_handoff_writes_total{node=2}: got %v; want 2", got)
	}
}
