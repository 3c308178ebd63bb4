package antientropy

import (
	"errors"
	"fmt"
	"time"

	"github.com/strata-db/strata/meta"
)

// Defaults for Config.
const (
	// DefaultEnabled: anti-entropy runs unless turned off.
	DefaultEnabled = true
	// DefaultCheckInterval is how often each shard is compared with its
	// other owners.
	DefaultCheckInterval = time.Minute
	// DefaultSettleHorizon is how long after a digest window ends it is
	// first compared: longer than a write takes to reach every owner
	// (coordinator write-timeout, 10 s) and than hinted handoff's first
	// retries, so in-flight writes are not "repaired".
	DefaultSettleHorizon = 5 * time.Minute
	// DefaultMaxConcurrentExchanges bounds exchanges (checks and repairs)
	// this node runs at once.
	DefaultMaxConcurrentExchanges = 2
	// DefaultRateLimit bounds repair traffic (values sent and received)
	// in bytes per second.
	DefaultRateLimit = 16 << 20
	// DefaultCopyRateLimit bounds shard copies (copy-shard, rebalance,
	// replace-data: operator-started, so unlimited by default) in bytes
	// per second of stream and repair traffic.
	DefaultCopyRateLimit = 0
	// DefaultCPUBudget is the share of one core an exchange may keep busy:
	// it pauses so that its work takes at most this fraction of wall time.
	DefaultCPUBudget = 0.25
	// DefaultMaxBatchSize bounds one fetch or apply message in bytes.
	DefaultMaxBatchSize = 4 << 20
	// DefaultRPCTimeout bounds one anti-entropy RPC (a whole shard stream
	// is bounded by the caller's context instead).
	DefaultRPCTimeout = 30 * time.Second
)

// Config configures the anti-entropy service ([anti-entropy] in the data
// node's TOML). Start from NewConfig.
type Config struct {
	// Enabled runs the periodic checks and serves the RPCs.
	Enabled bool `toml:"enabled"`
	// CheckInterval is the period of the checks.
	CheckInterval meta.Duration `toml:"check-interval"`
	// SettleHorizon: a digest window is compared only once it ended this
	// long ago.
	SettleHorizon meta.Duration `toml:"settle-horizon"`
	// MaxConcurrentExchanges bounds exchanges running at once.
	MaxConcurrentExchanges int `toml:"max-concurrent-exchanges"`
	// RateLimit bounds repair traffic in bytes per second; 0 is unlimited.
	RateLimit int64 `toml:"rate-limit"`
	// CopyRateLimit bounds a shard copy's traffic in bytes per second on
	// the copy's destination; 0 is unlimited. Copies are not held to
	// RateLimit there, nor to CPUBudget on either node.
	CopyRateLimit int64 `toml:"copy-rate-limit"`
	// CPUBudget is the fraction (0, 1] of wall time an exchange (and the
	// answers to another node's) may spend working; it sleeps the rest.
	// Shard copies' exchanges do not sleep, on either node.
	CPUBudget float64 `toml:"cpu-budget"`
	// MaxBatchSize bounds one fetch or apply message in bytes.
	MaxBatchSize int `toml:"max-batch-size"`
	// RPCTimeout bounds one anti-entropy RPC.
	RPCTimeout meta.Duration `toml:"rpc-timeout"`
}

// NewConfig returns the defaults.
func NewConfig() Config {
	return Config{
		Enabled:                DefaultEnabled,
		CheckInterval:          meta.Duration(DefaultCheckInterval),
		SettleHorizon:          meta.Duration(DefaultSettleHorizon),
		MaxConcurrentExchanges: DefaultMaxConcurrentExchanges,
		RateLimit:              DefaultRateLimit,
		CopyRateLimit:          DefaultCopyRateLimit,
		CPUBudget:              DefaultCPUBudget,
		MaxBatchSize:           DefaultMaxBatchSize,
		RPCTimeout:             meta.Duration(DefaultRPCTimeout),
	}
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	req := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("anti-entropy config: "+format, args...))
		}
	}
	req(c.CheckInterval > 0, "check-interval must be positive")
	req(c.SettleHorizon >= 0, "settle-horizon must not be negative")
	req(c.MaxConcurrentExchanges >= 1, "max-concurrent-exchanges must be at least 1")
	req(c.RateLimit >= 0, "rate-limit must not be negative")
	req(c.CopyRateLimit >= 0, "copy-rate-limit must not be negative")
	req(c.CPUBudget > 0 && c.CPUBudget <= 1, "cpu-budget %v must be in (0, 1]", c.CPUBudget)
	req(c.MaxBatchSize >= 64<<10, "max-batch-size must be at least 65536")
	req(c.RPCTimeout > 0, "rpc-timeout must be positive")
	return errors.Join(errs...)
}
