package cq

import (
	"errors"
	"fmt"
	"time"

	"github.com/strata-db/strata/coordinator"
	"github.com/strata-db/strata/meta"
)

// Defaults for Config.
const (
	// DefaultRunInterval is how often the runner looks for due intervals
	// (InfluxDB's run-interval).
	DefaultRunInterval = time.Second
	// DefaultMaxCatchUp is how far back missed intervals are still run
	// after an outage; older ones are skipped, counted and logged.
	DefaultMaxCatchUp = 24 * time.Hour
	// DefaultLeaseDuration is how long the data node running the queries
	// holds the lease; another node takes over at most this long after it
	// stops renewing.
	DefaultLeaseDuration = 10 * time.Second
	// DefaultWriteConsistency is the consistency level of the points a
	// continuous query or SELECT … INTO writes.
	DefaultWriteConsistency = "one"
	// DefaultSettleDelay is how long after an interval ends its run waits:
	// the coordinator's default write timeout, by when every acknowledged
	// write has reached each owner or its hinted handoff queue.
	DefaultSettleDelay = coordinator.DefaultWriteTimeout
)

// Config is the [continuous-queries] section of a data node's config.
type Config struct {
	// Enabled runs continuous queries on this node (when it holds the
	// lease). SELECT … INTO works either way.
	Enabled bool `toml:"enabled"`
	// RunInterval is how often the runner looks for due intervals.
	RunInterval meta.Duration `toml:"run-interval"`
	// MaxCatchUp bounds how far back missed intervals are run after an
	// outage.
	MaxCatchUp meta.Duration `toml:"max-catch-up"`
	// LeaseDuration is how long the runner's lease in meta lasts without
	// renewal.
	LeaseDuration meta.Duration `toml:"lease-duration"`
	// WriteConsistency is the consistency level (any, one, quorum, all) of
	// what continuous queries and SELECT … INTO write.
	WriteConsistency string `toml:"write-consistency"`
	// SettleDelay is how long after an interval ends it is run. A write
	// acknowledged at consistency one may still be on its way to the other
	// owners of its shard, and the run reads each shard from one owner; at
	// least the coordinator's write-timeout, the run sees every write
	// acknowledged for the interval.
	SettleDelay meta.Duration `toml:"settle-delay"`
}

// NewConfig returns the defaults.
func NewConfig() Config {
	return Config{
		Enabled:          true,
		RunInterval:      meta.Duration(DefaultRunInterval),
		MaxCatchUp:       meta.Duration(DefaultMaxCatchUp),
		LeaseDuration:    meta.Duration(DefaultLeaseDuration),
		WriteConsistency: DefaultWriteConsistency,
		SettleDelay:      meta.Duration(DefaultSettleDelay),
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.RunInterval <= 0 {
		errs = append(errs, errors.New("continuous-queries run-interval must be positive"))
	}
	if c.MaxCatchUp < 0 {
		errs = append(errs, errors.New("continuous-queries max-catch-up must not be negative"))
	}
	if c.SettleDelay < 0 {
		errs = append(errs, errors.New("continuous-queries settle-delay must not be negative"))
	}
	if c.LeaseDuration < 2*c.RunInterval {
		errs = append(errs, fmt.Errorf("continuous-queries lease-duration (%v) must be at least twice run-interval (%v)", c.LeaseDuration.D(), c.RunInterval.D()))
	}
	if _, err := c.Consistency(); err != nil {
		errs = append(errs, fmt.Errorf("continuous-queries write-consistency: %w", err))
	}
	return errors.Join(errs...)
}

// Consistency is WriteConsistency parsed.
func (c Config) Consistency() (coordinator.ConsistencyLevel, error) {
	return coordinator.ParseConsistencyLevel(c.WriteConsistency)
}
