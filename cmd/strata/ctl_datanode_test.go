package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/nodeauth"
	"github.com/strata-db/strata/internal/tlsconfig/tlstest"
	"github.com/strata-db/strata/meta"
)

// TestCtlDataNodesTLSAuth runs ctl's data node commands against a cluster
// with TLS on the meta and client APIs, auth enabled and an internal
// shared secret: each command reaches every data node (over HTTPS, signed
// with the secret) and the operator actions are allowed.
func TestCtlDataNodesTLSAuth(t *testing.T) {
	caFile, certFile, keyFile := tlstest.Files(t, t.TempDir())
	const secret = "ctl-data-secret"
	c := clustertest.New(t, clustertest.Options{Meta: 1, Data: 2, InternalSharedSecret: secret,
		MetaConfigure: func(_ int, cfg *meta.Config) {
			cfg.TLS = meta.TLSConfig{HTTPEnabled: true, Certificate: certFile, PrivateKey: keyFile, CACertificate: caFile}
		},
		Configure: func(_ int, cfg *data.Config) {
			cfg.HTTP.AuthEnabled = true
			cfg.HTTP.HTTPSEnabled, cfg.HTTP.HTTPSCertificate, cfg.HTTP.HTTPSPrivateKey = true, certFile, keyFile
			cfg.TLS = data.TLSConfig{MetaEnabled: true, CACertificate: caFile}
		},
	})
	addrs := c.Meta.HTTPAddrs()
	ctl := func(args ...string) (string, error) {
		t.Helper()
		return runCtl(t, addrs, "", append([]string{"--ca-cert", caFile, "--internal-shared-secret", secret}, args...)...)
	}
	mustCtl := func(args ...string) string {
		t.Helper()
		out, err := ctl(args...)
		if err != nil {
			t.Fatalf("ctl %v: %v\n%s", args, err, out)
		}
		return out
	}
	mustCtl("user", "create", "admin", "--password", "pw", "--admin")
	mustCtl("create-database", "db0", "--replication", "2")
	c.WaitFor("db0 on every data node", func() bool {
		for i := range c.N() {
			if d := c.Server(i).MetaData(); d == nil || d.Database("db0") == nil {
				return false
			}
		}
		return true
	})

	// One point makes a shard on both nodes.
	tc, err := (&tlsFlags{caCert: caFile}).config()
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: tc}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, strings.Replace(c.URL(0), "http://", "https://", 1)+"/write?db=db0&consistency=all",
		strings.NewReader("cpu,host=a v=1 1000000000"))
	req.SetBasicAuth("admin", "pw")
	resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write over https as admin: %d", resp.StatusCode)
	}
	shard := c.Server(0).MetaData().Database("db0").RetentionPolicies[0].ShardGroups[0].Shards[0].ID

	for _, cmd := range [][]string{{"entropy", "show"}, {"hh", "status"}, {"copy-shard-status"}} {
		out := mustCtl(append([]string{"--json"}, cmd...)...)
		var ans struct{ Unreachable []uint64 }
		if err := json.Unmarshal([]byte(out), &ans); err != nil {
			t.Fatalf("ctl %v: %v in %s", cmd, err, out)
		}
		if len(ans.Unreachable) != 0 {
			t.Errorf("ctl %v: data nodes %v did not answer; want all to\n%s", cmd, ans.Unreachable, out)
		}
	}
	var shards []shardView
	if err := json.Unmarshal([]byte(mustCtl("--json", "show-shards")), &shards); err != nil {
		t.Fatal(err)
	}
	if len(shards) != 1 || shards[0].DiskBytes < 0 {
		t.Errorf("show-shards: %+v; want shard %d with its size from the data nodes", shards, shard)
	}
	if out := mustCtl("entropy", "repair", fmt.Sprint(shard), "--wait", "30s"); !strings.Contains(out, "repaired shard") {
		t.Errorf("entropy repair: %s; want the repair to finish", out)
	}
	if out := mustCtl("hh", "purge", fmt.Sprint(c.NodeID(1)), "--yes"); !strings.Contains(out, "purged 0 records") {
		t.Errorf("hh purge: %s; want every other node to purge", out)
	}

	// Without TLS the data nodes (and meta) are out of reach.
	if out, err := runCtl(t, addrs, "", "--timeout", "3s", "--internal-shared-secret", secret, "entropy", "show"); err == nil {
		t.Errorf("ctl entropy show without TLS: %s; want an error", out)
	}
}

// TestDataNodeClient checks what ctl sends a data node: HTTPS, a token
// that verifies with the shared secret, --user/--pwd as Basic auth; and
// that a refusal comes back with the node's message.
func TestDataNodeClient(t *testing.T) {
	key := nodeauth.New("s3cret")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := key.Verify(r); err != nil {
			http.Error(w, `{"error":"bad token"}`, http.StatusUnauthorized)
			return
		}
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "pw" {
			http.Error(w, `{"error":"operator actions need an admin user"}`, http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(`{"killed":true}`))
	}))
	defer srv.Close()
	tc := srv.Client().Transport.(*http.Transport).TLSClientConfig
	addr := strings.TrimPrefix(srv.URL, "https://")

	var ans struct{ Killed bool }
	if err := newDataNodeClient(tc, "s3cret", "alice", "pw").call(t.Context(), http.MethodPost, addr, "/x?shard=1", &ans); err != nil || !ans.Killed {
		t.Errorf("call with secret and user: %v, %+v; want killed", err, ans)
	}
	err := newDataNodeClient(tc, "s3cret", "bob", "pw").call(t.Context(), http.MethodPost, addr, "/x", nil)
	var nodeErr *dataNodeError
	if !errors.As(err, &nodeErr) || nodeErr.StatusCode != http.StatusForbidden || nodeErr.Message != "operator actions need an admin user" {
		t.Errorf("call as another user: %v; want the node's 403 and message", err)
	}
	if err := newDataNodeClient(tc, "other", "alice", "pw").call(t.Context(), http.MethodGet, addr, "/x", nil); !errors.As(err, &nodeErr) || nodeErr.StatusCode != http.StatusUnauthorized {
		t.Errorf("call with the wrong secret: %v; want 401", err)
	}
	if err := newDataNodeClient(nil, "s3cret", "alice", "pw").call(t.Context(), http.MethodGet, addr, "/x", nil); err == nil {
		t.Error("plain HTTP call to a TLS node succeeded")
	}
}
