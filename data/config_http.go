package data

import (
	"errors"
	"fmt"
	"time"

	"github.com/strata-db/strata/meta"
)

// Defaults for HTTPConfig.
const (
	// DefaultMaxBodySize is InfluxDB's max-body-size: 25 MB.
	DefaultMaxBodySize = 25_000_000
	// DefaultEnqueuedWriteTimeout is InfluxDB's enqueued-write-timeout: how
	// long a write waits for a slot before it is refused.
	DefaultEnqueuedWriteTimeout = 30 * time.Second
	// DefaultReadHeaderTimeout bounds how long a client may take to send a
	// request's headers (a slow-loris client is cut off after it).
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds how long a client may take to send a whole
	// request, body included: a 25 MB body at 100 KB/s fits.
	DefaultReadTimeout = 5 * time.Minute
	// DefaultIdleTimeout closes keep-alive connections idle this long.
	DefaultIdleTimeout = 2 * time.Minute
)

// HTTPConfig is InfluxDB's [http] section: the client API's
// authentication, body and connection limits.
type HTTPConfig struct {
	// AuthEnabled requires credentials (u/p query parameters, Basic auth,
	// "Token user:password" or a JWT bearer token) on every client request
	// but /ping and /health.
	AuthEnabled bool `toml:"auth-enabled"`
	// SharedSecret signs the JWT bearer tokens clients may present
	// (InfluxDB's scheme: HS256/384/512 with "username" and "exp" claims).
	// Empty disables bearer tokens.
	SharedSecret string `toml:"shared-secret"`
	// PprofEnabled serves Go's profiler under /debug/pprof/.
	PprofEnabled bool `toml:"pprof-enabled"`
	// PprofContentionEnabled also samples lock contention (one contended
	// mutex in ContentionMutexFraction) and blocked goroutines (about one
	// per ContentionBlockRate of blocking) for /debug/pprof/mutex and
	// /debug/pprof/block: what says where concurrent queries wait. It
	// costs a little on every contended lock, so it is off by default.
	PprofContentionEnabled bool `toml:"pprof-contention-enabled"`
	// MaxBodySize bounds a /write body (after gzip decoding) in bytes;
	// larger bodies get 413. 0 disables the limit.
	MaxBodySize int64 `toml:"max-body-size"`
	// MaxConcurrentWriteLimit bounds the writes processed at once; 0 means
	// no bound.
	MaxConcurrentWriteLimit int `toml:"max-concurrent-write-limit"`
	// MaxEnqueuedWriteLimit bounds the writes waiting for a slot when
	// MaxConcurrentWriteLimit is reached; more get 503. 0 means no bound.
	MaxEnqueuedWriteLimit int `toml:"max-enqueued-write-limit"`
	// EnqueuedWriteTimeout is how long a write waits for a slot before it
	// gets 503.
	EnqueuedWriteTimeout meta.Duration `toml:"enqueued-write-timeout"`
	// MaxConnectionLimit bounds the client connections open at once; more
	// are closed on accept. 0 means no bound.
	MaxConnectionLimit int `toml:"max-connection-limit"`
	// ReadHeaderTimeout bounds how long a client may take to send the
	// headers of a request.
	ReadHeaderTimeout meta.Duration `toml:"read-header-timeout"`
	// ReadTimeout bounds how long a client may take to send a whole
	// request; 0 means no bound.
	ReadTimeout meta.Duration `toml:"read-timeout"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout meta.Duration `toml:"idle-timeout"`
	// HTTPSEnabled serves the client API over TLS with HTTPSCertificate
	// and HTTPSPrivateKey (PEM files); plaintext clients are refused.
	HTTPSEnabled     bool   `toml:"https-enabled"`
	HTTPSCertificate string `toml:"https-certificate"`
	HTTPSPrivateKey  string `toml:"https-private-key"`
	// MaxRowLimit bounds the rows of a non-chunked /query answer: past it
	// the answer is cut and the last series marked partial. 0 means no
	// bound (InfluxDB's default).
	MaxRowLimit int `toml:"max-row-limit"`
}

// Sampling rates of PprofContentionEnabled.
const (
	ContentionMutexFraction = 10
	ContentionBlockRate     = 10 * time.Microsecond
)

// NewHTTPConfig returns the [http] defaults.
func NewHTTPConfig() HTTPConfig {
	return HTTPConfig{
		PprofEnabled:         true,
		MaxBodySize:          DefaultMaxBodySize,
		EnqueuedWriteTimeout: meta.Duration(DefaultEnqueuedWriteTimeout),
		ReadHeaderTimeout:    meta.Duration(DefaultReadHeaderTimeout),
		ReadTimeout:          meta.Duration(DefaultReadTimeout),
		IdleTimeout:          meta.Duration(DefaultIdleTimeout),
	}
}

// Validate reports every problem with the section at once.
func (c *HTTPConfig) Validate() error {
	var errs []error
	req := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("[http] "+format, args...))
		}
	}
	req(c.MaxBodySize >= 0, "max-body-size must not be negative")
	req(c.MaxConcurrentWriteLimit >= 0, "max-concurrent-write-limit must not be negative")
	req(c.MaxEnqueuedWriteLimit >= 0, "max-enqueued-write-limit must not be negative")
	req(c.EnqueuedWriteTimeout > 0, "enqueued-write-timeout must be positive")
	req(c.MaxConnectionLimit >= 0, "max-connection-limit must not be negative")
	req(c.ReadHeaderTimeout > 0, "read-header-timeout must be positive")
	req(c.ReadTimeout >= 0, "read-timeout must not be negative")
	req(c.IdleTimeout > 0, "idle-timeout must be positive")
	req(!c.HTTPSEnabled || c.HTTPSCertificate != "" && c.HTTPSPrivateKey != "", "https-enabled needs https-certificate and https-private-key")
	req(c.MaxRowLimit >= 0, "max-row-limit must not be negative")
	return errors.Join(errs...)
}
