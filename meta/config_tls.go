package meta

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/strata-db/strata/internal/tlsconfig"
)

// TLSConfig is the [tls] section of a meta node: TLS on its HTTP API and
// on raft, each optional.
type TLSConfig struct {
	// HTTPEnabled serves the meta HTTP API over TLS (clients then need
	// [tls] meta-enabled or strata ctl --tls); forwards to the leader go
	// over TLS too.
	HTTPEnabled bool `toml:"http-enabled"`
	// RaftEnabled runs raft over mutual TLS: each meta node presents
	// Certificate and, when CACertificate is set, accepts only peers whose
	// certificate that CA signed. Set it on every meta node or none.
	RaftEnabled bool `toml:"raft-enabled"`
	// Certificate and PrivateKey are this node's PEM files.
	Certificate string `toml:"certificate"`
	PrivateKey  string `toml:"private-key"`
	// CACertificate is the PEM file of the CA that signed the other meta
	// nodes' certificates; empty trusts the system's roots.
	CACertificate string `toml:"ca-certificate"`
	// InsecureSkipVerify accepts any peer certificate (testing only).
	InsecureSkipVerify bool `toml:"insecure-skip-verify"`
}

func (c TLSConfig) enabled() bool { return c.HTTPEnabled || c.RaftEnabled }

// configs loads the server and client TLS configs (nil, nil when TLS is
// off); a missing or bad file is an error naming it.
func (c TLSConfig) configs() (server, client *tls.Config, err error) {
	if !c.enabled() {
		return nil, nil, nil
	}
	if server, err = tlsconfig.Server(c.Certificate, c.PrivateKey); err != nil {
		return nil, nil, fmt.Errorf("[tls]: %w", err)
	}
	if client, err = tlsconfig.Client(c.CACertificate, c.InsecureSkipVerify); err != nil {
		return nil, nil, fmt.Errorf("[tls]: %w", err)
	}
	client.Certificates = server.Certificates
	return server, client, nil
}

// raftServer is the server config of the raft listener: it asks peers for
// their certificate and, with a CA, requires one that CA signed.
func (c TLSConfig) raftServer(server *tls.Config) (*tls.Config, error) {
	rs := server.Clone()
	if c.CACertificate == "" {
		return rs, nil
	}
	pem, err := os.ReadFile(c.CACertificate)
	if err != nil {
		return nil, fmt.Errorf("[tls] read CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("[tls] ca-certificate holds no PEM certificate")
	}
	rs.ClientCAs, rs.ClientAuth = pool, tls.RequireAndVerifyClientCert
	return rs, nil
}
