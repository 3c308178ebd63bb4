package main

import (
	"crypto/tls"

	"github.com/spf13/pflag"

	"github.com/strata-db/strata/internal/tlsconfig"
)

// tlsFlags are --tls, --ca-cert and --insecure-skip-verify of the client
// commands (ctl, bench).
type tlsFlags struct {
	enabled  bool
	caCert   string
	insecure bool
}

func (f *tlsFlags) register(fs *pflag.FlagSet, server string) {
	fs.BoolVar(&f.enabled, "tls", false, "talk to "+server+" over TLS (implied by --ca-cert and --insecure-skip-verify)")
	fs.StringVar(&f.caCert, "ca-cert", "", "PEM file of the CA that signed the server certificates (default: the system's roots)")
	fs.BoolVar(&f.insecure, "insecure-skip-verify", false, "accept any server certificate (testing only)")
}

// config returns the client TLS config, or nil without TLS.
func (f *tlsFlags) config() (*tls.Config, error) {
	return f.tierConfig(false, false)
}

// tierConfig returns the client TLS config of calls to one tier of a
// cluster whose tiers may differ (ctl's --meta-tls and --data-tls): TLS is
// on with --tls, with this tier's flag, or, when no tier flag is given,
// with --ca-cert or --insecure-skip-verify. Nil means plain HTTP.
func (f *tlsFlags) tierConfig(tier, otherTier bool) (*tls.Config, error) {
	if !f.enabled && !tier && (otherTier || f.caCert == "" && !f.insecure) {
		return nil, nil
	}
	return tlsconfig.Client(f.caCert, f.insecure)
}
