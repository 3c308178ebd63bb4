package data_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/tlsconfig/tlstest"
	"github.com/strata-db/strata/meta"
)

// TestTLSCluster runs a cluster with TLS on every hop (client API, meta
// API, raft, internode RPC) and certificates made by the test: writes and
// queries work, replication crosses the TLS RPC, and plaintext clients are
// refused.
func TestTLSCluster(t *testing.T) {
	caFile, certFile, keyFile := tlstest.Files(t, t.TempDir())
	c := clustertest.New(t, clustertest.Options{Meta: 3, Data: 2,
		MetaConfigure: func(_ int, cfg *meta.Config) {
			cfg.TLS = meta.TLSConfig{HTTPEnabled: true, RaftEnabled: true, Certificate: certFile, PrivateKey: keyFile, CACertificate: caFile}
		},
		Configure: func(_ int, cfg *data.Config) {
			cfg.HTTP.HTTPSEnabled, cfg.HTTP.HTTPSCertificate, cfg.HTTP.HTTPSPrivateKey = true, certFile, keyFile
			cfg.TLS = data.TLSConfig{RPCEnabled: true, MetaEnabled: true, Certificate: certFile, PrivateKey: keyFile, CACertificate: caFile}
		},
	})
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	httpsURL := func(i int) string { return strings.Replace(c.URL(i), "http://", "https://", 1) }
	post := func(u, contentType, body string) (int, string) {
		t.Helper()
		resp, err := client.Post(u, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	form := "application/x-www-form-urlencoded"
	if code, body := post(httpsURL(0)+"/query", form, url.Values{"q": {"CREATE DATABASE db0 WITH REPLICATION 2"}}.Encode()); code != 200 || strings.Contains(body, "error") {
		t.Fatalf("create database over https: %d %s", code, body)
	}
	if code, body := post(httpsURL(0)+"/write?db=db0&consistency=all", "text/plain", "cpu,host=a v=1 1000000000"); code != 204 {
		t.Fatalf("write over https, consistency all (RPC over TLS): %d %s", code, body)
	}
	c.WaitFor("the point on node 1", func() bool {
		for _, lines := range c.ShardPoints(1) {
			if len(lines) == 1 {
				return true
			}
		}
		return false
	})
	code, body := post(httpsURL(1)+"/query", form, url.Values{"q": {"SELECT v FROM cpu"}, "db": {"db0"}}.Encode())
	if code != 200 || !strings.Contains(body, `[[1000000000,1]]`) && !strings.Contains(body, `"1970-01-01T00:00:01Z",1`) {
		t.Errorf("query over https on the other node: %d %s; want the point", code, body)
	}

	// Plaintext is refused on every TLS listener.
	if resp, err := http.Post(c.URL(0)+"/write?db=db0", "text/plain", strings.NewReader("cpu v=2 2")); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plaintext write to the https client API: %d; want 400 or a refused connection", resp.StatusCode)
		}
	}
	if resp, err := http.Get("http://" + c.Meta.HTTPAddrs()[0] + "/data"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plaintext request to the TLS meta API: %d; want 400 or a refused connection", resp.StatusCode)
		}
	}
	if resp, err := http.Post("http://"+c.Server(1).BoundRPCAddr()+"/rpc/v1/shard/write?shard=1", "application/octet-stream", strings.NewReader("x")); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plaintext RPC to the TLS listener: %d; want 400 or a refused connection", resp.StatusCode)
		}
	}
	if n := len(c.ShardPoints(0)); n != 1 {
		t.Errorf("shards on node 0: %d; want 1", n)
	}
}

// TestTLSBadCertificate checks that a node with a missing or bad
// certificate file does not start and names the file.
func TestTLSBadCertificate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cert := range []string{filepath.Join(dir, "missing.pem"), bad} {
		cfg := data.NewConfig()
		cfg.Dir = filepath.Join(dir, "data")
		cfg.HTTPAddr, cfg.RPCAddr = "127.0.0.1:0", "127.0.0.1:0"
		cfg.HTTP.HTTPSEnabled, cfg.HTTP.HTTPSCertificate, cfg.HTTP.HTTPSPrivateKey = true, cert, bad
		s := data.NewServer(cfg, "test", nil, prometheus.NewRegistry())
		err := s.Open()
		s.Close()
		if err == nil || !strings.Contains(err.Error(), cert) {
			t.Errorf("data node with certificate %s: %v; want an error naming the file", cert, err)
		}
		mcfg := meta.NewConfig()
		mcfg.Dir = filepath.Join(dir, "meta")
		mcfg.HTTPAddr, mcfg.RaftAddr = "127.0.0.1:0", "127.0.0.1:0"
		mcfg.TLS = meta.TLSConfig{HTTPEnabled: true, Certificate: cert, PrivateKey: bad}
		ms := meta.NewServer(mcfg, nil, nil)
		err = ms.Open()
		ms.Close()
		if err == nil || !strings.Contains(err.Error(), cert) {
			t.Errorf("meta node with certificate %s: %v; want an error naming the file", cert, err)
		}
	}
}
