// Package tlsconfig builds the TLS settings of Strata's listeners and
// clients from PEM files, with errors that name the file at fault, and
// upgrades an HTTP client to TLS without changing how it builds URLs.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
)

// Server returns a server config for the PEM certificate and key files.
func Server(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both a certificate and a private key file")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Client returns a client config trusting the PEM CA file (empty: the
// system's roots); insecure skips verification of the server.
func Client(caFile string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA certificate %s: no PEM certificate in the file", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// Upgrade returns a RoundTripper that sends every request of base over
// TLS with cfg: http:// URLs become https://. base must be an
// *http.Transport (or nil for a new one); its TLSClientConfig is set, so
// call this before the first request. A nil cfg returns base unchanged.
func Upgrade(base http.RoundTripper, cfg *tls.Config) http.RoundTripper {
	if cfg == nil {
		return base
	}
	tr, ok := base.(*http.Transport)
	if !ok || tr == nil {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr.TLSClientConfig = cfg
	return &upgrade{base: tr}
}

type upgrade struct{ base *http.Transport }

// RoundTrip implements http.RoundTripper on a copy of r.
func (u *upgrade) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" {
		r2 := r.Clone(r.Context())
		r2.URL.Scheme = "https"
		r = r2
	}
	return u.base.RoundTrip(r)
}

// CloseIdleConnections passes the call on to the transport.
func (u *upgrade) CloseIdleConnections() { u.base.CloseIdleConnections() }
