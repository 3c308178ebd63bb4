package loadgen

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"time"
)

// Defaults of Config.
const (
	DefaultURL          = "http://127.0.0.1:8086"
	DefaultDatabase     = "benchmark"
	DefaultWorkers      = 2
	DefaultBatchSize    = 5000 // lines per request, as TSBS's loader sends
	DefaultTimeout      = 60 * time.Second
	DefaultRetryBackoff = 100 * time.Millisecond
	// MaxRetryBackoff caps the doubling backoff between retries of a batch.
	MaxRetryBackoff = 5 * time.Second
)

// Config says where and how to write. The zero value is not usable; start
// from NewConfig.
type Config struct {
	// URL is the data node's client API base, e.g. http://127.0.0.1:8086.
	URL string `toml:"url"`
	// Database is the db parameter of every write.
	Database string `toml:"db"`
	// RetentionPolicy is the rp parameter; empty leaves it out.
	RetentionPolicy string `toml:"rp"`
	// Precision is the precision parameter (n, ns, u, us, ms, s, m, h);
	// empty leaves it out (nanoseconds).
	Precision string `toml:"precision"`
	// Consistency is the consistency parameter (any, one, quorum, all);
	// empty leaves it out (the server's default).
	Consistency string `toml:"consistency"`
	// TLS, if set, sends every request over TLS with it (an http:// URL
	// is upgraded to https://).
	TLS *tls.Config `toml:"-"`
	// Username and Password, when Username is set, go in HTTP basic auth.
	Username string `toml:"username"`
	Password string `toml:"password"`
	// Workers is the number of concurrent writers, each with its own
	// keep-alive connection.
	Workers int `toml:"workers"`
	// BatchSize is the number of lines per request.
	BatchSize int `toml:"batch-size"`
	// Gzip sends bodies gzip-compressed (compressed before the clock starts).
	Gzip bool `toml:"gzip"`
	// CreateDatabase sends CREATE DATABASE to /query before the load.
	CreateDatabase bool `toml:"create-db"`
	// Timeout bounds each HTTP request.
	Timeout time.Duration `toml:"timeout"`
	// Retries is how many times a failed batch is resent (network errors,
	// 429 and 5xx only; a 4xx other than 429 is final).
	Retries int `toml:"retries"`
	// RetryBackoff is the first pause before a retry; it doubles up to
	// MaxRetryBackoff.
	RetryBackoff time.Duration `toml:"retry-backoff"`
}

// NewConfig returns a Config holding the defaults.
func NewConfig() Config {
	return Config{
		URL:            DefaultURL,
		Database:       DefaultDatabase,
		Workers:        DefaultWorkers,
		BatchSize:      DefaultBatchSize,
		CreateDatabase: true,
		Timeout:        DefaultTimeout,
		RetryBackoff:   DefaultRetryBackoff,
	}
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil:
		return fmt.Errorf("%w: url %q: %w", ErrInvalidConfig, c.URL, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: url %q: scheme must be http or https", ErrInvalidConfig, c.URL)
	case u.Host == "":
		return fmt.Errorf("%w: url %q has no host", ErrInvalidConfig, c.URL)
	case c.Database == "":
		return fmt.Errorf("%w: database name is empty", ErrInvalidConfig)
	case c.Workers < 1:
		return fmt.Errorf("%w: workers = %d, want >= 1", ErrInvalidConfig, c.Workers)
	case c.BatchSize < 1:
		return fmt.Errorf("%w: batch size = %d, want >= 1", ErrInvalidConfig, c.BatchSize)
	case c.Timeout <= 0:
		return fmt.Errorf("%w: timeout = %s, want > 0", ErrInvalidConfig, c.Timeout)
	case c.Retries < 0:
		return fmt.Errorf("%w: retries = %d, want >= 0", ErrInvalidConfig, c.Retries)
	case c.Retries > 0 && c.RetryBackoff <= 0:
		return fmt.Errorf("%w: retry backoff = %s, want > 0", ErrInvalidConfig, c.RetryBackoff)
	}
	if _, err := ParsePrecision(c.Precision); err != nil {
		return err
	}
	switch c.Consistency {
	case "", "any", "one", "quorum", "all":
	default:
		return fmt.Errorf("%w: consistency %q, want any, one, quorum or all", ErrInvalidConfig, c.Consistency)
	}
	return nil
}

// ParsePrecision maps an InfluxDB 1.x precision name to the duration of one
// timestamp unit: "", "n", "ns" (nanoseconds), "u", "us", "µ", "µs", "ms",
// "s", "m", "h". Other names return an error wrapping ErrInvalidConfig.
func ParsePrecision(s string) (time.Duration, error) {
	switch s {
	case "", "n", "ns":
		return time.Nanosecond, nil
	case "u", "us", "µ", "µs":
		return time.Microsecond, nil
	case "ms":
		return time.Millisecond, nil
	case "s":
		return time.Second, nil
	case "m":
		return time.Minute, nil
	case "h":
		return time.Hour, nil
	}
	return 0, fmt.Errorf("%w: precision %q, want n, ns, u, us, ms, s, m or h", ErrInvalidConfig, s)
}
