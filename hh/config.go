package hh

import (
	"errors"
	"fmt"
	"time"

	"github.com/strata-db/strata/meta"
)

// Defaults for Config. They follow InfluxDB Enterprise's [hinted-handoff]
// section where it has the option.
const (
	// DefaultEnabled turns hinted handoff on.
	DefaultEnabled = true
	// DefaultMaxSize is the most bytes one destination node's queue may
	// hold; past it an enqueue fails (10 GiB).
	DefaultMaxSize = 10 << 30
	// DefaultMaxAge is how long a record may wait before it is purged.
	DefaultMaxAge = 168 * time.Hour
	// DefaultRetryInterval is the first back-off after a failed replay.
	DefaultRetryInterval = time.Second
	// DefaultRetryMaxInterval caps the back-off, which doubles per failure.
	DefaultRetryMaxInterval = 200 * time.Second
	// DefaultRetryRateLimit is the replay rate per queue in bytes/s; 0
	// means unlimited.
	DefaultRetryRateLimit = 0
	// DefaultPurgeInterval is how often records past max-age are purged.
	DefaultPurgeInterval = time.Minute
	// DefaultSegmentSize is the size past which a segment is sealed and a
	// new one started.
	DefaultSegmentSize = 64 << 20
	// DefaultBatchSize is how many bytes of records replay reads and sends
	// before it saves its position.
	DefaultBatchSize = 8 << 20
)

// ErrInvalidConfig wraps every Config.Validate problem.
var ErrInvalidConfig = errors.New("invalid hinted-handoff config")

// Config configures the hinted-handoff Service ([hinted-handoff] in the
// data node's TOML). Zero-valued fields are not defaults: start from
// NewConfig.
type Config struct {
	// Enabled turns hinted handoff on. Off, a replica write that fails is
	// only counted, and consistency=any behaves as consistency=one.
	Enabled bool `toml:"enabled"`
	// Dir holds one sub-directory per destination node. The data node
	// resolves "" to <data dir>/hh.
	Dir string `toml:"dir"`
	// MaxSize bounds the bytes of one destination node's queue.
	MaxSize int64 `toml:"max-size"`
	// MaxAge is how long a record may wait in a queue before it is purged.
	MaxAge meta.Duration `toml:"max-age"`
	// RetryInterval is the first back-off after a failed replay;
	// RetryMaxInterval caps its doubling.
	RetryInterval    meta.Duration `toml:"retry-interval"`
	RetryMaxInterval meta.Duration `toml:"retry-max-interval"`
	// RetryRateLimit bounds replay to this many bytes/s per queue (0: no
	// bound).
	RetryRateLimit int64 `toml:"retry-rate-limit"`
	// PurgeInterval is how often records past MaxAge are purged.
	PurgeInterval meta.Duration `toml:"purge-interval"`
	// SegmentSize is the size past which a segment file is sealed.
	SegmentSize int64 `toml:"segment-size"`
	// BatchSize is how many bytes of records one replay round reads and
	// sends before the position is saved.
	BatchSize int64 `toml:"batch-size"`
}

// NewConfig returns a Config with every default filled in.
func NewConfig() Config {
	return Config{
		Enabled:          DefaultEnabled,
		MaxSize:          DefaultMaxSize,
		MaxAge:           meta.Duration(DefaultMaxAge),
		RetryInterval:    meta.Duration(DefaultRetryInterval),
		RetryMaxInterval: meta.Duration(DefaultRetryMaxInterval),
		RetryRateLimit:   DefaultRetryRateLimit,
		PurgeInterval:    meta.Duration(DefaultPurgeInterval),
		SegmentSize:      DefaultSegmentSize,
		BatchSize:        DefaultBatchSize,
	}
}

// Validate reports every problem with the config at once, each wrapping
// ErrInvalidConfig.
func (c *Config) Validate() error {
	var errs []error
	req := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
		}
	}
	req(c.MaxSize > 0, "max-size must be positive")
	req(c.MaxAge > 0, "max-age must be positive")
	req(c.RetryInterval > 0, "retry-interval must be positive")
	req(c.RetryMaxInterval >= c.RetryInterval, "retry-max-interval (%s) must not be below retry-interval (%s)",
		c.RetryMaxInterval.D(), c.RetryInterval.D())
	req(c.RetryRateLimit >= 0, "retry-rate-limit must not be negative")
	req(c.PurgeInterval > 0, "purge-interval must be positive")
	req(c.SegmentSize >= minSegmentSize, "segment-size must be at least %d bytes", minSegmentSize)
	req(c.BatchSize > 0, "batch-size must be positive")
	return errors.Join(errs...)
}
