package data_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/coordinator/query"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/nodeauth"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/tsdb/models"
)

// serverState is a data node's cached meta state as coordinator.MetaState.
type serverState struct{ c *clustertest.Cluster }

func (s serverState) Data() *meta.Data { return s.c.Server(0).MetaData() }

// parse reads line protocol (ns timestamps) into points.
func parse(lp string) ([]models.Point, error) {
	var p models.Parser
	return p.Parse([]byte(lp), models.PrecisionNanosecond, 0)
}

// recordingTransport keeps the last request it sent, headers included.
type recordingTransport struct {
	base http.RoundTripper
	last *http.Request
}

func (t *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.last = r
	return t.base.RoundTrip(r)
}

// TestInternodeAuth checks that with internal-shared-secret set the
// cluster works, and that a caller with another secret (or none) cannot
// register with meta, read meta's state, write to a data node's shard or
// read one; a recorded RPC replayed, or re-aimed at another shard, is
// refused.
func TestInternodeAuth(t *testing.T) {
	const secret = "cluster-secret"
	c := clustertest.New(t, clustertest.Options{Meta: 1, Data: 2, InternalSharedSecret: secret})
	c.CreateDatabase("db0", 2)
	if code, body := c.Write(0, url.Values{"db": {"db0"}}, "cpu,host=a v=1 1000000000"); code != 204 {
		t.Fatalf("write with the secret: %d %s", code, body)
	}
	for i := range 2 {
		c.WaitFor("the point on both owners", func() bool {
			for _, lines := range c.ShardPoints(i) {
				if len(lines) == 1 {
					return true
				}
			}
			return false
		})
	}
	var shardID uint64
	for id := range c.ShardPoints(1) {
		shardID = id
	}
	target := c.NodeID(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Meta: a wrong secret or none cannot register a node or read state.
	for _, wrong := range []string{"", "other-secret"} {
		mc := meta.NewClient(meta.ClientConfig{Addrs: c.Meta.HTTPAddrs(), InternalSharedSecret: wrong, Timeout: 3 * time.Second})
		_, err := mc.CreateDataNode(ctx, "127.0.0.1:1", "127.0.0.1:2")
		var apiErr *meta.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
			t.Errorf("register with secret %q: %v; want 401", wrong, err)
		}
		if _, _, err := mc.ReadData(ctx, meta.ReadDefault); err == nil {
			t.Errorf("read meta state with secret %q: no error; want 401", wrong)
		}
		mc.Close()
	}
	if n := len(c.Server(0).MetaData().DataNodes); n != 2 {
		t.Errorf("data nodes after refused registrations: %d; want 2", n)
	}
	// /ping stays open for health checks.
	if resp, err := http.Get("http://" + c.Meta.HTTPAddrs()[0] + "/ping"); err != nil || resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		t.Errorf("meta /ping without the secret: %v %v; want 2xx", resp, err)
	} else {
		resp.Body.Close()
	}

	// Data RPC: a wrong secret cannot write to or read a peer's shard.
	cfg := coordinator.NewConfig()
	wrongRPC := coordinator.NewRPCClient(cfg, serverState{c}, nil, nil)
	defer wrongRPC.Close()
	wrongRPC.WrapTransport(nodeauth.New("other-secret").Transport)
	pts, err := parse("cpu,host=evil v=666 2000000000")
	if err != nil {
		t.Fatal(err)
	}
	if err := wrongRPC.WriteShard(ctx, target, shardID, pts); err == nil || !strings.Contains(err.Error(), "internode authentication failed") {
		t.Errorf("shard write with a wrong secret: %v; want internode authentication failed", err)
	}
	err = wrongRPC.ScanShard(ctx, target, shardID, &query.ScanRequest{Database: "db0", RetentionPolicy: "autogen", Measurement: "cpu",
		Fields: []string{"v"}, Min: 0, Max: 1 << 62}, func(*query.SeriesBatch) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "internode authentication failed") {
		t.Errorf("shard read with a wrong secret: %v; want internode authentication failed", err)
	}

	// A recorded, correctly signed RPC cannot be replayed or re-aimed.
	rec := &recordingTransport{base: http.DefaultTransport}
	goodRPC := coordinator.NewRPCClient(cfg, serverState{c}, nil, nil)
	defer goodRPC.Close()
	goodRPC.WrapTransport(func(base http.RoundTripper) http.RoundTripper {
		rec.base = base
		return nodeauth.New(secret).Transport(rec)
	})
	ok, err := parse("cpu,host=b v=2 3000000000")
	if err != nil {
		t.Fatal(err)
	}
	if err := goodRPC.WriteShard(ctx, target, shardID, ok); err != nil {
		t.Fatalf("shard write with the secret: %v", err)
	}
	batch := coordinator.AppendPoints(nil, pts)
	replay := func(u string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(batch))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = rec.last.Header.Clone()
		req.Header.Del("Content-Encoding")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := replay(rec.last.URL.String()); got != http.StatusUnauthorized {
		t.Errorf("replayed shard write: %d; want 401", got)
	}
	other := *rec.last.URL
	other.RawQuery = url.Values{"shard": {"999"}}.Encode()
	if got := replay(other.String()); got != http.StatusUnauthorized {
		t.Errorf("signed write re-aimed at another shard: %d; want 401", got)
	}
	// Nothing the refused callers sent landed.
	for i := range 2 {
		for _, lines := range c.ShardPoints(i) {
			for _, l := range lines {
				if strings.Contains(l, "evil") {
					t.Errorf("node %d holds %q from a refused RPC", i, l)
				}
			}
		}
	}
}
