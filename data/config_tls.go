package data

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/strata-db/strata/internal/tlsconfig"
)

// TLSConfig is the [tls] section: encryption of the internode RPC
// listener and of this node's calls to its peers and to meta. The client
// API's TLS is InfluxDB's [http] https-enabled.
type TLSConfig struct {
	// RPCEnabled serves the internode RPC listener over TLS with
	// Certificate, and dials the other data nodes' RPC over TLS: set it on
	// every data node or none.
	RPCEnabled bool `toml:"rpc-enabled"`
	// MetaEnabled calls the meta nodes over TLS (their [tls] http-enabled).
	MetaEnabled bool `toml:"meta-enabled"`
	// Certificate and PrivateKey are PEM files of this node's RPC listener.
	Certificate string `toml:"certificate"`
	PrivateKey  string `toml:"private-key"`
	// CACertificate is the PEM file of the CA that signed the peers' and
	// meta nodes' certificates; empty trusts the system's roots.
	CACertificate string `toml:"ca-certificate"`
	// InsecureSkipVerify accepts any peer certificate (testing only).
	InsecureSkipVerify bool `toml:"insecure-skip-verify"`
}

// client returns the TLS config for this node's outgoing calls.
func (c TLSConfig) client() (*tls.Config, error) {
	return tlsconfig.Client(c.CACertificate, c.InsecureSkipVerify)
}

// listenTLS wraps ln in TLS with the certificate and key files when
// enabled; a bad file is an error naming it.
func listenTLS(ln net.Listener, enabled bool, what, cert, key string) (net.Listener, error) {
	if !enabled {
		return ln, nil
	}
	cfg, err := tlsconfig.Server(cert, key)
	if err != nil {
		return nil, fmt.Errorf("%s TLS: %w", what, err)
	}
	return tls.NewListener(ln, cfg), nil
}

// validate checks the section's cross-field rules.
func (c TLSConfig) validate() error {
	if c.RPCEnabled && (c.Certificate == "" || c.PrivateKey == "") {
		return errors.New("[tls] rpc-enabled needs certificate and private-key")
	}
	return nil
}

// secureListeners puts TLS on the client and RPC listeners where enabled,
// and the connection limits on them.
func (s *Server) secureListeners() error {
	h, t := s.cfg.HTTP, s.cfg.TLS
	ln, err := listenTLS(limitConnections(s.httpLn, h.MaxConnectionLimit), h.HTTPSEnabled, "[http] https", h.HTTPSCertificate, h.HTTPSPrivateKey)
	if err != nil {
		return err
	}
	s.httpLn = ln
	if ln, err = listenTLS(s.rpcLn, t.RPCEnabled, "[tls] rpc", t.Certificate, t.PrivateKey); err != nil {
		return err
	}
	// Above TLS, so a refusal is answered in TLS.
	s.rpcLn = limitPerPeer(ln, s.cfg.Coordinator.RPCMaxConnsPerPeer, promauto.With(s.reg).NewCounter(prometheus.CounterOpts{
		Namespace: "strata", Subsystem: "rpc", Name: "peer_connections_refused_total",
		Help: "Internode RPC connections refused because their peer had rpc-max-conns-per-peer open.",
	}))
	return nil
}

// clientTLS returns the TLS configs of the calls to the other data nodes
// and to meta (nil where TLS is off).
func (s *Server) clientTLS() (rpc, meta *tls.Config, err error) {
	t := s.cfg.TLS
	if !t.RPCEnabled && !t.MetaEnabled {
		return nil, nil, nil
	}
	cfg, err := t.client()
	if err != nil {
		return nil, nil, fmt.Errorf("[tls]: %w", err)
	}
	if t.RPCEnabled {
		rpc = cfg
	}
	if t.MetaEnabled {
		meta = cfg
	}
	return rpc, meta, nil
}
