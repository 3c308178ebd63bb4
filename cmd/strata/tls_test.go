package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/strata-db/strata/data"
	"github.com/strata-db/strata/data/clustertest"
	"github.com/strata-db/strata/internal/tlsconfig/tlstest"
	"github.com/strata-db/strata/meta"
	"github.com/strata-db/strata/meta/metatest"
)

// TestCtlTLS checks ctl's --tls, --ca-cert and --insecure-skip-verify
// against meta nodes serving TLS: without TLS or with an untrusted
// certificate it fails, with the CA or with verification off it works.
func TestCtlTLS(t *testing.T) {
	caFile, certFile, keyFile := tlstest.Files(t, t.TempDir())
	mc := metatest.NewWithOptions(t, 1, metatest.Options{Configure: func(_ int, cfg *meta.Config) {
		cfg.TLS = meta.TLSConfig{HTTPEnabled: true, Certificate: certFile, PrivateKey: keyFile, CACertificate: caFile}
	}})
	mc.WaitLeader()
	addrs := mc.HTTPAddrs()
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"show-databases"}, false},
		{[]string{"--tls", "show-databases"}, false}, // the test CA is not a system root
		{[]string{"--ca-cert", caFile, "create-database", "db0"}, true},
		{[]string{"--tls", "--insecure-skip-verify", "show-databases"}, true},
		{[]string{"--ca-cert", certFile + ".missing", "show-databases"}, false},
	} {
		out, err := runCtl(t, addrs, "", tc.args...)
		if (err == nil) != tc.ok {
			t.Errorf("ctl %v: %v (%s); want ok=%v", tc.args, err, out, tc.ok)
		}
		if tc.ok && strings.Contains(tc.args[len(tc.args)-1], "show") && !strings.Contains(out, "db0") {
			t.Errorf("ctl %v: %s; want db0 listed", tc.args, out)
		}
	}
}

// TestCtlTLSOneTier checks that ctl operates a cluster where only one tier
// serves TLS: --data-tls reaches HTTPS data nodes behind plain meta nodes,
// --meta-tls TLS meta nodes in front of plain data nodes, while --tls (both
// tiers) fails against either.
func TestCtlTLSOneTier(t *testing.T) {
	caFile, certFile, keyFile := tlstest.Files(t, t.TempDir())
	dataTLS := clustertest.New(t, clustertest.Options{Meta: 1, Data: 1, Configure: func(_ int, cfg *data.Config) {
		cfg.HTTP.HTTPSEnabled, cfg.HTTP.HTTPSCertificate, cfg.HTTP.HTTPSPrivateKey = true, certFile, keyFile
	}})
	metaTLS := clustertest.New(t, clustertest.Options{Meta: 1, Data: 1,
		MetaConfigure: func(_ int, cfg *meta.Config) {
			cfg.TLS = meta.TLSConfig{HTTPEnabled: true, Certificate: certFile, PrivateKey: keyFile, CACertificate: caFile}
		},
		Configure: func(_ int, cfg *data.Config) {
			cfg.TLS.MetaEnabled, cfg.TLS.CACertificate = true, caFile
		}})
	for _, tc := range []struct {
		name    string
		cluster *clustertest.Cluster
		args    []string
		ok      bool
	}{
		{"data tier over TLS", dataTLS, []string{"--data-tls", "--ca-cert", caFile}, true},
		{"both tiers over TLS, meta plain", dataTLS, []string{"--tls", "--ca-cert", caFile}, false},
		{"plain, data over TLS", dataTLS, nil, false},
		{"meta tier over TLS", metaTLS, []string{"--meta-tls", "--ca-cert", caFile}, true},
		{"both tiers over TLS, data plain", metaTLS, []string{"--ca-cert", caFile}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--timeout", "3s", "--json"}, tc.args...)
			out, err := runCtl(t, tc.cluster.Meta.HTTPAddrs(), "", append(args, "copy-shard-status")...)
			var status struct{ Unreachable []uint64 }
			if err == nil {
				err = json.Unmarshal([]byte(out), &status)
			}
			if ok := err == nil && len(status.Unreachable) == 0; ok != tc.ok {
				t.Errorf("ctl %v copy-shard-status: %v, data nodes unreachable %v (%s); want ok=%v", tc.args, err, status.Unreachable, out, tc.ok)
			}
		})
	}
}
