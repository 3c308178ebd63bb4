package main

import (
	"strings"
	"testing"

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
		out, err := runCtl(t, addrs, "", append([]string{"--timeout", "3s"}, tc.args...)...)
		if (err == nil) != tc.ok {
			t.Errorf("ctl %v: %v (%s); want ok=%v", tc.args, err, out, tc.ok)
		}
		if tc.ok && strings.Contains(tc.args[len(tc.args)-1], "show") && !strings.Contains(out, "db0") {
			t.Errorf("ctl %v: %s; want db0 listed", tc.args, out)
		}
	}
}
