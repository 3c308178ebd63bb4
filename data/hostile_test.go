package data_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/meta"
)

// repeatReader yields line over and over up to left bytes in all; sent
// counts what it gave (read while the transport may still be sending).
type repeatReader struct {
	line []byte
	left int64
	off  int
	sent atomic.Int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.left > 0 {
		chunk := r.line[r.off:]
		if int64(len(chunk)) > r.left {
			chunk = chunk[:r.left]
		}
		c := copy(p[n:], chunk)
		n += c
		r.left -= int64(c)
		r.off = (r.off + c) % len(r.line)
	}
	r.sent.Add(int64(n))
	return n, nil
}

// TestHostileClients checks that a slow-loris client is cut off after
// [http] read-header-timeout and that a 1 GB body gets 413 after at most
// max-body-size bytes, while the node keeps serving other clients and
// keeps what it acknowledged.
func TestHostileClients(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Meta: 1, Data: 1, Configure: func(_ int, cfg *data.Config) {
		cfg.HTTP.ReadHeaderTimeout = meta.Duration(300 * time.Millisecond)
	}})
	c.CreateDatabase("db0", 1)
	if code, body := c.Write(0, url.Values{"db": {"db0"}}, "cpu,host=a v=1 1000000000"); code != 204 {
		t.Fatalf("write: %d %s", code, body)
	}
	addr := strings.TrimPrefix(c.URL(0), "http://")

	// Slow loris: headers trickle in and never finish.
	loris, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer loris.Close()
	start := time.Now()
	io.WriteString(loris, "POST /write?db=db0 HTTP/1.1\r\nHost: x\r\n")
	closed := make(chan time.Duration, 1)
	go func() {
		buf := make([]byte, 256)
		for {
			if _, err := io.WriteString(loris, "X-Slow: 1\r\n"); err != nil {
				closed <- time.Since(start)
				return
			}
			loris.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := loris.Read(buf); err != nil && !isTimeout(err) {
				closed <- time.Since(start)
				return
			}
			if time.Since(start) > 10*time.Second {
				closed <- time.Since(start)
				return
			}
		}
	}()

	// A 1 GB body, streamed: refused with 413 long before its end.
	body := &repeatReader{line: []byte("cpu,host=big v=1 2000000000\n"), left: 1 << 30}
	resp, err := http.Post(c.URL(0)+"/write?db=db0", "text/plain", body)
	if err != nil {
		t.Fatalf("1 GB body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("1 GB body: %d; want 413", resp.StatusCode)
	}
	if sent := body.sent.Load(); sent > 200<<20 {
		t.Errorf("1 GB body: the client sent %d bytes before the answer; want the node to stop reading near max-body-size", sent)
	}

	if d := <-closed; d > 5*time.Second {
		t.Errorf("slow-loris connection closed after %v; want about read-header-timeout (300ms)", d)
	}
	// Other clients are served and nothing acknowledged was lost.
	if code, body := c.Write(0, url.Values{"db": {"db0"}}, "cpu,host=b v=2 3000000000"); code != 204 {
		t.Errorf("write after the hostile clients: %d %s", code, body)
	}
	resp, err = http.PostForm(c.URL(0)+"/query", url.Values{"db": {"db0"}, "q": {"SELECT count(v) FROM cpu"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte(",2]]")) {
		t.Errorf("count after the hostile clients: %s; want 2 (the two acknowledged points)", b)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestSeriesLimits checks [storage] max-series-per-database and
// max-values-per-tag through /write on a two-node cluster (RF 2, so the
// remote owner's refusal crosses the RPC too): points past a limit are
// dropped with 400 and InfluxDB 1.8's message, the batch's other points
// are written, and points of existing series still are.
func TestSeriesLimits(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Meta: 1, Data: 2, Configure: func(_ int, cfg *data.Config) {
		cfg.Storage.MaxSeriesPerDatabase = 5
		cfg.Storage.MaxValuesPerTag = 2
	}})
	c.CreateDatabase("db0", 2)
	db := url.Values{"db": {"db0"}, "consistency": {"all"}}
	for _, tc := range []struct{ body, want string }{
		{"cpu,host=a v=1 1\ncpu,host=b v=1 1", ""},
		{"cpu,host=a v=2 2\ncpu,host=c v=1 1\ncpu,host=b v=2 2",
			`partial write: max-values-per-tag limit exceeded (2/2): measurement=\"cpu\" tag=\"host\" value=\"c\" dropped=1`},
		{"mem,x=1 v=1 1\nmem,x=2 v=1 1\nmem,y=1 v=1 1\nmem,y=2 v=1 1\nmem,x=1 v=2 2",
			"partial write: max-series-per-database limit exceeded: (5) dropped=1"},
	} {
		code, body := c.Write(0, db, tc.body)
		switch {
		case tc.want == "" && code != http.StatusNoContent:
			t.Errorf("write %q: %d %s; want 204", tc.body, code, body)
		case tc.want != "" && (code != http.StatusBadRequest || !strings.Contains(body, tc.want)):
			t.Errorf("write %q: %d %s; want 400 %s", tc.body, code, body, tc.want)
		}
	}
	want := []string{"cpu,host=a v=1 1", "cpu,host=a v=2 2", "cpu,host=b v=1 1", "cpu,host=b v=2 2",
		"mem,x=1 v=1 1", "mem,x=1 v=2 2", "mem,x=2 v=1 1", "mem,y=1 v=1 1"}
	for i := range c.N() {
		var got []string
		for _, lines := range c.ShardPoints(i) {
			got = append(got, lines...)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("node %d holds:\n%s\nwant:\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestRPCPeerConnectionBound runs many concurrent replicated writes
// through a cluster whose rpc-max-conns-per-peer is 4: the writing node's
// RPC client keeps to its share (one connection per peer) and queues the
// rest, so every write is acknowledged, both replicas hold every point and
// the peer refuses no connection.
func TestRPCPeerConnectionBound(t *testing.T) {
	c := clustertest.New(t, clustertest.Options{Meta: 1, Data: 2, Configure: func(_ int, cfg *data.Config) {
		cfg.Coordinator.RPCMaxConnsPerPeer = 4
	}})
	c.CreateDatabase("db0", 2)
	const writers = 50
	var wg sync.WaitGroup
	codes := make([]int, writers)
	for w := range writers {
		wg.Go(func() {
			resp, err := http.Post(c.URL(0)+"/write?db=db0&consistency=all", "text/plain",
				strings.NewReader(fmt.Sprintf("cpu,w=%d v=1 1000000000\ncpu,w=%d v=2 2000000000", w, w)))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[w] = resp.StatusCode
		})
	}
	wg.Wait()
	for w, code := range codes {
		if code != http.StatusNoContent {
			t.Errorf("writer %d: %d; want 204", w, code)
		}
	}
	for i := range c.N() {
		n := 0
		for _, lines := range c.ShardPoints(i) {
			n += len(lines)
		}
		if n != 2*writers {
			t.Errorf("node %d holds %d points; want %d", i, n, 2*writers)
		}
		resp, err := http.Get(c.URL(i) + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "strata_rpc_peer_connections_refused_total 0") {
			t.Errorf("node %d refused peer connections: %s", i, grepLines(string(b), "peer_connections_refused"))
		}
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
