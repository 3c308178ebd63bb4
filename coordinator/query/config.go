package query

import (
	"errors"
	"time"

	"github.com/strata-db/strata/meta"
)

// Defaults for Config (InfluxDB 1.x's coordinator defaults: no limits).
const (
	DefaultQueryTimeout         = 0
	DefaultMaxSelectSeriesN     = 0
	DefaultMaxSelectBucketsN    = 0
	DefaultMaxConcurrentQueries = 0
	DefaultMaxSelectPointN      = 0
)

// Config limits what queries may cost. Zero means unlimited for every
// field, as in InfluxDB. Start from NewConfig.
type Config struct {
	// QueryTimeout stops a query running longer than this.
	QueryTimeout meta.Duration `toml:"query-timeout"`
	// MaxSelectSeriesN bounds the series one SELECT may read.
	MaxSelectSeriesN int `toml:"max-select-series"`
	// MaxSelectBucketsN bounds the GROUP BY time windows of one SELECT.
	MaxSelectBucketsN int64 `toml:"max-select-buckets"`
	// MaxConcurrentQueries bounds the queries running at once.
	MaxConcurrentQueries int `toml:"max-concurrent-queries"`
	// MaxSelectPointN bounds the values one SELECT may read.
	MaxSelectPointN int64 `toml:"max-select-point"`
}

// NewConfig returns the default Config.
func NewConfig() Config {
	return Config{
		QueryTimeout:         meta.Duration(DefaultQueryTimeout * time.Second),
		MaxSelectSeriesN:     DefaultMaxSelectSeriesN,
		MaxSelectBucketsN:    DefaultMaxSelectBucketsN,
		MaxConcurrentQueries: DefaultMaxConcurrentQueries,
		MaxSelectPointN:      DefaultMaxSelectPointN,
	}
}

// Validate reports a negative limit.
func (c Config) Validate() error {
	switch {
	case c.QueryTimeout < 0:
		return errors.New("query-timeout must not be negative")
	case c.MaxSelectSeriesN < 0:
		return errors.New("max-select-series must not be negative")
	case c.MaxSelectBucketsN < 0:
		return errors.New("max-select-buckets must not be negative")
	case c.MaxConcurrentQueries < 0:
		return errors.New("max-concurrent-queries must not be negative")
	case c.MaxSelectPointN < 0:
		return errors.New("max-select-point must not be negative")
	}
	return nil
}
